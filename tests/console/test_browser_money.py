"""Money and the register in Chromium: a statement built by one finance clerk, confirmed by a second (the
builder refused first), marked paid by a third and downloaded; a register entry confirmed by a second person
and an expired record re-checked. Each page passes axe-core and reads at 1366×768 and at 200 % zoom."""
from __future__ import annotations

import pytest

from tests.console.browser import checked, chromium, tab  # noqa: F401 - fixtures
from tests.console.money import money_scene, register_scene
from tests.console.scene import PASSWORD, make_scene

pytestmark = pytest.mark.browser


async def login(tab, username):
    await tab.goto("/console/login")
    await tab.fill("#username", username)
    await tab.fill("#password", PASSWORD)
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**/console/")


async def logout(tab):
    await tab.get_by_role("button", name="退出登录").click()
    await tab.wait_for_url("**/console/login**")


async def test_a_statement_built_confirmed_and_paid_by_three_people(tab, engine, running):
    scene = await make_scene(engine)
    m = await money_scene(running, engine, scene)
    await login(tab, "finance1")
    await tab.get_by_role("link", name="商家月结单").first.click()
    await tab.wait_for_url("**/console/statements")
    await checked(tab, "20-statements-list")
    await tab.select_option("#merchant_id", str(m.pays))
    assert await tab.locator("#month").input_value() == m.month
    await tab.focus("#month")
    await tab.keyboard.press("Enter")  # the keyboard sends the form
    await tab.wait_for_url("**?done=built")
    url = tab.url.split("?")[0]
    main = tab.locator("main")
    assert "工会付给商家" in await main.inner_text() and "85.01 元" in await main.inner_text()
    await checked(tab, "21-statement-draft")
    # The builder tries to confirm: asked once, then refused by the four eyes rule.
    await tab.get_by_role("button", name="确认月结单").click()
    await tab.wait_for_url("**/confirm")
    await checked(tab, "22-statement-confirm-asked")
    await tab.get_by_role("button", name="确认对账单").click()
    assert "须由不同人员办理" in await tab.locator("[role=alert]").inner_text()
    await logout(tab)

    await login(tab, "finance2")
    await tab.get_by_role("link", name="1 待确认的商家月结单").click()
    await tab.wait_for_url("**/console/statements?status=draft")
    await tab.get_by_role("link", name="老百姓大药房").click()
    await tab.get_by_role("button", name="确认月结单").click()
    await tab.get_by_role("button", name="确认对账单").click()
    await tab.wait_for_url("**?done=confirmed")
    assert "已确认" in await main.inner_text() and "finance2的名字" in await main.inner_text()
    await logout(tab)

    await login(tab, "finance3")
    await tab.get_by_role("link", name="1 已确认待登记收付款的月结单").click()
    await tab.get_by_role("link", name="老百姓大药房").click()
    await tab.wait_for_url(url)
    await checked(tab, "23-statement-confirmed")
    await tab.get_by_role("button", name="登记付款").click()
    assert await tab.locator("#payment_ref-error").count() == 1  # no reference: refused by the field
    await tab.fill("#payment_ref", "工行转账 2026-001")
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**?done=paid")
    text = await main.inner_text()
    assert "已付款" in text and "凭证号 工行转账 2026-001" in text and "finance3的名字" in text
    await checked(tab, "24-statement-paid")
    async with tab.expect_download() as got:
        await tab.get_by_role("link", name="下载 CSV").click()
    download = await got.value
    assert download.suggested_filename == f"对账单-老百姓大药房-{m.month}.csv"


async def test_a_register_entry_confirmed_and_a_recheck(tab, engine, running):
    scene = await make_scene(engine)
    r = await register_scene(running, engine, scene)
    await login(tab, "station1")
    await tab.goto(f"/console/register/members/{r.fresh}")
    await checked(tab, "30-register-member")
    await tab.fill("#h0_relation", "本人")
    await tab.fill("#h0_name", "周平")
    await tab.fill("#h0_age", "50")
    await tab.fill("#h0_income", "400")
    await tab.get_by_label("因病").check()
    await tab.get_by_role("button", name="录入档案").click()
    await tab.wait_for_url("**?done=entered")
    assert "待确认" in await tab.locator("main").inner_text()
    await logout(tab)

    await login(tab, "reviewer1")
    await tab.get_by_role("link", name="2 待确认的困难职工档案").click()
    await tab.wait_for_url("**/console/register")
    await checked(tab, "31-register-pending")
    assert "子女上学开支大" in await tab.locator("main").inner_text()  # the override's reason
    buttons = tab.get_by_role("button", name="确认档案")
    first = buttons.last
    await first.focus()
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**?done=confirmed")
    await logout(tab)

    await login(tab, "station1")
    await tab.get_by_role("link", name="2 30 日内到期的困难职工复核").click()
    await tab.wait_for_url("**/console/register/rechecks")
    assert "已过期" in await tab.locator("tbody tr").first.inner_text()
    await checked(tab, "32-register-rechecks")
    await tab.get_by_role("link", name=f"复核档案 {r.expired}").click()
    await tab.wait_for_url(f"**/records/{r.expired}/recheck")
    await checked(tab, "33-register-recheck")
    await tab.fill("#h0_name", "钱多多")
    await tab.fill("#visit_note", "复核入户：情况未变")
    await tab.get_by_role("button", name="提交复核").click()
    await tab.wait_for_url(f"**/members/{r.expired_member}?done=entered")
    assert "复核 · 待确认" in await tab.locator("main").inner_text()
