"""The partners walk in Chromium: create a merchant with a store → invite a cashier (the code image shows) →
statistics (the charts render in canvases, no console error, no CSP violation) → the audit log filtered; each page
passes axe-core and reads at 1366×768 and at 200 % zoom."""
from __future__ import annotations

import pytest

from tests.console.browser import checked, chromium, tab  # noqa: F401 - fixtures
from tests.console.scene import PASSWORD, make_scene

pytestmark = pytest.mark.browser


async def login(tab, username):
    await tab.goto("/console/login")
    await tab.fill("#username", username)
    await tab.fill("#password", PASSWORD)
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**/console/")


async def test_merchant_invite_statistics_and_audit(tab, engine, running, wechat):
    await make_scene(engine)
    await login(tab, "admin1")
    await tab.get_by_role("link", name="合作商家").first.click()
    await tab.wait_for_url("**/console/partners/merchants")
    await tab.get_by_role("link", name="新增合作商家").click()
    await tab.fill("#name", "仁和大药房")
    await tab.select_option("#type", "pharmacy")
    await tab.fill("#agreement_from", "2026-01-01")
    await tab.fill("#agreement_to", "2025-01-01")
    await tab.get_by_role("button", name="创建商家").click()
    await tab.wait_for_load_state()
    assert "不能早于" in await tab.locator("#agreement_to-error").inner_text()  # refused next to the field
    assert await tab.input_value("#name") == "仁和大药房"
    await checked(tab, "20-partners-merchant-refused")
    await tab.fill("#agreement_to", "2027-12-31")
    await tab.get_by_role("button", name="创建商家").click()
    await tab.wait_for_url("**/console/partners/merchants/*?done=created")
    await tab.fill("#name", "五一店")
    await tab.fill("#address", "五一大道 1 号")
    await tab.get_by_role("button", name="添加门店").click()
    await tab.wait_for_url("**?done=store")
    await checked(tab, "21-partners-merchant")

    # suspension asks once in a dialog; Escape sends nothing
    await tab.fill("#reason", "核对协议")
    await tab.get_by_role("button", name="暂停合作").click()
    dialog = tab.locator("dialog.confirm")
    await dialog.wait_for()
    assert await tab.evaluate("document.activeElement.textContent") == "返回"
    await tab.keyboard.press("Escape")
    await dialog.wait_for(state="detached")  # the dialog's "close" event removes it a task later
    assert "合作中" in await tab.locator("main").inner_text()

    await tab.get_by_role("link", name="邀请收银员或管理员").click()
    await tab.wait_for_url("**/invites")
    await tab.select_option("#store_id", label="五一店")
    await tab.get_by_role("button", name="生成邀请码").click()
    await tab.wait_for_url("**/invites/*?done=created")
    image = tab.locator(".wxa-code img")
    await image.wait_for()
    await tab.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=await image.element_handle())
    code = (await tab.locator(".invite-code").inner_text()).strip()
    assert len(code) == 12
    await checked(tab, "22-partners-invite")

    await tab.get_by_role("link", name="统计").first.click()
    await tab.wait_for_url("**/console/stats")
    await tab.wait_for_function("document.querySelectorAll('.chart canvas').length > 0 || "
                                "document.querySelectorAll('.chart').length === 0")
    await tab.fill("#f-from", "2026-01-01")
    await tab.get_by_role("button", name="统计", exact=True).click()
    await tab.wait_for_url("**/console/stats?*from=2026-01-01*")
    assert await tab.locator("#table-funds").count() == 1
    await checked(tab, "23-stats")

    await tab.get_by_role("link", name="审计日志").first.click()
    await tab.wait_for_url("**/console/audit")
    await tab.fill("#f-action", "merchant.")
    await tab.focus("#f-action")
    await tab.keyboard.press("Enter")  # the GET form sends on Enter; the URL keeps the filter
    await tab.wait_for_url("**/console/audit?*action=merchant.*")
    text = await tab.locator("main table").inner_text()
    assert "新增商家" in text and "生成邀请" in text
    await checked(tab, "24-audit-log")
    await tab.get_by_role("link", name="校验审计链").click()
    await tab.wait_for_url("**/console/audit/verify")
    assert "审计链完整" in await tab.locator("main").inner_text()
    # a refused form answers 400 and the browser asks for /favicon.ico: those are not script errors
    assert not [e for e in tab.js_errors if "Failed to load resource" not in e], tab.js_errors


async def test_statistics_draw_charts_with_data(tab, engine, running):
    from tests.console.test_stats import stats_scene

    await stats_scene(running, engine)
    await login(tab, "reviewer1")
    await tab.goto("/console/stats")
    await tab.wait_for_function("document.querySelectorAll('.chart canvas').length >= 4")
    assert await tab.locator("#chart-partners canvas").count() == 1
    assert "仁和大药房" in await tab.locator("#table-partners").inner_text()
    await checked(tab, "25-stats-with-data")
    # a refused form answers 400 and the browser asks for /favicon.ico: those are not script errors
    assert not [e for e in tab.js_errors if "Failed to load resource" not in e], tab.js_errors
