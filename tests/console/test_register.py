"""The difficult-worker register in the console over HTTP: what waits for a second person (proposed and chosen
category, the override's reason), confirm and decline (four eyes refused in Chinese), the re-check list
(expired first, shown 已过期) and the re-check form, a member's history (masked; the full view audited) and
the entry form (incomes in yuan, what was typed kept, refusals by their field)."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from models.core.clock import local_today
from models.core.tables import audit_log
from models.members.tables import hardship_records, household_members
from tests.console.money import register_scene
from tests.console.scene import PASSWORD, make_scene


async def record(engine, record_id):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(hardship_records).where(hardship_records.c.id == record_id))).one()


async def records_of(engine, member_id):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(hardship_records).where(hardship_records.c.member_id == member_id)
                                   .order_by(hardship_records.c.id))).all()


def household(*rows: tuple[str, str, str, str]) -> dict[str, str]:
    out = {}
    for i, (relation, name, age, income) in enumerate(rows):
        out.update({f"h{i}_relation": relation, f"h{i}_name": name, f"h{i}_age": age, f"h{i}_income": income})
    return out


async def test_the_pending_list_shows_the_override_and_a_second_person_confirms(browser, engine, running):
    scene = await make_scene(engine)
    r = await register_scene(running, engine, scene)
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    page = await reviewer.get("/console/register")
    assert page.status == 200 and page.h1 == ["待确认的困难职工档案"]
    assert page.has("深度困难", "相对困难", "已调整", "子女上学开支大", "300.00", f"会员 {r.pending_member}")
    assert f'action="/console/register/records/{r.pending}/confirm"' in page.text
    ok = await reviewer.post(f"/console/register/records/{r.pending}/confirm", {"note": "材料齐全"})
    assert ok.status == 302 and (await reviewer.get(ok.location)).has("已确认，档案生效", "没有待确认的档案")
    row = await record(engine, r.pending)
    assert row.status == "active" and row.decided_by == scene.staff["reviewer1"].id


async def test_four_eyes_decline_and_roles(browser, engine, running):
    scene = await make_scene(engine)
    r = await register_scene(running, engine, scene)
    station = browser()
    await station.login("station1", PASSWORD)
    listed = await station.get("/console/register")
    assert listed.status == 200 and "确认档案" not in listed.text  # no right to confirm: no forms
    refused = await station.post(f"/console/register/records/{r.pending}/confirm", {})
    assert refused.status == 403 and refused.h1 == ["没有权限"]
    # The admin entered it? no: the station did; an admin entering and confirming their own is refused.
    admin = browser()
    await admin.login("admin1", PASSWORD)
    entered = await admin.post(f"/console/register/members/{r.fresh}", {
        **household(("本人", "周平", "50", "400")), "causes": "illness", "verification_method": "home_visit"})
    assert entered.status == 302, entered.text
    own = (await records_of(engine, r.fresh))[-1]
    alone = await admin.post(f"/console/register/records/{own.id}/confirm", {"note": "我自己"})
    assert alone.status == 409 and alone.has("困难职工档案的录入（复核）和确认须由不同人员办理")
    assert 'value="我自己"' in alone.text and (await record(engine, own.id)).status == "pending"
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    no_reason = await reviewer.post(f"/console/register/records/{own.id}/decline", {"reason": ""})
    assert no_reason.status == 400 and no_reason.field_error("reason")
    asked = await reviewer.post(f"/console/register/records/{own.id}/decline", {"reason": "收入证明缺失"})
    assert asked.status == 200 and asked.h1 == ["请确认"] and 'name="reason" value="收入证明缺失"' in asked.text
    assert (await record(engine, own.id)).status == "pending"  # asked once: nothing done yet
    declined = await reviewer.post(f"/console/register/records/{own.id}/decline",
                                   {"reason": "收入证明缺失", "confirmed": "1"})
    assert declined.status == 302 and (await record(engine, own.id)).decline_reason == "收入证明缺失"
    history = await reviewer.get(f"/console/register/members/{r.fresh}")
    assert history.has("已退回", "收入证明缺失")
    # Another county sees nothing of it.
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    assert "没有待确认的档案" in (await outsider.get("/console/register")).text
    for path in (f"/console/register/members/{r.fresh}", f"/console/register/records/{r.due}/recheck"):
        page = await outsider.get(path)
        assert page.status == 404 and page.h1 == ["找不到页面"], path
    assert (await outsider.post(f"/console/register/records/{r.pending}/confirm", {})).status == 404
    finance = browser()
    await finance.login("finance1", PASSWORD)
    assert (await finance.get("/console/register/rechecks")).status == 403


async def test_the_recheck_list_shows_expired_first_and_the_recheck_renews(browser, engine, running):
    scene = await make_scene(engine)
    r = await register_scene(running, engine, scene)
    station = browser()
    await station.login("station1", PASSWORD)
    page = await station.get("/console/register/rechecks")
    assert page.status == 200 and page.h1 == ["待复核的困难职工档案"]
    order = [int(i) for i in re.findall(r"<tr[^>]*>\s*<td>(\d+)</td>", page.text)]
    assert order == [r.expired, r.due]  # soonest (already ended) first
    assert page.text.count(">已过期</strong>") == 1 and '<tr class="overdue">' in page.text
    assert [int(i) for i in re.findall(r"<tr[^>]*>\s*<td>(\d+)</td>",
                                       (await station.get("/console/register/rechecks?within_days=0")).text)] == [
        r.expired]
    assert (await station.get("/console/register/rechecks?within_days=999")).status == 400
    form = await station.get(f"/console/register/records/{r.expired}/recheck")
    assert form.status == 200 and form.h1 == [f"复核档案 {r.expired}"] and form.has("已过期", "450.00")
    assert 'name="h0_income" type="text" size="9" inputmode="decimal" value="450.00"' in form.text
    url = f"/console/register/records/{r.expired}/recheck"
    base = {**household(("本人", "钱多多", "52", "450.00"), ("配偶", "孙丽", "50", "1,000.50")), "causes": "illness",
            "verification_method": "home_visit"}
    no_note = await station.post(url, base)
    assert no_note.status == 400 and no_note.field_error("visit_note")
    assert 'value="1,000.50"' in no_note.text and 'value="孙丽"' in no_note.text  # kept as typed
    bad_money = await station.post(url, {**base, "h1_income": "1000.555", "visit_note": "复核入户"})
    assert bad_money.status == 400 and "最多两位小数" in (bad_money.field_error("household") or "")
    ended = await station.post(url, {**base, "visit_note": "复核入户",
                                     "valid_to": (local_today() - timedelta(days=2)).isoformat()})
    assert ended.status == 400 and ended.field_error("valid_to")
    chosen = await station.post(url, {**base, "visit_note": "复核入户", "category": "deep"})
    assert chosen.status == 400 and chosen.field_error("category_reason")
    done = await station.post(url, {**base, "visit_note": "复核入户：配偶在超市打工", "category": "deep",
                                    "category_reason": "配偶收入不稳定"})
    assert done.status == 302 and done.location == f"/console/register/members/{r.expired_member}?done=entered"
    new = (await records_of(engine, r.expired_member))[-1]
    assert (new.status, new.supersedes_id, new.household_income, new.category, new.proposed_category) == (
        "pending", r.expired, 145050, "deep", "relative")
    again = await station.post(url, {**base, "visit_note": "再次"})
    assert again.status == 409 and again.field_error("household")
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    assert (await reviewer.post(f"/console/register/records/{new.id}/confirm", {})).status == 302
    assert (await record(engine, r.expired)).status == "renewed"
    assert r.expired not in [int(i) for i in re.findall(
        r"<tr[^>]*>\s*<td>(\d+)</td>", (await station.get("/console/register/rechecks")).text)]


async def test_a_members_page_masks_audits_the_full_view_and_enters(browser, engine, running):
    scene = await make_scene(engine)
    r = await register_scene(running, engine, scene)
    station = browser()
    await station.login("station1", PASSWORD)
    page = await station.get(f"/console/register/members/{r.due_member}")
    assert page.status == 200 and page.h1 == [f"会员 {r.due_member} 的困难职工档案"]
    assert "王大明" not in page.text and "王*" in page.text and "慢性病" not in page.text
    full = await station.get(f"/console/register/members/{r.due_member}?full=1")
    assert full.status == 200 and full.has("王大明", "慢性病", "入户核查")
    async with engine.connect() as conn:
        actions = [a for (a,) in await conn.execute(sa.select(audit_log.c.action))]
    assert "hardship.view_full" in actions
    approver = browser()  # may view the register, not whole, and not enter
    await approver.login("approver1", PASSWORD)
    assert (await approver.get(f"/console/register/members/{r.due_member}?full=1")).status == 403
    plain = await approver.get(f"/console/register/members/{r.due_member}")
    assert plain.status == 200 and "录入困难职工档案" not in plain.text
    assert (await approver.post(f"/console/register/members/{r.fresh}", {"causes": "illness"})).status == 403
    # The entry form: refusals by field, what was typed kept, then a pending record.
    url = f"/console/register/members/{r.fresh}"
    empty = await station.post(url, {"verification_method": "home_visit", "causes": "illness"})
    assert empty.status == 400 and empty.field_error("household")
    above = await station.post(url, {**household(("本人", "周平", "50", "9000")), "causes": "illness",
                                     "verification_method": "document"})
    assert above.status == 400 and "高于相对困难标准" in (above.field_error("category") or "")
    assert '<option value="document" selected>' in above.text and 'value="9000"' in above.text
    no_cause = await station.post(url, {**household(("本人", "周平", "50", "400")), "verification_method": "home_visit"})
    assert no_cause.status == 400 and no_cause.field_error("causes")
    ok = await station.post(url, [*household(("本人", "周平", "50", "400"), ("女儿", "周小", "12", "0")).items(),
                                  ("causes", "illness"), ("causes", "schooling"), ("verification_method", "home_visit")])
    assert ok.status == 302 and (await station.get(ok.location)).has("已录入", "待确认", "因病、因学")
    made = (await records_of(engine, r.fresh))[-1]
    assert (made.status, made.household_income, made.household_size, made.category) == ("pending", 40000, 2, "deep")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(household_members)
                                   .where(household_members.c.record_id == made.id))).scalar_one() == 2
    twice = await station.post(url, {**household(("本人", "周平", "50", "400")), "causes": "illness",
                                     "verification_method": "home_visit"})
    assert twice.status == 409 and "待确认" in (twice.field_error("household") or "")


async def test_the_home_page_counts_the_register_exactly_and_links_to_it(browser, engine, running):
    from models.members import hardship, hardship_review
    from tests.console.scene import actor_of
    from tests.console.test_home import tasks

    scene = await make_scene(engine)
    r = await register_scene(running, engine, scene)
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    found = tasks((await reviewer.get("/console/")).text)
    assert found[("其他待办", "待确认的困难职工档案")] == (1, "/console/register")
    assert found[("其他待办", "30 日内到期的困难职工复核")] == (2, "/console/register/rechecks")
    station = browser()
    await station.login("station1", PASSWORD)
    found = tasks((await station.get("/console/")).text)
    assert ("其他待办", "待确认的困难职工档案") not in found  # the station enters, it does not confirm
    async with engine.connect() as conn:
        county, outsider = actor_of(scene.staff["reviewer1"]), actor_of(scene.staff["outsider"])
        assert await hardship_review.count_pending(conn, county) == 1
        assert await hardship_review.count_pending(conn, outsider) == 0
        assert await hardship.count_due_for_recheck(conn, county, within_days=0) == 1  # the expired one
        assert await hardship.count_due_for_recheck(conn, county, within_days=30) == 2
        assert await hardship.count_due_for_recheck(conn, outsider) == 0
        assert len(await hardship.due_for_recheck(conn, county)) == 2
    assert r.pending


async def test_the_history_pages_with_the_apis_query(browser, engine, running):
    scene = await make_scene(engine)
    r = await register_scene(running, engine, scene)
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    assert (await reviewer.post(f"/console/register/records/{r.pending}/decline",
                                {"reason": "重新核查", "confirmed": "1"})).status == 302
    station = browser()
    await station.login("station1", PASSWORD)
    url = f"/console/register/members/{r.pending_member}"
    await station.post(url, {**household(("本人", "李小红", "40", "300")), "causes": "illness",
                             "verification_method": "home_visit"})
    first = await station.get(url + "?limit=1")
    nxt = re.search(r'<a href="([^"]+)" class="button secondary">下一页</a>', first.text)
    assert first.text.count('<div class="record">') == 1 and nxt
    second = await station.get(nxt.group(1).replace("&amp;", "&"))
    assert second.text.count('<div class="record">') == 1 and second.has("已退回", "重新核查")
    assert (await station.get(url + "?full=2")).status == 400
