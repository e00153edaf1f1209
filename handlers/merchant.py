"""The merchant side of the mini-program: binding a cashier, scanning a card, managing cashiers."""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Annotated, Any

from handlers.base import APIHandler, json_default
from models.core import idempotency
from models.core.clock import local_today
from models.core.errors import AppError
from models.counter import redeeming as redemptions
from models.counter import scanning
from models.partners import partnership as merchants
from models.partners import programmes as benefits
from models.core.typed import Body, Id, PageQuery, PositiveFen, encode_cursor, paged, text
from server.openapi import ERROR_REF, obj, op, page, ref, string


class InviteCode(Body):
    """The invitation a manager gave."""

    invite_code: Annotated[str, text(32, min_len=6)]


class ScanBody(Body):
    """The card's QR text, and the last four characters of the ID number when the counter asks."""

    qr: Annotated[str, text(300, min_len=1)]
    id_last4: Annotated[str, text(pattern="^[0-9]{3}[0-9Xx]$")] | None = None


class InviteBody(Body):
    """The store the new cashier will work at."""

    store_id: Id


class VoidBody(Body):
    """Why the redemption is voided (optional)."""

    reason: Annotated[str, text(200)] | None = None


class RefundBody(Body):
    """How much of the paid amount goes back, and why."""

    amount: PositiveFen
    reason: Annotated[str, text(200, min_len=1)]

MERCHANT = obj({"id": {"type": "integer"}, "name": string(), "type": string(), "type_label": string(),
                "status": string()}, ["id", "name", "type", "status"], extra=True)


async def invite_answer(gateway: Any, invite: merchants.Invite) -> dict[str, Any]:
    """An invitation with its mini-program code (PNG, base64) that opens the binding page."""
    image = await gateway.wxa_code(invite.code, page="pages/merchant/bind")
    return {"invite": invite.view(), "wxa_code": base64.b64encode(image).decode()}


class MerchantHandler(APIHandler):
    """A handler for a WeChat user acting for a merchant."""

    async def cashier(self, conn: Any, *, check_merchant: bool = True) -> merchants.Cashier:
        return await merchants.cashier_for_user(conn, self.require("user"), check_merchant=check_merchant)


class BindHandler(MerchantHandler):
    spec = {"post": op(
        "收银员（或商家管理员）用邀请码绑定到商家门店", tags=["merchants"],
        body=InviteCode,
        responses={200: obj({"merchant": MERCHANT, "role": {"enum": ["cashier", "manager"]},
                             "store": {"oneOf": [obj({"id": {"type": "integer"}, "name": string(),
                                                      "address": string()}, ["id", "name"], extra=True),
                                                 {"type": "null"}]}}, ["merchant", "role"]),
                   403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
        description="邀请码一次有效，7 天内使用。一个微信账号同一时间只为一家门店工作：绑定新邀请码即结束原来的身份。")}

    async def post(self) -> None:
        user_id = self.require("user")
        body = self.body(InviteCode)
        async with self.engine.begin() as conn:
            cashier = await merchants.bind(conn, user_id, body.invite_code, request_id=self.request_id)
            store = await merchants.store_view(conn, cashier.store_id) if cashier.store_id else None
        self.write_json({"merchant": cashier.merchant.view(), "role": cashier.role, "store": store})


class ScanHandler(MerchantHandler):
    spec = {"post": op(
        "扫描职工服务卡：核验二维码、卡和会员，返回可享权益并开启扫码会话", tags=["merchants"],
        body=ScanBody,
        responses={200: obj({"scan_id": string(min_len=16), "expires_at": string(format="date-time"),
                             "card": obj({"holder": string(), "status": string(), "card_no_tail": string(),
                                          "printed": {"type": "boolean"}}, ["holder", "status"]),
                             "benefits": {"type": "array", "items": ref("Benefit")}},
                            ["scan_id", "card", "benefits"]),
                   400: ERROR_REF, 403: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF, 429: ERROR_REF},
        description="qr 须为二维码原文：135 个字符的大写 base32，不带 = 填充，前后和中间不含空白或换行；"
        "小写、带填充或有空白的写法不算同一个码，答 qr_invalid。"
        "拒绝原因：qr_invalid（伪造、改动、未知密钥、非规范写法）、qr_expired（手机码超过有效期）、"
        "qr_used（已被其他扫码使用）、qr_outdated（卡已变更或已重新制卡）、card_frozen、card_lost、card_cancelled。"
        "实体卡码须带 id_last4（持卡人身份证后四位），错误 5 次锁定 1 小时（429 card_locked）。"
        "扫码不扣额度；scan_id 在 scan_ttl 秒内供本收银员发起一次核销。")}

    async def post(self) -> None:
        cfg = self.config
        refused: AppError | None = None
        async with self.engine.begin() as conn:
            cashier = await self.cashier(conn)
            body = self.body(ScanBody)
            try:
                scan = await scanning.open_scan(
                    conn, self.signer, cashier, body.qr, ttl=cfg.qr_ttl, skew=cfg.qr_clock_skew,
                    scan_ttl=cfg.scan_ttl, id_last4=body.id_last4)
            except scanning.SecondFactorWrong as exc:
                refused, card_id = exc, exc.card_id
            else:
                offers = await benefits.for_member(conn, scan.member_id, today=local_today(), member=scan.member,
                                                   merchant=cashier.merchant)
        if refused is not None:
            async with self.engine.begin() as conn:
                refused = await scanning.factor_failed(conn, card_id)
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
        body=InviteBody,
        responses={200: obj({"invite": obj({"code": string(), "expires_at": string(format="date-time"),
                                            "store_id": {"type": "integer"}}, ["code", "expires_at"], extra=True),
                             "wxa_code": string()}, ["invite"]),
                   403: ERROR_REF, 404: ERROR_REF, 502: ERROR_REF},
        description="wxa_code 为小程序码图片（PNG，base64），扫码打开收银员绑定页，scene 即邀请码。")}

    async def post(self) -> None:
        async with self.engine.begin() as conn:
            manager = await self.cashier(conn)
            body = self.body(InviteBody)
            invite = await merchants.create_invite(conn, manager.actor(self.request_id, self.request.remote_ip),
                                                   manager.merchant_id, role="cashier", store_id=body.store_id,
                                                   by_manager=manager)
        self.write_json(await invite_answer(self.settings["gateway"], invite))


class MerchantStaffHandler(MerchantHandler):
    accepts = "none"
    spec = {"get": op("商家管理员查看本商家的收银员", tags=["merchants"], query=PageQuery, responses={200: page(
        obj({"id": {"type": "integer"}, "role": string(), "store_id": {"type": ["integer", "null"]},
             "since": string(format="date-time")}, ["id", "role"])), 400: ERROR_REF, 403: ERROR_REF})}

    async def get(self) -> None:
        async with self.engine.connect() as conn:
            manager = await self.cashier(conn, check_merchant=False)
            query = self.query(PageQuery)
            found = await merchants.list_staff(conn, manager, after=query.cursor or 0, limit=query.limit + 1)
        items, nxt = paged(found, query.limit, lambda s: int(s["id"]))
        self.write_json({"items": items, "next": nxt})


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


IDEMPOTENCY_HEADER = {"name": "Idempotency-Key", "in": "header", "required": True,
                      "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{8,64}$"}}
AMOUNTS = {"amount": {"type": "integer"}, "discount": {"type": "integer"}, "payable": {"type": "integer"},
           "union_share": {"type": "integer"}, "merchant_share": {"type": "integer"}}
REDEMPTION = obj({"id": {"type": "integer"}, **AMOUNTS, "status": {"enum": ["done", "void", "refunded"]},
                  "lines": {"type": "array", "items": {"type": "object"}}, "created_at": string(format="date-time")},
                 ["id", "amount", "discount", "payable", "union_share", "merchant_share"], extra=True)


class IdempotentHandler(MerchantHandler):
    """A money-moving POST: the first answer to an Idempotency-Key is kept and replayed."""

    async def run_once(self, prepare: Any, work: Any, *, check_merchant: bool = True) -> None:
        """``prepare(conn, cashier)`` runs with the key's claim and commits even when ``work`` is refused;
        ``work(conn, cashier, prepared)`` runs in a second transaction with the answer it keeps."""
        # Per caller and path, the path hashed so the scope fits its 64-character column for any ids.
        path_digest = hashlib.sha256(self.request.path.encode("utf-8")).hexdigest()[:24]
        async with self.engine.begin() as conn:
            cashier = await self.cashier(conn, check_merchant=check_merchant)
            key = idempotency.check_key(self.request.headers.get("Idempotency-Key"))
            digest = idempotency.body_hash(self.json_body())
            scope = f"merchant_staff:{cashier.id}:{path_digest}"
            replay = await idempotency.claim(conn, scope, key, digest)
            prepared = await prepare(conn, cashier) if replay is None else None
        if replay is not None:
            self.set_header("Idempotent-Replayed", "true")
            if replay.status >= 400:
                self.set_status(replay.status)
                self.set_header("Content-Type", "application/json; charset=utf-8")
                self.finish(json.dumps(replay.body, ensure_ascii=False))
                return
            self.write_json(replay.body, replay.status)
            return
        try:
            async with self.engine.begin() as conn:
                # As the client sees it (times as ISO strings), so that a replay is byte-for-byte the same.
                answer = json.loads(json.dumps(await work(conn, cashier, prepared), default=json_default))
                await idempotency.finish(conn, scope, key, 200, answer)
        except AppError as exc:
            body: dict[str, Any] = {"code": exc.code, "message": exc.message, "request_id": self.request_id}
            if exc.details:
                body["details"] = exc.details
            async with self.engine.begin() as conn:
                await idempotency.finish(conn, scope, key, exc.status, {"error": body})
            raise
        except BaseException:
            async with self.engine.begin() as conn:
                await idempotency.release(conn, scope, key)
            raise
        self.write_json(answer)


class RedemptionsHandler(IdempotentHandler):
    spec = {
        "post": op(
            "核销：按扫码会话和账单计算优惠，扣减额度并记账（一个事务）", tags=["merchants"],
            parameters=[IDEMPOTENCY_HEADER],
            body=redemptions.Bill,
            responses={200: REDEMPTION, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF,
                       422: ERROR_REF},
            description="金额以分计。同一 Idempotency-Key 同一请求体再次提交返回第一次的结果（响应头 "
            "Idempotent-Replayed: true）；同一键不同请求体 422 idempotency_key_reused；并发重复 409。"
            "核销即用掉该二维码：即使核销被拒（如额度不足 no_benefit），也须请持卡人刷新后重新扫码。"),
        "get": op("本收银员所在商家当天的核销记录（管理员看全部）", tags=["merchants"],
                  query=PageQuery,
                  responses={200: page(REDEMPTION),
                             403: ERROR_REF}),
    }

    async def post(self) -> None:
        today = local_today()

        async def prepare(conn: Any, cashier: merchants.Cashier) -> Any:
            bill = self.body(redemptions.Bill)  # read after the caller is known to be a cashier (run_once)
            scan = await scanning.get_scan(conn, cashier, bill.scan_id, lock=True)
            await scanning.spend(conn, scan)
            return scan

        async def work(conn: Any, cashier: merchants.Cashier, scan: Any) -> dict[str, Any]:
            done = await redemptions.redeem(conn, cashier, scan, self.body(redemptions.Bill).lines(), today=today, request_id=self.request_id,
                                            ip=self.request.remote_ip)
            return done.view()

        await self.run_once(prepare, work)

    async def get(self) -> None:
        async with self.engine.connect() as conn:
            cashier = await self.cashier(conn, check_merchant=False)
            query = self.query(PageQuery)
            items, nxt = await redemptions.for_merchant(
                conn, cashier.merchant_id, day=local_today(),
                cashier_id=None if cashier.role == "manager" else cashier.id,
                before=query.cursor, limit=query.limit)
        self.write_json({"items": items, "next": encode_cursor(nxt)})


class VoidHandler(MerchantHandler):
    spec = {"post": op(
        "撤销当天的核销（收银员本人或商家管理员）：额度原样退回，记录保留并标记", tags=["merchants"],
        body=VoidBody,
        responses={200: obj({"id": {"type": "integer"}, "status": {"const": "void"}, "redemption": REDEMPTION},
                            ["id", "status"]), 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF})}

    async def post(self, redemption_id: str) -> None:
        async with self.engine.begin() as conn:
            cashier = await self.cashier(conn, check_merchant=False)
            body = self.body(VoidBody)
            done = await redemptions.void(conn, cashier, int(redemption_id), reason=body.reason,
                                          today=local_today(), request_id=self.request_id)
        self.write_json({"id": done.id, "status": done.status, "redemption": done.view()})


class RefundHandler(IdempotentHandler):
    spec = {"post": op(
        "部分或全部退款（商家管理员）：优惠、工会与商家分担及额度按比例退回，最后一次退款精确退回余下部分",
        tags=["merchants"], parameters=[IDEMPOTENCY_HEADER],
        body=RefundBody,
        responses={200: obj({"id": {"type": "integer"}, "redemption_id": {"type": "integer"}, **AMOUNTS,
                             "redemption": REDEMPTION}, ["id", "redemption_id", "amount", "discount"]),
                   400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF})}

    async def post(self, redemption_id: str) -> None:
        async def prepare(conn: Any, cashier: merchants.Cashier) -> None:
            return None

        async def work(conn: Any, cashier: merchants.Cashier, _: Any) -> dict[str, Any]:
            body = self.body(RefundBody)
            return await redemptions.refund(conn, cashier, int(redemption_id), amount=body.amount,
                                            reason=body.reason, today=local_today(),
                                            request_id=self.request_id)

        await self.run_once(prepare, work, check_merchant=False)


routes: list[tuple[str, Any]] = [
    (r"/api/v1/merchant/bind", BindHandler),
    (r"/api/v1/merchant/scan", ScanHandler),
    (r"/api/v1/merchant/invites", InvitesHandler),
    (r"/api/v1/merchant/staff", MerchantStaffHandler),
    (r"/api/v1/merchant/staff/(?P<staff_id>[0-9]+)", MerchantStaffItemHandler),
    (r"/api/v1/merchant/redemptions", RedemptionsHandler),
    (r"/api/v1/merchant/redemptions/(?P<redemption_id>[0-9]+)/void", VoidHandler),
    (r"/api/v1/merchant/redemptions/(?P<redemption_id>[0-9]+)/refunds", RefundHandler),
]
