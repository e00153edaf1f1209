"""Staff login, the union network API and access control: every staff route against the wrong people."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.core.clock import utcnow
from models.core.errors import NotFound
from models.core.tables import audit_log, throttles
from models.identity import staff_accounts as staff
from models.identity.tables import staff as staff_table
from models.network import tree as orgs
from server import jobs
from server.passwords import ARGON2

PASSWORD = "Correct-Horse-42"


async def network(engine):
    """P ─ C1 ─ K1 ─ G1, P ─ C2 ─ K2; admins at C1 and C2, a station clerk at C1."""
    async with engine.begin() as conn:
        made = {}
        for code, type_, parent in (("P", "province", None), ("C1", "city", "P"), ("K1", "county", "C1"),
                                    ("G1", "grassroots", "K1"), ("C2", "city", "P"), ("K2", "county", "C2")):
            made[code] = await orgs.create(conn, SYSTEM, code=code, name=f"单位{code}", type_=type_,
                                           parent_code=parent)
        for username, roles, org in (("admin1", ["admin"], "C1"), ("admin2", ["admin"], "C2"),
                                     ("clerk1", ["station", "reviewer"], "C1")):
            await staff.create(conn, SYSTEM, hasher=ARGON2,
                               username=username, password=PASSWORD, roles=roles, org_code=org)
    return made


async def staff_login(api, username, password=PASSWORD):
    return await api.post("/api/v1/auth/staff", {"username": username, "password": password})


async def token_of(api, username):
    resp = await staff_login(api, username)
    assert resp.status == 200, resp.data
    return resp.data["token"]


def same_refusal(a, b):
    """Two error answers that a caller cannot tell apart."""
    assert a.status == b.status
    assert a.data["error"]["code"] == b.data["error"]["code"]
    assert a.data["error"]["message"] == b.data["error"]["message"]


async def test_login_ok_and_token_works(api, engine):
    t = await network(engine)
    resp = await staff_login(api, "admin1")
    assert resp.status == 200
    assert resp.data["staff"]["roles"] == ["admin"]
    assert resp.data["staff"]["org"]["code"] == "C1"
    assert resp.data["staff"]["username"] == "admin1"
    assert "password" not in resp.body.decode()
    listing = await api.get("/api/v1/staff/orgs", token=resp.data["token"])
    assert listing.status == 200
    assert [o["code"] for o in listing.data["items"]] == ["C1", "K1", "G1"]
    assert listing.data["items"][0]["id"] == t["C1"].id


async def test_wrong_password_and_unknown_user_answer_alike(api, engine):
    await network(engine)
    wrong = await staff_login(api, "admin1", "Wrong-password-1")
    unknown = await staff_login(api, "nobody", "Wrong-password-1")
    assert wrong.status == 401 and wrong.error_code == "login_failed"
    same_refusal(wrong, unknown)
    async with engine.begin() as conn:
        await conn.execute(staff_table.update().where(staff_table.c.username == "clerk1").values(active=False))
    inactive = await staff_login(api, "clerk1")
    same_refusal(wrong, inactive)


async def test_five_failures_lock_the_account(api, engine):
    await network(engine)
    for _ in range(4):
        assert (await staff_login(api, "admin1", "Wrong-password-1")).status == 401
    fifth = await staff_login(api, "admin1", "Wrong-password-1")
    assert (fifth.status, fifth.error_code) == (429, "account_locked")
    assert int(fifth.headers["Retry-After"]) > 0
    right = await staff_login(api, "admin1")
    assert (right.status, right.error_code) == (429, "account_locked")
    assert 800 <= int(right.headers["Retry-After"]) <= 901
    # Another account is not affected; the lock ends by itself.
    assert (await staff_login(api, "admin2")).status == 200
    async with engine.begin() as conn:
        await conn.execute(throttles.update().values(locked_until=utcnow() - timedelta(seconds=1)))
    assert (await staff_login(api, "admin1")).status == 200


async def test_success_resets_the_failure_count(api, engine):
    await network(engine)
    for _ in range(4):
        await staff_login(api, "admin1", "Wrong-password-1")
    assert (await staff_login(api, "admin1")).status == 200
    for _ in range(4):
        assert (await staff_login(api, "admin1", "Wrong-password-1")).status == 401


async def test_ip_rate_limit(api, engine):
    await network(engine)
    async with engine.begin() as conn:
        await conn.execute(throttles.insert().values(key="staff-login:ip:127.0.0.1", window_start=utcnow(),
                                                     failures=29, locked_until=None))
    last = await staff_login(api, "somebody", "Wrong-password-1")
    assert (last.status, last.error_code) == (429, "rate_limited")
    blocked = await staff_login(api, "admin1")
    assert (blocked.status, blocked.error_code) == (429, "rate_limited")
    assert "Retry-After" in blocked.headers


async def test_login_body_errors(api):
    assert (await api.post("/api/v1/auth/staff", {"username": "x"})).status == 400
    assert (await api.post("/api/v1/auth/staff", {"username": "x", "password": "y", "extra": 1})).status == 400


async def test_admin_manages_orgs_in_subtree(api, engine):
    t = await network(engine)
    token = await token_of(api, "admin1")
    created = await api.post("/api/v1/staff/orgs", {"code": "G2", "name": "新基层工会", "type": "grassroots",
                                                    "parent_code": "K1"}, token=token)
    assert created.status == 201 and created.data["depth"] == 3
    new_id = created.data["id"]
    renamed = await api.request("PATCH", f"/api/v1/staff/orgs/{new_id}", json_body={"name": "改名工会"}, token=token)
    assert renamed.status == 200 and renamed.data["name"] == "改名工会"
    moved = await api.request("PATCH", f"/api/v1/staff/orgs/{t['K1'].id}", json_body={"parent_code": "C1"},
                              token=token)
    assert moved.status == 200
    cycle = await api.request("PATCH", f"/api/v1/staff/orgs/{t['K1'].id}", json_body={"parent_code": "G1"},
                              token=token)
    assert (cycle.status, cycle.error_code) == (400, "org_move_cycle")
    moved = await api.request("PATCH", f"/api/v1/staff/orgs/{t['G1'].id}", json_body={"parent_code": "C1"},
                              token=token)
    assert moved.status == 200 and moved.data["depth"] == 2 and moved.data["parent_id"] == t["C1"].id
    not_empty = await api.request("DELETE", f"/api/v1/staff/orgs/{t['K1'].id}", token=token)
    assert (not_empty.status, not_empty.error_code) == (409, "org_not_empty")
    gone = await api.request("DELETE", f"/api/v1/staff/orgs/{new_id}", token=token)
    assert gone.status == 200
    dup = await api.post("/api/v1/staff/orgs", {"code": "K2", "name": "重复", "type": "county",
                                                "parent_code": "C1"}, token=token)
    assert (dup.status, dup.error_code) == (409, "org_code_taken")
    # The declared access finds the target before the body is read: name a unit that exists.
    both = await api.request("PATCH", f"/api/v1/staff/orgs/{t['K1'].id}",
                             json_body={"name": "a", "parent_code": "C1"}, token=token)
    assert both.status == 400
    # The deleted unit now answers like any missing one, whatever the body.
    gone_again = await api.request("PATCH", f"/api/v1/staff/orgs/{new_id}", json_body={"name": "a"}, token=token)
    assert (gone_again.status, gone_again.error_code) == (404, "org_not_found")
    async with engine.connect() as conn:
        actions = (await conn.execute(sa.select(audit_log.c.action, audit_log.c.actor_kind, audit_log.c.ip)
                                      .where(audit_log.c.actor_kind == "staff"))).all()
    assert {a.action for a in actions} == {"org.create", "org.rename", "org.move", "org.delete"}
    assert all(a.ip == "127.0.0.1" for a in actions)
    # The check seals nothing (the serving process's job does, every second): pending until then.
    pending = await api.get("/api/v1/staff/audit/verify", token=token)
    assert pending.status == 200 and pending.data["ok"] is True and pending.data["pending"] == len(actions) + 9
    await jobs.seal_audit(engine)
    verify = await api.get("/api/v1/staff/audit/verify", token=token)
    assert verify.status == 200 and verify.data["ok"] is True and verify.data["checked"] == len(actions) + 9
    assert verify.data["pending"] == 0


async def test_admin_creates_staff_in_subtree(api, engine):
    await network(engine)
    token = await token_of(api, "admin1")
    body = {"username": "clerk9", "password": "Another-pass-7", "roles": ["station"], "org_code": "G1"}
    created = await api.post("/api/v1/staff/accounts", body, token=token)
    assert created.status == 201 and created.data["org"]["code"] == "G1" and created.data["roles"] == ["station"]
    assert (await staff_login(api, "clerk9", "Another-pass-7")).status == 200
    again = await api.post("/api/v1/staff/accounts", body, token=token)
    assert (again.status, again.error_code) == (409, "staff_username_taken")
    weak = await api.post("/api/v1/staff/accounts", {**body, "username": "clerk10", "password": "short"}, token=token)
    # The published schema carries the policy's length, so the refusal names the field and the minimum.
    assert (weak.status, weak.error_code) == (400, "invalid_body")
    assert weak.data["error"]["details"][0] == {"field": "password", "reason": "password 至少 10 个字符"}
    bad_role = await api.post("/api/v1/staff/accounts", {**body, "username": "clerk11", "roles": ["root"]},
                              token=token)
    assert bad_role.status == 400


NOWHERE = 987654321


async def test_access_matrix(api, engine):
    """Every staff route: a role without the right and a member of another subtree are refused alike."""
    t = await network(engine)
    admin1, admin2, clerk1 = [await token_of(api, u) for u in ("admin1", "admin2", "clerk1")]
    worker = await api.login("walt.1")
    g1 = t["G1"].id
    new_org = {"code": "N1", "name": "新单位", "type": "grassroots", "parent_code": "K1"}
    account = {"username": "newbie", "password": "Another-pass-7", "roles": ["station"], "org_code": "G1"}
    # (method, path, body) for every staff route, aimed at C1's subtree.
    routes = [
        ("GET", "/api/v1/staff/orgs", None),
        ("POST", "/api/v1/staff/orgs", new_org),
        ("PATCH", f"/api/v1/staff/orgs/{g1}", {"name": "改名"}),
        ("PATCH", f"/api/v1/staff/orgs/{g1}", {"parent_code": "C1"}),
        ("DELETE", f"/api/v1/staff/orgs/{g1}", None),
        ("POST", "/api/v1/staff/accounts", account),
        ("GET", "/api/v1/staff/audit/verify", None),
    ]
    for method, path, body in routes:
        anonymous = await api.request(method, path, json_body=body)
        assert anonymous.status == 401, (method, path)
        as_worker = await api.request(method, path, json_body=body, token=worker)
        assert as_worker.status == 403, (method, path)
        if (method, path) != ("GET", "/api/v1/staff/orgs"):
            # clerk1 lives in the right subtree but lacks the role: 403 before any lookup.
            as_clerk = await api.request(method, path, json_body=body, token=clerk1)
            assert (as_clerk.status, as_clerk.error_code) == (403, "role_forbidden"), (method, path)
    # The listing shows only the caller's subtree.
    other = await api.get("/api/v1/staff/orgs", token=admin2)
    assert {o["code"] for o in other.data["items"]} == {"C2", "K2"}
    assert "C1" not in other.body.decode() and "G1" not in other.body.decode()
    # A role without the right, on a nonexistent id, still answers 403 (nothing learned from 404 vs 403).
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        resp = await api.request(method, f"/api/v1/staff/orgs/{NOWHERE}", json_body=body, token=clerk1)
        assert resp.status == 403
    # Another subtree's admin: out-of-subtree ids answer exactly like nonexistent ones.
    for method, body in (("PATCH", {"name": "改名"}), ("PATCH", {"parent_code": "K2"}), ("DELETE", None)):
        outside = await api.request(method, f"/api/v1/staff/orgs/{g1}", json_body=body, token=admin2)
        missing = await api.request(method, f"/api/v1/staff/orgs/{NOWHERE}", json_body=body, token=admin2)
        assert outside.status == 404, (method, body)
        same_refusal(outside, missing)
    # Parents and home units named by code: outside answers like a code that does not exist.
    for path, body, key in (("/api/v1/staff/orgs", new_org, "parent_code"),
                            ("/api/v1/staff/accounts", account, "org_code")):
        outside = await api.post(path, body, token=admin2)
        missing = await api.post(path, {**body, key: "ZZ"}, token=admin2)
        assert (outside.status, outside.error_code) == (404, "org_not_found")
        assert (missing.status, missing.error_code) == (404, "org_not_found")
    # Moving one's own unit under a unit outside the subtree reads as not found too.
    move_out = await api.request("PATCH", f"/api/v1/staff/orgs/{t['K1'].id}", json_body={"parent_code": "C2"},
                                 token=admin1)
    assert (move_out.status, move_out.error_code) == (404, "org_not_found")
    # Nothing changed through any of the refusals.
    async with engine.connect() as conn:
        assert (await orgs.get(conn, g1)).name == "单位G1"
        assert (await orgs.get(conn, g1)).parent_id == t["K1"].id
        assert (await conn.execute(sa.select(staff_table.c.id).where(staff_table.c.username == "newbie"))).first() \
            is None
        with pytest.raises(NotFound):
            await orgs.by_code(conn, "N1")


async def test_deactivated_staff_token_stops_working(api, engine):
    await network(engine)
    token = await token_of(api, "admin1")
    async with engine.begin() as conn:
        await conn.execute(staff_table.update().where(staff_table.c.username == "admin1").values(active=False))
    resp = await api.get("/api/v1/staff/orgs", token=token)
    assert (resp.status, resp.error_code) == (401, "token_invalid")
