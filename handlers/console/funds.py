"""Fund sources (专款专用) in the console: the list (unit and year filters in the URL), a new source (finance,
admin), one source's ledger page by page with its balance, a top-up, closing it (finance, admin; asked once) and
reopening it (admin)."""
from __future__ import annotations

from typing import Any

from handlers.console.base import ConsoleHandler, Refusal, whole_numbers
from handlers.console.relief import file_url
from handlers.funds import FUND, FundsQuery
from models.core.clock import local_today
from models.core.errors import AppError
from models.core.policy import Access
from models.core.typed import PageQuery, paged
from models.funds import ledger, sources
from models.relief.kinds import PRESET_DEFINITIONS

FUNDS_URL = "/console/funds/"
NEW_URL = "/console/funds/new"
STATUS_NAMES = {"active": "使用中", "closed": "已关闭"}
ENTRY_NAMES = {"budget": "年度预算", "top_up": "追加", "reserve": "审批预留", "release": "释放预留", "pay": "发放支出",
               "reverse": "发放冲正", "close": "关闭（结余）", "reopen": "重新启用（结余）"}
#: Which entries add to the balance (+) and which take from it (−); close and reopen move nothing (the balance).
ENTRY_SIGNS = {"budget": "+", "top_up": "+", "reserve": "−", "release": "+", "pay": "−", "reverse": "+", "close": "",
               "reopen": ""}


def fund_url(fund_id: int) -> str:
    """The page of one source: its sums and its ledger."""
    return f"{FUNDS_URL}{fund_id}"


def kind_names() -> dict[str, str]:
    """The relief kinds a source may pay for, by code."""
    return {code: definition.name for code, definition in PRESET_DEFINITIONS.items()}


class FundsPage(ConsoleHandler):
    """The sources my applications may draw on (my subtree and the units above), newest first."""

    access = {"get": Access("fund.view")}

    async def get(self) -> None:
        """One page of sources, filtered by the URL."""
        actor = await self.actor()
        q = self.url_query(FundsQuery)
        async with self.reading() as conn:
            found = await sources.listing(conn, actor, org=q.org, year=q.year, before=q.cursor, limit=q.limit + 1)
        shown, nxt = paged(found, q.limit, lambda f: f.id)
        self.page("funds.html", "资金来源", crumbs=[("资金来源", None)], items=shown, q=q,
                  next_url=self.page_url(cursor=nxt) if nxt else None, status_names=STATUS_NAMES,
                  source_names=sources.SOURCES, kinds=kind_names(), fund_url=fund_url)


class NewFundForm(ConsoleHandler):
    """A new source at a unit of my subtree, with its budget and the kinds it pays for (finance, admin)."""

    access = {"get": Access("fund.manage"), "post": Access("fund.manage")}

    def _show(self, *, form: dict[str, Any] | None = None, refusal: Refusal | None = None) -> None:
        org = self.staff.org.code if self.staff else ""
        self.page("funds_new.html", "新建资金来源", crumbs=[("资金来源", FUNDS_URL), ("新建", None)],
                  status=refusal.status if refusal else 200,
                  form=form or {"org": org, "year": str(local_today().year), "kinds": []}, refusal=refusal,
                  errors=refusal.fields if refusal else {}, source_names=sources.SOURCES, kinds=kind_names())

    def get(self) -> None:
        """The form."""
        self._show()

    async def post(self) -> None:
        """Create it as the API does (budget typed in yuan); to its page, or the form again with the refusal."""
        actor = await self.actor()
        values = self.form_values()
        typed: dict[str, Any] = {**values, "kinds": self.form_list("kinds")}
        try:
            body = self.form_model(sources.NewFund, whole_numbers(values, "year"), yuan_fields=("budget",),
                                   extra={"kinds": self.form_list("kinds")})
            async with self.writing() as conn:
                fund = await sources.create(conn, actor, body)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code == "fund_name_taken":
                refusal.fields.setdefault("name", refusal.message)
            elif exc.code == "fund_donor":
                refusal.fields.setdefault("donor", refusal.message)
            elif exc.status == 404:  # the unit typed is not in my subtree
                refusal.fields.setdefault("org", refusal.message)
            self._show(form=typed, refusal=refusal)
            return
        self.redirect(fund_url(fund.id) + "?done=created")


async def show_fund(handler: ConsoleHandler, fund_id: int, *, form: dict[str, Any] | None = None,
                    refusal: Refusal | None = None) -> None:
    """The source's page: its sums, a page of its ledger (newest first), the top-up form for finance."""
    actor = await handler.actor()
    q = handler.url_query(PageQuery)
    async with handler.reading() as conn:
        fund = await sources.get_in_scope(conn, actor, fund_id)
        rows = await ledger.page(conn, fund.id, before=q.cursor, limit=q.limit + 1)
    shown, nxt = paged(rows, q.limit, lambda r: r.id)
    done = {"created": "资金来源已建立。", "topped": "追加已记入台账。", "closed": "资金来源已关闭，结余已记入台账。",
            "reopened": "资金来源已重新启用。"}.get(handler.get_query_argument("done", "") or "")
    title = f"{fund.name}（{fund.year} 年）"
    handler.page("fund.html", title, crumbs=[("资金来源", FUNDS_URL), (title, None)],
                 status=refusal.status if refusal else 200, fund=fund, rows=shown,
                 next_url=handler.page_url(cursor=nxt, done=None) if nxt else None, entry_names=ENTRY_NAMES,
                 entry_signs=ENTRY_SIGNS, source_names=sources.SOURCES, status_names=STATUS_NAMES,
                 kinds=kind_names(), file_url=file_url, form=form or {}, refusal=refusal,
                 errors=refusal.fields if refusal else {}, done=done, fund_url=fund_url)


class FundPage(ConsoleHandler):
    """One source: budget, top-ups, reserved, spent, balance, and its ledger page by page."""

    access = {"get": Access("fund.view", FUND)}

    async def get(self, fund_id: int) -> None:
        """The page."""
        await show_fund(self, int(fund_id))


class TopUpForm(ConsoleHandler):
    """Add money to a source (finance, admin): the amount in yuan and why."""

    access = {"post": Access("fund.manage", FUND)}

    async def post(self, fund_id: int) -> None:
        """Top it up as the API does; back to its page."""
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(sources.TopUp, values, yuan_fields=("amount",))
            async with self.writing() as conn:
                await sources.top_up(conn, actor, int(fund_id), body)
        except AppError as exc:
            await show_fund(self, int(fund_id), form=values, refusal=self.refused(exc))
            return
        self.redirect(fund_url(int(fund_id)) + "?done=topped")


class CloseForm(ConsoleHandler):
    """Close a source (finance, admin): the reason, asked once; back to its page, or the page with the refusal."""

    access = {"post": Access("fund.manage", FUND)}

    async def post(self, fund_id: int) -> None:
        """Ask once, then close it as the API does."""
        actor = await self.actor()
        values = self.form_values()
        if values.get("confirmed") != "1" and values.get("reason"):
            self.ask_once("确定关闭该资金来源吗？关闭后不能再用于新的审批，也不能追加；结余将记入台账。只有管理员可以重新启用。",
                          "确认关闭", back=fund_url(int(fund_id)))
            return
        try:
            body = self.form_model(sources.Closing, values)
            async with self.writing() as conn:
                await sources.close(conn, actor, int(fund_id), body)
        except AppError as exc:
            await show_fund(self, int(fund_id), form=values, refusal=self.refused(exc))
            return
        self.redirect(fund_url(int(fund_id)) + "?done=closed")


class ReopenForm(ConsoleHandler):
    """Reopen a closed source (an administrator): the reason; back to its page."""

    access = {"post": Access("fund.reopen", FUND)}

    async def post(self, fund_id: int) -> None:
        """Reopen it as the API does."""
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(sources.Closing, values)
            async with self.writing() as conn:
                await sources.reopen(conn, actor, int(fund_id), body)
        except AppError as exc:
            await show_fund(self, int(fund_id), form=values, refusal=self.refused(exc))
            return
        self.redirect(fund_url(int(fund_id)) + "?done=reopened")


routes: list[tuple[str, Any]] = [
    (FUNDS_URL, FundsPage),
    (NEW_URL, NewFundForm),
    (r"/console/funds/(?P<fund_id>[0-9]+)", FundPage),
    (r"/console/funds/(?P<fund_id>[0-9]+)/top-ups", TopUpForm),
    (r"/console/funds/(?P<fund_id>[0-9]+)/close", CloseForm),
    (r"/console/funds/(?P<fund_id>[0-9]+)/reopen", ReopenForm),
]
