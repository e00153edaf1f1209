"""The public notice in the domain: publishing and its refusals, objections pausing an entry and their
resolution both ways, the period's end moved by exactly one of two racing jobs, working-day periods."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, utcnow
from models.core.errors import Conflict, NotFound, Unprocessable
from models.core.tables import notifications
from models.network import tree as orgs
from models.relief import calendar, notices, objections, records
from models.relief.tables import relief_events, relief_notice_entries, relief_objections
from server.crypto import PiiCipher, load_keyring
from tests.factories import org_tree
from tests.relief_helpers import publish, staff, submitted, worker

ANON = Actor(kind="public", id=None, ip="10.0.0.9")


@pytest.fixture
async def scene(engine, config):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        apps = []
        for seq, name in ((71, "张三明"), (72, "李四"), (73, "欧阳小明")):
            member_id, user_id = await worker(conn, cipher, tree["G01"], seq, name=name)
            apps.append(await submitted(conn, cipher, member_id, user_id, tree["G01"], step="notice"))
        far_member, far_user = await worker(conn, cipher, tree["K02"], 74, name="赵六")
        far = await submitted(conn, cipher, far_member, far_user, tree["K02"], step="notice")
        early = await submitted(conn, cipher, far_member, far_user, tree["K01"], step="collective_review")
        await conn.execute(sa.text("UPDATE relief_applications SET proposed_amount = 200000"))
        reviewer = await staff(conn, "reviewer.k01", "K01", "reviewer")
        far_reviewer = await staff(conn, "reviewer.k02", "K02", "reviewer")
    return {"cipher": cipher, "apps": apps, "far": far, "early": early, "reviewer": reviewer,
            "far_reviewer": far_reviewer, "tree": tree}


async def _publish(engine, s, ids, who="reviewer", **body):
    async with engine.begin() as conn:
        return await publish(conn, s["cipher"], s[who], ids, **body)


async def _actions(engine, app_id) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(relief_events.c.action).where(
            relief_events.c.application_id == app_id).order_by(relief_events.c.id))).scalars())


async def _state(engine, entry_id) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(sa.select(relief_notice_entries.c.state)
                                       .where(relief_notice_entries.c.id == entry_id))).scalar_one())


async def _app(engine, s, app_id):
    async with engine.connect() as conn:
        return await records.load(conn, s["cipher"], app_id)


def test_working_days_skip_holidays_and_count_make_up_weekends():
    friday = datetime(2026, 9, 25, 10, 0, tzinfo=LOCAL_TZ)
    assert records.add_working_days(friday, 1).date() == date(2026, 9, 28)  # Monday
    cal = calendar.Calendar(holidays=frozenset({date(2026, 9, 28), date(2026, 9, 29)}),
                            workdays=frozenset({date(2026, 9, 27)}))  # Sunday worked
    assert cal.add_working_days(friday, 1).date() == date(2026, 9, 27)
    assert cal.add_working_days(friday, 2).date() == date(2026, 9, 30)
    end = cal.add_working_days(friday, 2)
    assert (end.hour, end.minute, end.second) == (23, 59, 59)


async def test_every_steps_deadline_counts_the_holiday_calendar(engine, scene):
    admin = Actor(kind="staff", id=None, roles=frozenset({"admin"}), org_path=scene["tree"]["C01"].path)
    app = await _app(engine, scene, scene["apps"][0])
    wednesday = datetime(2026, 9, 30, 9, 0, tzinfo=LOCAL_TZ)
    async with engine.begin() as conn:
        plain = await calendar.step_due(conn, app, "approval", wednesday)
        for day in (1, 2, 5, 6, 7):  # the National Day week, Thursday 1 to Wednesday 7 October, weekdays off
            await calendar.put(conn, admin, date(2026, 10, day), calendar.DayBody.of({"off": True, "name": "国庆节"}))
        await calendar.put(conn, admin, date(2026, 10, 10), calendar.DayBody.of({"off": False, "name": "国庆调休"}))
        holiday = await calendar.step_due(conn, app, "approval", wednesday)
    # The default five working days: Thu 1 ... Wed 7 October without the calendar; with it, Thu 8, Fri 9,
    # Sat 10 (worked), Mon 12, Tue 13.
    assert (plain.date(), holiday.date()) == (date(2026, 10, 7), date(2026, 10, 13))


async def test_the_calendar_is_loaded_for_the_span_and_edited_with_its_rules(engine, scene):
    admin = Actor(kind="staff", id=None, roles=frozenset({"admin"}), org_path=scene["tree"]["C01"].path)
    async with engine.begin() as conn:
        await calendar.put(conn, admin, date(2026, 10, 1), calendar.DayBody.of({"off": True, "name": "国庆节"}))
        await calendar.put(conn, admin, date(2026, 10, 10), calendar.DayBody.of({"off": False, "name": "国庆调休"}))
        with pytest.raises(Unprocessable) as weekend_off:
            await calendar.put(conn, admin, date(2026, 10, 11), calendar.DayBody.of({"off": True, "name": "x"}))
        assert weekend_off.value.code == "calendar_weekend_off"
        with pytest.raises(Unprocessable) as weekday_work:
            await calendar.put(conn, admin, date(2026, 10, 12), calendar.DayBody.of({"off": False, "name": "x"}))
        assert weekday_work.value.code == "calendar_weekday_work"
        assert await calendar.year(conn, 2026) == [{"date": "2026-10-01", "off": True, "name": "国庆节"},
                                                   {"date": "2026-10-10", "off": False, "name": "国庆调休"}]
        wednesday = datetime(2026, 9, 30, 9, 0, tzinfo=LOCAL_TZ)
        # Thu 1 Oct off, Fri 2 Oct, Sat 10 Oct is far: 1 working day is Fri 2 Oct.
        assert (await calendar.add_working_days(conn, wednesday, 1)).date() == date(2026, 10, 2)
        friday = datetime(2026, 10, 9, 9, 0, tzinfo=LOCAL_TZ)
        assert (await calendar.add_working_days(conn, friday, 1)).date() == date(2026, 10, 10)
        await calendar.delete(conn, admin, date(2026, 10, 10))
        assert (await calendar.add_working_days(conn, friday, 1)).date() == date(2026, 10, 12)
        with pytest.raises(NotFound):
            await calendar.delete(conn, admin, date(2026, 10, 10))


async def test_publishing_freezes_what_is_shown_and_tells_the_worker(engine, scene):
    s = scene
    batch = await _publish(engine, s, s["apps"][:2], days=7)
    assert [(i["name"], i["unit"], i["kind"], i["amount"], i["state"]) for i in batch["items"]] == [
        ("张*明", "东湖社区工会", "临时救助", 200000, "in_notice"), ("李*", "东湖社区工会", "临时救助", 200000, "in_notice")]
    start = batch["starts_at"].astimezone(LOCAL_TZ).date()
    assert batch["ends_at"].astimezone(LOCAL_TZ).date() == start + timedelta(days=7)
    assert await _actions(engine, s["apps"][0]) == ["published"]
    async with engine.connect() as conn:
        sent = (await conn.execute(sa.select(notifications.c.kind, notifications.c.payload))).all()
    assert len(sent) == 2 and all(k == "relief.notice" and "公示中" in p for k, p in sent)
    # The amount changing afterwards does not change what was published.
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE relief_applications SET proposed_amount = 1"))
        shown = await notices.public(conn)
    assert [e["amount"] for e in shown[0]["entries"]] == [200000, 200000]


async def test_publishing_refuses_the_wrong_step_out_of_reach_and_twice(engine, scene):
    s = scene
    for ids, code in (([s["far"]], "notice_application"),
                      ([s["apps"][0], 987654], "notice_application")):
        with pytest.raises(Unprocessable) as refused:
            await _publish(engine, s, ids)
        assert refused.value.code == code and str(ids[-1]) in refused.value.message
    with pytest.raises(Conflict) as wrong_step:
        await _publish(engine, s, [s["apps"][2], s["early"]])
    assert wrong_step.value.code == "notice_not_ready" and str(s["early"]) in wrong_step.value.message
    first = await _publish(engine, s, [s["apps"][0]])
    with pytest.raises(Conflict) as twice:
        await _publish(engine, s, [s["apps"][1], s["apps"][0]])
    assert twice.value.code == "notice_already_published" and str(first["id"]) in twice.value.message
    with pytest.raises(Exception) as other_unit:  # the sibling county's unit is out of the publisher's subtree
        await _publish(engine, s, [s["apps"][1]], org="K02")
    assert getattr(other_unit.value, "status", None) == 404


async def _object(engine, s, notice_id, entry, reason="此人家中有营业商铺，收入不低。", verdict=None):
    async with engine.begin() as conn:
        return await objections.raise_objection(
            conn, s["cipher"], ANON, notice_id, objections.ObjectionBody.of(
                {"entry": entry, "reason": reason, "contact": "13800001111"}), verdict=verdict, due_days=20)


async def _resolve(engine, s, objection_id, **body):
    async with engine.begin() as conn:
        return await objections.resolve(conn, s["cipher"], s["reviewer"], objection_id,
                                        objections.ResolveBody.of(body))


async def test_an_objection_pauses_the_entry_and_dismissed_it_goes_on(engine, scene):
    s = scene
    batch = await _publish(engine, s, s["apps"][:2])
    paused, other = batch["items"]
    raised = await _object(engine, s, batch["id"], paused["id"])
    assert raised["status"] == "open" and await _state(engine, paused["id"]) == "paused"
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(relief_objections))).one()
    assert "13800001111" not in row.contact_enc and row.content_status == "unchecked"
    assert s["cipher"].decrypt(row.contact_enc, purpose="objection_contact") == "13800001111"
    # The period ends: the paused one stays, the other moves.
    later = utcnow() + timedelta(days=30)
    assert await notices.end_notice_periods(engine, s["cipher"], later) == 1
    assert (await _app(engine, s, paused["application_id"])).step == "notice"
    assert (await _app(engine, s, other["application_id"])).step == "approval"
    # Objections after the end are refused (the period is measured against now: end the batch first).
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE relief_notices SET ends_at = :t"), {"t": utcnow() - timedelta(seconds=1)})
    with pytest.raises(Conflict) as ended:
        await _object(engine, s, batch["id"], paused["id"])
    assert ended.value.code == "notice_ended"
    done = await _resolve(engine, s, raised["id"], upheld=False, finding="经入户核查，商铺已于去年关闭。")
    assert (done["status"], done["upheld"], done["contact"]) == ("dismissed", False, "13800001111")
    assert await _state(engine, paused["id"]) == "in_notice"
    with pytest.raises(Conflict):
        await _resolve(engine, s, raised["id"], upheld=False, finding="再次处理")
    assert await notices.end_notice_periods(engine, s["cipher"], utcnow()) == 1
    moved = await _app(engine, s, paused["application_id"])
    assert (moved.status, moved.step) == ("submitted", "approval")
    assert await _actions(engine, moved.id) == ["published", "objection", "objection_dismissed", "notice_ended"]


@pytest.mark.parametrize("outcome", ["county_review", "rejected"])
async def test_an_upheld_objection_withdraws_the_entry(engine, scene, outcome):
    s = scene
    batch = await _publish(engine, s, [s["apps"][0]])
    entry = batch["items"][0]
    raised = await _object(engine, s, batch["id"], entry["id"])
    await _object(engine, s, batch["id"], entry["id"], reason="同一件事的第二个异议。")
    with pytest.raises(Exception):
        await _resolve(engine, s, raised["id"], upheld=True, finding="未给出去向")
    far = s["far_reviewer"]
    async with engine.begin() as conn:
        with pytest.raises(NotFound):
            await objections.resolve(conn, s["cipher"], far, raised["id"],
                                     objections.ResolveBody.of({"upheld": False, "finding": "越权"}))
    done = await _resolve(engine, s, raised["id"], upheld=True, finding="经核查其家庭收入超过标准。", outcome=outcome)
    assert (done["status"], done["outcome"]) == ("upheld", outcome)
    assert await _state(engine, entry["id"]) == "withdrawn_by_objection"
    app = await _app(engine, s, entry["application_id"])
    if outcome == "county_review":
        assert (app.status, app.step, app.proposed_amount) == ("submitted", "county_review", 200000)
    else:
        assert (app.status, app.reject_reason) == ("rejected", "经核查其家庭收入超过标准。")
    async with engine.connect() as conn:
        statuses = list((await conn.execute(sa.select(relief_objections.c.status))).scalars())
    assert statuses == ["upheld", "upheld"]
    assert await notices.end_notice_periods(engine, s["cipher"], utcnow() + timedelta(days=30)) == 0
    # Back at the notice step later, it may be published again.
    if outcome == "county_review":
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE relief_applications SET step = 'notice' WHERE id = :i"), {"i": app.id})
        again = await _publish(engine, s, [app.id])
        assert again["items"][0]["state"] == "in_notice"


async def test_a_risky_objection_is_refused_and_a_missing_entry_is_404(engine, scene):
    s = scene
    batch = await _publish(engine, s, [s["apps"][0]])
    with pytest.raises(Unprocessable) as risky:
        await _object(engine, s, batch["id"], batch["items"][0]["id"], verdict="risky")
    assert risky.value.code == "objection_risky"
    with pytest.raises(NotFound):
        await _object(engine, s, batch["id"] + 1, batch["items"][0]["id"])


async def test_two_racing_jobs_move_each_application_exactly_once(engine, scene):
    s = scene
    await _publish(engine, s, s["apps"])
    later = utcnow() + timedelta(days=30)
    counts = await asyncio.gather(*(notices.end_notice_periods(engine, s["cipher"], later) for _ in range(2)))
    assert sorted(counts) in ([0, 3], [1, 2]) or sum(counts) == 3
    assert sum(counts) == 3
    for app_id in s["apps"]:
        assert (await _actions(engine, app_id)).count("notice_ended") == 1
        app = await _app(engine, s, app_id)
        assert (app.step, app.version) == ("approval", 2)
    async with engine.connect() as conn:
        ended = (await conn.execute(sa.select(sa.func.count()).select_from(notifications)
                                    .where(notifications.c.kind == "relief.notice_ended"))).scalar_one()
    assert ended == 3
    assert await notices.end_notice_periods(engine, s["cipher"], later) == 0


async def test_a_unit_counting_working_days_gets_a_working_day_period(engine, scene):
    s = scene
    admin = Actor(kind="staff", id=None, roles=frozenset({"admin"}), org_path=s["tree"]["C01"].path)
    async with engine.begin() as conn:
        k01 = await orgs.by_code(conn, "K01")
        await orgs.set_setting(conn, admin, k01, notices.WORKING_DAYS_SETTING, "true")
        start = utcnow()
        # Every weekday of the coming fortnight is a holiday but one make-up weekend day: 2 working days span it.
        day0 = start.astimezone(LOCAL_TZ).date()
        days = [day0 + timedelta(days=i) for i in range(1, 15)]
        weekend = next(d for d in days if d.weekday() >= 5)
        for d in days:
            if d.weekday() < 5:
                await calendar.put(conn, admin, d, calendar.DayBody.of({"off": True, "name": "假"}))
        await calendar.put(conn, admin, weekend, calendar.DayBody.of({"off": False, "name": "调休"}))
    batch = await _publish(engine, s, [s["apps"][0]], days=2)
    assert batch["working_days"] is True
    holidays = frozenset(d for d in days if d.weekday() < 5)
    want = records.add_working_days(start, 2, holidays, frozenset({weekend}))
    assert batch["ends_at"].astimezone(LOCAL_TZ).date() == want.date() > day0 + timedelta(days=14)
    one = await _publish(engine, s, [s["apps"][1]], days=1)
    assert one["ends_at"].astimezone(LOCAL_TZ).date() == weekend
