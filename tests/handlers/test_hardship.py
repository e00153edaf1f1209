"""The difficult-worker register over HTTP."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.core.clock import local_today
from models.core.tables import audit_log
from models.identity import staff_accounts as staff
from models.members import hardship
from models.members.tables import household_members, members
from server.crypto import PiiCipher, load_keyring
from server.passwords import ARGON2
from tests.client import ApiClient
from tests.factories import id_number, import_rows
from tests.handlers.test_staff import PASSWORD, network, same_refusal, token_of


@pytest.fixture
def hapi(api) -> ApiClient:
    return api


def body(*incomes: int, causes=("illness",), **extra):
    people = [{"relation": "本人", "name": "王大明", "age": 48, "health": "腰椎间盘突出", "work": "下岗",
               "monthly_income": incomes[0]}]
    people += [{"relation": "配偶", "name": "刘芳", "age": 46, "health": None, "work": "无",
                "monthly_income": v} for v in incomes[1:]]
    return {"household": people, "causes": list(causes), "verification_method": "home_visit",
            "visit_note": "入户核查：住房简陋", **extra}


async def setup(engine, config):
    """network() plus members at G1 and K2, a finance clerk at C1 and a station clerk at C2."""
    await network(engine)
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        from models.network import tree as orgs
        await import_rows(conn, cipher, await orgs.by_code(conn, "G1"),
                          [("王大明", id_number(11), ""), ("赵小红", id_number(12), "")])
        await import_rows(conn, cipher, await orgs.by_code(conn, "K2"), [("孙其", id_number(13), "")])
        ids = dict((await conn.execute(sa.select(members.c.name, members.c.id))).all())
        await staff.create(conn, SYSTEM, hasher=ARGON2,
                           username="finance1", password=PASSWORD, roles=["finance"], org_code="C1")
        await staff.create(conn, SYSTEM, hasher=ARGON2,
                           username="clerk2", password=PASSWORD, roles=["station"], org_code="C2")
    return ids


async def put_lines(api, token, org, deep, relative):
    return await api.request("PUT", f"/api/v1/staff/orgs/{org}/hardship-lines",
                             json_body={"deep_line": deep, "relative_line": relative}, token=token)


async def confirm(api, token, record_id, **extra):
    """A second member of staff confirms the record; the answer, checked to be 200."""
    done = await api.post(f"/api/v1/staff/hardship/{record_id}/confirm", extra, token=token)
    assert done.status == 200, done.data
    return done


async def test_lines_inherited_entry_and_proposals(hapi, engine, config):
    ids = await setup(engine, config)
    admin, clerk = await token_of(hapi, "admin1"), await token_of(hapi, "clerk1")
    url = f"/api/v1/staff/members/{ids['王大明']}/hardship"
    unset = await hapi.post(url, body(0), token=clerk)
    assert (unset.status, unset.error_code) == (400, "hardship_lines_unset")
    lines = await put_lines(hapi, admin, "C1", 50_000, 80_000)
    assert lines.status == 200 and lines.data == {"org_code": "C1", "deep_line": 50_000, "relative_line": 80_000}
    # Set at the city, applied to a member of a grassroots unit two levels down.
    above = await hapi.post(url, body(200_000, 0), token=clerk)
    assert (above.status, above.error_code) == (400, "hardship_above_line")
    relative = await hapi.post(url, body(100_000, 60_001), token=clerk)
    assert relative.status == 201, relative.data
    rec = relative.data
    assert (rec["household_size"], rec["household_income"], rec["per_capita_income"]) == (2, 160_001, 80_000)
    assert (rec["category"], rec["proposed_category"], rec["status"]) == ("relative", "relative", "pending")
    assert rec["household"][0]["name_masked"] == "王*明" and "health" not in rec["household"][0]
    assert "visit_note" not in rec and "腰椎" not in relative.body.decode()
    dup = await hapi.post(url, body(0), token=clerk)
    assert (dup.status, dup.error_code) == (409, "hardship_pending")
    assert (await confirm(hapi, admin, rec["id"])).data["status"] == "active"
    dup = await hapi.post(url, body(0), token=clerk)
    assert (dup.status, dup.error_code) == (409, "hardship_active")
    assert "复核" in dup.data["error"]["message"]
    other = f"/api/v1/staff/members/{ids['赵小红']}/hardship"
    accident = await hapi.post(other, body(200_000, causes=["accident"]), token=clerk)
    assert (accident.status, accident.data["category"]) == (201, "accident")
    async with engine.connect() as conn:
        healths = (await conn.execute(sa.select(household_members.c.health_enc)
                                      .where(household_members.c.health_enc.is_not(None)))).scalars().all()
    cipher = PiiCipher(load_keyring(config))
    assert healths and all("腰椎" not in h for h in healths)
    assert {cipher.decrypt(h, purpose=hardship.HEALTH) for h in healths} == {"腰椎间盘突出"}


async def test_deep_and_override(hapi, engine, config):
    ids = await setup(engine, config)
    admin, clerk = await token_of(hapi, "admin1"), await token_of(hapi, "clerk1")
    assert (await put_lines(hapi, admin, "K1", 50_000, 80_000)).status == 200
    url = f"/api/v1/staff/members/{ids['王大明']}/hardship"
    no_reason = await hapi.post(url, body(100_000, 60_001, category="deep"), token=clerk)
    assert (no_reason.status, no_reason.error_code) == (400, "hardship_reason_required")
    override = await hapi.post(url, body(100_000, 60_001, category="deep", category_reason="大病支出"), token=clerk)
    assert override.status == 201
    assert (override.data["category"], override.data["proposed_category"]) == ("deep", "relative")
    deep = await hapi.post(f"/api/v1/staff/members/{ids['赵小红']}/hardship", body(60_000, 40_001), token=clerk)
    assert (deep.data["category"], deep.data["per_capita_income"]) == ("deep", 50_000)


async def test_exit_history_reentry_and_due(hapi, engine, config):
    ids = await setup(engine, config)
    admin, clerk = await token_of(hapi, "admin1"), await token_of(hapi, "clerk1")
    await put_lines(hapi, admin, "C1", 50_000, 80_000)
    url = f"/api/v1/staff/members/{ids['王大明']}/hardship"
    today = local_today()
    first = (await hapi.post(url, body(0, valid_from=(today - timedelta(days=350)).isoformat(),
                                       valid_to=(today + timedelta(days=15)).isoformat()), token=clerk)).data
    await confirm(hapi, admin, first["id"])
    due = await hapi.get("/api/v1/staff/hardship/due", token=clerk)
    assert due.status == 200 and [r["id"] for r in due.data["items"]] == [first["id"]]
    assert (await hapi.get("/api/v1/staff/hardship/due?within_days=7", token=clerk)).data["items"] == []
    exited = await hapi.post(f"/api/v1/staff/hardship/{first['id']}/exit", {"reason": "再就业，收入超过标准"},
                             token=clerk)
    assert exited.status == 200 and exited.data["status"] == "exited"
    again = await hapi.post(f"/api/v1/staff/hardship/{first['id']}/exit", {"reason": "再次"}, token=clerk)
    assert (again.status, again.error_code) == (409, "hardship_not_active")
    assert (await hapi.get("/api/v1/staff/hardship/due", token=clerk)).data["items"] == []
    second = await hapi.post(url, body(0, causes=["unemployment"]), token=clerk)
    assert second.status == 201
    await confirm(hapi, admin, second.data["id"])
    history = await hapi.get(url, token=clerk)
    assert [(r["id"], r["status"]) for r in history.data["items"]] == [(second.data["id"], "active"),
                                                                        (first["id"], "exited")]
    assert history.data["items"][1]["exit_reason"] == "再就业，收入超过标准"
    assert "腰椎" not in history.body.decode()
    full = await hapi.get(url + "?full=1", token=clerk)
    assert full.status == 200
    assert full.data["items"][0]["household"][0]["health"] == "腰椎间盘突出"
    assert full.data["items"][0]["visit_note"] == "入户核查：住房简陋"
    async with engine.connect() as conn:
        actions = (await conn.execute(sa.select(audit_log.c.action))).scalars().all()
    assert actions.count("hardship.enter") == 2 and actions.count("hardship.exit") == 1
    assert actions.count("hardship.view_full") == 1


async def test_roles_and_subtrees(hapi, engine, config):
    ids = await setup(engine, config)
    admin1, clerk1 = await token_of(hapi, "admin1"), await token_of(hapi, "clerk1")
    finance, clerk2, admin2 = [await token_of(hapi, n) for n in ("finance1", "clerk2", "admin2")]
    await put_lines(hapi, admin1, "C1", 50_000, 80_000)
    await put_lines(hapi, admin2, "C2", 50_000, 80_000)
    url = f"/api/v1/staff/members/{ids['王大明']}/hardship"
    rec = (await hapi.post(url, body(0), token=clerk1)).data
    missing = "/api/v1/staff/members/999999/hardship"
    # A role without the right: 403 before any lookup, whether the record exists or not.
    for path in (url, missing):
        assert (await hapi.post(path, body(0), token=finance)).status == 403
        assert (await hapi.get(path, token=finance)).status == 403
    assert (await hapi.post(f"/api/v1/staff/hardship/{rec['id']}/exit", {"reason": "x"}, token=finance)).status == 403
    assert (await hapi.get("/api/v1/staff/hardship/due", token=finance)).status == 403
    assert (await put_lines(hapi, clerk1, "C1", 1, 2)).status == 403
    # Another subtree: exactly like a missing record.
    same_refusal(await hapi.post(url, body(0), token=clerk2), await hapi.post(missing, body(0), token=clerk2))
    same_refusal(await hapi.get(url, token=clerk2), await hapi.get(missing, token=clerk2))
    exit_other = await hapi.post(f"/api/v1/staff/hardship/{rec['id']}/exit", {"reason": "x"}, token=clerk2)
    exit_missing = await hapi.post("/api/v1/staff/hardship/999999/exit", {"reason": "x"}, token=clerk2)
    assert exit_other.status == 404
    same_refusal(exit_other, exit_missing)
    # The message repeats the code the caller sent, nothing more.
    outside, unknown = await put_lines(hapi, admin2, "C1", 1, 2), await put_lines(hapi, admin2, "NOPE", 1, 2)
    assert (outside.status, outside.error_code) == (unknown.status, unknown.error_code) == (404, "org_not_found")
    assert (await hapi.get("/api/v1/staff/hardship/due?within_days=366", token=clerk2)).data["items"] == []
    # The member at K2 is in clerk2's subtree, not clerk1's.
    assert (await hapi.post(f"/api/v1/staff/members/{ids['孙其']}/hardship", body(0), token=clerk1)).status == 404
    assert (await hapi.post(f"/api/v1/staff/members/{ids['孙其']}/hardship", body(0), token=clerk2)).status == 201
    # Full view needs member.view_full: an approver sees the masked history only.
    async with engine.begin() as conn:
        await staff.create(conn, SYSTEM, hasher=ARGON2, username="approver1", password=PASSWORD, roles=["approver"],
                           org_code="C1")
    approver = await token_of(hapi, "approver1")
    assert (await hapi.get(url, token=approver)).status == 200
    assert (await hapi.get(url + "?full=1", token=approver)).status == 403
    assert (await hapi.get(url)).status == 401


async def test_bad_bodies(hapi, engine, config):
    ids = await setup(engine, config)
    admin, clerk = await token_of(hapi, "admin1"), await token_of(hapi, "clerk1")
    await put_lines(hapi, admin, "C1", 50_000, 80_000)
    url = f"/api/v1/staff/members/{ids['王大明']}/hardship"
    good = body(0)
    person = good["household"][0]
    for bad in ({**good, "household": []}, {**good, "causes": ["lazy"]}, {**good, "causes": []},
                {**good, "verification_method": "phone"}, {**good, "category": "rich"}, {**good, "extra": 1},
                {**good, "household": [{**person, "monthly_income": 1.5}]},
                {**good, "household": [{**person, "monthly_income": -1}]},
                {**good, "household": [{**person, "monthly_income": "100"}]},
                {**good, "household": [{**person, "name": ""}]},
                {**good, "valid_from": "2026-02-30"}, {**good, "valid_from": "tomorrow"},
                {**good, "valid_from": "2026-05-01", "valid_to": "2026-04-01"},
                {k: v for k, v in good.items() if k != "causes"}, [good]):
        resp = await hapi.post(url, bad, token=clerk)
        assert resp.status == 400, (bad, resp.data)
    not_json = await hapi.request("POST", url, body="{", headers={"Content-Type": "application/json"}, token=clerk)
    assert not_json.status == 400
    for lines in ({"deep_line": 80_000, "relative_line": 50_000}, {"deep_line": 0, "relative_line": 5},
                  {"deep_line": "1", "relative_line": 5}, {"deep_line": 1}):
        resp = await hapi.request("PUT", "/api/v1/staff/orgs/C1/hardship-lines", json_body=lines, token=admin)
        assert resp.status == 400, (lines, resp.data)
    rec = (await hapi.post(url, good, token=clerk)).data
    for reason in ({}, {"reason": ""}, {"reason": "x" * 501}):
        assert (await hapi.post(f"/api/v1/staff/hardship/{rec['id']}/exit", reason, token=clerk)).status == 400
    for q in ("-1", "abc", "367", "99999"):
        assert (await hapi.get(f"/api/v1/staff/hardship/due?within_days={q}", token=clerk)).status == 400
    assert (await hapi.get(url + "?full=yes", token=clerk)).status == 400
