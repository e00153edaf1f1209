"""The register over HTTP, issue 15: a second person confirms, the annual re-check renews, an ended
validity shows expired and cannot be entered."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.core.clock import local_today
from models.core.tables import audit_log
from models.identity import staff_accounts as staff
from models.members import hardship
from models.members.tables import hardship_records
from server.passwords import ARGON2
from tests.handlers.test_hardship import body, confirm, put_lines, setup
from tests.handlers.test_staff import PASSWORD, same_refusal, token_of

PENDING = "/api/v1/staff/hardship/pending"
DUE = "/api/v1/staff/hardship/due"


async def more_staff(engine, *accounts: tuple[str, list[str], str]) -> None:
    async with engine.begin() as conn:
        for username, roles, org in accounts:
            await staff.create(conn, SYSTEM, hasher=ARGON2, username=username, password=PASSWORD, roles=roles,
                               org_code=org)


def record_url(record_id: int, action: str) -> str:
    return f"/api/v1/staff/hardship/{record_id}/{action}"


async def test_the_register_re_check_walked_over_http(api, engine, config):
    """enter (station) → confirm (reviewer) → re-check (station) → confirm (admin) → the history shows both."""
    ids = await setup(engine, config)
    await more_staff(engine, ("station1", ["station"], "K1"), ("reviewer1", ["reviewer"], "K1"))
    admin = await token_of(api, "admin1")
    station, checker = await token_of(api, "station1"), await token_of(api, "reviewer1")
    assert (await put_lines(api, admin, "C1", 50_000, 80_000)).status == 200
    url = f"/api/v1/staff/members/{ids['王大明']}/hardship"
    today = local_today()

    # 1. The station enters him: deep (300 a head), valid for the year that ends in 20 days; pending.
    entered = await api.post(url, body(60_000, 0, valid_from=(today - timedelta(days=345)).isoformat(),
                                       valid_to=(today + timedelta(days=20)).isoformat()), token=station)
    assert entered.status == 201, entered.data
    first = entered.data
    assert (first["status"], first["kind"], first["category"], first["decided_by"]) == (
        "pending", "entry", "deep", None)
    assert [r["id"] for r in (await api.get(PENDING, token=checker)).data["items"]] == [first["id"]]
    assert (await api.get(DUE, token=station)).data["items"] == []  # not in force yet: nothing to re-check

    # 2. The reviewer, a second person, confirms it.
    confirmed = (await confirm(api, checker, first["id"], note="入户记录完整")).data
    assert (confirmed["status"], confirmed["verified_by"] != confirmed["decided_by"]) == ("active", True)
    assert (await api.get(PENDING, token=checker)).data["items"] == []
    assert [r["id"] for r in (await api.get(DUE, token=station)).data["items"]] == [first["id"]]

    # 3. The yearly re-check: his wife works now; a visit; the category is proposed again (relative).
    rechecked = await api.post(record_url(first["id"], "recheck"), body(60_000, 100_000, causes=["illness"],
                                                                          visit_note="复核入户：配偶已在超市就业"),
                               token=station)
    assert rechecked.status == 201, rechecked.data
    second = rechecked.data
    assert (second["status"], second["kind"], second["supersedes_id"]) == ("pending", "recheck", first["id"])
    assert (second["category"], second["proposed_category"], second["per_capita_income"]) == (
        "relative", "relative", 80_000)
    assert (second["valid_from"], second["valid_to"]) == (today.isoformat(), hardship.one_year_from(today).isoformat())
    waiting = (await api.get(PENDING, token=checker)).data["items"]
    assert [(r["id"], r["kind"], r["supersedes_id"]) for r in waiting] == [(second["id"], "recheck", first["id"])]
    assert (await api.get(DUE, token=station)).data["items"] == []  # its re-check waits for confirmation
    again = await api.post(record_url(first["id"], "recheck"), body(0, visit_note="再次"), token=station)
    assert (again.status, again.error_code) == (409, "hardship_recheck_pending")
    # The station that re-checked cannot confirm (no right); the reviewer could, but the admin does.
    assert (await api.post(record_url(second["id"], "confirm"), {}, token=station)).status == 403

    # 4. An admin confirms the re-check: it is in force, the old record renewed.
    renewed = (await confirm(api, admin, second["id"])).data
    assert renewed["status"] == "active"

    # 5. The history shows both, linked.
    history = await api.get(url, token=station)
    assert history.status == 200
    assert [(r["id"], r["status"], r["kind"], r["supersedes_id"], r["superseded_by_id"])
            for r in history.data["items"]] == [(second["id"], "active", "recheck", first["id"], None),
                                                (first["id"], "renewed", "entry", None, second["id"])]
    assert [r["category"] for r in history.data["items"]] == ["relative", "deep"]
    full = await api.get(url + "?full=1", token=station)
    assert full.data["items"][0]["visit_note"] == "复核入户：配偶已在超市就业"
    async with engine.connect() as conn:
        actions = (await conn.execute(sa.select(audit_log.c.action).where(audit_log.c.action.like("hardship.%"))
                                      .order_by(audit_log.c.id))).scalars().all()
    assert actions == ["hardship.enter", "hardship.confirm", "hardship.recheck", "hardship.confirm",
                       "hardship.view_full"]
    # A renewed record is not re-checked again.
    stale = await api.post(record_url(first["id"], "recheck"), body(0, visit_note="x"), token=station)
    assert (stale.status, stale.error_code) == (409, "hardship_not_active")


async def test_four_eyes_decline_and_the_override_the_confirmer_sees(api, engine, config):
    ids = await setup(engine, config)
    admin, clerk = await token_of(api, "admin1"), await token_of(api, "clerk1")  # clerk1: station and reviewer
    await put_lines(api, admin, "C1", 50_000, 80_000)
    url = f"/api/v1/staff/members/{ids['王大明']}/hardship"
    rec = (await api.post(url, body(100_000, 60_001, category="deep", category_reason="大病支出"), token=clerk)).data
    for action, payload in (("confirm", {}), ("decline", {"reason": "自己退回"})):
        own = await api.post(record_url(rec["id"], action), payload, token=clerk)
        assert (own.status, own.error_code) == (409, "four_eyes"), own.data
        assert own.data["error"]["message"] == "困难职工档案的录入（复核）和确认须由不同人员办理"
    listed = (await api.get(PENDING, token=admin)).data["items"]
    assert [(r["category"], r["proposed_category"], r["overridden"], r["category_reason"]) for r in listed] == [
        ("deep", "relative", True, "大病支出")]
    for bad in ({}, {"reason": ""}, {"reason": "x" * 501}, {"reason": "x", "extra": 1}):
        assert (await api.post(record_url(rec["id"], "decline"), bad, token=admin)).status == 400, bad
    declined = await api.post(record_url(rec["id"], "decline"), {"reason": "医疗票据不全，请补充后重新录入"},
                              token=admin)
    assert declined.status == 200, declined.data
    assert (declined.data["status"], declined.data["decline_reason"]) == ("declined", "医疗票据不全，请补充后重新录入")
    assert (await api.get(PENDING, token=admin)).data["items"] == []
    twice = await api.post(record_url(rec["id"], "confirm"), {}, token=admin)
    assert (twice.status, twice.error_code) == (409, "hardship_not_pending")
    # Entered again, for a second person to confirm.
    assert (await api.post(url, body(100_000, 60_001), token=clerk)).status == 201


async def test_pending_list_pages_and_stays_in_the_subtree(api, engine, config):
    ids = await setup(engine, config)
    admin1, admin2, clerk1 = [await token_of(api, n) for n in ("admin1", "admin2", "clerk1")]
    finance, clerk2 = await token_of(api, "finance1"), await token_of(api, "clerk2")
    await put_lines(api, admin1, "C1", 50_000, 80_000)
    await put_lines(api, admin2, "C2", 50_000, 80_000)
    made = []
    for name, token in (("王大明", clerk1), ("赵小红", clerk1), ("孙其", clerk2)):
        got = await api.post(f"/api/v1/staff/members/{ids[name]}/hardship", body(0), token=token)
        assert got.status == 201, got.data
        made.append(got.data["id"])
    page1 = await api.get(PENDING + "?limit=1", token=admin1)
    assert [r["id"] for r in page1.data["items"]] == made[:1] and page1.data["next"]
    page2 = await api.get(PENDING + f"?limit=1&cursor={page1.data['next']}", token=admin1)
    assert [r["id"] for r in page2.data["items"]] == made[1:2] and page2.data["next"] is None
    assert [r["id"] for r in (await api.get(PENDING, token=clerk2)).data["items"]] == made[2:]
    assert (await api.get(PENDING, token=finance)).status == 403
    assert (await api.get(PENDING + "?cursor=nope", token=admin1)).status == 400
    # Confirming out of reach reads like a missing record.
    same_refusal(await api.post(record_url(made[0], "confirm"), {}, token=admin2),
                 await api.post(record_url(999_999, "confirm"), {}, token=admin2))
    assert (await api.post(record_url(made[0], "confirm"), {}, token=finance)).status == 403


async def test_an_ended_validity_is_refused_and_an_expired_record_shows_expired(api, engine, config):
    ids = await setup(engine, config)
    admin, clerk = await token_of(api, "admin1"), await token_of(api, "clerk1")
    await put_lines(api, admin, "C1", 50_000, 80_000)
    url = f"/api/v1/staff/members/{ids['王大明']}/hardship"
    today = local_today()
    ended = await api.post(url, body(0, valid_from=(today - timedelta(days=366)).isoformat(),
                                     valid_to=(today - timedelta(days=1)).isoformat()), token=clerk)
    assert (ended.status, ended.error_code) == (400, "hardship_valid_ended")
    assert "有效期" in ended.data["error"]["message"]
    rec = (await api.post(url, body(0), token=clerk)).data
    await confirm(api, admin, rec["id"])
    # A year passes.
    async with engine.begin() as conn:
        await conn.execute(hardship_records.update().where(hardship_records.c.id == rec["id"]).values(
            valid_from=today - timedelta(days=400), valid_to=today - timedelta(days=35)))
    history = (await api.get(url, token=clerk)).data["items"]
    assert [(r["id"], r["status"]) for r in history] == [(rec["id"], "expired")]
    due = (await api.get(DUE + "?within_days=0", token=clerk)).data["items"]
    assert [(r["id"], r["status"]) for r in due] == [(rec["id"], "expired")]
    dup = await api.post(url, body(0), token=clerk)
    assert (dup.status, dup.error_code) == (409, "hardship_active") and "复核" in dup.data["error"]["message"]
    # Re-checked to a validity that has ended, or one that starts later: refused.
    for period, code in (({"valid_from": (today - timedelta(days=30)).isoformat(),
                           "valid_to": (today - timedelta(days=1)).isoformat()}, "hardship_valid_ended"),
                         ({"valid_from": (today + timedelta(days=1)).isoformat()}, "hardship_recheck_start")):
        got = await api.post(record_url(rec["id"], "recheck"), body(0, visit_note="复核", **period), token=clerk)
        assert (got.status, got.error_code) == (400, code), got.data
    # Without a visit note a re-check is refused too.
    assert (await api.post(record_url(rec["id"], "recheck"), body(0, visit_note=None), token=clerk)).status == 400
    back = await api.post(record_url(rec["id"], "recheck"), body(0, visit_note="复核入户"), token=clerk)
    assert back.status == 201, back.data
    await confirm(api, admin, back.data["id"])
    assert [(r["id"], r["status"]) for r in (await api.get(url, token=clerk)).data["items"]] == [
        (back.data["id"], "active"), (rec["id"], "renewed")]
