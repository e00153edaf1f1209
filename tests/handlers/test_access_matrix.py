"""The access matrix: every route of the route table × every kind of caller, against the policy table.

Generated from ``server.app.ROUTES`` and each handler's ``access`` declaration, so a route is covered
the day it is added. The expected answer of each cell comes from the policy (``models.core.policy``)
applied to what the test knows independently of the server: who each caller is (the Actor it set up)
and where each target record sits (the rows it made). One shared scene per database.

Two passes over real HTTP: every route with its method replaced by a stub that answers 200
``{"let_through": true}`` (so the declaration alone is under test, and nothing changes state), then
the real handlers for every GET (a refusal is the same as the stub's; a let-through is not 401/403).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
import tornado.netutil
import tornado.web

from handlers.base import APIHandler, check_declarations, is_html
from models.access import targets
from models.core import policy
from models.core.actors import SYSTEM, Actor
from models.core.clock import utcnow
from models.core.errors import AppError
from models.core.policy import Access, Located
from models.counter.tables import redemptions, statements
from models.funds.tables import funds
from models.identity import sessions
from models.identity import staff_accounts as staff_model
from models.members.tables import hardship_records, member_transfers
from models.relief.tables import relief_notice_entries, relief_notices, relief_objections, relief_visits
from models.partners import invites
from models.partners import partnership as merchants
from models.partners import programmes as benefits
from server.app import ROUTES, make_app
from server.crypto import load_keyring
from server.http_server import make_http_server
from server.openapi import op
from server.passwords import ARGON2
from tests.client import ApiClient
from tests.factories import Counter, counter, id_number, import_rows, staff_actor
from tests.redeem_helpers import join
from tests.relief_helpers import submitted as relief_submitted

METHODS = ("get", "post", "put", "patch", "delete")
STAFF_PASSWORD = "matrix-Pass-2026!"
MISSING_ID = 987654321


def declared_operations(routes: list[tuple[Any, ...]]) -> list[tuple[str, type[APIHandler], str, Access]]:
    """(pattern, handler, method, declaration) for every method every API route implements."""
    found = []
    for route in routes:
        pattern, handler = route[0], route[1]
        if not (isinstance(handler, type) and issubclass(handler, APIHandler)) or is_html(handler):
            continue  # the console's pages answer a session cookie, not a bearer token: tests/console
        for method in METHODS:
            own = getattr(handler, method, None)
            if own is not None and own is not getattr(tornado.web.RequestHandler, method):
                found.append((pattern, handler, method, handler.access[method]))
    return found


OPERATIONS = declared_operations(ROUTES)


# --- the route table is fully declared ---------------------------------------------------------

def test_every_route_declares_who_may_call_each_method():
    check_declarations(ROUTES)  # raises on any gap
    assert len(OPERATIONS) >= 60
    assert {op[3].action for op in OPERATIONS} <= set(policy.ACTIONS)


def test_the_audit_chain_routes_are_for_admins_only():
    """The chain's check and its signed checkpoints: declared ``audit.view``, which only admins hold."""
    declared = {(pattern, method): rule for pattern, _handler, method, rule in OPERATIONS}
    for path in ("/api/v1/staff/audit/verify", "/api/v1/staff/audit/checkpoints"):
        rule = declared[(path, "get")]
        assert rule.action == "audit.view" and rule.target is None
    assert policy.ACTIONS["audit.view"] == frozenset({"admin"})


def test_the_register_routes_are_in_the_matrix():
    """The register's second person and re-check (issue 15): who may call each, as the matrix checks them."""
    declared = {(pattern, method): (rule.action, rule.target.kind if rule.target else None)
                for pattern, _handler, method, rule in OPERATIONS}
    record = r"/api/v1/staff/hardship/(?P<record_id>[0-9]+)/"
    assert declared[(r"/api/v1/staff/hardship/pending", "get")] == ("hardship.view", None)
    assert declared[(record + "confirm", "post")] == ("hardship.confirm", "hardship")
    assert declared[(record + "decline", "post")] == ("hardship.confirm", "hardship")
    assert declared[(record + "recheck", "post")] == ("hardship.manage", "hardship")
    assert policy.ACTIONS["hardship.confirm"] == frozenset({"reviewer", "admin"})


def test_a_route_without_a_declaration_is_refused_at_app_construction(config):
    class Undeclared(APIHandler):
        async def get(self) -> None:
            self.write_json({})

    class HalfDeclared(APIHandler):
        access = {"get": policy.PUBLIC}

        async def get(self) -> None:
            self.write_json({})

        async def delete(self) -> None:
            self.write_json({})

    class WrongArgument(APIHandler):
        access = {"get": Access("member.view", policy.Target("member", "member_id"))}

        async def get(self, card_id: str) -> None:
            self.write_json({})

    class PublishedWithLogin(APIHandler):
        access = {"get": policy.PUBLIC}
        spec = {"get": op("公开，却说要登录", responses={200: {"type": "object"}})}

        async def get(self) -> None:
            self.write_json({})

    for route in [(r"/x", Undeclared), (r"/y", HalfDeclared), (r"/z/(?P<card_id>[0-9]+)", WrongArgument),
                  (r"/w", PublishedWithLogin)]:
        with pytest.raises(TypeError, match="access declarations"):
            check_declarations([route])
        with pytest.raises(TypeError, match="access declarations"):
            make_app(config, None, gateway=None, keyring=load_keyring(config), extra_routes=[route])  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        Access("no.such.action")


# --- the scene ----------------------------------------------------------------------------------

@dataclass
class Caller:
    """One kind of caller: its bearer token (None: anonymous) and the Actor the test expects it to be."""

    name: str
    token: str | None
    actor: Actor | None


@dataclass
class Scene:
    callers: list[Caller]
    idents: dict[str, Any]  # target kind -> the id (or code) of the scene's record of that kind
    located: dict[str, Located]  # target kind -> where that record sits (as the test made it)
    outside: dict[str, Any]  # target kind -> a record out of reach of the K01 staff
    counter: Counter


def _filler(column: sa.Column[Any]) -> Any:
    """A value for a NOT NULL column the test does not care about."""
    name = type(column.type).__name__.lower()
    if "datetime" in name:
        return utcnow()
    if "date" in name:
        return date(2020, 1, 1)
    if "bool" in name:
        return False
    if "int" in name or "numeric" in name:
        return 0
    return "x"


async def insert_row(conn: Any, table: sa.Table, **values: Any) -> int:
    """Insert a row with ``values`` and filler for every other required column; its id."""
    for column in table.columns:
        if column.name not in values and not column.nullable and not column.primary_key and column.default is None:
            values[column.name] = _filler(column)
    result = await conn.execute(table.insert().values(**values))
    return int(result.inserted_primary_key[0])


async def _staff(conn: Any, name: str, org_code: str, roles: list[str]) -> int:
    made = await staff_model.create(conn, SYSTEM, hasher=ARGON2, username=name, password=STAFF_PASSWORD, roles=roles,
                                    org_code=org_code)
    return made.id


async def build_scene(api: ApiClient, engine: Any, running: Any) -> Scene:
    scene = await counter(api, engine, running)
    tree = scene.tree
    manager = await join(api, engine, scene, "manager.1", role="manager")
    visitor = await api.login("visitor.1")
    cipher = running.settings["cipher"]
    callers = [Caller("anonymous", None, None)]
    async with engine.begin() as conn:
        rows = (await conn.execute(sa.select(merchants.merchant_staff))).all()
        cashier_row = next(r for r in rows if r.role == "cashier")
        manager_row = next(r for r in rows if r.role == "manager")
        # Staff: each role at the county (the targets' subtree), all roles at the sibling county and at the city.
        staff_ids: dict[str, tuple[int, Actor]] = {}
        for role in policy.ROLES:
            sid = await _staff(conn, f"k01.{role}", "K01", [role])
            staff_ids[f"staff {role}@K01"] = (sid, Actor(kind="staff", id=sid, roles=frozenset({role}),
                                                         org_id=tree["K01"].id, org_path=tree["K01"].path))
        every = list(policy.ROLES)
        for label, code in (("sibling", "K02"), ("parent", "C01")):
            sid = await _staff(conn, f"{label}.all", code, every)
            staff_ids[f"staff all@{code} ({label})"] = (sid, Actor(kind="staff", id=sid, roles=frozenset(every),
                                                                   org_id=tree[code].id, org_path=tree[code].path))
        tokens = {label: (await sessions.issue(conn, "staff", sid, ttl=3600)).token
                  for label, (sid, _) in staff_ids.items()}
        # Target records in the county's subtree (G01, K01) ...
        admin = scene.admin
        program = await benefits.create(conn, admin, tree["K01"].id, benefits.ProgramDraft.of({
            "preset": "discount_pharmacy", "valid_from": "2020-01-01", "valid_to": "2099-12-31"}))
        statement = await insert_row(conn, statements, merchant_id=scene.merchant_id, month="2020-01",
                                     status="confirmed")
        verifier = staff_ids["staff admin@K01"][0]
        record = await insert_row(conn, hardship_records, member_id=scene.member_id, org_id=tree["G01"].id,
                                  verified_by=verifier, status="active")
        transfer = await insert_row(conn, member_transfers, member_id=scene.member_id, from_org_id=tree["G01"].id,
                                    to_org_id=tree["K02"].id, status="pending", requested_by=verifier)
        invite = await invites.create(conn, cipher, admin, scene.merchant_id, role="cashier",
                                      store_id=scene.store_id)
        redemption = await insert_row(conn, redemptions, merchant_id=scene.merchant_id, store_id=scene.store_id,
                                      cashier_id=cashier_row.id, card_id=scene.card_id, member_id=scene.member_id,
                                      scan_id="matrix-scan-0001", status="done", month="2020-01", lines="[]")
        # ... and out of the county's reach: a member, merchant and programme of the sibling county.
        await import_rows(conn, cipher, tree["K02"], [("赵六", id_number(77), "")])
        far_member = (await conn.execute(sa.text("SELECT id FROM members WHERE name = '赵六'"))).scalar_one()
        far_merchant = await merchants.create(conn, staff_actor(tree["C01"], "admin"),
                                              name="天心药房", type="pharmacy", org_id=tree["K02"].id,
                                              agreement_from=date(2020, 1, 1), agreement_to=date(2099, 12, 31))
        far_invite = await invites.create(conn, cipher, staff_actor(tree["C01"], "admin"), far_merchant.id,
                                          role="manager", store_id=None)
        # A relief application at G01 with a home visit, and one at the sibling county.
        user_id = (await conn.execute(sa.text("SELECT user_id FROM members WHERE id = :m"),
                                      {"m": scene.member_id})).scalar_one()
        application = await relief_submitted(conn, cipher, scene.member_id, user_id, tree["G01"])
        k01_path = tree["K01"].path
        seen = {"visitors": '["李站长"]', "findings_enc": cipher.encrypt("情况属实", purpose="relief_visit")}
        visit = await insert_row(conn, relief_visits, application_id=application, staff_id=verifier,
                                 org_id=tree["G01"].id, **seen)
        far_application = await relief_submitted(conn, cipher, far_member, user_id, tree["K02"])
        far_visit = await insert_row(conn, relief_visits, application_id=far_application, staff_id=verifier,
                                     org_id=tree["K02"].id, **seen)
        # A notice batch at K01 with an objection to the application, and one at the sibling county.
        notice = await insert_row(conn, relief_notices, org_id=tree["K01"].id, org_path=k01_path,
                                  published_by=verifier)
        entry = await insert_row(conn, relief_notice_entries, notice_id=notice, application_id=application)
        contact = {"contact_enc": cipher.encrypt("13800001111", purpose="objection_contact"), "due_at": utcnow()}
        objection = await insert_row(conn, relief_objections, entry_id=entry, application_id=application, **contact)
        far_notice = await insert_row(conn, relief_notices, org_id=tree["K02"].id, org_path=tree["K02"].path,
                                      published_by=verifier)
        far_entry = await insert_row(conn, relief_notice_entries, notice_id=far_notice,
                                     application_id=far_application)
        far_objection = await insert_row(conn, relief_objections, entry_id=far_entry, application_id=far_application,
                                         **contact)
        # A fund source at the county, and one at the sibling county.
        fund = await insert_row(conn, funds, org_id=tree["K01"].id, org_path=tree["K01"].path, source="union",
                                kinds='["temporary"]', status="active", name="matrix-fund", year=2026)
        far_fund = await insert_row(conn, funds, org_id=tree["K02"].id, org_path=tree["K02"].path, source="union",
                                    kinds='["temporary"]', status="active", name="matrix-fund", year=2026)
        far_redemption = await insert_row(conn, redemptions, merchant_id=far_merchant.id, store_id=0, cashier_id=0,
                                          card_id=scene.card_id, member_id=scene.member_id,
                                          scan_id="matrix-scan-0002", status="done", month="2020-01", lines="[]")
    member_actor = Actor(kind="user", id=0, roles=frozenset({"member"}), member_id=scene.member_id)
    cashier_actor = Actor(kind="user", id=cashier_row.user_id, user_id=cashier_row.user_id,
                          roles=frozenset({"visitor", "cashier"}), merchant_staff_id=cashier_row.id,
                          merchant_id=scene.merchant_id, store_id=scene.store_id, merchant_standing="active")
    manager_actor = Actor(kind="user", id=manager_row.user_id, user_id=manager_row.user_id,
                          roles=frozenset({"visitor", "manager"}), merchant_staff_id=manager_row.id,
                          merchant_id=scene.merchant_id, store_id=0, merchant_standing="active")
    callers += [
        Caller("worker without membership", visitor, Actor(kind="user", id=0, roles=frozenset({"visitor"}))),
        Caller("member worker", scene.worker, member_actor),
        Caller("cashier", scene.cashier, cashier_actor),
        Caller("merchant manager", manager, manager_actor),
        *[Caller(label, tokens[label], actor) for label, (_, actor) in staff_ids.items()],
    ]
    g01, k01, k02 = tree["G01"].path, tree["K01"].path, tree["K02"].path
    idents = {"member": scene.member_id, "card": scene.card_id, "org": tree["G02"].id, "org_code": "G02",
              "merchant": scene.merchant_id, "invite": invite.id, "program": program.id, "statement": statement, "hardship": record,
              "transfer_incoming": transfer, "transfer_outgoing": transfer, "redemption": redemption,
              "merchant_staff": cashier_row.id, "own_member": None, "application": application,
              "relief_visit": visit, "notice": notice, "objection": objection, "fund": fund}
    located = {
        "member": Located(org_path=g01), "card": Located(org_path=g01), "org": Located(org_path=tree["G02"].path),
        "org_code": Located(org_path=tree["G02"].path), "merchant": Located(org_path=k01),
        "invite": Located(org_path=k01, merchant_id=scene.merchant_id),
        "program": Located(org_path=k01),
        "statement": Located(org_path=k01, merchant_id=scene.merchant_id, status="confirmed"),
        "hardship": Located(org_path=g01), "transfer_incoming": Located(org_path=g01),
        "transfer_outgoing": Located(org_path=k02),
        "redemption": Located(merchant_id=scene.merchant_id, cashier_id=cashier_row.id),
        "merchant_staff": Located(merchant_id=scene.merchant_id), "own_member": Located(member_id=scene.member_id),
        "application": Located(org_path=g01), "relief_visit": Located(org_path=g01),
        "notice": Located(org_path=k01), "objection": Located(org_path=g01), "fund": Located(org_path=k01),
    }
    outside = {"member": far_member, "org": tree["K02"].id, "org_code": "K02", "merchant": far_merchant.id,
               "invite": far_invite.id, "redemption": far_redemption, "application": far_application,
               "relief_visit": far_visit, "notice": far_notice, "objection": far_objection, "fund": far_fund}
    return Scene(callers, idents, located, outside, scene)


# --- what the policy says each cell answers ------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    status: int
    code: str | None  # None: let through


def expected(caller: Caller, rule: Access, scene: Scene) -> Expected:
    """The answer the policy table gives this caller for this declaration on the scene's record."""
    try:
        policy.authorize(caller.actor, rule.action)
    except AppError as refused:
        return Expected(refused.status, refused.code)
    if rule.target is None:
        return Expected(200, None)
    assert caller.actor is not None
    kind = rule.target.kind
    where = scene.located[kind]
    if kind == "own_member" and caller.actor.member_id is None:
        return Expected(404, targets.missing(kind, None).code)
    if not policy.in_reach(caller.actor, rule.action, where):
        return Expected(404, targets.missing(kind, scene.idents[kind]).code)
    try:
        policy.check_record(caller.actor, rule.action, where)
    except AppError as refused:
        return Expected(refused.status, refused.code)
    return Expected(200, None)


def _path(pattern: str, rule: Access, ident: Any) -> str:
    arg = rule.target.arg if rule.target is not None else None

    def fill(m: re.Match[str]) -> str:
        if m.group(1) == arg:
            return str(ident)
        return "2026-10-01" if m.group(1) == "day" else "1"  # a calendar day, else an id
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", fill, pattern).rstrip("$")


async def _call(api: ApiClient, method: str, path: str, token: str | None) -> Any:
    body = b"{}" if method in ("post", "put", "patch") else None
    return await api.request(method.upper(), path, body=body, token=token, validate=False,
                             headers={"Content-Type": "application/json", "Idempotency-Key": "matrix-key-1"}
                             if body is not None else None)


def _let_through(handler: type[APIHandler]) -> type[APIHandler]:
    async def answer(self: APIHandler, *_args: Any, **_kwargs: Any) -> None:
        self.write_json({"let_through": True})

    stubs = {m: answer for m in METHODS if getattr(handler, m, None) is not getattr(tornado.web.RequestHandler, m)}
    return type(f"LetThrough{handler.__name__}", (handler,), stubs)


async def _serve_stubs(config: Any, engine: Any, running: Any) -> tuple[Any, str]:
    real = running.app
    routes = [(r[0], _let_through(r[1]), *r[2:]) if isinstance(r[1], type) and issubclass(r[1], APIHandler) else r
              for r in ROUTES]
    app = tornado.web.Application(routes, **real.settings)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = make_http_server(app, config)
    server.add_sockets(sockets)
    return server, f"http://127.0.0.1:{sockets[0].getsockname()[1]}"


async def test_every_route_answers_every_caller_as_the_policy_says(api, engine, running, config, wechat):
    scene = await build_scene(api, engine, running)
    server, url = await _serve_stubs(config, engine, running)
    stub_api = ApiClient(url, running.settings["openapi"])
    wrong: list[str] = []
    cells = 0
    refusals: dict[tuple[str, str, str], Expected] = {}
    try:
        for pattern, _handler, method, rule in OPERATIONS:
            ident = scene.idents[rule.target.kind] if rule.target is not None else None
            path = _path(pattern, rule, ident)
            for caller in scene.callers:
                want = expected(caller, rule, scene)
                got = await _call(stub_api, method, path, caller.token)
                cells += 1
                if want.code is None:
                    ok = got.status == 200 and got.data == {"let_through": True}
                else:
                    ok = (got.status, got.error_code) == (want.status, want.code)
                    refusals[(pattern, method, caller.name)] = want
                if not ok:
                    wrong.append(f"{method.upper()} {path} as {caller.name}: want {want}, got {got.status} "
                                 f"{got.error_code}")
    finally:
        server.stop()
    assert not wrong, f"{len(wrong)} of {cells} cells wrong:\n" + "\n".join(wrong)
    assert cells == len(OPERATIONS) * len(scene.callers)
    # Every kind of answer occurs: the matrix is not trivially one column.
    kinds = {w.status for w in refusals.values()}
    assert {401, 403, 404} <= kinds

    # The real handlers (reads only: nothing changes) refuse exactly as the declaration does.
    for pattern, _handler, method, rule in OPERATIONS:
        if method != "get":
            continue
        ident = scene.idents[rule.target.kind] if rule.target is not None else None
        path = _path(pattern, rule, ident)
        for caller in scene.callers:
            got = await _call(api, method, path, caller.token)
            want = refusals.get((pattern, method, caller.name))
            if want is None:
                assert got.status not in (401, 403) and got.status < 500, (path, caller.name, got.status, got.data)
            else:
                assert (got.status, got.error_code) == (want.status, want.code), (path, caller.name, got.data)


async def test_a_record_out_of_reach_answers_exactly_like_a_missing_one(api, engine, running, wechat):
    scene = await build_scene(api, engine, running)
    by_name = {c.name: c for c in scene.callers}
    compared = 0
    for pattern, _handler, method, rule in OPERATIONS:
        if rule.target is None or rule.target.kind not in scene.outside:
            continue
        kind = rule.target.kind
        caller = by_name["merchant manager"] if kind == "redemption" else by_name["staff admin@K01"]
        if not policy.allowed(caller.actor, rule.action) and policy.allowed(by_name["merchant manager"].actor,
                                                                            rule.action):
            caller = by_name["merchant manager"]  # a merchant's route (an invite's, say): its manager
        elif not policy.allowed(caller.actor, rule.action):
            caller = next(c for c in scene.callers if c.actor is not None and c.name.endswith("@K01")
                          and policy.allowed(c.actor, rule.action))
        far = await _call(api, method, _path(pattern, rule, scene.outside[kind]), caller.token)
        gone = await _call(api, method, _path(pattern, rule, MISSING_ID if kind != "org_code" else "NOPE"),
                           caller.token)
        assert far.status == gone.status == 404, (pattern, method, far.data, gone.data)
        far_error = {k: v for k, v in far.data["error"].items() if k != "request_id"}
        gone_error = {k: v for k, v in gone.data["error"].items() if k != "request_id"}
        if kind == "org_code":  # the message names the code asked for, whichever it is
            gone_error["message"] = gone_error["message"].replace("NOPE", "K02")
        assert far_error == gone_error, (pattern, method, far_error, gone_error)
        compared += 1
    assert compared >= 8
