"""Closing and reopening a fund over HTTP: the codes, who may (a station or reviewer 403, another subtree's
finance 404), the answer the same as GET's, the ledger's close and reopen rows."""
from __future__ import annotations

import pytest

from models.core.clock import LOCAL_TZ, utcnow
from tests.factories import org_tree
from tests.relief_helpers import at_approval, staff, token, worker

APPS = "/api/v1/staff/relief/applications"
FUNDS = "/api/v1/staff/funds"
YEAR = utcnow().astimezone(LOCAL_TZ).year


@pytest.fixture
async def scene(api, engine, running):
    cipher = running.settings["cipher"]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        member_id, user_id = await worker(conn, cipher, tree["G01"], 81)
        s = {"app": await at_approval(conn, cipher, member_id, user_id, tree["G01"])}
        for name, org, roles in (("finance", "K01", ["finance"]), ("admin", "K01", ["admin"]),
                                 ("approver", "K01", ["approver"]), ("reviewer", "K01", ["reviewer"]),
                                 ("station", "G01", ["station"]), ("far", "K02", ["finance", "admin"])):
            s[name] = await token(conn, await staff(conn, f"{name}.close", org, *roles))
    made = await api.post(FUNDS, {"org": "K01", "source": "union", "name": "临时救助专项", "year": YEAR,
                                  "budget": 1_000_000, "kinds": ["temporary"]}, token=s["finance"])
    s["fund"] = made.data["id"]
    return s


async def test_finance_closes_a_fund_once_its_reservations_are_released_and_an_admin_reopens_it(api, scene):
    s = scene
    url = f"{FUNDS}/{s['fund']}"
    why = {"reason": "年度结束，结余按规定处理"}
    approved = await api.post(f"{APPS}/{s['app']}/decision", {"step": "approval", "decision": "pass",
                                                              "amount": 300_000, "fund_id": s["fund"]},
                              token=s["approver"])
    assert approved.status == 200, approved.data
    held = await api.post(f"{url}/close", why, token=s["finance"])
    assert (held.status, held.error_code) == (409, "fund_has_reservations")
    assert "3000.00 元" in held.data["error"]["message"]
    for who, status, code in (("station", 403, "role_forbidden"), ("reviewer", 403, "role_forbidden"),
                              ("far", 404, "fund_not_found")):
        refused = await api.post(f"{url}/close", why, token=s[who])
        assert (refused.status, refused.error_code) == (status, code), who
    assert (await api.post(f"{url}/close", {}, token=s["finance"])).status == 400
    assert (await api.post(f"{url}/close", {"reason": "x"}, token=s["finance"])).status == 400
    released = await api.post(f"{APPS}/{s['app']}/decision", {"step": "payment", "decision": "reject",
                                                              "comment": "经核实已获其他渠道足额救助"},
                              token=s["finance"])
    assert released.status == 200, released.data
    closed = await api.post(f"{url}/close", why, token=s["finance"])
    assert closed.status == 200, closed.data
    assert (closed.data["status"], closed.data["available"], closed.data["balance"], closed.data["close_reason"]) \
        == ("closed", 0, 1_000_000, "年度结束，结余按规定处理")
    assert closed.data["closed_at"] and closed.data["closed_by"]
    assert (await api.get(url, token=s["approver"])).data == closed.data
    rows = (await api.get(f"{url}/ledger?limit=1", token=s["approver"])).data["items"]
    assert [(r["entry"], r["amount"], r["note"]) for r in rows] == [("close", 1_000_000, "年度结束，结余按规定处理")]
    for path, body, code in (("close", why, "fund_closed"), ("top-ups", {"amount": 100, "note": "追加"}, "fund_closed")):
        again = await api.post(f"{url}/{path}", body, token=s["finance"])
        assert (again.status, again.error_code) == (409, code), path
    for who, status, code in (("finance", 403, "role_forbidden"), ("station", 403, "role_forbidden"),
                              ("far", 404, "fund_not_found")):
        refused = await api.post(f"{url}/reopen", {"reason": "误关闭"}, token=s[who])
        assert (refused.status, refused.error_code) == (status, code), who
    reopened = await api.post(f"{url}/reopen", {"reason": "误关闭"}, token=s["admin"])
    assert reopened.status == 200 and (reopened.data["status"], reopened.data["available"],
                                       reopened.data["closed_at"]) == ("active", 1_000_000, None)
    rows = (await api.get(f"{url}/ledger?limit=2", token=s["admin"])).data["items"]
    assert [r["entry"] for r in rows] == ["reopen", "close"]
    twice = await api.post(f"{url}/reopen", {"reason": "误关闭"}, token=s["admin"])
    assert (twice.status, twice.error_code) == (409, "fund_not_closed")
