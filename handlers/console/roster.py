"""The roster in the console: import a CSV/XLSX file into a unit of my subtree (the API's import, streamed to disk)
with its row report as a table, and the member transfers (会籍转接) waiting for my decision."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.members import member_url, units
from handlers.console.uploads import ConsoleUploadHandler, Upload
from handlers.members import RosterForm
from handlers.transfers import INCOMING_TARGET, Direction, RefuseBody, TransfersQuery
from models.cards import usecases as card_flows
from models.core import policy
from models.core.errors import AppError, Invalid
from models.core.policy import Access, Target
from models.core.typed import paged
from models.members import membership as members
from models.members import transfers
from models.members.roster import parse_roster
from models.network import tree as orgs

IMPORT_URL = "/console/members/import"
TRANSFERS_URL = "/console/members/transfers"
WAITING_URL = TRANSFERS_URL + "?direction=incoming&status=pending"
DIRECTION_NAMES = {"incoming": "待本单位确认（转出）", "outgoing": "本单位发起（转入）"}
DONE = {"accept": "已同意，会员已转到申请单位。", "refuse": "已拒绝，申请单位会看到原因。", "cancel": "已撤回申请。"}
#: The refusals of an import that belong next to one field of the form.
_FIELD_OF = {"org_not_found": "org", "file_required": "file"}


def transfer_url(transfer_id: int, action: str) -> str:
    """Where a decision on one transfer request is posted."""
    return f"{TRANSFERS_URL}/{transfer_id}/{action}"


class ImportPage(ConsoleUploadHandler):
    """The roster import form; its POST (multipart, streamed to disk, XSRF checked) imports the file into the unit
    as the API does and shows the report, row by row."""

    access = {"get": Access("member.import"), "post": Access("member.import")}

    async def get(self) -> None:
        """The empty form."""
        await self.show()

    async def show(self, *, form: dict[str, Any] | None = None, refusal: Refusal | None = None,
                   report: members.ImportReport | None = None, unit: orgs.Org | None = None) -> None:
        """The form (what was typed kept), and the report of the import just made."""
        actor = await self.actor()
        async with self.reading() as conn:
            unit_list = await units(conn, actor)
        view = report.view() if report else None
        accepted = (view["created"] + view["updated"] + view["unchanged"] + view["moved"]) if view else 0
        self.page("members_import.html", "导入会员名册", crumbs=[("会员查询", "/console/members/"), ("导入会员名册", None)],
                  status=refusal.status if refusal else 200, units=unit_list, form=form or {},
                  errors=refusal.fields if refusal else {}, refusal=refusal, report=view, accepted=accepted,
                  unit=unit, waiting_url=WAITING_URL)

    async def received(self, upload: Upload, *args: Any, **kwargs: Any) -> None:
        """Check the unit and the file, parse it off the loop, import it in one transaction, show the report."""
        actor = await self.actor()
        form = upload.values
        try:
            body = self.form_model(RosterForm, form)
            async with self.reading() as conn:
                org = await orgs.by_code(conn, body.org, within=policy.scope(actor))
            file = upload.file("file")
            if file is None:
                raise Invalid("file_required", "请选择名册文件（CSV 或 XLSX）",
                              details=[{"field": "file", "reason": "请选择名册文件（CSV 或 XLSX）"}])
            parsed = await self.offload(parse_roster, file.file, file.filename or "roster.csv",
                                        max_bytes=self.config.max_upload_bytes)
            async with self.writing() as conn:
                report = await card_flows.import_roster(conn, self.cipher, actor, parsed, org=org,
                                                        strict=body.strict in ("1", "true"), offload=self.offload)
        except AppError as exc:
            refusal = self.refused(exc)
            if not form.get("org"):
                refusal.message = refusal.fields["org"] = "请选择导入到哪个单位"
            refusal.fields.setdefault(_FIELD_OF.get(exc.code, "file"), refusal.message)
            await self.show(form=form, refusal=refusal)
            return
        await self.show(form=form, report=report, unit=org)


class ConsoleTransfersQuery(TransfersQuery):
    """The transfers list of the console: the requests waiting for my unit's decision unless asked otherwise."""

    direction: Annotated[Direction, Field(description="默认 incoming")] = "incoming"


async def show_transfers(handler: ConsoleHandler, q: TransfersQuery, *, form_for: int | None = None,
                         form: dict[str, Any] | None = None, refusal: Refusal | None = None,
                         done: str | None = None) -> None:
    """The list (again after a refused decision: the refusal next to that request's reason)."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        found, nxt = paged(await transfers.listing(conn, handler.cipher, actor, direction=q.direction,
                                                   status=q.status, after=q.cursor or 0, limit=q.limit + 1),
                           q.limit, lambda t: t.id)
    handler.page("members_transfers.html", "会籍转接", crumbs=[("会员查询", "/console/members/"), ("会籍转接", None)],
                 status=refusal.status if refusal else 200, q=q, items=found,
                 next_url=handler.page_url(cursor=nxt) if nxt else None, directions=DIRECTION_NAMES,
                 statuses=transfers.STATUS_LABELS, form_for=form_for, form=form or {},
                 errors=refusal.fields if refusal else {}, refusal=refusal, done=DONE.get(done or ""),
                 transfer_url=transfer_url, member_url=member_url)


class TransfersPage(ConsoleHandler):
    """Transfer requests: for members of my subtree (mine to decide) or asked by my subtree, filtered by the URL."""

    access = {"get": Access("member_transfer.view")}

    async def get(self) -> None:
        """One page of requests, oldest first."""
        await show_transfers(self, self.url_query(ConsoleTransfersQuery),
                             done=self.get_query_argument("done", "") or None)


class AcceptForm(ConsoleHandler):
    """Accept a request for a member of my subtree (asked once): the member moves, their card with them."""

    access = {"post": Access("member_transfer.decide", INCOMING_TARGET)}

    async def post(self, transfer_id: int) -> None:
        """Ask once, then accept as the API does."""
        actor = await self.actor()
        if self.form_values().get("confirmed") != "1":
            self.ask_once("确定同意转出吗？该会员（连同服务卡和有效的困难职工档案）将转到申请单位，本单位不再管理。",
                          "确认同意转出", back=WAITING_URL)
            return
        try:
            async with self.writing() as conn:
                await card_flows.accept_transfer(conn, self.cipher, actor, int(transfer_id))
        except AppError as exc:
            await show_transfers(self, ConsoleTransfersQuery(status="pending"), refusal=self.refused(exc),
                                 form_for=int(transfer_id))
            return
        self.redirect(WAITING_URL + "&done=accept")


class RefuseForm(ConsoleHandler):
    """Refuse a request with the reason the asking unit will read; the member stays."""

    access = {"post": Access("member_transfer.decide", INCOMING_TARGET)}

    async def post(self, transfer_id: int) -> None:
        """Refuse as the API does; a refusal shows the list again with the reason typed."""
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(RefuseBody, values)
            async with self.writing() as conn:
                await transfers.refuse(conn, self.cipher, actor, int(transfer_id), reason=body.reason)
        except AppError as exc:
            refusal = self.refused(exc)
            if not values.get("reason"):
                refusal.message = "请填写拒绝的原因（对方可见）"
            refusal.fields["reason"] = refusal.message
            await show_transfers(self, ConsoleTransfersQuery(status="pending"), refusal=refusal,
                                 form_for=int(transfer_id), form=values)
            return
        self.redirect(WAITING_URL + "&done=refuse")


class CancelForm(ConsoleHandler):
    """Withdraw a pending request my subtree made (asked once)."""

    access = {"post": Access("member_transfer.request", Target("transfer_outgoing", "transfer_id"))}

    async def post(self, transfer_id: int) -> None:
        """Ask once, then withdraw as the API does."""
        actor = await self.actor()
        back = TRANSFERS_URL + "?direction=outgoing&status=pending"
        if self.form_values().get("confirmed") != "1":
            self.ask_once("确定撤回这项转入申请吗？", "确认撤回", back=back)
            return
        async with self.writing() as conn:
            await transfers.cancel(conn, self.cipher, actor, int(transfer_id))
        self.redirect(back + "&done=cancel")


_TRANSFER = TRANSFERS_URL + r"/(?P<transfer_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (IMPORT_URL, ImportPage),
    (TRANSFERS_URL, TransfersPage),
    (_TRANSFER + r"/accept", AcceptForm),
    (_TRANSFER + r"/refuse", RefuseForm),
    (_TRANSFER + r"/cancel", CancelForm),
]
