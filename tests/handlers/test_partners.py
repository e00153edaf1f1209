"""Staff manage partners and programmes over HTTP, within their subtree and role; cashiers bind by invite."""
from __future__ import annotations

import base64

import sqlalchemy as sa

from models.core.tables import audit_log
from models.partners.tables import program_merchants
from tests.handlers.test_staff import network, same_refusal, token_of

AGREEMENT = {"agreement_from": "2024-01-01", "agreement_to": "2099-12-31"}


async def _merchant(api, token, **extra):
    body = {"name": "老百姓大药房", "type": "pharmacy", "org": "K1", **AGREEMENT, **extra}
    resp = await api.post("/api/v1/staff/merchants", body, token=token)
    assert resp.status == 201, resp.data
    return resp.data


async def test_admin_signs_a_pharmacy_and_invites_its_manager(api, engine, wechat):
    await network(engine)
    admin = await token_of(api, "admin1")
    merchant = await _merchant(api, admin, contact="0731-1234567")
    assert (merchant["type_label"], merchant["status"]) == ("爱心药店", "active")
    store = await api.post(f"/api/v1/staff/merchants/{merchant['id']}/stores",
                           {"name": "东湖店", "address": "东湖路 1 号"}, token=admin)
    assert store.status == 201
    detail = await api.get(f"/api/v1/staff/merchants/{merchant['id']}", token=admin)
    assert [s["name"] for s in detail.data["stores"]] == ["东湖店"]
    invite = await api.post(f"/api/v1/staff/merchants/{merchant['id']}/invites", {"role": "manager"}, token=admin)
    assert invite.status == 201, invite.data
    assert invite.data["wxa_code_type"] == "image/jpeg"  # as WeChat sends it
    assert base64.b64decode(invite.data["wxa_code"]).startswith(b"\xff\xd8\xff")
    manager = await api.login("boss.1")
    joined = await api.post("/api/v1/merchant/bind", {"invite_code": invite.data["invite"]["code"].lower()},
                            token=manager)
    assert joined.status == 200 and joined.data["role"] == "manager"
    again = await api.post("/api/v1/merchant/bind", {"invite_code": invite.data["invite"]["code"]},
                           token=await api.login("other.1"))
    assert (again.status, again.error_code) == (404, "invite_invalid")  # one-time
    # The manager invites a cashier for the store, then removes them.
    cashier_invite = await api.post("/api/v1/merchant/invites", {"store_id": store.data["id"]}, token=manager)
    assert cashier_invite.status == 200, cashier_invite.data
    cashier = await api.login("cash.1")
    bound = await api.post("/api/v1/merchant/bind", {"invite_code": cashier_invite.data["invite"]["code"]},
                           token=cashier)
    assert bound.data["role"] == "cashier" and bound.data["store"]["id"] == store.data["id"]
    staff_list = await api.get("/api/v1/merchant/staff", token=manager)
    cashier_row = [s for s in staff_list.data["items"] if s["role"] == "cashier"][0]
    not_manager = await api.post("/api/v1/merchant/invites", {"store_id": store.data["id"]}, token=cashier)
    assert (not_manager.status, not_manager.error_code) == (403, "not_manager")
    gone = await api.request("DELETE", f"/api/v1/merchant/staff/{cashier_row['id']}", token=manager)
    assert gone.status == 200
    scan = await api.post("/api/v1/merchant/scan", {"qr": "X" * 135}, token=cashier)
    assert (scan.status, scan.error_code) == (403, "not_cashier")
    async with engine.connect() as conn:
        actions = set((await conn.execute(sa.select(audit_log.c.action))).scalars())
    assert {"merchant.create", "merchant.add_store", "merchant.invite", "merchant.bind",
            "merchant.remove_staff"} <= actions


async def test_suspended_merchant_cannot_scan(api, engine):
    await network(engine)
    admin = await token_of(api, "admin1")
    merchant = await _merchant(api, admin)
    store = await api.post(f"/api/v1/staff/merchants/{merchant['id']}/stores", {"name": "店", "address": "路"},
                           token=admin)
    invite = await api.post(f"/api/v1/staff/merchants/{merchant['id']}/invites",
                            {"role": "cashier", "store_id": store.data["id"]}, token=admin)
    cashier = await api.login("cash.2")
    await api.post("/api/v1/merchant/bind", {"invite_code": invite.data["invite"]["code"]}, token=cashier)
    no_reason = await api.post(f"/api/v1/staff/merchants/{merchant['id']}/status", {"status": "suspended"},
                               token=admin)
    assert (no_reason.status, no_reason.error_code) == (400, "reason_required")
    suspended = await api.post(f"/api/v1/staff/merchants/{merchant['id']}/status",
                               {"status": "suspended", "reason": "协议到期未续签"}, token=admin)
    assert suspended.data["status"] == "suspended"
    scan = await api.post("/api/v1/merchant/scan", {"qr": "X" * 135}, token=cashier)
    assert (scan.status, scan.error_code) == (403, "merchant_suspended")
    await api.post(f"/api/v1/staff/merchants/{merchant['id']}/status", {"status": "active"}, token=admin)
    scan = await api.post("/api/v1/merchant/scan", {"qr": "X" * 135}, token=cashier)
    assert (scan.status, scan.error_code) == (400, "qr_invalid")


async def test_programmes_from_presets_and_scope(api, engine):
    await network(engine)
    admin = await token_of(api, "admin1")
    merchant = await _merchant(api, admin)
    presets = await api.get("/api/v1/staff/programs/presets", token=admin)
    assert "hospital_inpatient" in presets.data["presets"] and presets.data["categories"]["drug"] == "药品"
    made = await api.post("/api/v1/staff/programs", {"org": "K1", "preset": "pharmacy_drug_card",
                                                     "valid_from": "2024-01-01", "valid_to": "2099-12-31",
                                                     "merchants": [merchant["id"]]}, token=admin)
    assert made.status == 201, made.data
    assert (made.data["union_bp"], made.data["merchants"]) == (8500, [merchant["id"]])
    assert "工会承担 85%" in made.data["summary"]
    bad_rule = await api.post("/api/v1/staff/programs", {"org": "K1", "name": "错", "rule": {"kind": "percent_off",
                              "rate_bp": 20000}, "union_bp": 0, "categories": ["drug"], "eligibility": "all_members",
                              "period": "month", "valid_from": "2024-01-01", "valid_to": "2099-12-31"}, token=admin)
    assert (bad_rule.status, bad_rule.error_code) == (400, "invalid_rule")
    listed = await api.get("/api/v1/staff/programs", token=admin)
    assert [p["id"] for p in listed.data["items"]] == [made.data["id"]]
    # Another city's admin sees nothing of it and cannot touch it; a station clerk may not manage.
    other = await token_of(api, "admin2")
    assert (await api.get("/api/v1/staff/programs", token=other)).data["items"] == []
    hidden = await api.request("PUT", f"/api/v1/staff/programs/{made.data['id']}/merchants", json_body={"merchants": []},
                               token=other)
    missing = await api.request("PUT", "/api/v1/staff/programs/99999/merchants", json_body={"merchants": []},
                                token=other)
    same_refusal(hidden, missing)
    foreign = await api.request("PUT", f"/api/v1/staff/programs/{made.data['id']}/merchants",
                                json_body={"merchants": [merchant["id"], 424242]}, token=admin)
    assert (foreign.status, foreign.error_code) == (404, "merchant_not_found")
    clerk = await token_of(api, "clerk1")
    refused = await api.post(f"/api/v1/staff/programs/{made.data['id']}/end", token=clerk)
    assert (refused.status, refused.error_code) == (403, "role_forbidden")
    ended = await api.post(f"/api/v1/staff/programs/{made.data['id']}/end", token=admin)
    assert ended.data["status"] == "ended"
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(program_merchants))).all()
    assert len(rows) == 1  # the failed PUT changed nothing


async def test_merchant_list_is_scoped(api, engine):
    await network(engine)
    admin = await token_of(api, "admin1")
    await _merchant(api, admin)
    other = await token_of(api, "admin2")
    assert (await api.get("/api/v1/staff/merchants", token=other)).data["items"] == []
    outside = await api.post("/api/v1/staff/merchants", {"name": "店", "type": "pharmacy", "org": "K1", **AGREEMENT},
                             token=other)
    assert (outside.status, outside.error_code) == (404, "org_not_found")
    backwards = await api.post("/api/v1/staff/merchants", {"name": "店", "type": "pharmacy", "org": "K1",
                                                           "agreement_from": "2025-01-01",
                                                           "agreement_to": "2024-01-01"}, token=admin)
    assert (backwards.status, backwards.error_code) == (400, "agreement_period")
    assert len((await api.get("/api/v1/staff/merchants?type=pharmacy", token=admin)).data["items"]) == 1
