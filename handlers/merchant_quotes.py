"""The cashier's phone asks before it acts: who am I at the counter, and what would this bill give."""
from __future__ import annotations

from typing import Any

from handlers.merchant import AMOUNTS, MerchantHandler
from models.core.clock import local_today
from models.core.policy import Access
from models.counter import quoting
from models.counter import redeeming as redemptions
from models.partners import partnership as merchants
from server.openapi import ERROR_REF, obj, op, string

QUOTE = obj({**AMOUNTS, "lines": {"type": "array", "items": {"type": "object"}}},
            ["amount", "discount", "payable", "union_share", "merchant_share", "lines"])
NAMED = obj({"id": {"type": "integer"}, "name": string()}, ["id", "name"])


class QuoteHandler(MerchantHandler):
    """A cashier prices a bill against an open scan before redeeming it; nothing is written or spent."""

    access = {"post": Access("counter.redeem")}
    spec = {"post": op(
        "核销前试算：按扫码会话和账单算出优惠、应付与工会/商家分担，不扣额度、不用掉扫码", tags=["merchants"],
        body=redemptions.Bill,
        responses={200: QUOTE, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF},
        description="与 POST /api/v1/merchant/redemptions 同一请求体、同一计算：金额以分计，所得数字即随后核销的数字"
        "（其间额度或服务卡未变时）。拒绝原因与核销相同：scan_not_found（他人或不存在的扫码）、scan_expired、"
        "qr_used（已核销或核销被拒的扫码）、card_frozen 等、qr_outdated、no_benefit（details 为各行原因）、"
        "unknown_category、invalid_amount。可反复试算。")}

    async def post(self) -> None:
        """Price the bill for the cashier's open scan and answer the figures a redemption would give."""
        async with self.reading() as conn:
            cashier = await self.cashier(conn)
            bill = self.body(redemptions.Bill)  # read once the caller is known to be a cashier
            found = await quoting.quote(conn, cashier, bill.scan_id, bill.lines(), today=local_today())
        view = found.view()
        self.write_json({k: view[k] for k in ("amount", "discount", "payable", "union_share", "merchant_share",
                                              "lines")})


class MerchantMeHandler(MerchantHandler):
    """The caller's place at a partner merchant: which merchant, which store, cashier or manager."""

    accepts = "none"
    access = {"get": Access("counter.list")}
    spec = {"get": op(
        "本微信用户在合作商家的身份：商家、门店（管理员为 null）和角色", tags=["merchants"],
        responses={200: obj({"merchant": NAMED, "store": {"oneOf": [NAMED, {"type": "null"}]},
                             "role": {"enum": ["cashier", "manager"]},
                             "stores": {"type": "array", "items": NAMED}}, ["merchant", "store", "role", "stores"]),
                   403: ERROR_REF},
        description="stores：管理员为本商家的全部门店（邀请收银员时选择），收银员为本人所在门店。"
        "不是任何商家的收银员或管理员：403 not_cashier（请先用邀请码绑定）。商家暂停合作时仍可查看身份。")}

    async def get(self) -> None:
        """Answer the caller's merchant, store and role, and the stores they may invite cashiers to."""
        async with self.reading() as conn:
            cashier = await self.cashier(conn)
            store = await merchants.store_view(conn, cashier.store_id) if cashier.store_id else None
            stores = await merchants.list_stores(conn, cashier.merchant_id) if cashier.role == "manager" \
                else [store] if store else []
        self.write_json({"merchant": {"id": cashier.merchant.id, "name": cashier.merchant.name},
                         "store": {"id": store["id"], "name": store["name"]} if store else None,
                         "role": cashier.role, "stores": [{"id": s["id"], "name": s["name"]} for s in stores]})


routes: list[tuple[str, Any]] = [
    (r"/api/v1/merchant/quotes", QuoteHandler),
    (r"/api/v1/merchant/me", MerchantMeHandler),
]
