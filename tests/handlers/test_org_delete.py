"""DELETE /api/v1/staff/orgs/{id}: a unit something still references is refused with 409, never a 500."""
from __future__ import annotations

from tests.handlers.test_staff import network, token_of

AGREEMENT = {"agreement_from": "2024-01-01", "agreement_to": "2099-12-31"}


async def new_unit(api, token: str, code: str) -> int:
    made = await api.post("/api/v1/staff/orgs", {"code": code, "name": f"新单位{code}", "type": "grassroots",
                                                 "parent_code": "K1"}, token=token)
    assert made.status == 201, made.data
    return int(made.data["id"])


def refused_by(resp, kind: str, reason: str) -> None:
    """A 409 naming what is in the way, in the message and, per kind, in ``details``."""
    assert (resp.status, resp.error_code) == (409, "org_not_empty"), (resp.status, resp.data)
    error = resp.data["error"]
    assert error["message"] == f"该单位还有 {reason}，不能删除" and error["request_id"]
    assert [(d["kind"], d["count"], d["reason"]) for d in error["details"]] == [(kind, 1, reason)]


async def test_a_unit_holding_a_merchant_is_refused_with_409(api, engine):
    await network(engine)
    admin = await token_of(api, "admin1")
    unit = await new_unit(api, admin, "G7")
    merchant = await api.post("/api/v1/staff/merchants", {"name": "老百姓大药房", "type": "pharmacy", "org": "G7",
                                                          **AGREEMENT}, token=admin)
    assert merchant.status == 201, merchant.data
    refused_by(await api.request("DELETE", f"/api/v1/staff/orgs/{unit}", token=admin), "merchants", "1 家合作商家")
    assert [o["code"] for o in (await api.get("/api/v1/staff/orgs", token=admin)).data["items"]].count("G7") == 1


async def test_a_unit_holding_a_programme_is_refused_with_409(api, engine):
    await network(engine)
    admin = await token_of(api, "admin1")
    unit = await new_unit(api, admin, "G8")
    made = await api.post("/api/v1/staff/programs", {"org": "G8", "preset": "pharmacy_drug_card",
                                                     "valid_from": "2024-01-01", "valid_to": "2099-12-31"},
                          token=admin)
    assert made.status == 201, made.data
    refused_by(await api.request("DELETE", f"/api/v1/staff/orgs/{unit}", token=admin), "programs", "1 个优惠项目")


async def test_an_unreferenced_unit_is_deleted(api, engine):
    await network(engine)
    admin = await token_of(api, "admin1")
    unit = await new_unit(api, admin, "G9")
    gone = await api.request("DELETE", f"/api/v1/staff/orgs/{unit}", token=admin)
    assert gone.status == 200 and gone.data == {"deleted": True}
    assert (await api.request("DELETE", f"/api/v1/staff/orgs/{unit}", token=admin)).status == 404
