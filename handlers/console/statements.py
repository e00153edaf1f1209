"""Monthly statements in the console: the list (month, merchant, status in the URL), building a month's draft,
the statement with its header facts and lines, confirmation by a second person, the money paid or received
by a third, and the exports (the API's own export: the same header block, the same bytes)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from handlers.console.base import ConsoleHandler, Refusal
from handlers.settlement import STATEMENT_TARGET, BuildStatement, Export, PaidBody, StatementsQuery
from models.core.clock import local_today
from models.core.errors import AppError
from models.core.policy import Access
from models.core.typed import paged
from models.counter import settlement
from models.identity import staff_accounts
from models.partners import partnership

Q = TypeVar("Q", bound=BaseModel)
LIST_URL = "/console/statements"
#: The merchants offered in the build form (a larger network types the merchant's number instead).
MERCHANT_CHOICES = 200
#: What recording the money is called, by direction, and the route that records it.
MOVES = {"union_pays": ("登记付款", "paid", "付款凭证号（银行转账流水号等）"),
         "merchant_pays": ("登记收款", "received", "收款凭证号（银行到账流水号等）")}


def statement_url(statement_id: int) -> str:
    """The console page of one statement."""
    return f"{LIST_URL}/{statement_id}"


def whole(values: dict[str, str], *names: str) -> dict[str, Any]:
    """The form's values with the named whole numbers typed as numbers (the API's models are strict); anything
    else is left as typed for the model to refuse by its field."""
    return {k: int(v) if k in names and v.isdigit() and len(v) < 19 else v for k, v in values.items()}


def last_month() -> str:
    """The month just ended (Beijing time): the one a draft is usually built for."""
    return (local_today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


class StatementsPage(ConsoleHandler):
    """The statements of my subtree, filtered by the URL; finance build a month's draft here."""

    access = {"get": Access("settlement.view"), "post": Access("settlement.manage")}

    async def get(self) -> None:
        """One page of the list, newest month first, with a 下一页 link carrying the cursor."""
        await self.show()

    async def show(self, *, form: dict[str, Any] | None = None, refusal: Refusal | None = None) -> None:
        """Render the list (again, after a refused build: what was typed kept, the refusal by its field)."""
        actor = await self.actor()
        q = self.url_query(StatementsQuery)
        async with self.reading() as conn:
            found = await settlement.list_for_staff(conn, actor, month=q.month, merchant_id=q.merchant_id,
                                                    status=q.status, after=q.cursor, limit=q.limit + 1)
            choices = (await partnership.list_in_scope(conn, actor, limit=MERCHANT_CHOICES)
                       if self.may("settlement.manage") and self.may("merchant.view") else [])
        shown, nxt = paged(found, q.limit, lambda s: (s.month, s.merchant_id))
        self.page("statements_list.html", "商家月结单", crumbs=[("商家月结单", None)],
                  status=refusal.status if refusal else 200, items=shown, q=q,
                  next_url=self.page_url(cursor=nxt) if nxt else None, statuses=settlement.STATUS_LABELS,
                  directions=settlement.DIRECTION_LABELS, merchants=choices, statement_url=statement_url,
                  form=form or {"month": last_month()}, errors=refusal.fields if refusal else {}, refusal=refusal)

    async def post(self) -> None:
        """Build (or recompute) the draft of a finished month for a merchant; on to the statement."""
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(BuildStatement, whole(values, "merchant_id"))
            async with self.writing() as conn:
                statement = await settlement.build(conn, actor, body.merchant_id, body.month)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code in ("invalid_month", "month_not_closed"):
                refusal.fields.setdefault("month", refusal.message)
            elif exc.code in ("merchant_not_found", "statement_locked"):
                refusal.fields.setdefault("merchant_id", refusal.message)
            await self.show(form=values, refusal=refusal)
            return
        self.redirect(statement_url(statement.id) + "?done=built")


DONE = {"built": "草稿已生成。请另一位财务人员核对后确认。", "confirmed": "对账单已确认，明细已冻结。",
        "paid": "已登记付款。", "received": "已登记收款。"}


async def show_statement(handler: ConsoleHandler, statement_id: int, *, form: dict[str, Any] | None = None,
                         refusal: Refusal | None = None) -> None:
    """Render one statement: its header facts, the forms my roles may use on it, its lines."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        statement = await settlement.get_for_staff(conn, actor, statement_id)
        rows = await settlement.rows_of(conn, statement)
        names = await _names(conn, statement)
    view = statement.view()
    title = f"{statement.merchant_name} {statement.month} 月结单"
    handler.page("statements_statement.html", title, crumbs=[("商家月结单", LIST_URL), (title, None)],
                 status=refusal.status if refusal else 200, s=view, rows=[r.view() for r in rows], names=names,
                 move=MOVES.get(statement.direction), st_url=statement_url(statement_id),
                 done=DONE.get(handler.get_query_argument("done", "")), form=form or {},
                 errors=refusal.fields if refusal else {}, refusal=refusal)


async def _names(conn: Any, statement: settlement.Statement) -> dict[str, str]:
    """Who built, confirmed and recorded the money, by name (the statement keeps their ids)."""
    out: dict[str, str] = {}
    for key, staff_id in (("built", statement.built_by), ("confirmed", statement.confirmed_by),
                          ("paid", statement.paid_by)):
        if staff_id is not None:
            try:
                found = await staff_accounts.get(conn, int(staff_id))
                out[key] = found.display_name or found.username
            except AppError:
                out[key] = f"工作人员 #{staff_id}"
    if statement.confirmed_by_name and "confirmed" not in out:
        out["confirmed"] = statement.confirmed_by_name
    return out


class StatementPage(ConsoleHandler):
    """One statement with its header facts (direction, amount due, who built and confirmed it) and its lines."""

    access = {"get": Access("settlement.view", STATEMENT_TARGET)}

    async def get(self, statement_id: int) -> None:
        """The statement, as frozen once confirmed."""
        await show_statement(self, int(statement_id))


class ConfirmForm(ConsoleHandler):
    """A second finance clerk confirms the draft (asked once); a refusal (four eyes) shows on the statement."""

    access = {"post": Access("settlement.confirm", STATEMENT_TARGET)}

    async def post(self, statement_id: int) -> None:
        """Ask once, then confirm: the lines freeze."""
        sid = int(statement_id)
        if self.form_values().get("confirmed") != "1":
            self.ask_once(f"确定确认对账单 {sid} 吗？确认后明细冻结，不能再重新生成。", "确认对账单",
                          back=statement_url(sid))
            return
        actor = await self.actor()
        try:
            async with self.writing() as conn:
                await settlement.confirm(conn, actor, sid)
        except AppError as exc:
            await show_statement(self, sid, refusal=self.refused(exc))
            return
        self.redirect(statement_url(sid) + "?done=confirmed")


class MoneyForm(ConsoleHandler):
    """Record the money of a confirmed statement, with its reference: paid (the union paid) or received."""

    access = {"post": Access("settlement.pay", STATEMENT_TARGET)}
    #: ``paid`` or ``received``: which of the API's two actions this route is.
    way = "paid"

    async def post(self, statement_id: int) -> None:
        """Mark it paid or received; a refusal (wrong direction, four eyes, no reference) shows by the field."""
        sid = int(statement_id)
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(PaidBody, values)
            async with self.writing() as conn:
                mark = settlement.mark_paid if self.way == "paid" else settlement.mark_received
                await mark(conn, actor, sid, payment_ref=body.payment_ref)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code.startswith("payment_ref") or exc.code in ("invalid_body", "validation_failed"):
                refusal.fields.setdefault("payment_ref", refusal.message)
            await show_statement(self, sid, form=values, refusal=refusal)
            return
        self.redirect(statement_url(sid) + "?done=" + self.way)


class ReceivedForm(MoneyForm):
    """Record that the merchant paid the union what the statement says it owes."""

    access = {"post": Access("settlement.pay", STATEMENT_TARGET)}
    way = "received"


class ExportFile(ConsoleHandler, Export):
    """The statement as CSV or XLSX: the API's export (header block, frozen lines, safe file name)."""

    access = {"get": Access("settlement.view", STATEMENT_TARGET)}

    def query(self, model: type[Q]) -> Q:
        """The URL's query (a console page declares no operation): the export's format."""
        return self.url_query(model)

    async def get(self, statement_id: int) -> None:
        """Send the file as the API sends it."""
        actor = await self.actor()
        async with self.reading() as conn:
            await self.send_export(conn, await settlement.get_for_staff(conn, actor, int(statement_id)))


_ONE = LIST_URL + r"/(?P<statement_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (LIST_URL + "/?", StatementsPage),  # the nav's link ends in "/" (its area's prefix)
    (_ONE, StatementPage),
    (_ONE + r"/confirm", ConfirmForm),
    (_ONE + r"/paid", MoneyForm),
    (_ONE + r"/received", ReceivedForm),
    (_ONE + r"/export", ExportFile),
]
