"""Monthly settlement statements: staff build, confirm and record the money paid or received; a merchant's
manager reads its own."""
from __future__ import annotations

import unicodedata
from typing import Annotated, Any
from urllib.parse import quote

from handlers.merchant import MerchantHandler
from handlers.staff_base import StaffHandler
from models.core.policy import Access, Target
from models.core.typed import (
    Body,
    Id,
    Keyset,
    Month,
    Paging,
    Query,
    one_of,
    paged,
    text,
)
from models.counter import settlement
from server.openapi import ERROR_REF, obj, op, page, string

STATEMENT_TARGET = Target("statement", "statement_id")

STATEMENT = obj({"id": {"type": "integer"}, "merchant_id": {"type": "integer"}, "merchant_name": string(),
                 "month": string(pattern=r"^\d{4}-\d{2}$"), "redemptions": {"type": "integer"},
                 "bills": {"type": "integer"}, "discounts": {"type": "integer"}, "union_owed": {"type": "integer"},
                 "merchant_conceded": {"type": "integer"},
                 "status": {"enum": ["draft", "confirmed", "paid", "received", "settled"]},
                 "direction": {"enum": list(settlement.DIRECTION_LABELS)}, "amount_due": {"type": "integer"},
                 "payment_ref": {"type": ["string", "null"]}, "confirmed_by_name": {"type": ["string", "null"]}},
                ["id", "merchant_id", "month", "bills", "discounts", "union_owed", "merchant_conceded", "status",
                 "direction", "amount_due"],
                extra=True)
WITH_ROWS = obj({"statement": STATEMENT, "rows": {"type": "array", "items": {"type": "object"}}},
                ["statement", "rows"])
LIST = page(STATEMENT)
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
EXPORT = {"description": "对账单文件（CSV 为带 BOM 的 UTF-8，Excel 可直接打开）",
          "content": {t.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                      for t in EXPORT_TYPES.values()}}


class ExportQuery(Query):
    """The file type of an export (CSV by default)."""

    format: Annotated[str, one_of(EXPORT_TYPES)] = "csv"


class StatementsQuery(Paging):
    """Statements of one month, of one merchant, in one status, when given; newest month first, then by merchant."""

    cursor: Annotated[tuple[Any, ...], Keyset(str, int)] | None = None
    month: Month | None = None
    merchant_id: Id | None = None
    status: Annotated[str, one_of(settlement.STATUS_LABELS)] | None = None


class MerchantStatementsQuery(Paging):
    """A page of the merchant's own statements, newest month first."""

    cursor: Annotated[tuple[Any, ...], Keyset(str)] | None = None


class BuildStatement(Body):
    """The merchant and finished month to settle."""

    merchant_id: Id
    month: Month


class PaidBody(Body):
    """The bank's reference for the money paid (by the union) or received (from the merchant)."""

    payment_ref: Annotated[str, text(100, min_len=1)]
_REFUSALS = {400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF}


_UNSAFE_IN_NAMES = frozenset('/\\:*?"<>|')
#: Control, format, surrogate, private-use and unassigned characters, and line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def safe_filename(name: str) -> str:
    """``name`` fit for a saved file: no path separator, no character Windows refuses, no control or format
    character (each becomes "_"), no leading or trailing dot or space, at most 120 characters."""
    kept = "".join("_" if ch in _UNSAFE_IN_NAMES or unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch
                   for ch in name)
    return kept.strip(" .")[:120] or "download"


def attachment(fallback: str, name: str) -> str:
    """A Content-Disposition for a download: an ASCII ``filename`` and the UTF-8 ``filename*``, both safe."""
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in fallback)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe_filename(name), safe='')}"


class Export:
    """Send a statement as CSV or XLSX."""

    async def send_export(self: Any, conn: Any, statement: settlement.Statement) -> None:
        """Send the statement's rows (frozen once confirmed) as a CSV or XLSX attachment, written off the loop."""
        fmt = self.query(ExportQuery).format
        rows = await settlement.rows_of(conn, statement)
        # Writing a workbook is CPU work (openpyxl): off the event loop, in the app's pool.
        data = await self.offload(settlement.export_csv if fmt == "csv" else settlement.export_xlsx, statement, rows)
        self.set_header("Content-Type", EXPORT_TYPES[fmt])
        self.set_header("Content-Disposition", attachment(f"statement-{statement.id}-{statement.month}.{fmt}",
                                                          settlement.export_name(statement, fmt)))
        self.finish(data)


class StaffStatementsHandler(StaffHandler):
    """Staff list the merchant statements of their subtree, and build or rebuild a month's draft."""

    access = {"get": Access("settlement.view"), "post": Access("settlement.manage")}
    spec = {
        "get": op("对账单列表（本单位及下级签约的商家）", tags=["staff"],
                  query=StatementsQuery,
                  responses={200: LIST, **_REFUSALS}),
        "post": op("生成或重新计算商家某月的对账单（草稿）", tags=["staff"],
                   body=BuildStatement,
                   responses={200: WITH_ROWS, **_REFUSALS, 409: ERROR_REF},
                   description="月份须已结束（北京时间）；已确认的对账单不能重算（409 statement_locked）。"
                   "某月对账单包含当月未撤销的核销，以及当月办理的退款（负数行，含以前月份核销的退款）。"
                   "生成（或重算）的人记为生成人，不能再确认该对账单。"),
    }

    async def get(self) -> None:
        """List statements in the caller's scope, optionally of one month or merchant, one cursor page."""
        actor = await self.actor()
        query = self.query(StatementsQuery)
        async with self.reading() as conn:
            found, nxt = paged(await settlement.list_for_staff(
                conn, actor, month=query.month, merchant_id=query.merchant_id, status=query.status,
                after=query.cursor, limit=query.limit + 1), query.limit, lambda s: (s.month, s.merchant_id))
        self.write_json({"items": [s.view() for s in found], "next": nxt})

    async def post(self) -> None:
        """Build or recompute the merchant's draft statement for a finished month; answer it with its rows."""
        actor = await self.actor()
        body = self.body(BuildStatement)
        async with self.engine.begin() as conn:
            statement = await settlement.build(conn, actor, body.merchant_id, body.month)
            rows = await settlement.rows_of(conn, statement)
        self.write_json({"statement": statement.view(), "rows": [r.view() for r in rows]})


class StaffStatementHandler(StaffHandler):
    """Staff view one statement with all its rows."""

    accepts = "none"
    access = {"get": Access("settlement.view", STATEMENT_TARGET)}
    spec = {"get": op("对账单及其全部明细行", tags=["staff"], responses={200: WITH_ROWS, **_REFUSALS})}

    async def get(self, statement_id: str) -> None:
        """Answer the statement (in the caller's scope) and its rows."""
        actor = await self.actor()
        async with self.reading() as conn:
            statement = await settlement.get_for_staff(conn, actor, int(statement_id))
            rows = await settlement.rows_of(conn, statement)
        self.write_json({"statement": statement.view(), "rows": [r.view() for r in rows]})


class ConfirmHandler(StaffHandler):
    """Finance confirm a statement (not the one who built it) after it is checked again against the redemptions."""

    accepts = "none"
    access = {"post": Access("settlement.confirm", STATEMENT_TARGET)}
    spec = {"post": op("确认对账单（确认前重新核对，金额有变化则拒绝）", tags=["staff"],
                       responses={200: STATEMENT, **_REFUSALS, 409: ERROR_REF},
                       description="财务人员确认，且不能是最后生成该对账单的人（409 four_eyes）。确认时明细行冻结："
                       "此后的查看和导出都只读冻结的明细。收付金额为零的对账单确认即结清（settled）。")}

    async def post(self, statement_id: str) -> None:
        """Confirm the statement, refused if its amounts changed since it was built, and answer it."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            statement = await settlement.confirm(conn, actor, int(statement_id))
        self.write_json(statement.view())


class PaidHandler(StaffHandler):
    """Finance record that the union paid a statement it owed the merchant."""

    access = {"post": Access("settlement.pay", STATEMENT_TARGET)}
    spec = {"post": op("登记对账单已付款（工会付给商家）", tags=["staff"],
                       body=PaidBody,
                       responses={200: STATEMENT, **_REFUSALS, 409: ERROR_REF},
                       description="仅限工会应付商家（direction 为 union_pays）的已确认对账单；商家应付工会的对账单"
                       "请登记收款（409 wrong_direction）。登记人不能是确认人（409 four_eyes）。")}

    async def post(self, statement_id: str) -> None:
        """Mark the statement paid with the bank's payment reference and answer it."""
        actor = await self.actor()
        body = self.body(PaidBody)
        async with self.engine.begin() as conn:
            statement = await settlement.mark_paid(conn, actor, int(statement_id), payment_ref=body.payment_ref)
        self.write_json(statement.view())


class ReceivedHandler(StaffHandler):
    """Finance record that the merchant paid the union what a statement says it owes."""

    access = {"post": Access("settlement.pay", STATEMENT_TARGET)}
    spec = {"post": op("登记对账单已收款（商家付给工会）", tags=["staff"],
                       body=PaidBody,
                       responses={200: STATEMENT, **_REFUSALS, 409: ERROR_REF},
                       description="仅限商家应付工会（direction 为 merchant_pays，退款多于核销）的已确认对账单"
                       "（否则 409 wrong_direction）。登记人不能是确认人（409 four_eyes）。")}

    async def post(self, statement_id: str) -> None:
        """Mark the statement received with the bank's reference and answer it."""
        actor = await self.actor()
        body = self.body(PaidBody)
        async with self.engine.begin() as conn:
            statement = await settlement.mark_received(conn, actor, int(statement_id), payment_ref=body.payment_ref)
        self.write_json(statement.view())


class StaffExportHandler(StaffHandler, Export):
    """Staff download a statement as CSV or XLSX."""

    accepts = "none"
    access = {"get": Access("settlement.view", STATEMENT_TARGET)}
    spec = {"get": op("导出对账单（CSV 或 XLSX）", tags=["staff"], query=ExportQuery,
                      responses={200: EXPORT, **_REFUSALS, 409: ERROR_REF})}

    async def get(self, statement_id: str) -> None:
        """Send the statement (in the caller's scope) as a CSV or XLSX file."""
        actor = await self.actor()
        async with self.reading() as conn:
            await self.send_export(conn, await settlement.get_for_staff(conn, actor, int(statement_id)))


class MerchantStatementBase(MerchantHandler):
    """Merchant statement routes: the merchant a calling manager works for."""

    accepts = "none"

    async def manager_merchant(self, conn: Any) -> int:
        """The merchant the calling manager works for (the declaration has checked the role)."""
        merchant_id = self.caller().merchant_id
        assert merchant_id is not None
        return merchant_id


class MerchantStatementsHandler(MerchantStatementBase):
    """A merchant manager lists the merchant's own confirmed statements."""

    access = {"get": Access("merchant_statement.view")}
    spec = {"get": op("本商家已确认的对账单（商家管理员）", tags=["merchants"], query=MerchantStatementsQuery,
                      responses={200: LIST, 400: ERROR_REF, 403: ERROR_REF})}

    async def get(self) -> None:
        """List the caller's merchant's statements, newest month first, one cursor page."""
        async with self.reading() as conn:
            merchant_id = await self.manager_merchant(conn)
            query = self.query(MerchantStatementsQuery)
            found, nxt = paged(await settlement.list_for_merchant(
                conn, merchant_id, before=query.cursor[0] if query.cursor else None, limit=query.limit + 1),
                query.limit, lambda s: (s.month,))
        self.write_json({"items": [s.view() for s in found], "next": nxt})


class MerchantStatementHandler(MerchantStatementBase):
    """A merchant manager views one of the merchant's statements with its rows."""

    access = {"get": Access("merchant_statement.view", STATEMENT_TARGET)}
    spec = {"get": op("本商家的一张对账单及明细（商家管理员）", tags=["merchants"],
                      responses={200: WITH_ROWS, 403: ERROR_REF, 404: ERROR_REF})}

    async def get(self, statement_id: str) -> None:
        """Answer the caller's merchant's statement and its rows."""
        async with self.reading() as conn:
            statement = await settlement.get_for_merchant(conn, await self.manager_merchant(conn), int(statement_id))
            rows = await settlement.rows_of(conn, statement)
        self.write_json({"statement": statement.view(), "rows": [r.view() for r in rows]})


class MerchantExportHandler(MerchantStatementBase, Export):
    """A merchant manager downloads one of the merchant's statements as CSV or XLSX."""

    access = {"get": Access("merchant_statement.view", STATEMENT_TARGET)}
    spec = {"get": op("导出本商家的对账单（CSV 或 XLSX）", tags=["merchants"], query=ExportQuery,
                      responses={200: EXPORT, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF})}

    async def get(self, statement_id: str) -> None:
        """Send the caller's merchant's statement as a CSV or XLSX file."""
        async with self.reading() as conn:
            statement = await settlement.get_for_merchant(conn, await self.manager_merchant(conn), int(statement_id))
            await self.send_export(conn, statement)


routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/statements", StaffStatementsHandler),
    (r"/api/v1/staff/statements/(?P<statement_id>[0-9]+)", StaffStatementHandler),
    (r"/api/v1/staff/statements/(?P<statement_id>[0-9]+)/confirm", ConfirmHandler),
    (r"/api/v1/staff/statements/(?P<statement_id>[0-9]+)/paid", PaidHandler),
    (r"/api/v1/staff/statements/(?P<statement_id>[0-9]+)/received", ReceivedHandler),
    (r"/api/v1/staff/statements/(?P<statement_id>[0-9]+)/export", StaffExportHandler),
    (r"/api/v1/merchant/statements", MerchantStatementsHandler),
    (r"/api/v1/merchant/statements/(?P<statement_id>[0-9]+)", MerchantStatementHandler),
    (r"/api/v1/merchant/statements/(?P<statement_id>[0-9]+)/export", MerchantExportHandler),
]
