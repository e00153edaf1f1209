"""Members in the console over HTTP: the search (name, card number, ID number by its blind index) with the query
and cursor in the URL, the member's page masked and its audited full view, releasing a binding asked once, the
roster import (multipart, XSRF checked) with its row report, and the member transfers and their decisions."""
from __future__ import annotations

import re

import sqlalchemy as sa

from models.core.tables import audit_log
from models.members.tables import member_transfers, members
from tests.console.members_scene import people, roster, upload
from tests.console.scene import PASSWORD, make_scene
from tests.factories import id_number


def found_ids(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/console/members/(\d+)">', text)]


async def audit_actions(engine) -> list[str]:
    async with engine.connect() as conn:
        return [a for (a,) in await conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id))]


async def test_search_by_name_card_number_and_id_number_with_the_query_in_the_url(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get("/console/members/")
    assert page.status == 200 and page.h1 == ["会员查询"] and page.title.startswith("会员查询")
    assert sorted(found_ids(page.text)) == sorted([p.wang, p.wangli, p.li])  # my subtree only
    assert 'aria-label="面包屑"' in page.text and '<a href="/console/members/" aria-current="page">' in page.text
    by_name = await b.get("/console/members/?q=%E7%8E%8B")  # 王: the start of a name
    assert found_ids(by_name.text) == [p.wang, p.wangli] and by_name.has("按姓名查找")
    assert 'value="王"' in by_name.text  # the box keeps what was typed
    assert "王秀英" not in by_name.text and "王*英" in by_name.text  # masked as the API's
    spaced = " ".join(p.wang_card_no[i:i + 4] for i in range(0, 16, 4))
    by_card = await b.get("/console/members/?" + f"q={spaced.replace(' ', '+')}")
    assert found_ids(by_card.text) == [p.wang] and by_card.has("按服务卡号查找")
    by_id = await b.get(f"/console/members/?q={p.wang_id_number}")
    assert found_ids(by_id.text) == [p.wang] and by_id.has("按身份证号查找")
    assert p.wang_id_number not in by_id.text.split('aria-label="会员列表"')[1]  # the results show it masked
    by_phone = await b.get("/console/members/?q=13800000071")
    assert found_ids(by_phone.text) == [p.wang]
    explicit = await b.get("/console/members/?q=%E7%8E%8B&by=card")
    assert found_ids(explicit.text) == [] and explicit.has("没有找到会员")
    unit = await b.get("/console/members/?org=G02")
    assert found_ids(unit.text) == [p.li] and '<option value="G02" selected>' in unit.text
    # the other county's members are not found, whatever is typed
    assert found_ids((await b.get("/console/members/?q=%E5%AD%99%E5%85%AB")).text) == []  # 孙八
    assert found_ids((await b.get(f"/console/members/?q={id_number(74)}")).text) == []
    assert (await b.get("/console/members/?org=K02")).status == 404
    first = await b.get("/console/members/?limit=2")
    assert len(found_ids(first.text)) == 2
    nxt = re.search(r'<a href="([^"]+)" class="button secondary">下一页</a>', first.text)
    assert nxt and "limit=2" in nxt.group(1) and "cursor=" in nxt.group(1)
    second = await b.get(nxt.group(1).replace("&amp;", "&"))
    assert len(found_ids(second.text)) == 1 and "下一页" not in second.text
    assert (await b.get("/console/members/?by=nothing")).status == 400


async def test_the_member_page_masks_and_the_full_view_is_audited(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get(f"/console/members/{p.wang}")
    assert page.status == 200 and page.h1 == ["会员 王*英"]
    assert page.has("东湖社区工会", "已绑定", "正常", "湘绣厂") and p.wang_id_number not in page.text
    assert page.has(" ".join(p.wang_card_no[i:i + 4] for i in range(0, 16, 4)))
    assert f'href="/console/members/{p.wang}/full"' in page.text
    assert f'href="/console/register/members/{p.wang}"' in page.text
    assert "member.view_full" not in await audit_actions(engine)
    full = await b.get(f"/console/members/{p.wang}/full")
    assert full.status == 200 and full.h1 == ["会员 王秀英"]
    assert full.has(p.wang_id_number, "13800000071", "已记入审计日志")
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(audit_log).where(audit_log.c.action == "member.view_full"))).one()
    assert (row.target_kind, int(row.target_id)) == ("member", p.wang)

    # a role without the full view: no link, and the route refuses it (403 page)
    finance = browser()
    await finance.login("finance1", PASSWORD)
    masked = await finance.get(f"/console/members/{p.wang}")
    assert masked.status == 200 and "/full" not in masked.text and "解除微信绑定" not in masked.text
    refused = await finance.get(f"/console/members/{p.wang}/full")
    assert refused.status == 403 and refused.h1 == ["没有权限"]
    assert (await audit_actions(engine)).count("member.view_full") == 1


async def test_another_county_reads_the_member_as_missing(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("outsider", PASSWORD)
    for path in (f"/console/members/{p.wang}", f"/console/members/{p.wang}/full", f"/console/members/{p.wang}/card",
                 "/console/members/987654321", "/console/members/99999999999999999"):
        page = await b.get(path)
        assert page.status == 404 and page.h1 == ["找不到页面"], path
    refused = await b.post(f"/console/members/{p.wang}/release-binding", {"confirmed": "1"})
    assert refused.status == 404
    own = await b.get(f"/console/members/{p.far}")
    assert own.status == 200


async def test_releasing_a_binding_asks_once(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get(f"/console/members/{p.wang}")
    assert "解除微信绑定" in page.text and 'data-confirm="' in page.text
    asked = await b.post(f"/console/members/{p.wang}/release-binding", {"confirmed": ""})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("确认解除绑定")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(members.c.user_id).where(members.c.id == p.wang))).scalar_one()
    done = await b.post(f"/console/members/{p.wang}/release-binding", {"confirmed": "1"})
    assert done.status == 302 and done.location.endswith("?done=released")
    after = await b.get(done.location)
    assert after.has("已解除与微信账号的绑定", "未绑定") and "解除微信绑定</button>" not in after.text
    assert "member.release_binding" in await audit_actions(engine)
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    assert (await reviewer.post(f"/console/members/{p.wangli}/release-binding", {"confirmed": "1"})).status == 403


async def test_an_import_with_good_and_bad_rows_shows_the_row_report(browser, engine, running):
    scene = await make_scene(engine)
    await people(running, engine, scene)
    before = (await audit_actions(engine)).count("member.import")
    b = browser()
    await b.login("station1", PASSWORD)
    form = await b.get("/console/members/import")
    assert form.status == 200 and form.h1 == ["导入会员名册"] and 'enctype="multipart/form-data"' in form.text
    assert '<option value="G02">' in form.text and "湘绣厂工会（G02）" in form.text
    bad = id_number(82)[:-1] + ("0" if id_number(82)[-1] != "0" else "1")
    content = roster([("张三", id_number(81)), ("李四", bad), ("王五", id_number(83)), ("", id_number(84))])
    strict = await upload(b, {"org": "G02", "strict": "1"}, content)
    assert strict.status == 200 and strict.has("严格模式", "本次什么也没有写入")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(members)
                                   .where(members.c.name == "张三"))).scalar_one() == 0
    assert 'name="strict" value="1" checked' in strict.text and '<option value="G02" selected>' in strict.text
    page = await upload(b, {"org": "G02"}, content, header=True)  # the token in the header (htmx) will do
    assert page.status == 200 and page.has("共 4 行：导入 2 行，未导入 2 行")
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td><code>(\w+)</code></td><td>(.*?)</td></tr>', page.text)
    assert [(int(line), code) for line, code, _ in rows] == [(3, "id_number_checksum"), (5, "name_required")]
    assert rows[0][2] == "身份证号校验位不正确，请核对是否有数字输错" and rows[1][2] == "姓名不能为空"
    async with engine.connect() as conn:
        made = (await conn.execute(sa.select(members.c.name).where(members.c.org_id == scene.tree["G02"].id))).all()
    assert {"张三", "王五"} <= {n for (n,) in made}
    again = await upload(b, {"org": "G02"}, content)
    assert again.has("无变化")
    assert (await audit_actions(engine)).count("member.import") - before == 2  # a strict refusal writes nothing


async def test_import_refusals_keep_the_form_and_name_the_field(browser, engine, running):
    scene = await make_scene(engine)
    await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    no_unit = await upload(b, {"org": ""}, roster([("张三", id_number(81))]))
    assert no_unit.status == 400 and no_unit.field_error("org") == "请选择导入到哪个单位"
    no_file = await upload(b, {"org": "G01", "strict": "1"}, None)
    assert no_file.status == 400 and "请选择名册文件" in (no_file.field_error("file") or "")
    assert '<option value="G01" selected>' in no_file.text and 'name="strict" value="1" checked' in no_file.text
    empty = await upload(b, {"org": "G01"}, b"")
    assert empty.status == 400 and empty.field_error("file")
    elsewhere = await upload(b, {"org": "K02"}, roster([("张三", id_number(81))]))
    assert elsewhere.status == 404 and elsewhere.field_error("org")
    forged = await upload(b, {"org": "G01"}, roster([("张三", id_number(81))]), xsrf=False)
    assert forged.status == 403 and forged.h1 == ["没有权限"]
    forged_header = await upload(b, {"org": "G01"}, roster([("张三", id_number(81))]), xsrf=False, header=True)
    assert forged_header.status == 403
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(members)
                                   .where(members.c.name == "张三"))).scalar_one() == 0
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    assert (await reviewer.get("/console/members/import")).status == 403
    assert (await upload(reviewer, {"org": "G01"}, roster([("张三", id_number(81))]))).status == 403
    anonymous = browser()
    await anonymous.get("/console/login")
    sent = await upload(anonymous, {"org": "G01"}, roster([("张三", id_number(81))]))
    assert sent.status == 302 and sent.location.startswith("/console/login")


async def test_an_upload_past_the_limit_is_refused_with_a_page(browser, engine, running):
    scene = await make_scene(engine)
    await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    limit = running.settings["config"].max_upload_bytes
    page = await upload(b, {"org": "G01"}, b"x" * (limit + 10))
    assert page.status == 413


async def test_transfers_wait_for_my_decision_and_are_decided(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    # the other county imports two of our members: each becomes a request to our unit
    report = await upload(outsider, {"org": "K02"}, roster([("王丽", id_number(72)), ("李建华", id_number(73))]))
    assert report.status == 200 and report.has("已申请转入") and "transfer_requested" in report.text
    station = browser()
    await station.login("station1", PASSWORD)
    waiting = await station.get("/console/members/transfers?direction=incoming&status=pending")
    assert waiting.status == 200 and waiting.h1 == ["会籍转接"] and waiting.has("天心区总工会", "同意转出", "拒绝")
    async with engine.connect() as conn:
        ids = dict((await conn.execute(sa.select(member_transfers.c.member_id, member_transfers.c.id))).all())
    member_page = await station.get(f"/console/members/{p.wangli}")
    assert member_page.has("天心区总工会", "待处理", "去处理")
    empty = await station.post(f"/console/members/transfers/{ids[p.wangli]}/refuse", {"reason": ""})
    assert empty.status == 400 and empty.field_error("reason") == "请填写拒绝的原因（对方可见）"
    refused = await station.post(f"/console/members/transfers/{ids[p.wangli]}/refuse", {"reason": "本人仍在本厂工作"})
    assert refused.status == 302
    asked = await station.post(f"/console/members/transfers/{ids[p.li]}/accept", {})
    assert asked.status == 200 and asked.h1 == ["请确认"]
    accepted = await station.post(f"/console/members/transfers/{ids[p.li]}/accept", {"confirmed": "1"})
    assert accepted.status == 302 and "done=accept" in accepted.location
    assert (await station.get(accepted.location)).has("已同意")
    async with engine.connect() as conn:
        statuses = dict((await conn.execute(sa.select(member_transfers.c.member_id, member_transfers.c.status))).all())
        li_org = (await conn.execute(sa.select(members.c.org_id).where(members.c.id == p.li))).scalar_one()
    assert statuses == {p.wangli: "refused", p.li: "accepted"} and li_org == scene.tree["K02"].id
    twice = await station.post(f"/console/members/transfers/{ids[p.wangli]}/refuse", {"reason": "再次"})
    assert twice.status == 409 and twice.has("已拒绝，不能再处理")
    # the asking side sees its requests and their outcome, and may not decide them
    outgoing = await outsider.get("/console/members/transfers?direction=outgoing")
    assert outgoing.has("已拒绝", "本人仍在本厂工作", "已同意转入")
    assert (await outsider.post(f"/console/members/transfers/{ids[p.wangli]}/refuse", {"reason": "x"})).status == 404
    finance = browser()
    await finance.login("finance1", PASSWORD)
    assert (await finance.get("/console/members/transfers")).status == 403


async def member_row(engine, member_id):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(members).where(members.c.id == member_id))).one()


async def test_edit_a_member_phone_employer_bank_account_keeping_what_was_typed(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    cipher = running.settings["cipher"]
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get(f"/console/members/{p.wang}")
    assert f'href="/console/members/{p.wang}/edit"' in page.text
    form = await b.get(f"/console/members/{p.wang}/edit")
    assert form.status == 200 and form.h1 == ["修改会员 王*英"] and 'value="湘绣厂"' in form.text
    assert "13800000071" not in form.text and '<a href="/console/members/">会员查询</a>' in form.text
    nothing = await b.post(f"/console/members/{p.wang}/edit", {"employer": "湘绣厂", "status": "active"})
    assert nothing.status == 400 and nothing.has("没有要修改的内容")
    bad_phone = await b.post(f"/console/members/{p.wang}/edit", {"phone": "12345", "employer": "湘绣集团",
                                                                 "status": "active"})
    assert bad_phone.status == 400 and bad_phone.field_error("phone") == "手机号格式不对"
    assert 'value="12345"' in bad_phone.text and 'value="湘绣集团"' in bad_phone.text
    bad_bank = await b.post(f"/console/members/{p.wang}/edit", {"bank_account": "12ab", "status": "active",
                                                                "employer": "湘绣厂"})
    assert bad_bank.status == 400 and bad_bank.field_error("bank_account") == "银行账号应为 12 到 30 位数字"
    saved = await b.post(f"/console/members/{p.wang}/edit", {"phone": "13900000099", "employer": "湘绣集团",
                                                             "bank_account": "6222 0000 1111 2222", "status": "active"})
    assert saved.status == 302 and saved.location == f"/console/members/{p.wang}?done=edited"
    row = await member_row(engine, p.wang)
    assert row.employer == "湘绣集团" and cipher.decrypt(row.phone_enc, purpose="phone") == "13900000099"
    assert row.bank_account_enc is not None
    assert (await b.get(saved.location)).has("会员信息已保存", "湘绣集团")
    cleared = await b.post(f"/console/members/{p.wang}/edit", {"clear_phone": "1", "employer": "", "status": "active"})
    assert cleared.status == 302
    row = await member_row(engine, p.wang)
    assert row.phone_enc is None and row.employer is None and row.bank_account_enc is not None
    assert "member.update" in await audit_actions(engine)


async def test_ending_a_membership_asks_once_and_cancels_the_card(browser, engine, running):
    from models.cards.tables import cards

    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    asked = await b.post(f"/console/members/{p.wang}/edit", {"employer": "湘绣厂", "status": "ended",
                                                             "ended_on": "2026-11-30"})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("确认终止会籍", "服务卡将被注销")
    assert (await member_row(engine, p.wang)).status == "active"
    bad_day = await b.post(f"/console/members/{p.wang}/edit", {"employer": "湘绣厂", "status": "ended",
                                                               "ended_on": "2026-02-30", "confirmed": "1"})
    assert bad_day.status == 400 and bad_day.field_error("ended_on") and 'value="2026-02-30"' in bad_day.text
    done = await b.post(f"/console/members/{p.wang}/edit", {"employer": "湘绣厂", "status": "ended",
                                                            "ended_on": "2026-11-30", "confirmed": "1"})
    assert done.status == 302
    row = await member_row(engine, p.wang)
    assert row.status == "ended" and row.ended_on.isoformat() == "2026-11-30" and row.user_id is None
    async with engine.connect() as conn:
        status = (await conn.execute(sa.select(cards.c.status).where(cards.c.id == p.wang_card))).scalar_one()
    assert status == "cancelled"
    assert (await b.get(done.location)).has("已终止会籍", "未绑定")


async def test_editing_members_is_for_their_roles_and_subtree(browser, engine, running):
    scene = await make_scene(engine)
    p = await people(running, engine, scene)
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    assert f'href="/console/members/{p.wang}/edit"' not in (await reviewer.get(f"/console/members/{p.wang}")).text
    for page in (await reviewer.get(f"/console/members/{p.wang}/edit"),
                 await reviewer.post(f"/console/members/{p.wang}/edit", {"employer": "x", "status": "active"})):
        assert page.status == 403 and page.h1 == ["没有权限"]
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    for page in (await outsider.get(f"/console/members/{p.wang}/edit"),
                 await outsider.post(f"/console/members/{p.wang}/edit", {"employer": "x", "status": "active"})):
        assert page.status == 404 and page.h1 == ["找不到页面"]
    assert (await member_row(engine, p.wang)).employer == "湘绣厂"
