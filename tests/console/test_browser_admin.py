"""The admin's walk in Chromium: the tree → create a unit → set its hardship lines → its kinds of relief → add a
holiday to the calendar and remove one after the dialog asks → edit a member; each page passes axe-core and
reads at 1366×768 and at 200 % zoom."""
from __future__ import annotations

import pytest

from tests.console.browser import checked, chromium, tab  # noqa: F401 - fixtures
from tests.console.members_scene import people
from tests.console.scene import PASSWORD, make_scene

pytestmark = pytest.mark.browser


async def test_create_unit_set_lines_add_holiday_edit_member(tab, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    await tab.goto("/console/login")
    await tab.fill("#username", "admin1")
    await tab.fill("#password", PASSWORD)
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**/console/")

    await tab.get_by_role("link", name="组织与设置").click()
    await tab.wait_for_url("**/console/orgs/")
    assert await tab.locator("tbody tr").count() == 6
    await checked(tab, "60-orgs-tree")

    # create a unit: a refusal keeps what was typed, next to the field
    await tab.get_by_role("link", name="新建下级单位").click()
    await tab.wait_for_url("**/console/orgs/new?parent=C01")
    await checked(tab, "61-orgs-new")
    await tab.fill("#code", "G01")
    await tab.fill("#name", "东湖新村工会")
    await tab.select_option("#type", "grassroots")
    await tab.select_option("#parent_code", "S01")
    await tab.get_by_role("button", name="建立单位").click()
    await tab.wait_for_load_state()
    assert "已被使用" in await tab.locator("#code-error").inner_text()
    assert await tab.input_value("#name") == "东湖新村工会" and await tab.input_value("#parent_code") == "S01"
    await checked(tab, "62-orgs-new-refused")
    await tab.fill("#code", "G03")
    await tab.focus("#name")
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**?done=created")
    assert await tab.locator("h1").inner_text() == "东湖新村工会"
    assert "单位已建立" in await tab.locator("[role=status]").inner_text()
    await checked(tab, "63-orgs-unit")

    # its lines: none yet; set them in yuan
    await tab.get_by_role("link", name="为本单位设置认定标准").click()
    await tab.wait_for_url("**/console/hardship-lines/G03")
    await tab.fill("#deep_line", "930")
    await tab.fill("#relative_line", "900")
    await tab.get_by_role("button", name="保存认定标准").click()
    await tab.wait_for_load_state()
    assert "深度困难线应低于相对困难线" in await tab.locator("#relative_line-error").inner_text()
    await checked(tab, "64-orgs-lines-refused")
    await tab.fill("#relative_line", "1500.50")
    await tab.get_by_role("button", name="保存认定标准").click()
    await tab.wait_for_url("**?done=lines")
    assert "1,500.50 元/人·月" in await tab.locator("main").inner_text()
    assert "本单位设置" in await tab.locator("main").inner_text()

    # its kinds of relief, and one readable
    await tab.get_by_role("link", name="查看本单位在用的救助类别").click()
    await tab.wait_for_url("**/console/relief-kinds/G03")
    await checked(tab, "65-kinds-list")
    await tab.get_by_role("link", name="生活救助").click()
    await tab.wait_for_url("**/console/relief-kinds/G03/living")
    assert "11,160.00 元" in await tab.locator("main").inner_text()  # 12 months of the deep line just set
    await checked(tab, "66-kinds-kind")

    # the calendar: add a holiday, remove it after the dialog asks once
    await tab.goto("/console/calendar?year=2026")
    await tab.fill("#date", "2026-10-08")
    await tab.fill("#name", "国庆节")
    await tab.get_by_role("button", name="保存").click()
    await tab.wait_for_url("**done=put")
    assert "国庆节" in await tab.locator("tbody").inner_text()
    await checked(tab, "67-calendar")
    await tab.get_by_role("button", name="取消 2026-10-08 的设置").click()
    dialog = tab.locator("dialog.confirm")
    await dialog.wait_for()
    await tab.keyboard.press("Escape")
    await dialog.wait_for(state="detached")
    assert await tab.locator("tbody tr").count() == 1
    await tab.get_by_role("button", name="取消 2026-10-08 的设置").click()
    await tab.locator("dialog.confirm").get_by_role("button", name="确定").click()
    await tab.wait_for_url("**done=delete")
    assert "还没有设置" in await tab.locator("main").inner_text()

    # edit a member from their page
    await tab.goto(f"/console/members/{p.wang}")
    await tab.get_by_role("link", name="修改会员信息（手机号、工作单位、银行账号、会籍）").click()
    await tab.wait_for_url(f"**/console/members/{p.wang}/edit")
    await tab.fill("#phone", "123")
    await tab.get_by_role("button", name="保存修改").click()
    await tab.wait_for_load_state()
    assert "手机号格式不对" in await tab.locator("#phone-error").inner_text()
    await checked(tab, "68-members-edit-refused")
    await tab.fill("#phone", "13900000099")
    await tab.fill("#employer", "湘绣集团")
    await tab.get_by_role("button", name="保存修改").click()
    await tab.wait_for_url("**?done=edited")
    assert "湘绣集团" in await tab.locator("main").inner_text()
