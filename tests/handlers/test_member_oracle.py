"""Staff learn nothing about members outside their subtree: roster import, search, by-id routes, transfers.

The scene: one city with two sibling counties, each with a grassroots union. County A's
staff import rosters that name county B's members (with the right and the wrong name),
a brand-new person and one of their own; B's staff decide the transfer requests; the
city's staff, whose subtree holds both counties, get the ordinary behaviour.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.core.tables import audit_log
from models.identity import staff_accounts as staff
from models.members.tables import member_transfers, members
from models.network import tree as orgs
from server.passwords import ARGON2
from tests.factories import id_number, roster_csv
from tests.handlers.test_hardship import body as hardship_body
from tests.handlers.test_staff import PASSWORD, token_of
from tests.handlers.test_staff_members import upload

# county B's members, county A's member, and a person nobody has registered
B1, B2, A1, NEW, NOBODY = id_number(201), id_number(202), id_number(203), id_number(204), id_number(299)
UNITS = {"C": "长沙市总工会", "KA": "芙蓉区总工会", "GA": "东湖社区工会", "KB": "天心区总工会", "GB": "湘绣厂工会"}


async def scene(engine: Any) -> dict[str, orgs.Org]:
    """C ─ KA ─ GA, C ─ KB ─ GB; station clerks at KA, KB and C, a finance clerk at KA."""
    made: dict[str, orgs.Org] = {}
    async with engine.begin() as conn:
        for code, type_, parent in (("C", "city", None), ("KA", "county", "C"), ("GA", "grassroots", "KA"),
                                    ("KB", "county", "C"), ("GB", "grassroots", "KB")):
            made[code] = await orgs.create(conn, SYSTEM, code=code, name=UNITS[code], type_=type_,
                                           parent_code=parent)
        for username, roles, org in (("clerk_a", ["station", "reviewer"], "KA"),
                                     ("clerk_b", ["station", "reviewer"], "KB"),
                                     ("clerk_c", ["station", "reviewer"], "C"),
                                     ("finance_a", ["finance"], "KA")):
            await staff.create(conn, SYSTEM, hasher=ARGON2,
                               username=username, password=PASSWORD, roles=roles, org_code=org)
    return made


async def seeded(api: Any, engine: Any) -> dict[str, Any]:
    """The scene, with 李四 and 王五 in GB (imported by B's clerk) and 张三 in GA."""
    t = await scene(engine)
    tokens = {u: await token_of(api, u) for u in ("clerk_a", "clerk_b", "clerk_c", "finance_a")}
    b = await upload(api, tokens["clerk_b"], "GB", roster_csv([("李四", B1, "13800000201"), ("王五", B2, "")]))
    a = await upload(api, tokens["clerk_a"], "GA", roster_csv([("张三", A1, "13800000203")]))
    assert b.data["created"] == 2 and a.data["created"] == 1, (b.data, a.data)
    async with engine.connect() as conn:
        ids = dict((await conn.execute(sa.select(members.c.name, members.c.id))).all())
    return {"tree": t, "tokens": tokens, "ids": ids}


def rows_by_line(report: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """Every per-row entry of an import report (problems and notices), by line."""
    out: dict[int, list[dict[str, Any]]] = {}
    for entry in [*report.get("problems", []), *report.get("notices", [])]:
        out.setdefault(entry["line"], []).append(entry)
    return out


def without_line(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "line"} for e in entries]


def reveals_nothing_of_b(text: str, tree: dict[str, orgs.Org], *, typed: tuple[str, ...] = ()) -> None:
    """No unit of B, no name B recorded (but what the caller typed itself), no handle on B's record."""
    for secret in ("李四", "王五", UNITS["KB"], UNITS["GB"], '"KB"', '"GB"'):
        if secret not in typed:
            assert secret not in text, secret
    for unit in ("KB", "GB"):
        assert f'"org_id": {tree[unit].id},' not in text and f'"id": {tree[unit].id}, "code"' not in text
    for key in ("from_org", "from_org_id", "member_id", "name_matches"):
        assert f'"{key}"' not in text, key


def same_answer(a: Any, b: Any) -> None:
    """Two answers a caller cannot tell apart: status, headers that matter and body (but the request id)."""
    assert a.status == b.status, (a.status, b.status, a.data, b.data)
    assert a.headers.get("Content-Type") == b.headers.get("Content-Type")

    def scrub(data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            return {"error": {k: v for k, v in data["error"].items() if k != "request_id"}}
        return data

    assert scrub(a.data) == scrub(b.data), (a.data, b.data)


# ---------------------------------------------------------------- roster import


async def test_import_report_cannot_tell_a_sibling_members_name_match_from_mismatch(api, engine, running):
    s = await seeded(api, engine)
    cipher = running.settings["cipher"]
    clerk_a = s["tokens"]["clerk_a"]
    # Line 2 a brand-new person, 3 A's own member, 4 B's member with the right name, 5 with a wrong name.
    content = roster_csv([("赵六", NEW, ""), ("张三", A1, "13800000203"), ("李四", B1, "13900000999"),
                          ("王九", B2, "13900000998")])
    report = await upload(api, clerk_a, "GA", content)
    assert report.status == 200, report.data
    lines = rows_by_line(report.data)
    assert without_line(lines.get(4, [])) == without_line(lines.get(5, [])), "a sibling member's name match shows"
    assert [e["code"] for e in lines[4]] == ["transfer_requested"]
    assert lines[4][0]["reason"] == "该身份证号已在其他单位登记会籍，已向其所属单位发起转入申请，待对方确认"
    assert 2 not in lines and 3 not in lines
    assert (report.data["created"], report.data["unchanged"], report.data["updated"]) == (1, 1, 0)
    assert report.data["transfer_requested"] == 2 and report.data["refused"] == 0
    reveals_nothing_of_b(report.body.decode(), s["tree"])

    # Whole reports for one row: right name, wrong name, repeated, in either order: all the same.
    answers = []
    for name, idn in (("李四", B1), ("李某", B1), ("李四", B1), ("王五", B2), ("王某", B2), ("王五", B2)):
        resp = await upload(api, clerk_a, "GA", roster_csv([(name, idn, "")]))
        assert resp.status == 200
        reveals_nothing_of_b(resp.body.decode(), s["tree"])
        answers.append(resp.data)
    assert all(a == answers[0] for a in answers), answers
    assert answers[0]["transfer_requested"] == 1 and answers[0]["committed"] is True

    async with engine.connect() as conn:
        pending = (await conn.execute(sa.select(member_transfers.c.member_id, member_transfers.c.status))).all()
        b_rows = (await conn.execute(sa.select(members.c.name, members.c.org_id, members.c.employer,
                                               members.c.phone_bidx).where(members.c.id.in_(
                                                   [s["ids"]["李四"], s["ids"]["王五"]])))).all()
    # A repeated import does not make a second pending request.
    assert sorted(pending) == sorted([(s["ids"]["李四"], "pending"), (s["ids"]["王五"], "pending")])
    # Nothing of B's members was written by A's imports.
    assert {r.org_id for r in b_rows} == {s["tree"]["GB"].id}
    assert {r.name for r in b_rows} == {"李四", "王五"}
    assert {r.phone_bidx for r in b_rows} == {cipher.blind_index("13800000201", purpose="phone"), None}


async def test_strict_import_treats_sibling_rows_alike(api, engine):
    s = await seeded(api, engine)
    clerk_a = s["tokens"]["clerk_a"]
    right = await upload(api, clerk_a, "GA", roster_csv([("李四", B1, ""), ("赵六", NEW, "")]), strict=True)
    wrong = await upload(api, clerk_a, "GA", roster_csv([("李某", B1, ""), ("赵七", id_number(205), "")]),
                         strict=True)
    assert right.status == wrong.status == 200
    assert right.data["committed"] is wrong.data["committed"] is True
    assert without_line(rows_by_line(right.data)[2]) == without_line(rows_by_line(wrong.data)[2])


# ---------------------------------------------------------------- transfers, both sides


async def test_the_members_unit_decides_and_the_requester_sees_the_status(api, engine):
    s = await seeded(api, engine)
    clerk_a, clerk_b = s["tokens"]["clerk_a"], s["tokens"]["clerk_b"]
    await upload(api, clerk_a, "GA", roster_csv([("李四", B1, "13900000999"), ("王九", B2, "")]))

    incoming = await api.get("/api/v1/staff/member-transfers?direction=incoming&status=pending", token=clerk_b)
    assert incoming.status == 200, incoming.data
    by_member = {t["member"]["id"]: t for t in incoming.data["items"]}
    assert set(by_member) == {s["ids"]["李四"], s["ids"]["王五"]}
    li, wang = by_member[s["ids"]["李四"]], by_member[s["ids"]["王五"]]
    # B's staff see their own member, whether the name matched, and who asks.
    assert (li["name_matches"], wang["name_matches"]) == (True, False)
    assert li["to_org"]["code"] == "GA" and li["from_org"]["code"] == "GB" and li["status"] == "pending"
    assert "13900000999" not in incoming.body.decode()
    # A sees nothing of B in its own list; it cannot decide its own request.
    outgoing = await api.get("/api/v1/staff/member-transfers?direction=outgoing", token=clerk_a)
    assert outgoing.status == 200 and len(outgoing.data["items"]) == 2
    reveals_nothing_of_b(outgoing.body.decode(), s["tree"], typed=("李四",))
    # The right-name and the wrong-name request read alike: the same fields, each what A gave.
    mine = {t["name"]: t for t in outgoing.data["items"]}
    assert set(mine) == {"李四", "王九"} and mine["李四"].keys() == mine["王九"].keys()
    assert (mine["李四"]["status"], mine["王九"]["status"]) == ("pending", "pending")
    assert (await api.get("/api/v1/staff/member-transfers?direction=incoming", token=clerk_a)).data["items"] == []
    same_answer(await api.post(f"/api/v1/staff/member-transfers/{li['id']}/accept", token=clerk_a),
                await api.post("/api/v1/staff/member-transfers/999999/accept", token=clerk_a))
    same_answer(await api.post(f"/api/v1/staff/member-transfers/{li['id']}/refuse", {"reason": "x"}, token=clerk_a),
                await api.post("/api/v1/staff/member-transfers/999999/refuse", {"reason": "x"}, token=clerk_a))
    # A role that may not decide is refused before any lookup.
    finance = s["tokens"]["finance_a"]
    assert (await api.post(f"/api/v1/staff/member-transfers/{li['id']}/accept", token=finance)).status == 403

    accepted = await api.post(f"/api/v1/staff/member-transfers/{li['id']}/accept", token=clerk_b)
    assert accepted.status == 200 and accepted.data["status"] == "accepted", accepted.data
    again = await api.post(f"/api/v1/staff/member-transfers/{li['id']}/accept", token=clerk_b)
    assert (again.status, again.error_code) == (409, "transfer_decided")
    no_reason = await api.post(f"/api/v1/staff/member-transfers/{wang['id']}/refuse", {"reason": " "}, token=clerk_b)
    assert (no_reason.status, no_reason.error_code) == (400, "reason_required")
    refused = await api.post(f"/api/v1/staff/member-transfers/{wang['id']}/refuse", {"reason": "姓名与登记不符"},
                             token=clerk_b)
    assert refused.status == 200 and refused.data["status"] == "refused"

    # The member moved, with the roster's phone; B no longer finds them, A does.
    found_a = await api.get(f"/api/v1/staff/members?id_number={B1}", token=clerk_a)
    assert [m["org_id"] for m in found_a.data["items"]] == [s["tree"]["GA"].id]
    assert (await api.get(f"/api/v1/staff/members?id_number={B1}", token=clerk_b)).data["items"] == []
    assert len((await api.get("/api/v1/staff/members?phone=13900000999", token=clerk_a)).data["items"]) == 1
    # 王五 stays in B.
    assert (await api.get(f"/api/v1/staff/members?id_number={B2}", token=clerk_a)).data["items"] == []
    assert len((await api.get(f"/api/v1/staff/members?id_number={B2}", token=clerk_b)).data["items"]) == 1

    outgoing = await api.get("/api/v1/staff/member-transfers?direction=outgoing", token=clerk_a)
    statuses = {t["id"]: (t["status"], t["reason"]) for t in outgoing.data["items"]}
    assert statuses == {li["id"]: ("accepted", None), wang["id"]: ("refused", "姓名与登记不符")}
    pending = await api.get("/api/v1/staff/member-transfers?direction=outgoing&status=pending", token=clerk_a)
    assert pending.data["items"] == []
    bad = await api.get("/api/v1/staff/member-transfers?direction=sideways", token=clerk_a)
    assert (bad.status, bad.error_code) == (400, "invalid_query")

    async with engine.connect() as conn:
        actions = [(r.action, r.actor_kind) for r in (await conn.execute(
            sa.select(audit_log.c.action, audit_log.c.actor_kind).where(audit_log.c.action.like("member.transfer%"))
            .order_by(audit_log.c.id))).all()]
    assert actions == [("member.transfer_request", "staff")] * 2 + [("member.transfer_accept", "staff"),
                                                                     ("member.transfer_refuse", "staff")]
    # A new import after the refusal asks again (B may have corrected its record meanwhile).
    again = await upload(api, clerk_a, "GA", roster_csv([("王五", B2, "")]))
    assert again.data["transfer_requested"] == 1


async def test_requester_cancels_a_pending_request(api, engine):
    s = await seeded(api, engine)
    clerk_a, clerk_b = s["tokens"]["clerk_a"], s["tokens"]["clerk_b"]
    await upload(api, clerk_a, "GA", roster_csv([("李四", B1, "")]))
    transfer_id = (await api.get("/api/v1/staff/member-transfers", token=clerk_a)).data["items"][0]["id"]
    # B cannot cancel A's request (it refuses instead); A can.
    same_answer(await api.post(f"/api/v1/staff/member-transfers/{transfer_id}/cancel", token=clerk_b),
                await api.post("/api/v1/staff/member-transfers/999999/cancel", token=clerk_b))
    cancelled = await api.post(f"/api/v1/staff/member-transfers/{transfer_id}/cancel", token=clerk_a)
    assert cancelled.status == 200 and cancelled.data["status"] == "cancelled"
    late = await api.post(f"/api/v1/staff/member-transfers/{transfer_id}/accept", token=clerk_b)
    assert (late.status, late.error_code) == (409, "transfer_decided")


async def test_city_staff_move_a_member_between_their_counties_directly(api, engine):
    """For the city both counties are its own: the roster is obeyed at once (moved), and a wrong name is said."""
    s = await seeded(api, engine)
    clerk_c = s["tokens"]["clerk_c"]
    report = await upload(api, clerk_c, "GA", roster_csv([("李四", B1, "13900000777"), ("王某", B2, "")]))
    assert report.status == 200
    assert (report.data["moved"], report.data["transfer_requested"], report.data["refused"]) == (1, 0, 1)
    assert [(p["line"], p["code"]) for p in report.data["problems"]] == [(3, "name_mismatch")]
    async with engine.connect() as conn:
        org_of = dict((await conn.execute(sa.select(members.c.name, members.c.org_id))).all())
        transfers = (await conn.execute(sa.select(sa.func.count()).select_from(member_transfers))).scalar_one()
        moves = (await conn.execute(sa.select(audit_log.c.summary).where(audit_log.c.action == "member.move"))).all()
    assert org_of["李四"] == s["tree"]["GA"].id and org_of["王五"] == s["tree"]["GB"].id
    assert transfers == 0
    assert [json.loads(m.summary)["to_org_id"] for m in moves] == [s["tree"]["GA"].id]
    # Unchanged on a second run: the member is where the roster says.
    again = await upload(api, clerk_c, "GA", roster_csv([("李四", B1, "13900000777")]))
    assert (again.data["moved"], again.data["unchanged"]) == (0, 1)
    # A roster of the county itself leaves members of its grassroots units where they are.
    county = await upload(api, clerk_c, "KA", roster_csv([("李四", B1, "13900000777")]))
    assert (county.data["moved"], county.data["unchanged"]) == (0, 1)


async def test_city_decides_transfers_between_its_counties(api, engine):
    s = await seeded(api, engine)
    await upload(api, s["tokens"]["clerk_a"], "GA", roster_csv([("李四", B1, "")]))
    incoming = await api.get("/api/v1/staff/member-transfers?direction=incoming", token=s["tokens"]["clerk_c"])
    assert len(incoming.data["items"]) == 1
    transfer_id = incoming.data["items"][0]["id"]
    accepted = await api.post(f"/api/v1/staff/member-transfers/{transfer_id}/accept", token=s["tokens"]["clerk_c"])
    assert accepted.status == 200


# ---------------------------------------------------------------- search and by-id routes


async def test_search_finds_a_sibling_member_no_more_than_nobody(api, engine):
    s = await seeded(api, engine)
    clerk_a = s["tokens"]["clerk_a"]
    same_answer(await api.get(f"/api/v1/staff/members?id_number={B1}", token=clerk_a),
                await api.get(f"/api/v1/staff/members?id_number={NOBODY}", token=clerk_a))
    same_answer(await api.get("/api/v1/staff/members?phone=13800000201", token=clerk_a),
                await api.get("/api/v1/staff/members?phone=13800000299", token=clerk_a))
    found = await api.get(f"/api/v1/staff/members?id_number={B1}", token=clerk_a)
    assert found.status == 200 and found.data == {"items": [], "next": None}
    # The city finds them.
    assert len((await api.get(f"/api/v1/staff/members?id_number={B1}", token=s["tokens"]["clerk_c"]))
               .data["items"]) == 1


async def test_by_id_routes_answer_a_sibling_member_like_a_missing_one(api, engine):
    s = await seeded(api, engine)
    clerk_a, finance = s["tokens"]["clerk_a"], s["tokens"]["finance_a"]
    # B's member has a bound WeChat account and a card, so every route has something to find.
    worker = await api.login("li.si.1")
    bound = await api.post("/api/v1/me/bind", {"name": "李四", "id_number": B1}, token=worker)
    assert bound.status == 200, bound.data
    sibling, missing = s["ids"]["李四"], 999999
    calls = [
        ("POST", "/api/v1/staff/members/{}/release-binding", None),
        ("PATCH", "/api/v1/staff/members/{}", {"employer": "某厂"}),
        ("PATCH", "/api/v1/staff/members/{}", {"status": "ended"}),
        ("GET", "/api/v1/staff/members/{}/full", None),
        ("GET", "/api/v1/staff/members/{}/card", None),
        ("POST", "/api/v1/staff/members/{}/card", None),
        ("GET", "/api/v1/staff/members/{}/hardship", None),
        ("GET", "/api/v1/staff/members/{}/hardship?full=1", None),
        ("POST", "/api/v1/staff/members/{}/hardship", hardship_body(0)),
    ]
    for method, path, payload in calls:
        for token in (clerk_a, finance):
            a = await api.request(method, path.format(sibling), json_body=payload, token=token)
            b = await api.request(method, path.format(missing), json_body=payload, token=token)
            same_answer(a, b)
            if token is clerk_a:
                assert a.status == 404, (method, path, a.data)
    # Card routes by card id: B's card reads like a card that does not exist.
    card_id = (await api.get(f"/api/v1/staff/members/{sibling}/card", token=s["tokens"]["clerk_b"])).data["card"]["id"]
    for action, payload in (("freeze", {"reason": "x"}), ("unfreeze", {}), ("reissue", {}), ("cancel", {"reason": "x"}),
                            ("print", None)):
        same_answer(await api.post(f"/api/v1/staff/cards/{card_id}/{action}", payload, token=clerk_a),
                    await api.post(f"/api/v1/staff/cards/999999/{action}", payload, token=clerk_a))
    same_answer(await api.get(f"/api/v1/staff/cards/{card_id}/print", token=clerk_a),
                await api.get("/api/v1/staff/cards/999999/print", token=clerk_a))
    # Nothing changed for B's member.
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(members).where(members.c.id == sibling))).one()
    assert row.user_id is not None and row.status == "active" and row.employer == "湘绣厂"
