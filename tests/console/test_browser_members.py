"""The members walk in Chromium: search by the keyboard → the member → the card frozen after a dialog asks once →
the printed card's PDF link → a roster imported with a bad row, its report a table; each page passes axe-core and
reads at 1366×768 and at 200 % zoom."""
from __future__ import annotations

import pytest

from tests.console.browser import checked, chromium, tab  # noqa: F401 - fixtures
from tests.console.members_scene import people, roster
from tests.console.scene import PASSWORD, make_scene
from tests.factories import id_number

pytestmark = pytest.mark.browser


async def login(tab, username):
    await tab.goto("/console/login")
    await tab.fill("#username", username)
    await tab.fill("#password", PASSWORD)
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**/console/")


async def test_search_member_freeze_and_import(tab, engine, running, tmp_path):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    await login(tab, "station1")

    await tab.get_by_role("link", name="会员与服务卡").click()
    await tab.wait_for_url("**/console/members/")
    assert await tab.locator("tbody tr").count() == 3
    await checked(tab, "20-members-search")

    # type a name's first character, Enter sends the GET form: the URL keeps the query
    await tab.focus("#f-q")
    await tab.keyboard.type("王")
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**/console/members/?q=*")
    assert await tab.locator("tbody tr").count() == 2
    assert await tab.input_value("#f-q") == "王"
    await tab.get_by_role("link", name="王*英").focus()
    await tab.keyboard.press("Enter")
    await tab.wait_for_url(f"**/console/members/{p.wang}")
    assert await tab.locator("h1").inner_text() == "会员 王*英"
    await checked(tab, "21-members-member")

    await tab.get_by_role("link", name="显示完整姓名、身份证号与手机号（记入审计）").click()
    await tab.wait_for_url(f"**/console/members/{p.wang}/full")
    assert p.wang_id_number in await tab.locator("main").inner_text()
    await tab.get_by_role("link", name="隐藏完整信息").click()
    await tab.wait_for_url(f"**/console/members/{p.wang}")

    await tab.get_by_role("link", name="服务卡详情与办理（冻结、解冻、补办、打印）").click()
    await tab.wait_for_url(f"**/console/members/{p.wang}/card")
    await checked(tab, "22-cards-card")

    # freeze without a reason: refused next to the field; with one, a dialog asks once (Escape sends nothing)
    await tab.get_by_role("button", name="冻结服务卡").click()
    dialog = tab.locator("dialog.confirm")
    await dialog.wait_for()
    await tab.get_by_role("button", name="确定").click()
    await tab.wait_for_load_state()
    assert "请填写原因" in await tab.locator("#reason-error").inner_text()
    await checked(tab, "23-cards-freeze-refused")
    await tab.fill("#freeze-reason", "会员反映手机丢失")
    await tab.get_by_role("button", name="冻结服务卡").click()
    await dialog.wait_for()
    assert "已出示的卡码立即失效" in await dialog.inner_text()
    assert await tab.evaluate("document.activeElement.textContent") == "返回"  # the safe answer has the focus
    await checked(tab, "24-cards-freeze-dialog")
    where = tab.url
    await tab.keyboard.press("Escape")
    await dialog.wait_for(state="detached")
    assert tab.url == where and await tab.input_value("#freeze-reason") == "会员反映手机丢失"  # nothing sent
    await tab.get_by_role("button", name="冻结服务卡").click()
    await tab.locator("dialog.confirm").get_by_role("button", name="确定").click()
    await tab.wait_for_url("**?done=freeze")
    assert "服务卡已冻结" in await tab.locator("[role=status]").inner_text()
    assert "已冻结" in await tab.locator(".status").inner_text()

    # unfreeze (asked once too), then make the printed card: its PDF opens in a new tab
    await tab.get_by_role("button", name="解冻服务卡").click()
    await tab.locator("dialog.confirm").get_by_role("button", name="确定").click()
    await tab.wait_for_url("**?done=unfreeze")
    await tab.get_by_role("button", name="制作实体卡").click()
    await tab.wait_for_url("**?done=print")
    link = tab.get_by_role("link", name="打开实体卡 PDF 打印（新窗口）")
    assert await link.get_attribute("target") == "_blank"
    pdf = await tab.request.get(await link.get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body())[:5] == b"%PDF-"

    # a roster with a bad row: the report is a table of line, code and reason
    await tab.goto("/console/members/import")
    await checked(tab, "25-members-import")
    bad = id_number(92)[:-1] + ("0" if id_number(92)[-1] != "0" else "1")
    path = tmp_path / "名册.csv"
    path.write_bytes(roster([("张三", id_number(91)), ("李四", bad)]))
    await tab.select_option("#org", "G02")
    await tab.set_input_files("#file", str(path))
    await tab.get_by_role("button", name="上传并导入").click()
    await tab.wait_for_load_state()
    assert "共 2 行：导入 1 行，未导入 1 行" in await tab.locator("[role=status]").inner_text()
    rows = tab.locator("table.problems tbody tr")
    assert await rows.count() == 1
    assert (await rows.first.locator("td").all_inner_texts())[:2] == ["3", "id_number_checksum"]
    assert await tab.input_value("#org") == "G02"  # what was chosen is kept for the next file
    await checked(tab, "26-members-import-report")


async def test_transfers_waiting_for_my_decision(tab, engine, running, tmp_path):
    scene = await make_scene(engine)
    await people(running, engine, scene)
    await login(tab, "outsider")
    await tab.goto("/console/members/import")
    path = tmp_path / "roster.csv"
    path.write_bytes(roster([("王丽", id_number(72))]))
    await tab.select_option("#org", "K02")
    await tab.set_input_files("#file", str(path))
    await tab.get_by_role("button", name="上传并导入").click()
    await tab.wait_for_load_state()
    assert await tab.locator("table.notices tbody tr").count() == 1
    await tab.context.clear_cookies()

    await login(tab, "station1")
    await tab.goto("/console/members/transfers?direction=incoming&status=pending")
    assert await tab.locator("tbody tr").count() == 1
    await checked(tab, "27-members-transfers")
    await tab.get_by_role("button", name="拒绝").click()
    await tab.wait_for_load_state()
    assert "请填写拒绝的原因" in await tab.locator("#reason-error").inner_text()
    await tab.locator("input[name=reason]").fill("本人仍在本单位工作")
    await tab.get_by_role("button", name="拒绝").click()
    await tab.wait_for_url("**done=refuse")
    assert await tab.locator("tbody tr").count() == 0
