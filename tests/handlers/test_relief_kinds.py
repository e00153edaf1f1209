"""The kinds of relief and the self-test over HTTP: what a member, a registered worker and a visitor see."""
from __future__ import annotations

import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.core.tables import audit_log
from models.identity import staff_accounts as staff
from models.relief import consent
from models.relief.tables import relief_kinds
from server.passwords import ARGON2
from tests.factories import id_number, import_rows, org_tree
from tests.handlers.test_staff import PASSWORD, same_refusal, token_of

DEEP, RELATIVE = 80_000, 160_000
UNREGISTERED = ["medical", "school", "temporary", "register"]
REGISTERED = ["living", "medical", "school", "holiday", "temporary"]


async def scene(api, engine, running) -> dict:
    """The tree (C01 > K01 > S01 > G01, G02; C01 > K02); a worker bound at G01 and one at K02; staff."""
    cipher = running.settings["cipher"]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("王秀英", id_number(31), "")])
        await import_rows(conn, cipher, tree["K02"], [("赵六", id_number(32), "")])
        for username, roles, org in (("admin.c", ["admin"], "C01"), ("admin.k1", ["admin"], "K01"),
                                     ("admin.k2", ["admin"], "K02"), ("clerk.k1", ["station", "reviewer"], "K01")):
            await staff.create(conn, SYSTEM, hasher=ARGON2, username=username, password=PASSWORD, roles=roles,
                               org_code=org)
    out: dict = {"tree": tree}
    for key, code, name, seq in (("wang", "wang.1", "王秀英", 31), ("zhao", "zhao.1", "赵六", 32)):
        token = await api.login(code)
        bound = await api.post("/api/v1/me/bind", {"name": name, "id_number": id_number(seq)}, token=token)
        assert bound.status == 200, bound.data
        out[key], out[key + "_id"] = token, bound.data["member"]["id"]
    for username in ("admin.c", "admin.k1", "admin.k2", "clerk.k1"):
        out[username] = await token_of(api, username)
    return out


async def codes(api, token) -> list[str]:
    got = await api.get("/api/v1/relief/kinds", token=token)
    assert got.status == 200, got.data
    return [k["code"] for k in got.data["items"]]


async def set_lines(api, token, org="C01"):
    got = await api.request("PUT", f"/api/v1/staff/orgs/{org}/hardship-lines",
                            json_body={"deep_line": DEEP, "relative_line": RELATIVE}, token=token)
    assert got.status == 200, got.data


async def test_a_member_sees_what_they_may_apply_for_and_the_register_opens_more(api, engine, running):
    s = await scene(api, engine, running)
    got = await api.get("/api/v1/relief/kinds", token=s["wang"])
    assert got.status == 200
    assert got.data["consent"] == {"version": consent.CONSENT_VERSION, "text": consent.CONSENT_TEXT}
    assert [k["code"] for k in got.data["items"]] == UNREGISTERED
    school = next(k for k in got.data["items"] if k["code"] == "school")
    assert school["name"] == "金秋助学"
    assert school["amount"]["amounts"] == {"university": 400_000, "high_school": 200_000}
    assert school["fields"]["properties"]["stage"]["x-labels"]["university"] == "大学（本科、专科）"
    assert {"type": "admission_letter", "name": "录取通知书或在读证明", "required": True, "group": None,
            "max_files": 3, "note": None} in school["proofs"]
    assert school["frequency"]["per_field"] == "student_id_number"
    medical = next(k for k in got.data["items"] if k["code"] == "medical")
    assert medical["amount"]["max"] == 1_000_000 and medical["amount"]["field"] == "self_paid"

    # Entered in the register and confirmed: living relief and holiday visits open, the request to enter closes.
    await set_lines(api, s["admin.c"])
    household = [{"relation": "本人", "name": "王秀英", "age": 45, "monthly_income": 100_000}]
    entered = await api.post(f"/api/v1/staff/members/{s['wang_id']}/hardship",
                             {"household": household, "causes": ["illness"], "verification_method": "home_visit"},
                             token=s["clerk.k1"])
    assert entered.status == 201, entered.data
    # Waiting for a second person's confirmation: nothing opens yet.
    assert await codes(api, s["wang"]) == UNREGISTERED
    confirmed = await api.post(f"/api/v1/staff/hardship/{entered.data['id']}/confirm", {}, token=s["admin.k1"])
    assert confirmed.status == 200, confirmed.data
    got = await api.get("/api/v1/relief/kinds", token=s["wang"])
    assert [k["code"] for k in got.data["items"]] == REGISTERED
    by_code = {k["code"]: k for k in got.data["items"]}
    assert by_code["living"]["amount"]["max"] == 12 * DEEP
    assert by_code["school"]["amount"]["amounts"] == {"university": 500_000, "high_school": 300_000}
    assert await codes(api, s["zhao"]) == UNREGISTERED


async def test_a_visitor_is_told_to_bind_first(api, engine, running):
    await scene(api, engine, running)
    visitor = await api.login("visitor.1")
    for got in (await api.get("/api/v1/relief/kinds", token=visitor),
                await api.post("/api/v1/relief/self-test",
                               {"household_size": 1, "monthly_income": 0, "monthly_rigid_expense": 0}, token=visitor)):
        assert (got.status, got.error_code) == (404, "member_not_bound")
    anonymous = await api.get("/api/v1/relief/kinds")
    assert anonymous.status == 401


async def test_an_admin_change_reaches_the_subtree_only(api, engine, running):
    s = await scene(api, engine, running)
    url = "/api/v1/staff/orgs/K01/relief-kinds"
    off = await api.request("PUT", url + "/medical", json_body={"enabled": False}, token=s["admin.k1"])
    assert off.status == 200, off.data
    assert (off.data["enabled"], off.data["defined_at"], off.data["preset"]) == (False, "K01", True)
    raised = await api.request("PUT", url + "/temporary", json_body={"amount": {"basis": "cap", "amount": 800_000}},
                               token=s["admin.c"])
    assert raised.status == 200 and raised.data["amount"]["amount"] == 800_000
    own = await api.request("PUT", "/api/v1/staff/orgs/G01/relief-kinds/nursery", json_body={
        "name": "职工子女入托补助", "who": "member",
        "fields": {"type": "object", "additionalProperties": False, "required": [],
                   "properties": {"child": {"type": "string", "title": "子女姓名", "maxLength": 50}}},
        "proofs": [{"type": "enrolment", "name": "入托证明"}],
        "amount": {"basis": "fixed", "amount": 100_000}, "frequency": {"period": "year", "times": 1}},
        token=s["admin.k1"])
    assert own.status == 200, own.data

    assert await codes(api, s["wang"]) == ["school", "temporary", "register", "nursery"]
    temporary = next(k for k in (await api.get("/api/v1/relief/kinds", token=s["wang"])).data["items"]
                     if k["code"] == "temporary")
    assert temporary["amount"] == {"basis": "cap", "max": 800_000, "text": "最高 8000.00 元"}
    assert await codes(api, s["zhao"]) == UNREGISTERED  # K02 is outside K01's subtree

    listed = await api.get(url, token=s["clerk.k1"])
    assert listed.status == 200
    staff_view = {k["code"]: k for k in listed.data["items"]}
    assert (staff_view["medical"]["enabled"], staff_view["medical"]["defined_at"]) == (False, "K01")
    assert staff_view["living"]["defined_at"] is None and "nursery" not in staff_view

    dropped = await api.request("DELETE", url + "/medical", token=s["admin.k1"])
    assert dropped.status == 200 and dropped.data["in_force"]["enabled"] is True
    assert "medical" in await codes(api, s["wang"])
    async with engine.connect() as conn:
        actions = (await conn.execute(sa.select(audit_log.c.action).where(
            audit_log.c.action.like("relief_kind.%")).order_by(audit_log.c.id))).scalars().all()
    assert actions == ["relief_kind.define"] * 3 + ["relief_kind.undefine"]


async def test_only_admins_within_their_subtree_define_kinds(api, engine, running):
    s = await scene(api, engine, running)
    url = "/api/v1/staff/orgs/K01/relief-kinds/medical"
    clerk = await api.request("PUT", url, json_body={"enabled": False}, token=s["clerk.k1"])
    assert (clerk.status, clerk.error_code) == (403, "role_forbidden")
    far = await api.request("PUT", url, json_body={"enabled": False}, token=s["admin.k2"])
    gone = await api.request("PUT", "/api/v1/staff/orgs/NOPE/relief-kinds/medical", json_body={"enabled": False},
                             token=s["admin.k2"])
    assert far.status == 404
    assert far.error_code == gone.error_code == "org_not_found"
    worker = await api.request("PUT", url, json_body={"enabled": False}, token=s["wang"])
    assert worker.status == 403
    unsafe = await api.request("PUT", url, json_body={"fields": {"$ref": "http://127.0.0.1:1/x.json"}},
                               token=s["admin.k1"])
    assert (unsafe.status, unsafe.error_code) == (400, "relief_kind_fields")
    unknown = await api.request("PUT", url, json_body={"colour": "red"}, token=s["admin.k1"])
    assert (unknown.status, unknown.error_code) == (400, "invalid_body")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(relief_kinds))).scalar_one() == 0
    same_refusal(await api.request("DELETE", url, token=s["admin.k1"]),
                 await api.request("DELETE", url, token=s["admin.k1"]))


async def test_self_test_answers_the_category_and_the_kinds_and_stores_nothing(api, engine, running):
    s = await scene(api, engine, running)
    url = "/api/v1/relief/self-test"

    def figures(size, income, rigid):
        return {"household_size": size, "monthly_income": income, "monthly_rigid_expense": rigid}

    unset = await api.post(url, figures(3, 300_000, 60_000), token=s["wang"])
    assert (unset.status, unset.error_code) == (400, "hardship_lines_unset")
    await set_lines(api, s["admin.c"])
    async with engine.connect() as conn:
        before = (await conn.execute(sa.select(sa.func.count()).select_from(audit_log))).scalar_one()

    deep = await api.post(url, figures(3, 300_002, 60_000), token=s["wang"])
    assert deep.status == 200, deep.data
    assert (deep.data["per_capita"], deep.data["category"]) == (80_000, "deep")
    assert deep.data["kinds"] == UNREGISTERED
    relative = await api.post(url, figures(3, 300_003, 60_000), token=s["wang"])
    assert (relative.data["per_capita"], relative.data["category"]) == (80_001, "relative")
    above = await api.post(url, figures(1, 1_000_000, 0), token=s["wang"])
    assert (above.data["category"], above.data["kinds"]) == (None, [])
    accident = await api.post(url, figures(1, 2_000_000, 1_600_001), token=s["wang"])
    assert (accident.data["per_capita"], accident.data["category"]) == (399_999, "accident")
    assert accident.data["kinds"] == ["medical", "school", "temporary", "register"]
    broke = await api.post(url, figures(2, 100_000, 300_000), token=s["wang"])
    assert (broke.data["per_capita"], broke.data["category"]) == (0, "deep")

    for bad in (figures(0, 1, 0), figures(21, 1, 0), figures(1, -1, 0), figures(1, 1, 10**11),
                {**figures(1, 1, 0), "household_size": "3"}, {"household_size": 1, "monthly_income": 1}):
        refused = await api.post(url, bad, token=s["wang"], validate=False)
        assert (refused.status, refused.error_code) == (400, "invalid_body"), bad
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(audit_log))).scalar_one() == before
