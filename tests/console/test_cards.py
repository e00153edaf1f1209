"""Cards in the console over HTTP: a member's card and its history; issue, freeze (a reason, asked once),
unfreeze, reissue; the printed card made and its PDF opened inline for the card printer (audited as the API's)."""
from __future__ import annotations

import sqlalchemy as sa

from models.cards.tables import cards
from models.core.tables import audit_log
from tests.console.members_scene import people
from tests.console.scene import PASSWORD, make_scene


async def card_row(engine, card_id):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(cards).where(cards.c.id == card_id))).one()


async def actions(engine) -> list[str]:
    async with engine.connect() as conn:
        return [a for (a,) in await conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id))]


async def test_the_card_page_shows_status_and_history_and_issues_a_card(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get(f"/console/members/{p.wang}/card")
    assert page.status == 200 and page.h1 == ["王*英 的服务卡"] and page.title.startswith("王*英 的服务卡")
    assert page.has("正常", "尚未制作", "没有历史卡", "冻结服务卡", "挂失补办", "制作实体卡")
    assert '<a href="/console/members/">会员查询</a>' in page.text  # the breadcrumb
    none = await b.get(f"/console/members/{p.wangli}/card")
    assert none.has("没有有效的服务卡") and ">发卡</button>" in none.text
    issued = await b.post(f"/console/members/{p.wangli}/card", {})
    assert issued.status == 302 and issued.location.endswith("?done=issued")
    shown = await b.get(issued.location)
    assert shown.has("已发卡", "正常") and "card.issue" in await actions(engine)
    # a role that may look but not act sees no forms, and is refused (403 page)
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    looked = await reviewer.get(f"/console/members/{p.wang}/card")
    assert looked.status == 200 and "冻结服务卡" not in looked.text and "制作实体卡" not in looked.text
    refused = await reviewer.post(f"/console/cards/{p.wang_card}/freeze", {"reason": "x", "confirmed": "1"})
    assert refused.status == 403 and refused.h1 == ["没有权限"]
    assert (await card_row(engine, p.wang_card)).status == "active"


async def test_freeze_asks_once_needs_a_reason_and_unfreeze_and_reissue_follow(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    freeze = f"/console/cards/{p.wang_card}/freeze"
    no_reason = await b.post(freeze, {"reason": "", "confirmed": "1"})
    assert no_reason.status == 400 and no_reason.field_error("reason") == "请填写原因（持卡人会收到通知）"
    assert 'id="freeze-reason"' in no_reason.text and 'aria-invalid="true"' in no_reason.text
    too_long = await b.post(freeze, {"reason": "长" * 201, "confirmed": "1"})
    assert too_long.status == 400 and too_long.field_error("reason") and ("长" * 201) in too_long.text  # kept
    asked = await b.post(freeze, {"reason": "会员反映手机丢失"})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("确认冻结")
    assert 'name="reason" value="会员反映手机丢失"' in asked.text
    assert (await card_row(engine, p.wang_card)).status == "active"  # nothing yet
    done = await b.post(freeze, {"reason": "会员反映手机丢失", "confirmed": "1"})
    assert done.status == 302 and done.location.endswith("?done=freeze")
    page = await b.get(done.location)
    assert page.has("服务卡已冻结", "已冻结", "会员反映手机丢失", "解冻服务卡") and "冻结服务卡" not in page.text
    again = await b.post(freeze, {"reason": "再冻一次", "confirmed": "1"})
    assert again.status == 409 and again.has("服务卡已冻结，不能冻结")  # at the top: the card has no freeze form now

    unfreeze = await b.post(f"/console/cards/{p.wang_card}/unfreeze", {"reason": "", "confirmed": "1"})
    assert unfreeze.status == 302 and (await card_row(engine, p.wang_card)).status == "active"

    reissue = f"/console/cards/{p.wang_card}/reissue"
    assert (await b.post(reissue, {})).h1 == ["请确认"]
    new = await b.post(reissue, {"confirmed": "1"})
    assert new.status == 302
    assert (await card_row(engine, p.wang_card)).status == "lost"
    after = await b.get(new.location)
    assert after.has("已挂失补办", "已挂失") and " ".join(p.wang_card_no[i:i + 4] for i in range(0, 16, 4)) in after.text
    assert [a for a in await actions(engine) if a.startswith("card.")][-4:] == [
        "card.freeze", "card.unfreeze", "card.report_lost", "card.issue"]


async def test_print_makes_the_card_and_opens_its_pdf_inline_audited(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    not_yet = await b.get(f"/console/cards/{p.wang_card}/print")
    assert not_yet.status == 409 and not_yet.has("该卡尚未制作实体卡")
    made = await b.post(f"/console/cards/{p.wang_card}/print", {})  # the first print asks nothing
    assert made.status == 302 and made.location.endswith("?done=print")
    page = await b.get(made.location)
    link = f'<a href="/console/cards/{p.wang_card}/print" target="_blank" rel="noopener"'
    assert link in page.text and page.has("已制作实体卡")
    pdf = await b.get(f"/console/cards/{p.wang_card}/print")
    assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf" and pdf.body[:5] == b"%PDF-"
    assert pdf.headers["Content-Disposition"].startswith("inline;")
    assert "card.print_download" in await actions(engine)
    again = await b.post(f"/console/cards/{p.wang_card}/print", {})  # a second print kills the first: asked
    assert again.status == 200 and again.h1 == ["请确认"]
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    assert (await reviewer.get(f"/console/cards/{p.wang_card}/print")).status == 403
    assert (await actions(engine)).count("card.print_download") == 1


async def test_another_county_reads_the_card_as_missing(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("outsider", PASSWORD)
    for method, path in (("GET", f"/console/members/{p.wang}/card"), ("GET", f"/console/cards/{p.wang_card}/print"),
                         ("POST", f"/console/cards/{p.wang_card}/freeze"), ("POST", f"/console/cards/{p.wang_card}/print"),
                         ("POST", f"/console/members/{p.wang}/card"), ("GET", "/console/cards/987654321/print")):
        page = await (b.get(path) if method == "GET" else b.post(path, {"reason": "x", "confirmed": "1"}))
        assert page.status == 404 and page.h1 == ["找不到页面"], path
    assert (await card_row(engine, p.wang_card)).status == "active"
    own = await b.get(f"/console/members/{p.far}/card")
    assert own.status == 200 and own.has("正常")


async def test_cancel_needs_a_reason_asks_once_and_is_final(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get(f"/console/members/{p.wang}/card")
    assert page.has("注销服务卡", "注销原因（必填") and f'action="/console/cards/{p.wang_card}/cancel"' in page.text
    cancel = f"/console/cards/{p.wang_card}/cancel"
    no_reason = await b.post(cancel, {"reason": "", "confirmed": "1"})
    assert no_reason.status == 400 and no_reason.field_error("reason") == "请填写原因（持卡人会收到通知）"
    assert 'id="cancel-reason"' in no_reason.text and 'aria-invalid="true"' in no_reason.text
    asked = await b.post(cancel, {"reason": "会员调离本市"})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("确认注销", "注销后不能恢复")
    assert 'name="reason" value="会员调离本市"' in asked.text
    assert (await card_row(engine, p.wang_card)).status == "active"
    done = await b.post(cancel, {"reason": "会员调离本市", "confirmed": "1"})
    assert done.status == 302 and done.location.endswith("?done=cancel")
    assert (await card_row(engine, p.wang_card)).status == "cancelled"
    shown = await b.get(done.location)
    assert shown.has("服务卡已注销", "已注销", "会员调离本市", "没有有效的服务卡")
    again = await b.post(cancel, {"reason": "再注销", "confirmed": "1"})
    assert again.status == 409 and again.has("服务卡已注销")
    assert "card.cancel" in await actions(engine)
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    refused = await reviewer.post(f"/console/cards/{p.far_card}/cancel", {"reason": "x", "confirmed": "1"})
    assert refused.status == 403 and refused.h1 == ["没有权限"]
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    missing = await outsider.post(f"/console/cards/{p.wang_card}/cancel", {"reason": "x", "confirmed": "1"})
    assert missing.status == 404 and missing.h1 == ["找不到页面"]
