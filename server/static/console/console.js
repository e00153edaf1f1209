/* The staff console's only script (no inline scripts anywhere): asks once before a destructive action,
   and draws the charts whose ECharts options a page puts in <script type="application/json" data-chart>.
   Without this script every such form still works: the server shows its own confirmation page. */
(function () {
  "use strict";

  // Ask `question` once in a modal <dialog>; "确定" marks the form confirmed (confirmed=1) and sends it.
  function ask(form, confirmed, question, event) {
    if (!confirmed || confirmed.value === "1" || !window.HTMLDialogElement) { return; }
    event.preventDefault();
    var dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-question");
    var text = document.createElement("p");
    text.id = "confirm-question";
    text.textContent = question || "确定吗？";
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

  var charts = [];

  function drawCharts() {
    if (!window.echarts) { return; }
    document.querySelectorAll("script[type='application/json'][data-chart]").forEach(function (block) {
      var box = document.getElementById(block.getAttribute("data-chart"));
      if (box) {
        var chart = window.echarts.init(box);
        chart.setOption(JSON.parse(block.textContent));
        charts.push(chart);
      }
    });
    // a chart follows its box when the window changes (zoom, a smaller screen): never wider than the page
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    var confirmed = form.querySelector('input[name="confirmed"]');
    if (form.hasAttribute("data-confirm-decision")) {
      // A decision form (data-confirm-decision="reject", or several decisions space-separated) asks only
      // when one of those decisions is chosen.
      var chosen = form.querySelector('input[name="decision"]:checked');
      var wanted = form.getAttribute("data-confirm-decision").split(" ");
      if (chosen && wanted.indexOf(chosen.value) >= 0) {
        ask(form, confirmed, form.getAttribute("data-confirm-text"), event);
      }
    } else if (form.hasAttribute("data-confirm")) {
      // Freeze, suspend, revoke, end, lock, reverse a payment, release a binding: data-confirm="question".
      ask(form, confirmed, form.getAttribute("data-confirm"), event);
    }
  });
  document.addEventListener("DOMContentLoaded", drawCharts);
}());
