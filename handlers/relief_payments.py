"""Finance pays approved relief applications: one payment (idempotent), its reversal, the bank payment file
of the applications waiting, and a batch of them recorded as paid."""
from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from pydantic import Field

from handlers.idempotency import IDEMPOTENCY_HEADER, idempotent
from handlers.staff_base import StaffHandler
from models.core.clock import local_today
from models.core.policy import Access, Target
from models.core.spreadsheets import write_csv, write_xlsx
from models.core.typed import Query, one_of, text
from models.relief import payments
from server.openapi import ERROR_REF, id_schema, nullable, obj, op, string

APPLICATION = Target("application", "application_id")
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
EXPORT = {"description": "银行代发文件（CSV 为带 BOM 的 UTF-8）：户名、完整收款账号、金额（元）、业务参考号",
          "content": {t.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                      for t in EXPORT_TYPES.values()}}
ANSWER = obj({"id": id_schema(), "status": string(), "step": nullable(string())}, ["id", "status", "step"])
BATCH = obj({"paid": {"type": "array", "items": ANSWER}}, ["paid"])
_REFUSALS = {400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF}


class ExportQuery(Query):
    """One unit's subtree (a code; default the caller's), and the file type."""

    org: Annotated[str, text(32, min_len=1)] | None = None
    format: Annotated[str, one_of(EXPORT_TYPES), Field(description="csv 或 xlsx")] = "csv"


class PaymentHandler(StaffHandler):
    """Record the payment of an application waiting at ``payment`` (finance), once per Idempotency-Key."""

    access = {"post": Access("relief.pay", APPLICATION)}
    spec = {"post": op(
        "登记救助金发放（财务）", tags=["staff"], body=payments.Payment, parameters=[IDEMPOTENCY_HEADER],
        responses={200: ANSWER, **_REFUSALS},
        description="amount 须等于审批金额（422 amount_mismatch）；银行转账须填 account_last4（与登记账号不符 422 "
        "account_mismatch）；paid_on 不能晚于今天。预留转为支出，申请状态 paid、环节 archived，并通知申请人。"
        "同一 Idempotency-Key 重放得到首次的回答，换了请求体 422。办理过该申请其他环节的人员不能登记（403 four_eyes）。")}

    @idempotent()
    async def post(self, conn: Any, application_id: str) -> dict[str, Any]:
        """Pay and answer the application's new status."""
        actor = await self.actor()
        body = self.body(payments.Payment)
        return payments.answer(await payments.pay(conn, self.cipher, actor, int(application_id), body))


class ReversalHandler(StaffHandler):
    """Reverse the payment of a paid application (a bounced transfer); the reservation is restored."""

    access = {"post": Access("relief.pay", APPLICATION)}
    spec = {"post": op(
        "发放冲正（财务，如转账被退回）", tags=["staff"], body=payments.Reversal, responses={200: ANSWER, **_REFUSALS},
        description="支出转回预留，申请回到待发放（submitted / payment），记入经过并通知申请人。")}

    async def post(self, application_id: str) -> None:
        """Reverse and answer the application's new status."""
        actor = await self.actor()
        body = self.body(payments.Reversal)
        async with self.writing() as conn:
            app = await payments.reverse(conn, self.cipher, actor, int(application_id), body)
        self.write_json(payments.answer(app))


class ExportHandler(StaffHandler):
    """The bank payment file of the applications waiting at ``payment`` (finance; audited; never cached)."""

    accepts = "none"
    access = {"get": Access("relief.export_payments")}
    spec = {"get": op("导出银行代发文件（财务，含完整账号，记入审计）", tags=["staff"], query=ExportQuery,
                      responses={200: EXPORT, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
                      description="本人单位（或 org 单位）及下级单位处于待发放环节的申请，按 id 升序。"
                      "账号取申请表的 bank_account，没有时取会员档案登记的银行账号。")}

    async def get(self) -> None:
        """Write the file off the event loop and send it."""
        actor = await self.actor()
        q = self.query(ExportQuery)
        async with self.writing() as conn:
            lines = await payments.waiting(conn, self.cipher, actor, q.org)
        data = await self.offload(write_csv if q.format == "csv" else write_xlsx, payments.payment_file(lines))
        name = quote(f"救助金代发-{local_today().isoformat()}.{q.format}")
        self.set_header("Content-Type", EXPORT_TYPES[q.format])
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Disposition", f"attachment; filename=\"relief-payments.{q.format}\"; "
                                               f"filename*=UTF-8''{name}")
        self.finish(data)


class BatchHandler(StaffHandler):
    """Record a bank transfer batch as paid: every application or none (finance), once per Idempotency-Key."""

    access = {"post": Access("relief.pay")}
    spec = {"post": op(
        "批量登记银行代发（财务）", tags=["staff"], body=payments.Batch, parameters=[IDEMPOTENCY_HEADER],
        responses={200: BATCH, **_REFUSALS},
        description="每个申请按单笔发放办理（金额为审批金额，账号后 4 位取登记账号）；任何一笔不能办理时整批不登记，"
        "错误信息注明申请 id。")}

    @idempotent()
    async def post(self, conn: Any) -> dict[str, Any]:
        """Pay the batch and answer each application's new status."""
        actor = await self.actor()
        body = self.body(payments.Batch)
        paid = await payments.pay_batch(conn, self.cipher, actor, body)
        return {"paid": [payments.answer(a) for a in paid]}


_APP = r"/api/v1/staff/relief/applications/(?P<application_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (_APP + r"/payment", PaymentHandler),
    (_APP + r"/payment/reverse", ReversalHandler),
    (r"/api/v1/staff/relief/payments/export", ExportHandler),
    (r"/api/v1/staff/relief/payments/batch", BatchHandler),
]
