"""The merchant side of the mini-program: binding a cashier, scanning a card, managing cashiers."""
from __future__ import annotations

from typing import Annotated, Any

from handlers.base import APIHandler
from handlers.idempotency import IDEMPOTENCY_HEADER, idempotent
from models.core.clock import local_today
from models.core.policy import Access, Target
from models.core.typed import (
    Body,
    PageQuery,
    PositiveFen,
    encode_cursor,
    paged,
    text,
)
from models.counter import redeeming as redemptions
from models.counter import scanning
from models.counter import usecases as counter
from models.partners import invites
from models.partners import partnership as merchants
from models.partners import programmes
from server.openapi import (
    ERROR_REF,
    obj,
    op,
    page,
    ref,
    string,
)


class InviteCode(Body):
    """The invitation a manager gave."""

    invite_code: Annotated[str, text(32, min_len=6)]


class ScanBody(Body):
    """The card's QR text, and the last four characters of the ID number when the counter asks."""

    qr: Annotated[str, text(300, min_len=1)]
    id_last4: Annotated[str, text(pattern="^[0-9]{3}[0-9Xx]$")] | None = None


class VoidBody(Body):
    """Why the redemption is voided (optional)."""

    reason: Annotated[str, text(200)] | None = None


class RefundBody(Body):
    """How much of the paid amount goes back, and why."""

    amount: PositiveFen
    reason: Annotated[str, text(200, min_len=1)]

REDEMPTION_TARGET = Target("redemption", "redemption_id")

MERCHANT = obj({"id": {"type": "integer"}, "name": string(), "type": string(), "type_label": string(),
                "status": string()}, ["id", "name", "type", "status"], extra=True)


class MerchantHandler(APIHandler):
    """A handler for a WeChat user acting for a merchant."""

    #: The caller, once ``idempotency_scope`` has read them.
    known_cashier: merchants.Cashier

    async def cashier(self, conn: Any) -> merchants.Cashier:
        """The caller's merchant role as read with the token (the query the declaration decided on: the role
        and whether the merchant may trade, models.core.policy); read in ``conn`` when it was not."""
        found = self.current_caller.cashier if self.current_caller is not None else None
        return found if found is not None else await merchants.cashier_for(conn, self.caller())

    def catalog(self) -> programmes.Catalog | None:
        """The process's cache of the merchants' programmes, under the stamp read with this request's caller."""
        cache: programmes.ProgramCache | None = self.settings.get("program_cache")
        if cache is None or self.current_caller is None:
            return None
        return cache.under(self.current_caller.reference_stamp)

    async def idempotency_scope(self, conn: Any) -> str:
        """Keys are per cashier (their merchant_staff row), read before the key or the body is."""
        self.known_cashier = await self.cashier(conn)
        return f"merchant_staff:{self.known_cashier.id}"


class BindHandler(MerchantHandler):
    """A cashier or merchant manager binds their WeChat account to a store with an invite code."""

    access = {"post": Access("merchant.bind")}
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
        """Redeem the invite code for the caller and answer the merchant, the role and the store."""
        body = self.body(InviteCode)
        async with self.engine.begin() as conn:
            cashier = await invites.bind(conn, self.caller(), body.invite_code)
            store = await merchants.store_view(conn, cashier.store_id) if cashier.store_id else None
        self.write_json({"merchant": cashier.merchant.view(), "role": cashier.role, "store": store})


class ScanHandler(MerchantHandler):
    """A cashier scans a worker's card QR code and opens a scan session."""

    access = {"post": Access("counter.scan")}
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
        """Check the QR code, card and member; answer the scan id, the masked card and its benefits."""
        cfg = self.config
        def read_request() -> counter.ScanRequest:
            body = self.body(ScanBody)  # read once the caller is known to be a cashier
            return counter.ScanRequest(body.qr, body.id_last4)

        done = await counter.scan_card(self.writing, self.cashier, self.signer, read_request, ttl=cfg.qr_ttl,
                                       skew=cfg.qr_clock_skew, scan_ttl=cfg.scan_ttl, today=local_today(),
                                       catalog=self.catalog())
        scan, offers = done.scan, done.offers
        self.write_json({
            "scan_id": scan.id, "expires_at": scan.expires_at,
            "card": {"holder": scan.holder_masked, "status": scan.card.status, "card_no_tail": scan.card.card_no[-4:],
                     "printed": scan.printed},
            "benefits": [b.view() for b in offers],
        })


class MerchantStaffHandler(MerchantHandler):
    """A merchant manager lists the merchant's cashiers."""

    accepts = "none"
    access = {"get": Access("merchant_staff.view")}
    spec = {"get": op("商家管理员查看本商家的收银员", tags=["merchants"], query=PageQuery, responses={200: page(
        obj({"id": {"type": "integer"}, "role": string(), "store_id": {"type": ["integer", "null"]},
             "since": string(format="date-time")}, ["id", "role"])), 400: ERROR_REF, 403: ERROR_REF})}

    async def get(self) -> None:
        """List the caller's merchant's cashiers by id, one cursor page."""
        async with self.reading() as conn:
            manager = await self.cashier(conn)
            query = self.query(PageQuery)
            found = await merchants.list_staff(conn, manager, after=query.cursor or 0, limit=query.limit + 1)
        items, nxt = paged(found, query.limit, lambda s: int(s["id"]))
        self.write_json({"items": items, "next": nxt})


class MerchantStaffItemHandler(MerchantHandler):
    """A merchant manager removes one of the merchant's cashiers."""

    accepts = "none"
    access = {"delete": Access("merchant_staff.remove", Target("merchant_staff", "staff_id"))}
    spec = {"delete": op("商家管理员移除收银员", tags=["merchants"],
                         responses={200: obj({"removed": {"type": "integer"}}, ["removed"]), 403: ERROR_REF,
                                    404: ERROR_REF})}

    async def delete(self, staff_id: str) -> None:
        """Remove the cashier from the caller's merchant and answer the removed id."""
        async with self.engine.begin() as conn:
            manager = await self.cashier(conn)
            await merchants.remove_staff(conn, manager, int(staff_id), request_id=self.request_id)
        self.write_json({"removed": int(staff_id)})


AMOUNTS = {"amount": {"type": "integer"}, "discount": {"type": "integer"}, "payable": {"type": "integer"},
           "union_share": {"type": "integer"}, "merchant_share": {"type": "integer"}}
REDEMPTION = obj({"id": {"type": "integer"}, **AMOUNTS, "status": {"enum": ["done", "void", "refunded"]},
                  "lines": {"type": "array", "items": {"type": "object"}}, "created_at": string(format="date-time")},
                 ["id", "amount", "discount", "payable", "union_share", "merchant_share"], extra=True)


class RedemptionsHandler(MerchantHandler):
    """Redemptions at the counter: redeem a bill against a scan, and list a day's redemptions (today's)."""

    access = {"post": Access("counter.redeem"), "get": Access("counter.list")}
    spec = {
        "post": op(
            "核销：按扫码会话和账单计算优惠，扣减额度并记账（一个事务）", tags=["merchants"],
            parameters=[IDEMPOTENCY_HEADER],
            body=redemptions.Bill,
            responses={200: REDEMPTION, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF,
                       422: ERROR_REF},
            description="金额以分计。同一 Idempotency-Key 同一请求体再次提交返回第一次的结果（响应头 "
            "Idempotent-Replayed: true）；同一键不同请求体 422 idempotency_key_reused；"
            "同一键的并发重复请求等第一次完成后返回其结果（第一次的请求中断遗留的占用答 409 request_in_progress）。"
            "核销即用掉该二维码：即使核销被拒（如额度不足 no_benefit），也须请持卡人刷新后重新扫码。"),
        "get": op("本收银员所在商家某一天的核销记录（默认当天；管理员看全部，并可查看 366 天内的其他日期）",
                  tags=["merchants"],
                  query=redemptions.CounterListQuery,
                  responses={200: page(REDEMPTION), 400: ERROR_REF,
                             403: ERROR_REF},
                  description="收银员只能查看当天（其他日期 403 manager_only_day）；"
                  "day 晚于今天或早于 366 天前 400 invalid_query。"),
    }

    scan: Any = None

    async def spend_scan(self, conn: Any) -> None:
        """With the key's claim: the scan is used up even when the redemption is then refused; its holder's
        row is locked from here to the commit (the redemption's quotas are theirs)."""
        self.scan = await redemptions.hold(conn, self.known_cashier, self.body(redemptions.Bill).scan_id,
                                          today=local_today())
        await scanning.spend(conn, self.scan.scan)

    @idempotent(on_claim=spend_scan, one_transaction=True, refusals_before_writes=True)
    async def post(self, conn: Any) -> dict[str, Any]:
        """Redeem the bill against the scan once per Idempotency-Key and answer the redemption."""
        lines = self.body(redemptions.Bill).lines()
        done = await redemptions.redeem(conn, self.known_cashier, self.scan, lines, today=local_today(),
                                        request_id=self.request_id, ip=self.request.remote_ip,
                                        catalog=self.catalog(), before_writes=self.before_writes)
        return done.view()

    async def get(self) -> None:
        """List one day's redemptions of the caller (all the merchant's for a manager), newest first, one page:
        today's, or another day's for a manager."""
        async with self.reading() as conn:
            cashier = await self.cashier(conn)
            query = self.query(redemptions.CounterListQuery)
            day = redemptions.listed_day(cashier, query.day, today=local_today())
            items, nxt = await redemptions.for_merchant(
                conn, cashier.merchant_id, day=day,
                cashier_id=None if cashier.role == "manager" else cashier.id,
                before=query.cursor, limit=query.limit)
        self.write_json({"items": items, "next": encode_cursor(nxt)})


class RedemptionHandler(MerchantHandler):
    """One redemption by its number (第 n 号), as the caller's day list shows it: a manager finds any of
    the merchant's to refund; a cashier only their own of today."""

    accepts = "none"
    # The declared target answers another merchant's redemption like a missing one; the query narrows
    # a cashier to what their day list shows, with the same answer.
    access = {"get": Access("counter.list", REDEMPTION_TARGET)}
    spec = {"get": op(
        "按核销编号查看一笔核销（商家管理员：本商家任意日期的；收银员：本人当天的）", tags=["merchants"],
        responses={200: REDEMPTION, 403: ERROR_REF, 404: ERROR_REF},
        description="答复与当天核销列表中的一项相同（含 refunded 和 lines），供退款页使用。"
        "其他商家的核销、收银员查同事的或本人以前日期的核销、不存在的编号，一律 404 redemption_not_found。")}

    async def get(self, redemption_id: str) -> None:
        """Answer the redemption as an item of the caller's day list, or 404 when it is not theirs to see."""
        async with self.reading_once() as conn:
            cashier = await self.cashier(conn)
            found = await redemptions.for_counter(conn, cashier, int(redemption_id), today=local_today())
        self.write_json(found)


class VoidHandler(MerchantHandler):
    """The cashier or a manager voids one of today's redemptions; the benefit quota goes back."""

    access = {"post": Access("counter.void", REDEMPTION_TARGET)}
    spec = {"post": op(
        "撤销当天的核销（收银员本人或商家管理员）：额度原样退回，记录保留并标记", tags=["merchants"],
        body=VoidBody,
        responses={200: obj({"id": {"type": "integer"}, "status": {"const": "void"}, "redemption": REDEMPTION},
                            ["id", "status"]), 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF})}

    async def post(self, redemption_id: str) -> None:
        """Void the redemption with an optional reason and answer it as void."""
        async with self.engine.begin() as conn:
            cashier = await self.cashier(conn)
            body = self.body(VoidBody)
            done = await redemptions.void(conn, cashier, int(redemption_id), reason=body.reason,
                                          today=local_today(), request_id=self.request_id)
        self.write_json({"id": done.id, "status": done.status, "redemption": done.view()})


class RefundHandler(MerchantHandler):
    """A merchant manager refunds part or all of a redemption."""

    access = {"post": Access("counter.refund", REDEMPTION_TARGET)}
    spec = {"post": op(
        "部分或全部退款（商家管理员）：优惠、工会与商家分担及额度按比例退回，最后一次退款精确退回余下部分",
        tags=["merchants"], parameters=[IDEMPOTENCY_HEADER],
        body=RefundBody,
        responses={200: obj({"id": {"type": "integer"}, "redemption_id": {"type": "integer"}, **AMOUNTS,
                             "redemption": REDEMPTION}, ["id", "redemption_id", "amount", "discount"]),
                   400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF})}

    @idempotent()
    async def post(self, conn: Any, redemption_id: str) -> dict[str, Any]:
        """Refund the amount from the redemption once per Idempotency-Key, shares and quota pro rata."""
        body = self.body(RefundBody)
        return await redemptions.refund(conn, self.known_cashier, int(redemption_id), amount=body.amount,
                                        reason=body.reason, today=local_today(), request_id=self.request_id)


routes: list[tuple[str, Any]] = [
    (r"/api/v1/merchant/bind", BindHandler),
    (r"/api/v1/merchant/scan", ScanHandler),
    (r"/api/v1/merchant/staff", MerchantStaffHandler),
    (r"/api/v1/merchant/staff/(?P<staff_id>[0-9]+)", MerchantStaffItemHandler),
    (r"/api/v1/merchant/redemptions", RedemptionsHandler),
    (r"/api/v1/merchant/redemptions/(?P<redemption_id>[0-9]+)", RedemptionHandler),
    (r"/api/v1/merchant/redemptions/(?P<redemption_id>[0-9]+)/void", VoidHandler),
    (r"/api/v1/merchant/redemptions/(?P<redemption_id>[0-9]+)/refunds", RefundHandler),
]
