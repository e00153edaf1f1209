"""Closing a fund in the console (finance, admin; asked once) and reopening it (admin) on both databases: the
forms shown only to whom they are allowed, the refusals in the page's error shape, the page saying 已关闭 with
when and why."""
from __future__ import annotations

from models.funds import sources
from tests.console.later import later_scene
from tests.console.scene import PASSWORD, actor_of, make_scene
from tests.relief_helpers import fund


async def test_finance_closes_a_fund_asked_once_and_an_admin_reopens_it(browser, engine, running):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    async with engine.begin() as conn:
        spare = await fund(conn, actor_of(scene.staff["finance1"]), "K01", 500_000, name="年末结余专项")
    b = browser()
    await b.login("finance1", PASSWORD)
    busy = f"/console/funds/{later.fund}"
    page = await b.get(busy)
    assert page.has("关闭资金", "关闭原因") and 'data-confirm="确定关闭' in page.text and "重新启用</h2>" not in page.text
    held = await b.post(busy + "/close", {"reason": "年度结束", "confirmed": "1"})
    assert held.status == 409 and held.has("5000.00 元", "须先发放或释放") and held.h1[0].startswith("临时救助专项")
    url = f"/console/funds/{spare}"
    short = await b.post(url + "/close", {"reason": "关", "confirmed": "1"})
    assert short.status == 400 and short.field_error("reason")
    asked = await b.post(url + "/close", {"reason": "2026 年度结束，结余按规定处理"})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("确认关闭")
    async with engine.connect() as conn:
        assert (await sources.get(conn, spare)).status == "active"
    approver = browser()
    await approver.login("approver1", PASSWORD)
    assert "关闭资金</h2>" not in (await approver.get(url)).text
    assert (await approver.post(url + "/close", {"reason": "年度结束", "confirmed": "1"})).status == 403
    outsider = browser()  # station and reviewer of another county: the role refuses before the place
    await outsider.login("outsider", PASSWORD)
    assert (await outsider.post(url + "/close", {"reason": "年度结束", "confirmed": "1"})).status == 403
    done = await b.post(url + "/close", {"reason": "2026 年度结束，结余按规定处理", "confirmed": "1"})
    assert done.status == 302 and done.location.endswith("?done=closed")
    page = await b.get(done.location)
    assert page.has("资金来源已关闭", "已关闭", "2026 年度结束，结余按规定处理", "关闭（结余）", "可用于新审批 0.00 元")
    assert "关闭资金</h2>" not in page.text and "追加资金</h2>" not in page.text and "重新启用</h2>" not in page.text
    again = await b.post(url + "/close", {"reason": "年度结束", "confirmed": "1"})
    assert again.status == 409 and again.has("已关闭")
    assert (await b.post(url + "/reopen", {"reason": "误关闭"})).status == 403
    admin = browser()
    await admin.login("admin1", PASSWORD)
    page = await admin.get(url)
    assert page.has("重新启用原因") and "关闭资金</h2>" not in page.text
    bad = await admin.post(url + "/reopen", {"reason": ""})
    assert bad.status == 400 and bad.field_error("reason")
    back = await admin.post(url + "/reopen", {"reason": "误关闭，尚有申请待审批"})
    assert back.status == 302 and back.location.endswith("?done=reopened")
    page = await admin.get(back.location)
    assert page.has("资金来源已重新启用", "使用中", "重新启用（结余）", "可用于新审批 5,000.00 元", "关闭资金")
