"""Staff manage earmarked fund sources (专款专用): create one with its budget, top it up, close it at year end
(finance, admin) or reopen it (admin), list them, read one and its ledger."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from handlers.staff_base import StaffHandler
from models.core.policy import Access, Target
from models.core.typed import PageQuery, paged, text
from models.core import policy
from models.funds import accounts, ledger, sources
from models.network import tree as orgs
from server.openapi import ERROR_REF, id_schema, integer, nullable, obj, op, page, string

FUND = Target("fund", "fund_id")
_FEN = integer(0, 2**53 - 1)
_SIGNED = {"type": "integer"}
VIEW = obj({"id": id_schema(), "org_id": id_schema(), "source": string(), "source_name": string(), "name": string(),
            "year": integer(), "kinds": {"type": "array", "items": string()}, "donor": nullable(string()),
            "status": string(), "budget": _FEN, "topped_up": _FEN, "reserved": _FEN, "spent": _FEN,
            "balance": _SIGNED, "available": _SIGNED, "created_at": string(), "closed_at": nullable(string()),
            "closed_by": id_schema(nullable=True), "close_reason": nullable(string())},
           ["id", "org_id", "source", "name", "year", "kinds", "status", "budget", "topped_up", "reserved", "spent",
            "balance", "available"])
ROW = obj({"id": id_schema(), "entry": string(), "amount": _FEN, "application_id": id_schema(nullable=True),
           "kind": nullable(string()), "staff_id": id_schema(nullable=True), "note": nullable(string()),
           "at": string()}, ["id", "entry", "amount", "application_id", "at"])
LEDGER = page(ROW, balance=_SIGNED, available=_SIGNED, fund=VIEW)
_REFUSALS = {400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF}


class FundsQuery(PageQuery):
    """Which sources: of one unit's subtree (a code) and the units above it, of one year; a page of them."""

    org: Annotated[str, text(32, min_len=1)] | None = None
    year: Annotated[int, Field(ge=2000, le=2100)] | None = None


class FundsHandler(StaffHandler):
    """List the sources the caller's applications may draw on; create one (finance, admin)."""

    access = {"get": Access("fund.view"), "post": Access("fund.manage")}
    spec = {
        "get": op("资金来源列表", tags=["staff"], query=FundsQuery,
                  responses={200: page(VIEW), **_REFUSALS},
                  description="本人单位及下级单位的资金来源，以及上级单位的资金来源（可用于本单位申请的审批）。"
                  "balance = 预算 + 追加 − 预留 − 已支出；available 为新审批可预留的金额（已关闭的来源为 0）。"),
        "post": op("新建资金来源（财务、管理员）", tags=["staff"], body=sources.NewFund,
                   responses={201: VIEW, **_REFUSALS, 409: ERROR_REF},
                   description="source：central 中央财政专项、local 地方财政配套、union 工会经费、donation 社会捐赠"
                   "（可填 donor 捐赠方）。kinds 为可支付的救助类别代码（至少一个：专款专用）。budget 记入台账首行。"),
    }

    async def get(self) -> None:
        """A page of the sources in reach, newest first."""
        actor = await self.actor()
        q = self.query(FundsQuery)
        async with self.reading() as conn:
            found = await sources.listing(conn, actor, org=q.org, year=q.year, before=q.cursor, limit=q.limit + 1)
        shown, nxt = paged(found, q.limit, lambda f: f.id)
        self.write_json({"items": [f.view() for f in shown], "next": nxt})

    async def post(self) -> None:
        """Create the source (201)."""
        actor = await self.actor()
        body = self.body(sources.NewFund)
        async with self.writing() as conn:
            fund = await sources.create(conn, actor, body)
        self.write_json(fund.view(), status=201)


class FundHandler(StaffHandler):
    """One source with its sums."""

    access = {"get": Access("fund.view", FUND)}
    spec = {"get": op("资金来源详情", tags=["staff"], responses={200: VIEW, **_REFUSALS})}

    async def get(self, fund_id: str) -> None:
        """The source."""
        actor = await self.actor()
        async with self.reading() as conn:
            fund = await sources.get_in_scope(conn, actor, int(fund_id))
        self.write_json(fund.view())


class TopUpHandler(StaffHandler):
    """Add money to a source (finance, admin)."""

    access = {"post": Access("fund.manage", FUND)}
    spec = {"post": op("追加资金（财务、管理员）", tags=["staff"], body=sources.TopUp,
                       responses={200: VIEW, **_REFUSALS, 409: ERROR_REF},
                       description="金额（分）与说明记入台账。已关闭的资金来源不能追加（409 fund_closed）。")}

    async def post(self, fund_id: str) -> None:
        """Top the source up and answer it."""
        actor = await self.actor()
        body = self.body(sources.TopUp)
        async with self.writing() as conn:
            fund = await sources.top_up(conn, actor, int(fund_id), body)
        self.write_json(fund.view())


class CloseHandler(StaffHandler):
    """Close a source at year end (finance, admin): no new approval may reserve on it; its balance is recorded."""

    access = {"post": Access("fund.manage", FUND)}
    spec = {"post": op(
        "关闭资金来源（财务、管理员）", tags=["staff"], body=sources.Closing,
        responses={200: VIEW, **_REFUSALS, 409: ERROR_REF},
        description="年度结束等情况下关闭资金来源：关闭后不能再用于新的审批预留、不能追加，available 为 0；"
        "关闭时的结余（balance）记入台账（close 行，金额为结余，不计入收支）。reason 为关闭原因（必填）。"
        "仍有已审批、尚未发放的预留时不能关闭（409 fund_has_reservations，须先发放或释放）；"
        "已关闭时 409 fund_closed。")}

    async def post(self, fund_id: str) -> None:
        """Close the source and answer it."""
        actor = await self.actor()
        body = self.body(sources.Closing)
        async with self.writing() as conn:
            fund = await sources.close(conn, actor, int(fund_id), body)
        self.write_json(fund.view())


class ReopenHandler(StaffHandler):
    """Reopen a closed source (an administrator, to remedy a mistaken close)."""

    access = {"post": Access("fund.reopen", FUND)}
    spec = {"post": op(
        "重新启用资金来源（管理员）", tags=["staff"], body=sources.Closing,
        responses={200: VIEW, **_REFUSALS, 409: ERROR_REF},
        description="误关闭时由管理员重新启用：资金来源恢复为 active，台账记 reopen 行（金额为当时结余，不计入收支）。"
        "reason 为原因（必填）。未关闭时 409 fund_not_closed。")}

    async def post(self, fund_id: str) -> None:
        """Reopen the source and answer it."""
        actor = await self.actor()
        body = self.body(sources.Closing)
        async with self.writing() as conn:
            fund = await sources.reopen(conn, actor, int(fund_id), body)
        self.write_json(fund.view())


class LedgerHandler(StaffHandler):
    """A page of the source's ledger, newest first, with its balance."""

    access = {"get": Access("fund.view", FUND)}
    spec = {"get": op("资金台账", tags=["staff"], query=PageQuery, responses={200: LEDGER, **_REFUSALS},
                      description="每一笔资金变动：budget 预算、top_up 追加、reserve 审批预留、release 释放预留、"
                      "pay 发放支出、reverse 冲正，以及 close 关闭、reopen 重新启用（金额为当时结余，不计入收支），"
                      "按时间倒序；balance 与 available 同资金来源详情。")}

    async def get(self, fund_id: str) -> None:
        """The page, the balance and the source."""
        actor = await self.actor()
        q = self.query(PageQuery)
        async with self.reading() as conn:
            fund = await sources.get_in_scope(conn, actor, int(fund_id))
            rows = await ledger.page(conn, fund.id, before=q.cursor, limit=q.limit + 1)
        shown, nxt = paged(rows, q.limit, lambda r: r.id)
        self.write_json({"items": [r.view() for r in shown], "next": nxt, "balance": fund.balance,
                         "available": fund.available, "fund": fund.view()})


_FIGURES = {"income": _SIGNED, "reserved": _SIGNED, "spent": _SIGNED}
ACCOUNTS = obj({"rows": {"type": "array", "items": obj(_FIGURES, list(_FIGURES), extra=True)},
                "total": obj(_FIGURES, list(_FIGURES)), "org": string(), "year": integer()},
               ["rows", "total", "org", "year"])


class AccountsHandler(StaffHandler):
    """A year's income, reservations and spending of the funds in the caller's subtree, grouped one way."""

    accepts = "none"
    access = {"get": Access("fund.view")}
    spec = {"get": op(
        "资金收支统计", tags=["staff"], query=accounts.StaffAccountsQuery, responses={200: ACCOUNTS, **_REFUSALS},
        description="按资金来源（source）、救助类别（kind）、单位（org，路径）、月份（month，北京时间）或资金（fund）"
        "分组的收入（预算与追加）、预留与支出（均为台账行之和，分）；total 为各行之和。org 为本人辖区内的单位代码，"
        "默认本人单位；year 默认今年。")}

    async def get(self) -> None:
        """Answer the grouped figures and their total."""
        actor = await self.actor()
        q = self.query(accounts.StaffAccountsQuery)
        year = q.year or accounts.this_year()
        async with self.reading() as conn:
            org = (await orgs.by_code(conn, q.org, within=policy.scope(actor)) if q.org
                   else await orgs.get(conn, actor.org_id or 0))
            found = await accounts.for_staff(conn, org.path, year, q.by)
        self.write_json({**found, "org": org.code, "year": year})


_FUND = r"/api/v1/staff/funds/(?P<fund_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/funds", FundsHandler),
    (r"/api/v1/staff/funds/accounts", AccountsHandler),
    (_FUND, FundHandler),
    (_FUND + r"/top-ups", TopUpHandler),
    (_FUND + r"/close", CloseHandler),
    (_FUND + r"/reopen", ReopenHandler),
    (_FUND + r"/ledger", LedgerHandler),
]
