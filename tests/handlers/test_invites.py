"""Merchant invites over HTTP: a WeChat failure leaves a usable invite, its image can be fetched again,
open invites are listed, and staff and managers reach only the invites they could make."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import sqlalchemy as sa

from models.core.clock import utcnow
from models.core.errors import AppError
from models.core.tables import audit_log
from models.partners.tables import merchant_invites
from tests.handlers.test_partners import _merchant
from tests.handlers.test_staff import network, same_refusal, token_of

BIND_PAGE = "pages/merchant/bind"
INVALID = ("invite_invalid", "邀请不存在、已使用或已过期")


async def shop(api, engine, admin, org="K1"):
    """A merchant signed by ``org`` with one store: (merchant id, store id)."""
    merchant = await _merchant(api, admin, org=org)
    store = await api.post(f"/api/v1/staff/merchants/{merchant['id']}/stores", {"name": "东湖店", "address": "东湖路"},
                           token=admin)
    assert store.status == 201, store.data
    return merchant["id"], store.data["id"]


async def hire(api, token, code, who):
    """A WeChat user binds with the invite code; their token."""
    user = await api.login(who)
    bound = await api.post("/api/v1/merchant/bind", {"invite_code": code}, token=user)
    assert bound.status == 200, bound.data
    assert bound.data["role"] in ("manager", "cashier")
    return user


async def what_wechat_says(gateway, fault, **inject):
    """The error the gateway raises for ``wxa_code`` under the fault (what an answer must pass on)."""
    fault(**inject)
    try:
        await gateway.wxa_code("PROBE2345678", page=BIND_PAGE)
    except AppError as exc:
        return exc
    raise AssertionError("the fault did not reach the gateway")


async def reveals(engine):
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_log.c.target_kind, audit_log.c.target_id, audit_log.c.summary)
                                   .where(audit_log.c.action == "merchant.invite_reveal")
                                   .order_by(audit_log.c.id))).all()
    return [(kind, target, json.loads(summary)) for kind, target, summary in rows]


async def test_a_wechat_failure_leaves_a_usable_invite_whose_image_comes_later(api, engine, running, wechat):
    await network(engine)
    admin = await token_of(api, "admin1")
    merchant_id, _ = await shop(api, engine, admin)
    busy = await what_wechat_says(running.gateway, wechat.state.inject, endpoint="getwxacodeunlimit", errcode=-1,
                                  times=2)

    wechat.state.inject("getwxacodeunlimit", errcode=-1, times=2)  # the gateway retries -1 once
    made = await api.post(f"/api/v1/staff/merchants/{merchant_id}/invites", {"role": "manager"}, token=admin)
    assert made.status == 201, made.data
    invite = made.data["invite"]
    assert (made.data["wxa_code"], made.data["wxa_code_type"]) == (None, None)
    assert made.data["wxa_code_error"] == {"code": busy.code, "message": busy.message}
    assert set(invite) == {"id", "code", "merchant_id", "store_id", "role", "expires_at"}
    assert (invite["merchant_id"], invite["store_id"], invite["role"]) == (merchant_id, None, "manager")
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(merchant_invites).where(merchant_invites.c.id == invite["id"]))).one()
    assert row.code_enc is not None and invite["code"] not in row.code_enc  # kept, but not as the plain code

    # WeChat still failing: the image route says so, with when to retry.
    image_path = f"/api/v1/staff/merchants/{merchant_id}/invites/{invite['id']}/wxa-code"
    wechat.state.inject("getwxacodeunlimit", errcode=-1, times=2)
    failing = await api.get(image_path, token=admin)
    assert (failing.status, failing.error_code) == (busy.status, busy.code)
    assert failing.headers["Retry-After"] == busy.headers["Retry-After"]
    # WeChat back: the image of the invite's code, as WeChat typed it, never cached.
    image = await api.get(image_path, token=admin)
    assert image.status == 200
    expected = await running.gateway.wxa_code(invite["code"], page=BIND_PAGE)
    assert image.body == expected.image and image.headers["Content-Type"] == expected.mime
    assert expected.mime.startswith("image/") and image.headers["Cache-Control"] == "no-store"
    # The open invite is listed with its code, which binds the manager; then it is neither listed nor shown.
    listed = await api.get(f"/api/v1/staff/merchants/{merchant_id}/invites", token=admin)
    assert [(i["id"], i["code"]) for i in listed.data["items"]] == [(invite["id"], invite["code"])]
    await hire(api, admin, invite["code"], "boss.1")
    used = await api.get(image_path, token=admin)
    assert (used.status, used.error_code, used.data["error"]["message"]) == (404, *INVALID)
    assert (await api.get(f"/api/v1/staff/merchants/{merchant_id}/invites", token=admin)).data["items"] == []
    # Every reading of the kept code is audited: two fetches of the image (one WeChat refused), one list.
    assert await reveals(engine) == [
        ("merchant_invite", str(invite["id"]), {"merchant_id": merchant_id, "role": "manager", "via": "wxa_code"}),
        ("merchant_invite", str(invite["id"]), {"merchant_id": merchant_id, "role": "manager", "via": "wxa_code"}),
        ("merchant", str(merchant_id), {"invites": [invite["id"]], "via": "list"})]


async def test_a_manager_invites_a_cashier_while_wechat_is_down(api, engine, running, wechat):
    await network(engine)
    admin = await token_of(api, "admin1")
    merchant_id, store_id = await shop(api, engine, admin)
    boss = await api.post(f"/api/v1/staff/merchants/{merchant_id}/invites", {"role": "manager"}, token=admin)
    manager = await hire(api, admin, boss.data["invite"]["code"], "boss.1")
    down = await what_wechat_says(running.gateway, wechat.state.inject, endpoint="getwxacodeunlimit",
                                  http_status=500)

    wechat.state.inject("getwxacodeunlimit", http_status=500)
    made = await api.post("/api/v1/merchant/invites", {"store_id": store_id}, token=manager)
    assert made.status == 200, made.data
    assert made.data["wxa_code"] is None
    assert made.data["wxa_code_error"] == {"code": down.code, "message": down.message}
    invite = made.data["invite"]
    assert (invite["role"], invite["store_id"]) == ("cashier", store_id)
    # The manager reads the code again from the list, and has the image fetched again.
    listed = await api.get("/api/v1/merchant/invites", token=manager)
    assert [(i["id"], i["code"]) for i in listed.data["items"]] == [(invite["id"], invite["code"])]
    image = await api.get(f"/api/v1/merchant/invites/{invite['id']}/wxa-code", token=manager)
    assert image.status == 200 and image.headers["Content-Type"].startswith("image/")
    assert image.body == (await running.gateway.wxa_code(invite["code"], page=BIND_PAGE)).image
    cashier = await api.login("cash.1")
    bound = await api.post("/api/v1/merchant/bind", {"invite_code": invite["code"]}, token=cashier)
    assert (bound.status, bound.data["role"], bound.data["store"]["id"]) == (200, "cashier", store_id)


async def test_the_create_answer_carries_the_image_as_wechat_typed_it(api, engine, running, wechat):
    await network(engine)
    admin = await token_of(api, "admin1")
    merchant_id, store_id = await shop(api, engine, admin)
    made = await api.post(f"/api/v1/staff/merchants/{merchant_id}/invites", {"role": "cashier", "store_id": store_id},
                          token=admin)
    assert made.status == 201, made.data
    expected = await running.gateway.wxa_code(made.data["invite"]["code"], page=BIND_PAGE)
    assert base64.b64decode(made.data["wxa_code"]) == expected.image
    assert made.data["wxa_code_type"] == expected.mime and expected.mime.startswith("image/")
    assert made.data["wxa_code_error"] is None
    # Asked again, the image is the same one: the same code, the same page.
    again = await api.get(f"/api/v1/staff/merchants/{merchant_id}/invites/{made.data['invite']['id']}/wxa-code",
                          token=admin)
    assert again.body == expected.image


async def test_open_invites_are_paged_newest_first(api, engine, wechat):
    await network(engine)
    admin = await token_of(api, "admin1")
    merchant_id, store_id = await shop(api, engine, admin)
    ids = []
    for _ in range(3):
        made = await api.post(f"/api/v1/staff/merchants/{merchant_id}/invites",
                              {"role": "cashier", "store_id": store_id}, token=admin)
        ids.append(made.data["invite"]["id"])
    first = await api.get(f"/api/v1/staff/merchants/{merchant_id}/invites?limit=2", token=admin)
    assert [i["id"] for i in first.data["items"]] == ids[:0:-1] and first.data["next"]
    rest = await api.get(f"/api/v1/staff/merchants/{merchant_id}/invites?limit=2&cursor={first.data['next']}",
                         token=admin)
    assert [i["id"] for i in rest.data["items"]] == ids[:1] and rest.data["next"] is None


async def test_each_reaches_only_the_invites_it_could_make(api, engine, wechat):
    await network(engine)
    admin, far_admin, clerk = await token_of(api, "admin1"), await token_of(api, "admin2"), await token_of(api, "clerk1")
    merchant_id, store_id = await shop(api, engine, admin)
    other_id, other_store = await shop(api, engine, admin, org="G1")
    far_id, far_store = await shop(api, engine, far_admin, org="K2")

    async def invite(merchant, body, token=admin):
        made = await api.post(f"/api/v1/staff/merchants/{merchant}/invites", body, token=token)
        assert made.status == 201, made.data
        return made.data["invite"]["id"], made.data["invite"]["code"]

    boss_id, boss_code = await invite(merchant_id, {"role": "manager"})
    manager = await hire(api, admin, boss_code, "boss.1")
    second_boss, _ = await invite(merchant_id, {"role": "manager"})
    cashier_id, _ = await invite(merchant_id, {"role": "cashier", "store_id": store_id})
    by_manager = await api.post("/api/v1/merchant/invites", {"store_id": store_id}, token=manager)
    mine = by_manager.data["invite"]["id"]
    other_invite, _ = await invite(other_id, {"role": "cashier", "store_id": other_store})
    far_invite, _ = await invite(far_id, {"role": "cashier", "store_id": far_store}, token=far_admin)
    expired, _ = await invite(merchant_id, {"role": "cashier", "store_id": store_id})
    async with engine.begin() as conn:
        await conn.execute(merchant_invites.update().where(merchant_invites.c.id == expired)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))

    def staff_image(merchant, invite_id):
        return f"/api/v1/staff/merchants/{merchant}/invites/{invite_id}/wxa-code"

    def manager_image(invite_id):
        return f"/api/v1/merchant/invites/{invite_id}/wxa-code"

    # What each may have: staff every open invite of their subtree's merchants, the manager the cashier invites.
    for path, token in ((staff_image(merchant_id, second_boss), admin), (staff_image(merchant_id, mine), admin),
                        (staff_image(other_id, other_invite), admin), (staff_image(far_id, far_invite), far_admin),
                        (manager_image(cashier_id), manager), (manager_image(mine), manager)):
        got = await api.get(path, token=token)
        assert got.status == 200 and got.headers["Content-Type"].startswith("image/"), (path, got.data)
    # The rest answers as one: used, expired, unknown, another merchant's, out of reach, not theirs to make.
    unknown = await api.get(staff_image(merchant_id, 987654321), token=admin)
    assert (unknown.status, unknown.error_code, unknown.data["error"]["message"]) == (404, *INVALID)
    for path, token in ((staff_image(merchant_id, boss_id), admin), (staff_image(merchant_id, expired), admin),
                        (staff_image(merchant_id, other_invite), admin), (staff_image(far_id, far_invite), admin),
                        (staff_image(merchant_id, cashier_id), far_admin), (staff_image(far_id, cashier_id), admin),
                        (manager_image(second_boss), manager), (manager_image(boss_id), manager),
                        (manager_image(far_invite), manager), (manager_image(expired), manager),
                        (manager_image(987654321), manager)):
        same_refusal(await api.get(path, token=token), unknown)
    # The lists: the merchant's open invites, for the manager its cashier invites.
    staff_list = await api.get(f"/api/v1/staff/merchants/{merchant_id}/invites", token=admin)
    assert [i["id"] for i in staff_list.data["items"]] == [mine, cashier_id, second_boss]
    manager_list = await api.get("/api/v1/merchant/invites", token=manager)
    assert [i["id"] for i in manager_list.data["items"]] == [mine, cashier_id]
    far_list = await api.get(f"/api/v1/staff/merchants/{merchant_id}/invites", token=far_admin)
    assert (far_list.status, far_list.error_code) == (404, "merchant_not_found")
    # Roles: a clerk may not manage merchants, a cashier is no manager.
    cashier = await hire(api, admin, (await api.post("/api/v1/merchant/invites", {"store_id": store_id},
                                                     token=manager)).data["invite"]["code"], "cash.1")
    for path, token, code in ((f"/api/v1/staff/merchants/{merchant_id}/invites", clerk, "role_forbidden"),
                              (staff_image(merchant_id, cashier_id), clerk, "role_forbidden"),
                              ("/api/v1/merchant/invites", cashier, "not_manager"),
                              (manager_image(cashier_id), cashier, "not_manager")):
        refused = await api.get(path, token=token)
        assert (refused.status, refused.error_code) == (403, code), path
