"""Staff manage partners: merchants and their stores, benefit programmes (invitations: handlers/invites.py)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from handlers.staff_base import StaffHandler
from models.core import policy
from models.core.policy import Access, Target
from models.core.typed import Body, Date, Id, PageQuery, one_of, paged, text
from models.network import tree as orgs
from models.partners import partnership as merchants
from models.partners import programmes as benefits
from models.partners.rules import CATEGORIES, PRESETS
from server.openapi import ERROR_REF, obj, op, page, string

MERCHANT_TARGET = Target("merchant", "merchant_id")
PROGRAM_TARGET = Target("program", "program_id")

MERCHANT = obj({"id": {"type": "integer"}, "name": string(), "type": {"enum": list(merchants.TYPES)},
                "type_label": string(), "org_id": {"type": "integer"}, "status": {"enum": ["active", "suspended"]},
                "status_reason": {"type": ["string", "null"]}, "agreement_from": string(format="date"),
                "agreement_to": string(format="date"), "contact": {"type": ["string", "null"]}},
               ["id", "name", "type", "status", "agreement_from", "agreement_to"])
STORE = obj({"id": {"type": "integer"}, "merchant_id": {"type": "integer"}, "name": string(), "address": string(),
             "active": {"type": "boolean"}}, ["id", "name", "address"])
PROGRAM = obj({"id": {"type": "integer"}, "name": string(), "summary": string(), "rule": {"type": "object"},
               "union_bp": {"type": "integer"}, "categories": {"type": "array", "items": string()},
               "eligibility": {"enum": ["all_members", "difficult"]}, "period": {"enum": ["month", "year"]},
               "money_quota": {"type": ["integer", "null"]}, "count_quota": {"type": ["integer", "null"]},
               "status": {"enum": ["active", "ended"]}, "merchants": {"type": "array", "items": {"type": "integer"}}},
              ["id", "name", "summary", "rule", "union_bp", "categories", "status"], extra=True)
_REFUSALS = {400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF}
MerchantType = Annotated[str, one_of(merchants.TYPES)]
MerchantIds = Annotated[list[Id], Field(max_length=1000)]


class MerchantsQuery(PageQuery):
    """Only merchants of one type, when given."""

    type: MerchantType | None = None


class NewMerchant(Body):
    """A partner signed by a union of the caller's subtree (``org`` is its code)."""

    name: Annotated[str, text(100, min_len=1)]
    type: MerchantType
    org: Annotated[str, text(32, min_len=1)]
    agreement_from: Date
    agreement_to: Date
    contact: Annotated[str, text(100)] | None = None


class MerchantStatus(Body):
    """Suspend or resume a partner, with a reason."""

    status: Literal["active", "suspended"]
    reason: Annotated[str, text(200)] | None = None


class NewStore(Body):
    """A store of the partner."""

    name: Annotated[str, text(100, min_len=1)]
    address: Annotated[str, text(200, min_len=1)]


class NewProgram(benefits.ProgramDraft):
    """A programme for a unit (``org`` is its code), and the partners that honour it."""

    org: Annotated[str, text(32, min_len=1)]
    merchants: MerchantIds = []


class ProgramMerchants(Body):
    """The complete list of partners that honour the programme."""

    merchants: MerchantIds


class MerchantsHandler(StaffHandler):
    """Staff list the partner merchants of their subtree; admins sign a new one."""

    access = {"get": Access("merchant.view"), "post": Access("merchant.manage")}
    spec = {
        "get": op("本单位及下级签约的合作商家", tags=["staff"],
                  query=MerchantsQuery,
                  responses={200: page(MERCHANT), 400: ERROR_REF, 403: ERROR_REF}),
        "post": op("新增合作商家（管理员）", tags=["staff"],
                   body=NewMerchant,
                   responses={201: MERCHANT, **_REFUSALS}, description="org 为签约工会的单位代码。"),
    }

    async def get(self) -> None:
        """List the merchants signed in the caller's subtree, optionally of one type, one cursor page."""
        actor = await self.actor()
        query = self.query(MerchantsQuery)
        async with self.reading() as conn:
            found = await merchants.list_in_scope(conn, actor, type=query.type, after=query.cursor or 0,
                                                  limit=query.limit + 1)
        items, nxt = paged(found, query.limit, lambda m: m.id)
        self.write_json({"items": [m.view() for m in items], "next": nxt})

    async def post(self) -> None:
        """Create a merchant signed by a union of the caller's subtree and answer it (201)."""
        actor = await self.actor()
        body = self.body(NewMerchant)
        async with self.engine.begin() as conn:
            org = await orgs.by_code(conn, body.org, within=policy.scope(actor))
            merchant = await merchants.create(
                conn, actor, name=body.name, type=body.type, org_id=org.id, agreement_from=body.agreement_from,
                agreement_to=body.agreement_to, contact=body.contact)
        self.write_json(merchant.view(), status=201)


class MerchantHandler(StaffHandler):
    """Staff view one partner merchant with its stores."""

    accepts = "none"
    access = {"get": Access("merchant.view", MERCHANT_TARGET)}
    spec = {"get": op("合作商家详情及门店", tags=["staff"], responses={
        200: obj({"merchant": MERCHANT, "stores": {"type": "array", "items": STORE}}, ["merchant", "stores"]),
        **_REFUSALS})}

    async def get(self, merchant_id: str) -> None:
        """Answer the merchant (in the caller's scope) and its stores."""
        actor = await self.actor()
        async with self.reading() as conn:
            merchant = await merchants.get(conn, int(merchant_id), within=policy.scope(actor))
            stores = await merchants.list_stores(conn, merchant.id)
        self.write_json({"merchant": merchant.view(), "stores": stores})


class MerchantStatusHandler(StaffHandler):
    """Staff suspend or resume a partner merchant."""

    access = {"post": Access("merchant.manage", MERCHANT_TARGET)}
    spec = {"post": op("启用或暂停合作商家（暂停后其收银员不能扫码核销）", tags=["staff"],
                       body=MerchantStatus,
                       responses={200: MERCHANT, **_REFUSALS})}

    async def post(self, merchant_id: str) -> None:
        """Set the merchant active or suspended, with a reason, and answer it."""
        actor = await self.actor()
        body = self.body(MerchantStatus)
        async with self.engine.begin() as conn:
            merchant = await merchants.set_status(conn, actor, int(merchant_id), status=body.status,
                                                  reason=body.reason)
        self.write_json(merchant.view())


class StoresHandler(StaffHandler):
    """Staff add a store to a partner merchant."""

    access = {"post": Access("merchant.manage", MERCHANT_TARGET)}
    spec = {"post": op("为商家添加门店", tags=["staff"],
                       body=NewStore,
                       responses={201: STORE, **_REFUSALS})}

    async def post(self, merchant_id: str) -> None:
        """Add the store to the merchant and answer it (201)."""
        actor = await self.actor()
        body = self.body(NewStore)
        async with self.engine.begin() as conn:
            store = await merchants.add_store(conn, actor, int(merchant_id), name=body.name, address=body.address)
        self.write_json(store, status=201)


class PresetsHandler(StaffHandler):
    """The benefit-rule presets and the goods categories a programme may name."""

    accepts = "none"
    access = {"get": Access("program.view")}
    spec = {"get": op("优惠规则预设（各地合作协议的做法）及商品类别", tags=["staff"], responses={
        200: obj({"presets": {"type": "object"}, "categories": {"type": "object"}}, ["presets", "categories"]),
        403: ERROR_REF})}

    async def get(self) -> None:
        """Answer the rule presets and the categories."""
        self.write_json({"presets": PRESETS, "categories": CATEGORIES})


class ProgramsHandler(StaffHandler):
    """Staff list the benefit programmes of their subtree; admins create one."""

    access = {"get": Access("program.view"), "post": Access("program.manage")}
    spec = {
        "get": op("本单位及下级的优惠项目", tags=["staff"], query=PageQuery,
                  responses={200: page(PROGRAM), 400: ERROR_REF, 403: ERROR_REF}),
        "post": op(
            "新建优惠项目（管理员）：从预设出发或完整填写", tags=["staff"],
            body=NewProgram,
            responses={201: PROGRAM, **_REFUSALS},
            description="规则 rule 的写法见 GET /api/v1/staff/programs/presets；金额以分计，比例以万分之一计（bp）。"),
    }

    async def get(self) -> None:
        """List the programmes in the caller's subtree with their merchant ids, one cursor page."""
        actor = await self.actor()
        query = self.query(PageQuery)
        async with self.reading() as conn:
            found, nxt = paged(await benefits.list_in_scope(conn, actor, after=query.cursor or 0,
                                                            limit=query.limit + 1), query.limit, lambda p: p.id)
            views = [{**p.view(), "merchants": await benefits.merchant_ids(conn, p.id)} for p in found]
        self.write_json({"items": views, "next": nxt})

    async def post(self) -> None:
        """Create the programme for the unit with its merchants and answer it (201)."""
        actor = await self.actor()
        body = self.body(NewProgram)
        async with self.engine.begin() as conn:
            org = await orgs.by_code(conn, body.org, within=policy.scope(actor))
            program = await benefits.create(conn, actor, org.id, body)
            partners = await benefits.set_merchants(conn, actor, program.id, list(body.merchants))
        self.write_json({**program.view(), "merchants": partners}, status=201)


class ProgramMerchantsHandler(StaffHandler):
    """Staff set which partner merchants honour a programme."""

    access = {"put": Access("program.manage", PROGRAM_TARGET)}
    spec = {"put": op("设置优惠项目的合作商家", tags=["staff"],
                      body=ProgramMerchants,
                      responses={200: obj({"merchants": {"type": "array", "items": {"type": "integer"}}},
                                          ["merchants"]), **_REFUSALS})}

    async def put(self, program_id: str) -> None:
        """Replace the programme's merchants with the given list and answer the list now in force."""
        actor = await self.actor()
        body = self.body(ProgramMerchants)
        async with self.engine.begin() as conn:
            partners = await benefits.set_merchants(conn, actor, int(program_id), list(body.merchants))
        self.write_json({"merchants": partners})


class ProgramEndHandler(StaffHandler):
    """Staff end a benefit programme; redemptions already made stand."""

    accepts = "none"
    access = {"post": Access("program.manage", PROGRAM_TARGET)}
    spec = {"post": op("停止优惠项目（已发生的核销不受影响）", tags=["staff"],
                       responses={200: PROGRAM, **_REFUSALS})}

    async def post(self, program_id: str) -> None:
        """End the programme and answer it with its merchants."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            program = await benefits.end(conn, actor, int(program_id))
            partners = await benefits.merchant_ids(conn, program.id)
        self.write_json({**program.view(), "merchants": partners})


routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/merchants", MerchantsHandler),
    (r"/api/v1/staff/merchants/(?P<merchant_id>[0-9]+)", MerchantHandler),
    (r"/api/v1/staff/merchants/(?P<merchant_id>[0-9]+)/status", MerchantStatusHandler),
    (r"/api/v1/staff/merchants/(?P<merchant_id>[0-9]+)/stores", StoresHandler),
    (r"/api/v1/staff/programs", ProgramsHandler),
    (r"/api/v1/staff/programs/presets", PresetsHandler),
    (r"/api/v1/staff/programs/(?P<program_id>[0-9]+)/merchants", ProgramMerchantsHandler),
    (r"/api/v1/staff/programs/(?P<program_id>[0-9]+)/end", ProgramEndHandler),
]
