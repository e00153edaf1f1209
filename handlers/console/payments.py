"""Paying relief in the console (finance): the applications waiting for payment, the payment form (its
Idempotency-Key made once per form shown, so a double submit pays once), the bank payment file (XLSX), the
reversal of a payment (asked once), the archive of a paid file and its archive PDF."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from handlers.cards import font_refusal
from handlers.console import once
from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.relief import APPLICATION, file_url, show_file
from handlers.relief_archive import ArchivePdfHandler
from handlers.relief_payments import EXPORT_TYPES, ExportQuery
from models.core.clock import local_today
from models.core.errors import AppError, Invalid
from models.core.policy import Access
from models.core.spreadsheets import write_csv, write_xlsx
from models.core.typed import paged
from models.relief import archive, payments, queue, reviewing
from server import card_images

PAYMENTS_URL = "/console/relief/payments"
EXPORT_URL = "/console/relief/payments/export"


def payment_url(application_id: int) -> str:
    """The payment form of one application."""
    return f"{file_url(application_id)}/payment"


class PaymentsPage(once.OnceHandler):
    """The applications of my subtree waiting at ``payment``, oldest first, with the bank payment file; and
    the batch form: the applications ticked, paid by one bank transfer file, all or none, once per form shown."""

    access = {"get": Access("relief.pay"), "post": Access("relief.pay")}

    async def _show(self, *, form: dict[str, Any] | None = None, ticked: list[str] | None = None,
                    refusal: Refusal | None = None) -> None:
        actor = await self.actor()
        q = self.url_query(queue.QueueQuery)
        q = q.model_copy(update={"step": "payment", "status": None})
        async with self.reading() as conn:
            items, _ = await queue.listing(conn, self.cipher, actor, q)
        shown, nxt = paged(items, q.limit, lambda i: int(i["id"]))
        typed = dict(form or {"paid_on": local_today().isoformat()})
        typed[once.FIELD] = once.new_key()
        self.page("relief_payments.html", "救助金发放", crumbs=[("救助金发放", None)], items=shown,
                  next_url=self.page_url(cursor=nxt) if nxt else None, payment_url=payment_url, file_url=file_url,
                  export_url=EXPORT_URL + "?format=xlsx", may_export=self.may("relief.export_payments"),
                  form=typed, ticked=set(ticked or []), refusal=refusal, errors=refusal.fields if refusal else {},
                  status=refusal.status if refusal else 200)

    async def get(self) -> None:
        """One page of them, with the batch form."""
        done = self.get_query_argument("done", None)
        await self._show(form=None if done is None else {"paid_on": local_today().isoformat()})

    async def post(self) -> None:
        """Record the ticked applications as paid by one bank transfer file, as the API's batch does."""
        actor = await self.actor()
        values = self.form_values()
        ticked = self.form_list("application_ids")
        typed = {k: v for k, v in values.items() if k in ("voucher_no", "paid_on")}
        try:
            ids = [int(t) for t in ticked if t.isdigit()]
            if not ids:
                raise Invalid("application_ids_required", "请勾选要登记发放的申请",
                              details=[{"field": "application_ids", "reason": "请至少勾选一个申请"}])
            body = self.form_model(payments.Batch, typed,
                                   extra={"application_ids": ids, "method": "bank_transfer"})
            await self.once(values.get(once.FIELD), body, lambda conn: self._pay(conn, actor, body))
        except AppError as exc:
            await self._show(form=typed, ticked=ticked, refusal=self.refused(exc))
            return
        self.redirect(PAYMENTS_URL + "?done=batch")

    async def _pay(self, conn: Any, actor: Any, body: payments.Batch) -> dict[str, Any]:
        """The batch, in the transaction that keeps its answer."""
        paid = await payments.pay_batch(conn, self.cipher, actor, body)
        return {"paid": [payments.answer(a) for a in paid]}


class PaymentForm(once.OnceHandler):
    """Record the payment of one application (finance), once per form shown."""

    access = {"get": Access("relief.pay", APPLICATION), "post": Access("relief.pay", APPLICATION)}

    async def _show(self, application_id: int, *, form: dict[str, Any] | None = None,
                    refusal: Refusal | None = None) -> None:
        actor = await self.actor()
        async with self.reading() as conn:
            app = await reviewing.load_in_scope(conn, self.cipher, actor, application_id)
        typed = dict(form or {"amount": f"{(app.approved_amount or 0) / 100:.2f}", "method": "bank_transfer",
                              "paid_on": local_today().isoformat()})
        typed[once.FIELD] = once.new_key()  # a new key for each form shown: one payment per submit of it
        title = f"登记发放 · 申请 {application_id}"
        self.page("relief_payment.html", title,
                  crumbs=[("救助金发放", PAYMENTS_URL), (f"申请 {application_id}", file_url(application_id)),
                          ("登记发放", None)],
                  status=refusal.status if refusal else 200, app=app, form=typed, refusal=refusal,
                  errors=refusal.fields if refusal else {}, methods=payments.METHODS, file_url=file_url,
                  ready=app.status == "submitted" and app.step == "payment")

    async def get(self, application_id: int) -> None:
        """The form, the approved amount filled in."""
        await self._show(int(application_id))

    async def post(self, application_id: int) -> None:
        """Pay as the API does, kept under the form's Idempotency-Key: a second submit of the same form shows
        the first one's outcome and pays nothing."""
        actor = await self.actor()
        values = self.form_values()
        typed = {k: v for k, v in values.items() if k != once.FIELD}
        try:
            body = self.form_model(payments.Payment, values, yuan_fields=("amount",))
            await self.once(values.get(once.FIELD), body, lambda conn: self._pay(conn, actor, int(application_id), body))
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code == "account_mismatch" or exc.code == "account_last4_required":
                refusal.fields.setdefault("account_last4", refusal.message)
            elif exc.code == "amount_mismatch":
                refusal.fields.setdefault("amount", refusal.message)
            elif exc.code == "paid_on_future":
                refusal.fields.setdefault("paid_on", refusal.message)
            await self._show(int(application_id), form=typed, refusal=refusal)
            return
        self.redirect(file_url(int(application_id)) + "?done=paid")

    async def _pay(self, conn: Any, actor: Any, application_id: int, body: payments.Payment) -> dict[str, Any]:
        """The payment, in the transaction that keeps its answer."""
        return payments.answer(await payments.pay(conn, self.cipher, actor, application_id, body))


class ExportFile(ConsoleHandler):
    """The bank payment file of the applications waiting (XLSX by default; audited; never cached)."""

    access = {"get": Access("relief.export_payments")}

    async def get(self) -> None:
        """Write it off the loop and send it as a download."""
        actor = await self.actor()
        q = self.url_query(ExportQuery)
        fmt = q.format if "format" in self.request.query_arguments else "xlsx"  # the console's default: XLSX
        async with self.writing() as conn:
            lines = await payments.waiting(conn, self.cipher, actor, q.org)
        data = await self.offload(write_xlsx if fmt == "xlsx" else write_csv, payments.payment_file(lines))
        name = quote(f"救助金代发-{local_today().isoformat()}.{fmt}")
        self.set_header("Content-Type", EXPORT_TYPES[fmt])
        self.set_header("Content-Disposition", f"attachment; filename=\"relief-payments.{fmt}\"; filename*=UTF-8''{name}")
        self.finish(data)


class ReversalForm(ConsoleHandler):
    """Reverse the payment of a paid application (a bounced transfer), asked once."""

    access = {"post": Access("relief.pay", APPLICATION)}

    async def post(self, application_id: int) -> None:
        """Ask once, then reverse as the API does; back to the file."""
        actor = await self.actor()
        values = self.form_values()
        if values.get("confirmed") != "1" and values.get("reason"):
            self.ask_once(f"确定冲正申请 {application_id} 的发放吗？支出将转回预留，申请回到待发放。", "确认冲正",
                          back=file_url(int(application_id)))
            return
        try:
            body = self.form_model(payments.Reversal, values)
            async with self.writing() as conn:
                await payments.reverse(conn, self.cipher, actor, int(application_id), body)
        except AppError as exc:
            await show_file(self, int(application_id), form=values, refusal=self.refused(exc))
            return
        self.redirect(file_url(int(application_id)) + "?done=reversed")


class ArchiveForm(ConsoleHandler):
    """Close a paid application: archived read-only with its completion record."""

    access = {"post": Access("relief.archive", APPLICATION)}

    async def post(self, application_id: int) -> None:
        """Archive as the API does; back to the file (its archive PDF link)."""
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(archive.ArchiveBody, values)
            async with self.writing() as conn:
                await archive.archive(conn, self.cipher, actor, int(application_id), body)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code == "completed_on_future":
                refusal.fields.setdefault("completed_on", refusal.message)
            await show_file(self, int(application_id), form=values, refusal=refusal)
            return
        self.redirect(file_url(int(application_id)) + "?done=archived")


class ArchivePdf(ConsoleHandler):
    """The archived file as one A4 PDF, drawn as the API draws it (audited, never cached)."""

    access = {"get": Access("relief.view", APPLICATION)}

    async def get(self, application_id: int) -> None:
        """Gather, draw off the loop, send as a download."""
        actor = await self.actor()
        async with self.writing() as conn:
            file = await archive.gather(conn, self.cipher, actor, int(application_id))
        try:
            data = await self.offload(ArchivePdfHandler.draw, file, self.settings["attachments"],
                                      self.config.card_font or None)
        except card_images.CardFontMissing as exc:
            raise font_refusal(exc) from None
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'attachment; filename="{file.filename}"')
        self.finish(data)


_APP = r"/console/relief/applications/(?P<application_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (PAYMENTS_URL, PaymentsPage),
    (EXPORT_URL, ExportFile),
    (_APP + r"/payment", PaymentForm),
    (_APP + r"/payment/reverse", ReversalForm),
    (_APP + r"/archive", ArchiveForm),
    (_APP + r"/archive\.pdf", ArchivePdf),
]
