"""Deciding a relief application step by step: roles, four eyes, visits, the cap, flags, returns, rejections."""
from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from models.core.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from models.core.tables import audit_log, notifications
from models.relief import records, reviewing, visits
from models.relief.tables import relief_flags
from server.crypto import PiiCipher, load_keyring
from tests.factories import org_tree
from tests.relief_helpers import flag, resubmit, staff, submitted, worker


def decision(step: str, decision: str = "pass", **more) -> reviewing.Decision:
    return reviewing.Decision.of({"step": step, "decision": decision, **more})


VISIT = visits.VisitBody.of({"date": "2026-01-06", "visitors": ["李站长", "张干事"], "findings": "家中确有困难，情况属实。"})


@pytest.fixture
async def scene(engine, config):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        member_id, user_id = await worker(conn, cipher, tree["G01"], 41)
        app_id = await submitted(conn, cipher, member_id, user_id, tree["G01"])
        people = {
            "station": await staff(conn, "station.s01", "S01", "station"),
            "station2": await staff(conn, "station2.s01", "S01", "station"),
            "reviewer": await staff(conn, "reviewer.k01", "K01", "reviewer"),
            "both": await staff(conn, "both.k01", "K01", "station", "reviewer"),
            "admin": await staff(conn, "admin.k01", "K01", "admin"),
            "approver": await staff(conn, "approver.k01", "K01", "approver"),
            "far": await staff(conn, "reviewer.k02", "K02", "reviewer", "station"),
        }
    return {"cipher": cipher, "tree": tree, "app": app_id, "user": user_id, **people}


async def _decide(engine, s, who, body, app_id=None):
    async with engine.begin() as conn:
        return await reviewing.decide(conn, s["cipher"], s[who], app_id or s["app"], body)


async def _visit(engine, s, who="station"):
    async with engine.begin() as conn:
        return await visits.record(conn, s["cipher"], s[who], s["app"], VISIT)


async def test_verification_needs_a_visit_then_the_county_names_an_amount_within_the_cap(engine, scene):
    s = scene
    with pytest.raises(Unprocessable) as no_visit:
        await _decide(engine, s, "station", decision("verification"))
    assert no_visit.value.code == "visit_required"
    await _visit(engine, s)
    passed = await _decide(engine, s, "station", decision("verification", comment="属实"))
    assert (passed.status, passed.step) == ("submitted", "county_review")
    assert passed.due_at is not None and passed.step_since is not None
    with pytest.raises(Invalid) as no_amount:
        await _decide(engine, s, "reviewer", decision("county_review"))
    assert no_amount.value.code == "amount_required"
    with pytest.raises(Unprocessable) as over:
        await _decide(engine, s, "reviewer", decision("county_review", amount=500_001))
    assert over.value.code == "amount_over_cap"
    county = await _decide(engine, s, "reviewer", decision("county_review", amount=500_000))
    assert (county.step, county.proposed_amount) == ("collective_review", 500_000)
    with pytest.raises(Unprocessable) as meeting:
        await _decide(engine, s, "approver", decision("collective_review"))
    assert meeting.value.code == "step_passed_elsewhere"
    async with engine.connect() as conn:
        line = await records.timeline(conn, s["app"])
        kinds_ = [r.kind for r in (await conn.execute(sa.select(notifications))).all()]
        audits = [r.action for r in (await conn.execute(sa.select(audit_log.c.action))).all()]
    assert [(e.step, e.action, e.staff_id) for e in line] == [
        ("verification", "visited", s["station"].id), ("verification", "passed", s["station"].id),
        ("county_review", "passed", s["reviewer"].id)]
    assert line[2].amount == 500_000 and line[1].comment is None and line[1].detail == {"staff_comment": "属实"}
    assert kinds_ == ["relief.passed", "relief.passed"]
    assert audits.count("relief.decide") == 2 and "relief.visit" in audits


async def test_the_step_role_is_required_and_admin_does_not_stand_in(engine, scene):
    s = scene
    await _visit(engine, s)
    for who in ("reviewer", "admin"):
        with pytest.raises(Forbidden) as refused:
            await _decide(engine, s, who, decision("verification"))
        assert refused.value.code == "step_role"
    with pytest.raises(NotFound):
        await _decide(engine, s, "far", decision("verification"))
    with pytest.raises(Conflict) as wrong_step:
        await _decide(engine, s, "reviewer", decision("county_review", amount=1))
    assert wrong_step.value.code == "step_mismatch"


async def test_four_eyes_one_person_never_decides_two_steps(engine, scene):
    s = scene
    await _visit(engine, s, "both")
    await _decide(engine, s, "both", decision("verification"))
    with pytest.raises(Forbidden) as same:
        await _decide(engine, s, "both", decision("county_review", amount=1000))
    assert same.value.code == "four_eyes"
    with pytest.raises(Forbidden):  # returning counts as deciding too
        await _decide(engine, s, "both", decision("county_review", "return", comment="补", missing=[{"item": "other"}]))
    async with engine.connect() as conn:
        app = await records.load(conn, s["cipher"], s["app"])
    assert (app.status, app.step, app.version) == ("submitted", "county_review", 2)


async def test_a_return_lists_every_missing_item_and_the_resubmission_comes_back_to_that_step(engine, scene):
    s = scene
    with pytest.raises(Invalid) as none_listed:
        await _decide(engine, s, "station", decision("verification", "return", comment="请补充"))
    assert none_listed.value.code == "missing_required"
    with pytest.raises(Invalid) as unknown:
        await _decide(engine, s, "station", decision("verification", "return", comment="请补充",
                                                     missing=[{"item": "passport"}]))
    assert unknown.value.code == "missing_item"
    with pytest.raises(Invalid) as silent:
        await _decide(engine, s, "station", decision("verification", "return", missing=[{"item": "other"}]))
    assert silent.value.code == "comment_required"
    missing = [{"item": "income_proof", "note": "需单位盖章"}, {"item": "situation", "note": "写明住院时间"},
               {"item": "household", "note": "补充配偶信息"}]
    back = await _decide(engine, s, "station", decision("verification", "return", comment="材料不全",
                                                        missing=missing))
    assert (back.status, back.returned_step, back.missing) == ("returned", "verification", missing)
    async with engine.begin() as conn:
        await resubmit(conn, s["cipher"], s["app"])
        again = await records.load(conn, s["cipher"], s["app"])
        note = (await conn.execute(sa.select(notifications))).one()
    assert (again.status, again.step) == ("submitted", "verification")
    assert note.kind == "relief.returned" and "材料不全" in json.loads(note.payload)["body"]
    assert json.loads(note.payload)["values"] == {"kind": "临时救助", "step": "已退回"}
    await _visit(engine, s)
    passed = await _decide(engine, s, "station", decision("verification"))  # the same step again: fine
    assert passed.step == "county_review"


async def test_a_rejection_keeps_its_reason_for_the_worker(engine, scene):
    s = scene
    rejected = await _decide(engine, s, "station2", decision("verification", "reject", comment="家庭收入高于标准"))
    assert (rejected.status, rejected.reject_reason) == ("rejected", "家庭收入高于标准")
    with pytest.raises(Conflict):
        await _decide(engine, s, "station", decision("verification"))
    async with engine.connect() as conn:
        line = await records.timeline(conn, s["app"])
    assert line[-1].worker_view()["comment"] == "家庭收入高于标准" and "staff_id" not in line[-1].worker_view()


async def test_a_flag_blocks_a_pass_until_a_reviewer_overrides_it_with_a_reason(engine, scene):
    s = scene
    async with engine.begin() as conn:
        other = await submitted(conn, s["cipher"], *(await _member_user(conn, s)), s["tree"]["G01"])
        flag_id = await flag(conn, s["app"], other)
    await _visit(engine, s)
    with pytest.raises(Unprocessable) as blocked:
        await _decide(engine, s, "station", decision("verification"))
    assert blocked.value.code == "flagged"
    with pytest.raises(Forbidden) as station_only:
        await _decide(engine, s, "station", decision("verification", override={"reason": "系另一家庭成员"}))
    assert station_only.value.code == "override_forbidden"
    passed = await _decide(engine, s, "both", decision("verification", override={"reason": "系另一家庭成员"}))
    assert passed.step == "county_review" and passed.flagged is False
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(relief_flags).where(relief_flags.c.id == flag_id))).one()
        audited = (await conn.execute(sa.select(audit_log).where(audit_log.c.action == "relief.override"))).one()
    assert (row.status, row.override_reason, row.override_by) == ("overridden", "系另一家庭成员", s["both"].id)
    assert json.loads(audited.summary)["flags"] == [flag_id]


async def _member_user(conn, s):
    from models.relief.tables import relief_applications
    row = (await conn.execute(sa.select(relief_applications.c.member_id, relief_applications.c.user_id)
                              .where(relief_applications.c.id == s["app"]))).one()
    return row.member_id, row.user_id


async def test_two_decisions_read_at_once_one_wins_the_other_is_refused(engine, scene):
    s = scene
    await _visit(engine, s)
    async with engine.connect() as conn:
        stale = await records.load(conn, s["cipher"], s["app"])
    await _decide(engine, s, "station", decision("verification"))
    async with engine.begin() as conn:
        with pytest.raises(Conflict) as late:
            await records.save(conn, s["cipher"], stale, status="rejected")
    assert late.value.code == "application_changed"
    with pytest.raises(Conflict) as again:
        await _decide(engine, s, "station2", decision("verification", "reject", comment="x"))
    assert again.value.code == "step_mismatch"


async def test_a_visit_is_for_an_application_under_review_in_reach_and_not_in_the_future(engine, scene):
    s = scene
    async with engine.begin() as conn:
        with pytest.raises(NotFound):
            await visits.record(conn, s["cipher"], s["far"], s["app"], VISIT)
        with pytest.raises(Invalid):
            await visits.record(conn, s["cipher"], s["station"], s["app"], visits.VisitBody.of(
                {"date": date(2999, 1, 1).isoformat(), "visitors": ["李"], "findings": "情况属实"}))
    v = await _visit(engine, s)
    async with engine.connect() as conn:
        found = await visits.of_application(conn, s["cipher"], s["app"])
    assert [(x.id, x.findings, x.visitors) for x in found] == [(v.id, VISIT.findings, VISIT.visitors)]
