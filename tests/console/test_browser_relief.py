"""The relief walk in Chromium: home → queue → file → decision (a refusal by its field, a pass, a reject asked once
in a dialog); each page passes axe-core and reads at 1366×768 and at 200 % zoom."""
from __future__ import annotations

import pytest

from tests.console.browser import checked, chromium, tab  # noqa: F401 - fixtures
from tests.console.scene import PASSWORD, make_scene, relief_scene

pytestmark = pytest.mark.browser


async def login(tab, username):
    await tab.goto("/console/login")
    await tab.fill("#username", username)
    await tab.fill("#password", PASSWORD)
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**/console/")


async def test_queue_file_and_decisions(tab, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    await login(tab, "station1")

    await tab.get_by_role("link", name="1 已超期").click()
    await tab.wait_for_url("**/console/relief/queue?step=verification&overdue=1")
    assert await tab.locator("tbody tr").count() == 1
    assert await tab.locator("#f-overdue").input_value() == "1"  # the filter shows what is applied
    await tab.get_by_role("link", name="清除筛选").click()
    await tab.wait_for_url("**/console/relief/queue")
    assert await tab.locator("tbody tr").count() == 3
    await checked(tab, "04-relief-queue")

    # filters by the keyboard: choosing one already applies it (htmx swaps the list in place and keeps the
    # filters in the URL), and Enter sends the GET form as it does without script
    # the swapped-in form is wired in the swap's own task (no settle delay), so no Enter can meet it unwired
    assert await tab.evaluate("htmx.config.defaultSettleDelay") == 0
    await tab.evaluate("window.__stay = 1")
    await tab.select_option("#f-flagged", "1")
    await tab.focus("#f-flagged")
    await tab.get_by_role("button", name="筛选").press("Enter")
    await tab.wait_for_url("**flagged=1**")
    assert await tab.locator("tbody tr").count() == 1
    assert await tab.evaluate("window.__stay") == 1  # swapped in place: the page was not reloaded

    await tab.goto("/console/relief/queue")
    await tab.get_by_role("link", name=str(r.fresh), exact=True).click()
    await tab.wait_for_url(f"**/console/relief/applications/{r.fresh}")
    assert await tab.locator("h1").inner_text() == f"申请 {r.fresh} · 临时救助"
    proof = tab.locator(".proofs img").first
    await proof.scroll_into_view_if_needed()
    assert await proof.evaluate("img => img.complete && img.naturalWidth > 0")  # shown inline, not downloaded
    await checked(tab, "05-relief-file")

    await tab.check("input[name=decision][value=pass]")
    await tab.get_by_role("button", name="提交决定").click()
    await tab.wait_for_url(f"**/console/relief/applications/{r.fresh}?done=pass")
    assert "已提交决定：通过" in await tab.locator("[role=status]").inner_text()

    # a return without its checklist: refused next to the field, what was typed kept
    await tab.goto(f"/console/relief/applications/{r.resubmitted}")
    await tab.check("input[name=decision][value=return]")
    await tab.fill("#comment", "请补充材料")
    await tab.get_by_role("button", name="提交决定").click()
    await tab.wait_for_load_state()
    assert "一次性列明" in await tab.locator("#missing-error").inner_text()
    assert await tab.input_value("#comment") == "请补充材料"
    assert await tab.is_checked("input[name=decision][value=return]")
    await checked(tab, "06-relief-decision-refused")
    await tab.check("input[name=missing][value=income_proof]")
    await tab.fill("#note_income_proof", "近三个月工资流水")
    await tab.get_by_role("button", name="提交决定").click()
    await tab.wait_for_url("**?done=return")

    # reject asks once, in a dialog the keyboard can answer
    await tab.goto(f"/console/relief/applications/{r.overdue_flagged}")
    await tab.check("input[name=decision][value=reject]")
    await tab.fill("#comment", "经核实不符合救助条件")
    await tab.get_by_role("button", name="提交决定").click()
    dialog = tab.locator("dialog.confirm")
    await dialog.wait_for()
    assert "不能撤回" in await dialog.inner_text()
    await checked(tab, "07-relief-reject-dialog")
    assert await tab.evaluate("document.activeElement.textContent") == "返回"  # the safe answer has the focus
    await tab.keyboard.press("Escape")
    await dialog.wait_for(state="detached")  # the dialog's "close" event removes it a task later
    assert await dialog.count() == 0 and f"/applications/{r.overdue_flagged}" in tab.url  # nothing sent
    await tab.get_by_role("button", name="提交决定").click()
    await tab.locator("dialog.confirm").get_by_role("button", name="确定").click()
    await tab.wait_for_url("**?done=reject")
    assert "不予通过" in await tab.locator("main").inner_text()


async def test_another_county_sees_none_of_it(tab, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    await login(tab, "outsider")
    await tab.goto("/console/relief/queue")
    assert await tab.locator("tbody tr").count() == 1
    await tab.goto(f"/console/relief/applications/{r.fresh}")
    assert await tab.locator("h1").inner_text() == "找不到页面"
    await checked(tab, "08-not-found")
