"""One relief application walked in Chromium through the console's later steps: the home visit with a photo, the
collective review meeting, the notice, an objection dismissed after asking once (by the keyboard), the fund's
ledger, the payment, and its reversal asked once, a closed fund; every page passes axe-core and reads at 1366×768
and 200 %."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.core.actors import SYSTEM, Actor
from models.core.clock import utcnow
from models.funds import sources
from models.identity import staff_accounts
from models.relief import notices, objections, reviewing
from server.passwords import ARGON2
from tests import hostile_files
from tests.console.browser import checked, chromium, tab  # noqa: F401 - fixtures
from tests.console.later import app_row
from tests.console.scene import PASSWORD, actor_of, make_scene, relief_scene
from tests.relief_helpers import fund

pytestmark = pytest.mark.browser


async def login(tab, username):
    await tab.context.clear_cookies()
    await tab.goto("/console/login")
    await tab.fill("#username", username)
    await tab.fill("#password", PASSWORD)
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**/console/")


async def test_visit_meeting_notice_objection_payment(tab, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    cipher = running.settings["cipher"]
    app = r.fresh
    file_url = f"/console/relief/applications/{app}"

    # the station records a visit by the keyboard and uploads a photo; the file shows it
    await login(tab, "station1")
    await tab.goto(file_url)
    await tab.get_by_role("link", name="登记入户核查、上传照片").click()
    await tab.wait_for_url(f"**{file_url}/visit")
    await tab.focus("#visitors")
    await tab.keyboard.type("王站长、李干事")
    await tab.keyboard.press("Tab")
    await tab.keyboard.type("复核家中情况，与申请一致。")
    await tab.get_by_role("button", name="保存核查记录").press("Enter")
    await tab.wait_for_url("**?done=visit")
    upload = tab.locator("form.upload input[type=file]").last
    await upload.set_input_files(files=[{"name": "home.jpg", "mimeType": "image/jpeg", "buffer": hostile_files.jpeg()}])
    await tab.locator("form.upload").last.get_by_role("button", name="上传照片").click()
    await tab.wait_for_url("**?done=photo")
    assert "照片已上传" in await tab.locator("[role=status]").inner_text()
    await checked(tab, "20-relief-visit")
    await tab.goto(file_url)
    assert "王站长、李干事" in await tab.locator("main").inner_text()
    photo = tab.locator("img[alt^='入户核查照片']").last
    await photo.scroll_into_view_if_needed()
    assert await photo.evaluate("img => img.complete && img.naturalWidth > 0")
    await tab.check("input[name=decision][value=pass]")
    await tab.get_by_role("button", name="提交决定").click()
    await tab.wait_for_url("**?done=pass")
    async with engine.begin() as conn:
        await reviewing.decide(conn, cipher, actor_of(scene.staff["reviewer1"]), app, reviewing.Decision.of(
            {"step": "county_review", "decision": "pass", "amount": 180_000}))

    # the approver records the meeting: choose the application, votes, who came, the minutes
    await login(tab, "approver1")
    await tab.get_by_role("link", name="集体评议").click()
    await tab.wait_for_url("**/console/relief/meetings/new")
    await tab.fill("#members", "5")
    await tab.fill("#present", "甲\n乙\n丙\n丁")
    await tab.check(f"#application-{app}")
    await tab.fill(f"#for_{app}", "4")
    await tab.fill(f"#against_{app}", "0")
    await tab.fill("#minutes", "逐件讨论，一致同意。")
    await checked(tab, "21-relief-meeting-form")
    await tab.get_by_role("button", name="保存会议记录并表决").click()
    await tab.wait_for_url("**/console/relief/meetings/*")
    assert "通过 1 件" in await tab.locator("main").inner_text()
    await checked(tab, "22-relief-meeting-result")

    # the reviewer publishes it, then finds the objection raised against it
    await login(tab, "reviewer1")
    await tab.get_by_role("link", name="公示", exact=True).click()
    await tab.get_by_role("link", name="发布公示").click()
    await tab.check(f"#application-{app}")
    await tab.get_by_role("button", name="发布公示").click()
    await tab.wait_for_url("**/console/relief/notices?done=*")
    assert "1,800.00" in await tab.locator("main").inner_text()
    await checked(tab, "23-relief-notices")
    async with engine.begin() as conn:
        batch = (await notices.listing(conn, actor_of(scene.staff["reviewer1"]), notices.NoticesQuery()))[0]
        await objections.raise_objection(conn, cipher, Actor(kind="public", id=None, request_id="walk", ip="10.1.1.1"),
                                         batch["id"], objections.ObjectionBody.of(
                                             {"entry": batch["items"][0]["id"], "reason": "听说其家中另有收入来源",
                                              "contact": "13900002222"}), verdict=None, due_days=5)
    await tab.get_by_role("link", name="异议").first.click()
    await tab.wait_for_url("**/console/relief/objections?status=open")
    await checked(tab, "24-relief-objections")
    await tab.locator("tbody a").first.click()
    assert f"申请 {app}" in await tab.locator("main").inner_text()
    await tab.check("input[name=decision][value=dismiss]")
    await tab.fill("#finding", "经入户复核，该收入已计入家庭收入，异议不成立。")
    await checked(tab, "25-relief-objection")
    await tab.get_by_role("button", name="提交处理结果").click()
    dialog = tab.locator("dialog.confirm")
    await dialog.wait_for()
    assert await tab.evaluate("document.activeElement.textContent") == "返回"
    await tab.keyboard.press("Shift+Tab")
    assert await tab.evaluate("document.activeElement.textContent") == "确定"
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**?done=1")
    assert "异议不成立" in await tab.locator("[role=status]").inner_text()

    # the period ends; another approver approves on the unit's fund
    async with engine.begin() as conn:
        approver2 = await staff_accounts.create(conn, SYSTEM, hasher=ARGON2, username="approver2", password=PASSWORD,
                                                roles=["approver"], org_code="K01")
        fund_id = await fund(conn, actor_of(scene.staff["finance1"]), "K01", 1_000_000)
    await notices.end_notice_periods(engine, cipher, now=utcnow() + timedelta(days=30))
    async with engine.begin() as conn:
        await reviewing.decide(conn, cipher, actor_of(approver2), app, reviewing.Decision.of(
            {"step": "approval", "decision": "pass", "amount": 180_000, "fund_id": fund_id}))

    # finance: the fund's ledger, the payments waiting, the payment, the reversal asked once
    await login(tab, "finance1")
    await tab.get_by_role("link", name="资金来源").click()
    await tab.wait_for_url("**/console/funds/")
    await checked(tab, "26-funds")
    await tab.get_by_role("link", name="临时救助专项").click()
    assert "审批预留" in await tab.locator("main").inner_text()
    await checked(tab, "27-fund-ledger")
    await tab.get_by_role("link", name="救助金发放").click()
    await checked(tab, "28-relief-payments")
    assert f"申请 {app}" in await tab.locator("tbody").inner_text()
    await tab.locator(f'tbody a[href="{file_url}/payment"]').click()
    await tab.wait_for_url(f"**{file_url}/payment")
    assert await tab.input_value("#amount") == "1800.00"
    await tab.check("input[name=method][value=cash]")
    await tab.fill("#voucher_no", "PZ-2026-0101")
    await checked(tab, "29-relief-payment")
    await tab.get_by_role("button", name="登记发放").click()
    await tab.wait_for_url("**?done=paid")
    assert "发放已登记" in await tab.locator("[role=status]").first.inner_text()
    await tab.fill("#reason", "领款人未到场，现金退回")
    await tab.get_by_role("button", name="冲正").click()
    await tab.locator("dialog.confirm").get_by_role("button", name="确定").click()
    await tab.wait_for_url("**?done=reversed")
    row = await app_row(engine, app)
    assert (row.status, row.step) == ("submitted", "payment")
    assert date.today()  # the dates shown are Beijing time (the context's timezone is Asia/Shanghai)

    # a fund closed at year end: its page says when and why, and an administrator sees the reopen form
    async with engine.begin() as conn:
        finance = actor_of(scene.staff["finance1"])
        closed = await fund(conn, finance, "K01", 50_000, name="年末结余专项")
        await sources.close(conn, finance, closed, sources.Closing.of({"reason": "年度结束，结余按规定处理"}))
    await login(tab, "admin1")
    await tab.goto(f"/console/funds/{closed}")
    assert "年度结束，结余按规定处理" in await tab.locator("main").inner_text()
    await checked(tab, "27b-fund-closed")
