"""The merchant side of the mini-program: binding a cashier, scanning a card, managing cashiers."""
from __future__ import annotations

import base64
from datetime import date
from typing import Any

from handlers.base import APIHandler
from models import benefits, card_codes, merchants
from models.errors import AppError
from server.openapi import ERROR_REF, obj, op, ref, string
from server.qr_tokens import QrSigner

MERCHANT = obj({"id": {"type": "integer"}, "name": string(), "type": string(), "type_label": string(),
                "status": string()}, ["id", "name", "type", "status"], extra=True)


class MerchantHandler(APIHandler):
    """A handler for a WeChat user acting for a merchant."""

    async def cashier(self, conn: Any, *, check_merchant: bool = True) -> merchants.Cashier:
        return await merchants.cashier_for_user(conn, self.require("user"), check_merchant=check_merchant)


class BindHandler(MerchantHandler):
    spec = {"post": op(
        "收银员（或商家管理员）用邀请码绑定到商家门店", tags=["merchants"],
        body=obj({"invite_code": string(min_len=6, max_len=32)}, ["invite_code"]),
        responses={200: obj({"merchant": MERCHANT, "role": {"enum": ["cashier", "manager"]},
                             "store": {"oneOf": [obj({"id": {"type": "integer"}, "name": string(),
                                                      "address": string()}, ["id", "name"], extra=True),
                                                 {"type": "null"}]}}, ["merchant", "role"]),
                   403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
        description="邀请码一次有效，7 天内使用。一个微信账号同一时间只为一家门店工作：绑定新邀请码即结束原来的身份。")}

    async def post(self) -> None:
        user_id = self.require("user")
        body = self.json_body()
        async with self.engine.begin() as conn:
            cashier = await merchants.bind(conn, user_id, body["invite_code"], request_id=self.request_id)
            store = await merchants.store_view(conn, cashier.store_id) if cashier.store_id else None
        self.write_json({"merchant": cashier.merchant.view(), "role": cashier.role, "store": store})


class ScanHandler(MerchantHandler):
    spec = {"post": op(
        "扫描职工服务卡：核验二维码、卡和会员，返回可享权益并开启扫码会话", tags=["merchants"],
        body=obj({"qr": string(min_len=1, max_len=300), "id_last4": string(pattern="^[0-9]{3}[0-9Xx]$")},
                 ["qr"]),
        responses={200: obj({"scan_id": string(min_len=16), "expires_at": string(format="date-time"),
                             "card": obj({"holder": string(), "status": string(), "card_no_tail": string(),
                                          "printed": {"type": "boolean"}}, ["holder", "status"]),
                             "benefits": {"type": "array", "items": ref("Benefit")}},
                            ["scan_id", "card", "benefits"]),
                   400: ERROR_REF, 403: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF, 429: ERROR_REF},
        description="拒绝原因：qr_invalid（伪造、改动、未知密钥）、qr_expired（手机码超过有效期）、"
        "qr_used（已被其他扫码使用）、qr_outdated（卡已变更或已重新制卡）、card_frozen、card_lost、card_cancelled。"
        "实体卡码须带 id_last4（持卡人身份证后四位），错误 5 次锁定 1 小时（429 card_locked）。"
        "扫码不扣额度；scan_id 在 scan_ttl 秒内供本收银员发起一次核销。")}

    @property
    def signer(self) -> QrSigner:
        return self.settings["signer"]  # type: ignore[no-any-return]

    async def post(self) -> None:
        body = self.json_body()
        cfg = self.config
        refused: AppError | None = None
        async with self.engine.begin() as conn:
            cashier = await self.cashier(conn)
            try:
                scan = await card_codes.open_scan(
                    conn, self.signer, cashier, body["qr"], ttl=cfg.qr_ttl, skew=cfg.qr_clock_skew,
                    scan_ttl=cfg.scan_ttl, id_last4=body.get("id_last4"))
            except card_codes.SecondFactorWrong as exc:
                refused, card_id = exc, exc.card_id
            else:
                offers = await benefits.for_member(conn, scan.member_id, today=date.today(),
                                                   merchant=cashier.merchant)
        if refused is not None:
            async with self.engine.begin() as conn:
                refused = await card_codes.factor_failed(conn, card_id)
            raise refused
        self.write_json({
            "scan_id": scan.id, "expires_at": scan.expires_at,
            "card": {"holder": scan.holder_masked, "status": scan.card.status, "card_no_tail": scan.card.card_no[-4:],
                     "printed": scan.printed},
            "benefits": [b.view() for b in offers],
        })


class InvitesHandler(MerchantHandler):
    spec = {"post": op(
        "商家管理员为门店邀请收银员：一次性邀请码和小程序码", tags=["merchants"],
        body=obj({"store_id": {"type": "integer"}}, ["store_id"]),
        responses={200: obj({"invite": obj({"code": string(), "expires_at": string(format="date-time"),
                                            "store_id": {"type": "integer"}}, ["code", "expires_at"], extra=True),
                             "wxa_code": string()}, ["invite"]),
                   403: ERROR_REF, 404: ERROR_REF, 502: ERROR_REF},
        description="wxa_code 为小程序码图片（PNG，base64），扫码打开收银员绑定页，scene 即邀请码。")}

    async def post(self) -> None:
        body = self.json_body()
        async with self.engine.begin() as conn:
            manager = await self.cashier(conn)
            invite = await merchants.create_invite(conn, manager.actor(self.request_id, self.request.remote_ip),
                                                   manager.merchant_id, role="cashier", store_id=body["store_id"],
                                                   by_manager=manager)
        image = await self.settings["gateway"].wxa_code(invite.code, page="pages/merchant/bind")
        self.write_json({"invite": invite.view(), "wxa_code": base64.b64encode(image).decode()})


class MerchantStaffHandler(MerchantHandler):
    accepts = "none"
    spec = {"get": op("商家管理员查看本商家的收银员", tags=["merchants"], responses={200: obj(
        {"items": {"type": "array", "items": obj({"id": {"type": "integer"}, "role": string(),
                                                  "store_id": {"type": ["integer", "null"]},
                                                  "since": string(format="date-time")}, ["id", "role"])}},
        ["items"]), 403: ERROR_REF})}

    async def get(self) -> None:
        async with self.engine.connect() as conn:
            manager = await self.cashier(conn, check_merchant=False)
            items = await merchants.list_staff(conn, manager)
        self.write_json({"items": items})


class MerchantStaffItemHandler(MerchantHandler):
    accepts = "none"
    spec = {"delete": op("商家管理员移除收银员", tags=["merchants"],
                         responses={200: obj({"removed": {"type": "integer"}}, ["removed"]), 403: ERROR_REF,
                                    404: ERROR_REF})}

    async def delete(self, staff_id: str) -> None:
        async with self.engine.begin() as conn:
            manager = await self.cashier(conn, check_merchant=False)
            await merchants.remove_staff(conn, manager, int(staff_id), request_id=self.request_id)
        self.write_json({"removed": int(staff_id)})


routes: list[tuple[str, Any]] = [
    (r"/api/v1/merchant/bind", BindHandler),
    (r"/api/v1/merchant/scan", ScanHandler),
    (r"/api/v1/merchant/invites", InvitesHandler),
    (r"/api/v1/merchant/staff", MerchantStaffHandler),
    (r"/api/v1/merchant/staff/(?P<staff_id>[0-9]+)", MerchantStaffItemHandler),
]
