"""Staff review of relief applications over HTTP: each step by its role, visits with photos, the meeting,
the queue, the audited file, and staff of another subtree refused everywhere exactly like a missing record."""
from __future__ import annotations

import asyncio
import io
import json

import pytest
import sqlalchemy as sa
from PIL import Image

from models.core.tables import audit_log
from models.relief.tables import relief_applications, relief_household
from tests.factories import id_number, org_tree
from tests.handlers.test_staff_members import multipart
from tests.relief_helpers import flag, resubmit, staff, submitted, token, worker

BASE = "/api/v1/staff/relief/applications"
VISIT = {"date": "2026-01-06", "visitors": ["李站长"], "findings": "家中确有困难，情况属实。"}


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
async def scene(api, engine, running):
    cipher = running.settings["cipher"]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        member_id, user_id = await worker(conn, cipher, tree["G01"], 61)
        app = await submitted(conn, cipher, member_id, user_id, tree["G01"])
        # Another worker's application (the same member's second open one would be flagged as a duplicate).
        other_member, other_user = await worker(conn, cipher, tree["G01"], 63, name="赵六")
        other = await submitted(conn, cipher, other_member, other_user, tree["G01"], due_in_days=-3)
        await conn.execute(relief_household.insert().values(application_id=app, name="李建国", relation="spouse",
                                                            id_number_enc=cipher.encrypt(id_number(62), purpose="id_number")))
        s = {"app": app, "other": other, "cipher": cipher, "member": member_id, "user": user_id, "tree": tree}
        for name, org, roles in (("station", "S01", ["station"]), ("station2", "G01", ["station"]),
                                 ("reviewer", "K01", ["reviewer"]), ("approver", "K01", ["approver"]),
                                 ("admin", "K01", ["admin"]), ("far", "K02", ["station", "reviewer", "approver"])):
            actor = await staff(conn, f"{name}.relief", org, *roles)
            s[name], s[name + "_id"] = await token(conn, actor), actor.id
    return s


async def decide(api, s, who, app, **body):
    return await api.post(f"{BASE}/{app}/decision", body, token=s[who])


async def test_an_application_walks_to_the_notice_step_each_level_by_its_role(api, engine, scene):
    s, app = scene, scene["app"]
    refused = await decide(api, s, "reviewer", app, step="verification", decision="pass")
    assert (refused.status, refused.error_code) == (403, "step_role")
    no_visit = await decide(api, s, "station", app, step="verification", decision="pass")
    assert (no_visit.status, no_visit.error_code) == (422, "visit_required")
    visit = await api.post(f"{BASE}/{app}/visit", VISIT, token=s["station"])
    assert visit.status == 201 and visit.data["findings"] == VISIT["findings"], visit.data
    payload, headers = multipart({}, "photo.jpg", jpeg())
    photo = await api.request("POST", f"/api/v1/staff/relief/visits/{visit.data['id']}/photos", body=payload,
                              headers=headers, token=s["station"])
    assert photo.status == 201 and photo.data["mime"] == "image/jpeg", photo.data
    served = await api.get(f"{BASE}/{app}/attachments/{photo.data['id']}", token=s["reviewer"])
    assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert Image.open(io.BytesIO(served.body)).size == (40, 30)
    passed = await decide(api, s, "station", app, step="verification", decision="pass")
    assert passed.data == {"id": app, "status": "submitted", "step": "county_review"}
    stale = await decide(api, s, "station", app, step="verification", decision="pass")
    assert (stale.status, stale.error_code) == (409, "step_mismatch")
    over = await decide(api, s, "reviewer", app, step="county_review", decision="pass", amount=500_001)
    assert (over.status, over.error_code) == (422, "amount_over_cap")
    county = await decide(api, s, "reviewer", app, step="county_review", decision="pass", amount=300_000)
    assert county.status == 200, county.data
    assert county.data["step"] == "collective_review"
    meeting = {"org": "K01", "date": "2026-01-20", "members": 7, "present": ["甲", "乙", "丙", "丁"],
               "minutes": "评议。", "votes": [{"application_id": app, "for": 4, "against": 0}]}
    short = await api.post("/api/v1/staff/relief/meetings", meeting, token=s["approver"])
    assert (short.status, short.error_code) == (422, "meeting_quorum")
    meeting["present"].append("戊")  # 5 of 7 = ⌈14/3⌉; 4 of 5 ≥ ⌈10/3⌉
    done = await api.post("/api/v1/staff/relief/meetings", meeting, token=s["approver"])
    assert done.status == 201 and done.data["results"][0]["step"] == "notice", done.data
    file = await api.get(f"{BASE}/{app}", token=s["admin"])
    assert file.status == 200 and file.data["step"] == "notice" and file.data["proposed_amount"] == 300_000
    assert [(e["action"], e["staff_id"]) for e in file.data["timeline"]] == [
        ("visited", s["station_id"]), ("passed", s["station_id"]), ("passed", s["reviewer_id"]),
        ("meeting", s["approver_id"])]
    assert file.data["votes"][0]["for"] == 4 and file.data["visits"][0]["photos"][0]["id"] == photo.data["id"]


async def test_four_eyes_return_resubmission_and_rejection_over_http(api, engine, scene):
    s, app = scene, scene["app"]
    await api.post(f"{BASE}/{app}/visit", VISIT, token=s["station"])
    returned = await decide(api, s, "station", app, step="verification", decision="return", comment="材料不全",
                            missing=[{"item": "income_proof", "note": "需单位盖章"}, {"item": "other", "note": "户口本"}])
    assert returned.data == {"id": app, "status": "returned", "step": "verification"}
    async with engine.begin() as conn:
        await resubmit(conn, s["cipher"], app)
    back = await decide(api, s, "station", app, step="verification", decision="pass")
    assert back.data["step"] == "county_review"
    twice = await decide(api, s, "station", app, step="county_review", decision="pass", amount=1)
    assert (twice.status, twice.error_code) == (403, "step_role")  # station is not a reviewer
    rejected = await decide(api, s, "reviewer", app, step="county_review", decision="reject", comment="收入超标")
    assert rejected.data["status"] == "rejected"
    file = await api.get(f"{BASE}/{app}", token=s["reviewer"])
    assert file.data["reject_reason"] == "收入超标"


async def test_a_member_of_staff_who_decided_one_step_may_not_decide_another(api, engine, scene):
    s, app = scene, scene["app"]
    async with engine.begin() as conn:
        both = await staff(conn, "both.relief", "K01", "station", "reviewer")
        s["both"] = await token(conn, both)
    await api.post(f"{BASE}/{app}/visit", VISIT, token=s["both"])
    assert (await decide(api, s, "both", app, step="verification", decision="pass")).status == 200
    again = await decide(api, s, "both", app, step="county_review", decision="pass", amount=1000)
    assert (again.status, again.error_code) == (403, "four_eyes")


async def test_a_flag_blocks_the_pass_and_an_override_with_a_reason_is_audited(api, engine, scene):
    s, app = scene, scene["app"]
    await api.post(f"{BASE}/{app}/visit", VISIT, token=s["station"])
    await decide(api, s, "station", app, step="verification", decision="pass")
    async with engine.begin() as conn:
        await flag(conn, app, s["other"])
    file = await api.get(f"{BASE}/{app}", token=s["reviewer"])
    assert file.data["flags"][0]["other_application"]["id"] == s["other"] and file.data["flagged"] is True
    blocked = await decide(api, s, "reviewer", app, step="county_review", decision="pass", amount=1000)
    assert (blocked.status, blocked.error_code) == (422, "flagged")
    ok = await decide(api, s, "reviewer", app, step="county_review", decision="pass", amount=1000,
                      override={"reason": "另一申请为同户不同事由"})
    assert ok.status == 200, ok.data
    async with engine.connect() as conn:
        actions = [r.action for r in (await conn.execute(sa.select(audit_log.c.action))).all()]
    assert "relief.override" in actions


async def test_two_staff_deciding_at_once_one_wins_the_other_gets_409(api, engine, scene):
    s, app = scene, scene["app"]
    await api.post(f"{BASE}/{app}/visit", VISIT, token=s["station"])
    answers = await asyncio.gather(
        decide(api, s, "station", app, step="verification", decision="pass"),
        decide(api, s, "station2", app, step="verification", decision="reject", comment="不符合条件"))
    assert sorted(a.status for a in answers) == [200, 409]
    assert {a.error_code for a in answers if a.status == 409} <= {"step_mismatch", "application_changed"}


async def test_staff_of_another_subtree_are_refused_at_every_route_like_a_missing_application(api, engine, scene):
    s, app = scene, scene["app"]
    visit = await api.post(f"{BASE}/{app}/visit", VISIT, token=s["station"])
    payload, headers = multipart({}, "photo.jpg", jpeg())
    photo = await api.request("POST", f"/api/v1/staff/relief/visits/{visit.data['id']}/photos", body=payload,
                              headers=headers, token=s["station"])
    for ident in (app, 987654321):
        for method, path, body in (("GET", f"{BASE}/{ident}", None),
                                   ("GET", f"{BASE}/{ident}/attachments/{photo.data['id']}", None),
                                   ("POST", f"{BASE}/{ident}/decision", {"step": "verification", "decision": "pass"}),
                                   ("POST", f"{BASE}/{ident}/visit", VISIT)):
            got = await api.request(method, path, json_body=body, token=s["far"])
            assert (got.status, got.error_code) == (404, "application_not_found"), (path, got.data)
    far_photo = await api.request("POST", f"/api/v1/staff/relief/visits/{visit.data['id']}/photos", body=payload,
                                  headers=headers, token=s["far"])
    assert (far_photo.status, far_photo.error_code) == (404, "visit_not_found")
    queue = await api.get(f"{BASE}?step=verification", token=s["far"])
    assert queue.data["items"] == []
    meeting = await api.post("/api/v1/staff/relief/meetings", {
        "org": "K02", "date": "2026-01-20", "members": 3, "present": ["甲", "乙", "丙"], "minutes": "评议。",
        "votes": [{"application_id": app, "for": 3, "against": 0}]}, token=s["far"])
    assert (meeting.status, meeting.error_code) == (422, "meeting_application")


async def test_the_queue_filters_and_shows_what_is_overdue(api, engine, scene):
    s = scene
    mine = await api.get(BASE, token=s["station"])
    assert [i["id"] for i in mine.data["items"]] == [s["app"], s["other"]]
    assert [i["overdue"] for i in mine.data["items"]] == [False, True]
    assert [i["applicant"] for i in mine.data["items"]] == ["王*英", "赵*"]
    assert all(i["waited"] is not None for i in mine.data["items"])
    assert (await api.get(BASE, token=s["reviewer"])).data["items"] == []  # nothing at the county step yet
    late = await api.get(f"{BASE}?overdue=1", token=s["station"])
    assert [i["id"] for i in late.data["items"]] == [s["other"]]
    async with engine.begin() as conn:
        await flag(conn, s["app"])
    flagged = await api.get(f"{BASE}?flagged=1", token=s["station"])
    assert [i["id"] for i in flagged.data["items"]] == [s["app"]]
    first = await api.get(f"{BASE}?limit=1", token=s["admin"])
    second = await api.get(f"{BASE}?limit=1&cursor={first.data['next']}", token=s["admin"])
    assert [i["id"] for i in first.data["items"] + second.data["items"]] == [s["app"], s["other"]]
    assert second.data["next"] is None


async def test_the_file_masks_the_household_unless_full_and_every_view_is_audited(api, engine, scene):
    s = scene
    masked = await api.get(f"{BASE}/{s['app']}", token=s["approver"])
    assert masked.data["household"][0]["id_number"] == id_number(62)[:4] + "*" * 10 + id_number(62)[-4:]
    assert masked.data["form"]["event"] == "illness"
    denied = await api.get(f"{BASE}/{s['app']}?full=1", token=s["approver"])
    assert denied.status == 403
    full = await api.get(f"{BASE}/{s['app']}?full=1", token=s["reviewer"])
    assert full.data["household"][0]["id_number"] == id_number(62)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_log).where(audit_log.c.action == "relief.view"))).all()
    assert [json.loads(r.summary)["full"] for r in rows] == [False, True]
    assert {r.target_id for r in rows} == {str(s["app"])}
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(relief_applications.c.version)
                                   .where(relief_applications.c.id == s["app"]))).scalar_one() == 1
