"""Benefit programmes in the console: the list of my subtree, a new one from the presets (validity, priority,
fund, quota), its partners, its end (asked once); and a partner's redemptions, filtered by day. The same
declarations and domain functions as handlers/partners.py."""
from __future__ import annotations

from typing import Any

from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.fields import HELPERS
from handlers.console.partners import MERCHANTS_URL, merchant_url, refusal_of, units
from handlers.partners import MERCHANT_TARGET, PROGRAM_TARGET, NewProgram
from models.core import policy
from models.core.errors import AppError, Invalid
from models.core.policy import Access
from models.core.typed import Date, PageQuery, encode_cursor, paged
from models.counter import redeeming
from models.network import tree as orgs
from models.partners import partnership as merchants
from models.partners import programmes as benefits
from models.partners.rules import PRESETS

PROGRAMS_URL = "/console/partners/programs"
PROGRAM_STATUS = {"active": "进行中", "ended": "已停止"}
ELIGIBILITY = {"all_members": "全体会员", "difficult": "困难职工"}
PERIODS = {"month": "每月", "year": "每年"}
REDEMPTION_STATUS = {"done": "已核销", "void": "已撤销", "refunded": "已退款"}


def program_url(program_id: int) -> str:
    """The console page of one programme."""
    return f"{PROGRAMS_URL}/{program_id}"


def _ints(values: list[str], field: str) -> list[int]:
    if not all(v.isdigit() for v in values):
        raise Invalid("invalid_body", "请选择列表中的商家", details=[{"field": field, "reason": "请选择列表中的商家"}])
    return [int(v) for v in values]


class ProgramsPage(ConsoleHandler):
    """The benefit programmes of my subtree, one cursor page at a time."""

    access = {"get": Access("program.view")}

    async def get(self) -> None:
        """One page of the list, each with its deal in one line and its partners."""
        actor = await self.actor()
        q = self.url_query(PageQuery)
        async with self.reading() as conn:
            found, nxt = paged(await benefits.list_in_scope(conn, actor, after=q.cursor or 0, limit=q.limit + 1),
                               q.limit, lambda p: p.id)
            counts = {p.id: len(await benefits.merchant_ids(conn, p.id)) for p in found}
        self.page("partners_programs.html", "优惠项目", crumbs=[("合作商家", MERCHANTS_URL), ("优惠项目", None)],
                  items=[(p, p.view(), counts[p.id]) for p in found],
                  next_url=self.page_url(cursor=nxt) if nxt else None, status_names=PROGRAM_STATUS,
                  program_url=program_url, done=self.get_query_argument("done", "") == "ended")


class NewProgramPage(ConsoleHandler):
    """A new programme from one of the presets: its unit, validity, priority, fund, quota and partners (admins)."""

    access = {"get": Access("program.manage"), "post": Access("program.manage")}

    async def get(self) -> None:
        """The empty form."""
        await self.show({"org": self.staff.org.code if self.staff else "", "priority": "100"}, [])

    async def show(self, form: dict[str, Any], chosen: list[str], refusal: Refusal | None = None) -> None:
        """The form (again, after a refusal: what was typed kept, the refusal by its field)."""
        actor = await self.actor()
        async with self.reading() as conn:
            partners = await merchants.list_in_scope(conn, actor, status="active", limit=500)
        self.page("partners_program_form.html", "新建优惠项目",
                  crumbs=[("合作商家", MERCHANTS_URL), ("优惠项目", PROGRAMS_URL), ("新建", None)],
                  status=refusal.status if refusal else 200, form=form, chosen=chosen,
                  errors=refusal.fields if refusal else {}, refusal=refusal, units=await units(self),
                  presets=[(k, v["name"]) for k, v in PRESETS.items()], funds=benefits.FUNDS,
                  partners=[(m.id, m.name) for m in partners], **HELPERS)

    async def post(self) -> None:
        """Create the programme and set its partners as the API does, then show it."""
        actor = await self.actor()
        values = self.form_values()
        chosen = self.form_list("merchants")
        try:
            extra: dict[str, Any] = {"merchants": _ints(chosen, "merchants")}
            if values.get("priority"):
                if not values["priority"].isdigit():
                    raise Invalid("invalid_body", "优先级应为整数",
                                  details=[{"field": "priority", "reason": "请填写 0 到 1000000 之间的整数"}])
                extra["priority"] = int(values["priority"])
            if not values.get("preset"):
                raise Invalid("invalid_body", "请选择预设", details=[{"field": "preset", "reason": "请选择一个预设"}])
            body = self.form_model(NewProgram, values, yuan_fields=("money_quota",), extra=extra)
            async with self.writing() as conn:
                org = await orgs.by_code(conn, body.org, within=policy.scope(actor))
                program = await benefits.create(conn, actor, org.id, body)
                await benefits.set_merchants(conn, actor, program.id, list(body.merchants))
        except AppError as exc:
            refusal = refusal_of(self, exc)
            if exc.code == "invalid_program" and "日期" in exc.message:
                refusal.fields.setdefault("valid_to", refusal.message)
            elif exc.code == "merchant_not_found":
                refusal.fields.setdefault("merchants", refusal.message)
            await self.show(values, chosen, refusal)
            return
        self.redirect(program_url(program.id) + "?done=created")


class ProgramPage(ConsoleHandler):
    """One programme: its terms, validity and priority, and the partners that honour it (a form for admins)."""

    access = {"get": Access("program.view", PROGRAM_TARGET)}

    async def get(self, program_id: int) -> None:
        """The programme's page."""
        await show_program(self, int(program_id), done=self.get_query_argument("done", ""))


async def show_program(handler: ConsoleHandler, program_id: int, *, done: str = "", chosen: list[str] | None = None,
                       refusal: Refusal | None = None) -> None:
    """Render the programme's page (again, after a refused change of its partners)."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        program = await benefits.get(conn, program_id, within=policy.scope(actor))
        current = await benefits.merchant_ids(conn, program.id)
        partners = await merchants.list_in_scope(conn, actor, limit=500)
    names = {m.id: m.name for m in partners}
    handler.page("partners_program.html", program.name,
                 crumbs=[("合作商家", MERCHANTS_URL), ("优惠项目", PROGRAMS_URL), (program.name, None)],
                 status=refusal.status if refusal else 200, program=program, view=program.view(),
                 current=[(m, names.get(m, f"商家 {m}")) for m in current],
                 partners=[(m.id, m.name) for m in partners], chosen=chosen if chosen is not None else current,
                 errors=refusal.fields if refusal else {}, refusal=refusal, status_names=PROGRAM_STATUS,
                 eligibility=ELIGIBILITY, periods=PERIODS, funds=benefits.FUNDS, here=program_url(program.id),
                 done={"created": "优惠项目已创建。", "merchants": "合作商家已更新。"}.get(done),
                 merchant_url=merchant_url, **HELPERS)


class ProgramMerchantsForm(ConsoleHandler):
    """Set the partners that honour a programme (admins): the complete list, as the API's PUT."""

    access = {"post": Access("program.manage", PROGRAM_TARGET)}

    async def post(self, program_id: int) -> None:
        """Replace the programme's partners with the boxes ticked."""
        actor = await self.actor()
        chosen = self.form_list("merchants")
        try:
            wanted = _ints(chosen, "merchants")
            async with self.writing() as conn:
                await benefits.set_merchants(conn, actor, int(program_id), wanted)
        except AppError as exc:
            refusal = refusal_of(self, exc)
            refusal.fields.setdefault("merchants", refusal.message)
            await show_program(self, int(program_id), chosen=chosen, refusal=refusal)
            return
        self.redirect(program_url(int(program_id)) + "?done=merchants")


class ProgramEndForm(ConsoleHandler):
    """End a programme (asked once); redemptions already made stand."""

    access = {"post": Access("program.manage", PROGRAM_TARGET)}

    async def post(self, program_id: int) -> None:
        """End it through the domain (audited)."""
        actor = await self.actor()
        if self.form_values().get("confirmed") != "1":
            self.ask_once("确定停止这个优惠项目吗？停止后会员不能再享受该优惠，已发生的核销不受影响。", "确认停止项目",
                          back=program_url(int(program_id)))
            return
        async with self.writing() as conn:
            await benefits.end(conn, actor, int(program_id))
        self.redirect(PROGRAMS_URL + "?done=ended")


class RedemptionsQuery(PageQuery):
    """One day's redemptions (Beijing), when given."""

    day: Date | None = None


class RedemptionsPage(ConsoleHandler):
    """A partner's redemptions, newest first, one day's when filtered, with the page's totals."""

    access = {"get": Access("redemption.view", MERCHANT_TARGET)}

    async def get(self, merchant_id: int) -> None:
        """One page of the merchant's redemptions."""
        actor = await self.actor()
        q = self.url_query(RedemptionsQuery)
        async with self.reading() as conn:
            merchant = await merchants.get(conn, int(merchant_id), within=policy.scope(actor))
            stores = {s["id"]: s["name"] for s in await merchants.list_stores(conn, merchant.id)}
            items, nxt = await redeeming.for_merchant(conn, merchant.id, day=q.day, before=q.cursor, limit=q.limit)
        live = [i for i in items if i["status"] != "void"]
        totals = {f: sum(int(i[f]) - int(i["refunded"].get(f, 0)) for i in live)
                  for f in ("amount", "discount", "union_share", "merchant_share")}
        self.page("partners_redemptions.html", f"{merchant.name} · 核销记录",
                  crumbs=[("合作商家", MERCHANTS_URL), (merchant.name, merchant_url(merchant.id)), ("核销记录", None)],
                  merchant=merchant, items=items, stores=stores, q=q, totals=totals,
                  next_url=self.page_url(cursor=encode_cursor(nxt)) if nxt else None, status_names=REDEMPTION_STATUS,
                  here=merchant_url(merchant.id) + "/redemptions")


_P = PROGRAMS_URL + r"/(?P<program_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (PROGRAMS_URL, ProgramsPage),
    (PROGRAMS_URL + "/new", NewProgramPage),
    (_P, ProgramPage),
    (_P + "/merchants", ProgramMerchantsForm),
    (_P + "/end", ProgramEndForm),
    (MERCHANTS_URL + r"/(?P<merchant_id>[0-9]+)/redemptions", RedemptionsPage),
]
