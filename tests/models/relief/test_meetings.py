"""The collective review meeting: quorum and two thirds at their boundaries, all or nothing, four eyes."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models.core.errors import Forbidden, Unprocessable
from models.core.tables import notifications
from models.relief import meetings, records
from models.core.tables import audit_log
from models.relief.tables import relief_events, relief_flags, relief_meetings, relief_votes
from server.crypto import PiiCipher, load_keyring
from tests.factories import org_tree
from tests.relief_helpers import flag, staff, submitted, worker


def body(members: int, present: int, votes: list[tuple[int, int, int]], org: str = "K01") -> meetings.MeetingBody:
    return meetings.MeetingBody.of({
        "org": org, "date": "2026-01-20", "members": members, "present": [f"委员{i}" for i in range(present)],
        "minutes": "会议讨论了各项申请。", "votes": [{"application_id": a, "for": f, "against": x} for a, f, x in votes]})


@pytest.fixture
async def scene(engine, config):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        member_id, user_id = await worker(conn, cipher, tree["G01"], 51)
        far_member, far_user = await worker(conn, cipher, tree["K02"], 52, name="赵六")
        apps = [await submitted(conn, cipher, member_id, user_id, tree["G01"], step="collective_review")
                for _ in range(3)]
        far = await submitted(conn, cipher, far_member, far_user, tree["K02"], step="collective_review")
        early = await submitted(conn, cipher, member_id, user_id, tree["G01"], step="county_review")
        approver = await staff(conn, "approver.k01", "K01", "approver")
        city = await staff(conn, "approver.c01", "C01", "approver")
    return {"cipher": cipher, "apps": apps, "far": far, "early": early, "approver": approver, "city": city}


async def _record(engine, s, b, who="approver"):
    async with engine.begin() as conn:
        return await meetings.record(conn, s["cipher"], s[who], b)


async def _count(engine, table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


def test_two_thirds_rounds_up():
    assert [meetings.two_thirds(n) for n in (1, 2, 3, 4, 5, 6, 7, 9)] == [1, 2, 2, 3, 4, 4, 5, 6]


async def test_quorum_is_two_thirds_of_the_committee_and_short_of_it_nothing_is_written(engine, scene):
    s = scene
    a = s["apps"][0]
    for members, present in ((7, 4), (9, 5)):  # ⌈14/3⌉ = 5, ⌈18/3⌉ = 6: one short
        with pytest.raises(Unprocessable) as short:
            await _record(engine, s, body(members, present, [(a, present, 0)]))
        assert short.value.code == "meeting_quorum"
    with pytest.raises(Unprocessable) as too_many:
        await _record(engine, s, body(5, 6, [(a, 6, 0)]))
    assert too_many.value.code == "meeting_present"
    assert await _count(engine, relief_meetings) == 0 and await _count(engine, relief_events) == 0
    done = await _record(engine, s, body(7, 5, [(a, 4, 1)]))  # exactly the quorum; 4 ≥ ⌈10/3⌉ = 4
    assert done.results[0]["carried"] is True and done.results[0]["step"] == "notice"


async def test_two_thirds_of_those_present_carries_one_fewer_is_a_rejection(engine, scene):
    s = scene
    a, b, c = s["apps"]
    done = await _record(engine, s, body(9, 7, [(a, 5, 2), (b, 4, 3), (c, 4, 0)]))  # ⌈14/3⌉ = 5
    assert [(r["id"], r["carried"], r["status"], r["step"]) for r in done.results] == [
        (a, True, "submitted", "notice"), (b, False, "rejected", "collective_review"),
        (c, False, "rejected", "collective_review")]
    async with engine.connect() as conn:
        lost = await records.load(conn, s["cipher"], b)
        won = await records.load(conn, s["cipher"], a)
        kinds = sorted(r.kind for r in (await conn.execute(sa.select(notifications))).all())
        line = await records.timeline(conn, a)
    assert lost.reject_reason == "集体评议未通过"
    assert won.due_at is not None and won.step_since is not None
    assert kinds == ["relief.passed", "relief.rejected", "relief.rejected"]
    assert (line[-1].action, line[-1].staff_id, line[-1].detail["for"]) == ("meeting", s["approver"].id, 5)
    assert await _count(engine, relief_votes) == 3


async def test_votes_beyond_those_present_or_an_application_elsewhere_refuse_the_whole_meeting(engine, scene):
    s = scene
    a = s["apps"][0]
    with pytest.raises(Unprocessable) as over:
        await _record(engine, s, body(6, 5, [(a, 4, 2)]))
    assert over.value.code == "meeting_votes"
    for other in (s["far"], s["early"], 987654321):
        with pytest.raises(Unprocessable) as elsewhere:
            await _record(engine, s, body(3, 3, [(a, 3, 0), (other, 3, 0)]))
        assert elsewhere.value.code == "meeting_application"
    # the far application is in the city approver's subtree, but not in K01's, the meeting's unit
    with pytest.raises(Unprocessable):
        await _record(engine, s, body(3, 3, [(s["far"], 3, 0)]), who="city")
    assert await _count(engine, relief_meetings) == 0
    async with engine.connect() as conn:
        assert (await records.load(conn, s["cipher"], a)).step == "collective_review"


async def test_the_recorder_may_not_have_decided_an_earlier_step(engine, scene):
    s = scene
    a = s["apps"][1]
    async with engine.begin() as conn:
        app = await records.load(conn, s["cipher"], a)
        await records.event(conn, app, "passed", step="county_review", staff_id=s["approver"].id)
    with pytest.raises(Forbidden) as same:
        await _record(engine, s, body(3, 3, [(s["apps"][0], 3, 0), (a, 3, 0)]))
    assert same.value.code == "four_eyes"
    assert await _count(engine, relief_meetings) == 0
    done = await _record(engine, s, body(3, 3, [(a, 2, 1)]), who="city")
    assert done.results[0]["carried"] is True


async def test_a_carried_vote_on_a_flagged_application_needs_the_approvers_reason(engine, scene):
    s = scene
    a, b, _ = s["apps"]
    async with engine.begin() as conn:
        flag_id = await flag(conn, a, other=b)
    with pytest.raises(Unprocessable) as blocked:
        await _record(engine, s, body(3, 3, [(a, 3, 0), (b, 3, 0)]))
    assert blocked.value.code == "flagged" and str(a) in blocked.value.message
    assert await _count(engine, relief_meetings) == 0
    # With the approver's reason it carries; b, not flagged itself, needs none.
    votes = [{"application_id": a, "for": 3, "against": 0, "override": {"reason": "经核实为同一户的两个不同困难事项"}},
             {"application_id": b, "for": 3, "against": 0}]
    done = await _record(engine, s, meetings.MeetingBody.of({
        "org": "K01", "date": "2026-01-20", "members": 3, "present": ["甲", "乙", "丙"], "minutes": "会议记录。",
        "votes": votes}))
    assert [r["carried"] for r in done.results] == [True, True]
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(relief_flags).where(relief_flags.c.id == flag_id))).one()
        audits = (await conn.execute(sa.select(audit_log.c.action).where(audit_log.c.action == "relief.override"))
                  ).scalars().all()
    assert (row.status, row.override_by, row.override_reason) == (
        "overridden", s["approver"].id, "经核实为同一户的两个不同困难事项")
    assert audits == ["relief.override"]
