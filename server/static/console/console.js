/* The staff console's only script (no inline scripts anywhere): asks once before a destructive decision,
   and draws the charts whose ECharts options a page puts in <script type="application/json" data-chart>. */
(function () {
  "use strict";

  // A form with data-confirm-always asks once whatever is chosen (a payment's reversal);
  // a form with data-confirm-decision="reject" (or several decisions, space-separated) asks once in a <dialog> when that decision is chosen;
  // without this script the server shows a confirmation page instead (the form has no confirmed=1).
  function askOnce(form, event) {
    var wanted = form.getAttribute("data-confirm-decision");
    var chosen = form.querySelector('input[name="decision"]:checked');
    var confirmed = form.querySelector('input[name="confirmed"]');
    var always = form.hasAttribute("data-confirm-always");
    if (!always && (!chosen || (wanted || "").split(" ").indexOf(chosen.value) < 0)) {
      return;
    }
    if (!confirmed || confirmed.value === "1" || !window.HTMLDialogElement) {
      return;
    }
    event.preventDefault();
    var dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-text");
    var text = document.createElement("p");
    text.id = "confirm-text";
    text.textContent = form.getAttribute("data-confirm-text") || "确定吗？";
    var yes = document.createElement("button");
    yes.type = "button";
    yes.className = "button danger";
    yes.textContent = "确定";
    var no = document.createElement("button");
    no.type = "button";
    no.className = "button secondary";
    no.textContent = "返回";
    var row = document.createElement("p");
    row.append(yes, " ", no);
    dialog.append(text, row);
    document.body.appendChild(dialog);
    no.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { dialog.remove(); });
    yes.addEventListener("click", function () {
      confirmed.value = "1";
      dialog.close();
      form.submit();
    });
    dialog.showModal();
    no.focus();
  }

  function drawCharts() {
    if (!window.echarts) { return; }
    document.querySelectorAll("script[type='application/json'][data-chart]").forEach(function (block) {
      var box = document.getElementById(block.getAttribute("data-chart"));
      if (box) { window.echarts.init(box).setOption(JSON.parse(block.textContent)); }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && (form.hasAttribute("data-confirm-decision") || form.hasAttribute("data-confirm-always"))) { askOnce(form, event); }
  });
  document.addEventListener("DOMContentLoaded", drawCharts);
}());
