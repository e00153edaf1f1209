"""The payment of an approved relief application: finance records it (the reservation becomes spending, the
application is paid), reverses it (a bounced transfer: the spending goes back to a reservation and the
application waits at ``payment`` again), exports the applications waiting for a bank transfer as a
payment file, and records such a batch as paid, all or nothing.

The amount paid is exactly the approved amount: a partial payment would leave a reservation that nobody
releases. The paying member of staff must not have decided another step of the application (four eyes).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, outbox, policy
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, utcnow
from models.core.errors import AppError, Conflict, Invalid, Unprocessable
from models.core.ports import PiiCipher
from models.core.spreadsheets import Money, Table
from models.core.typed import Body, Date, Id, PositiveFen, text
from models.funds import ledger, sources
from models.members.tables import members
from models.network import tree
from models.network.tables import orgs
from models.relief import calendar, records, tallies
from models.relief.payment_tables import relief_payments
from models.relief.records import Application
from models.relief.reviewing import check_four_eyes, load_in_scope
from models.relief.tables import relief_applications

METHODS = {"bank_transfer": "银行转账", "cash": "现金（领款人签收）", "in_kind": "实物"}
BANK_ACCOUNT_PURPOSE = "bank_account"  # the members' own column (models/members/membership.py)
MAX_BATCH = 200
MAX_EXPORT = 5000
_DIGITS = re.compile(r"^[0-9]{12,30}$")


class Payment(Body):
    """A payment of the approved amount: how, the account's last 4 digits (bank transfer), voucher, day."""

    amount: PositiveFen
    method: Literal["bank_transfer", "cash", "in_kind"]
    account_last4: Annotated[str, Field(pattern="^[0-9]{4}$")] | None = None
    voucher_no: Annotated[str, text(50, min_len=1)]
    paid_on: Date


class Reversal(Body):
    """Why a payment is reversed (a bounced transfer)."""

    reason: Annotated[str, text(500, min_len=2)]


class Batch(Body):
    """Applications paid together by one bank transfer file."""

    application_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_BATCH)]
    method: Literal["bank_transfer"]
    voucher_no: Annotated[str, text(50, min_len=1)]
    paid_on: Date


def _check_day(paid_on: date) -> None:
    if paid_on > utcnow().astimezone(LOCAL_TZ).date():
        raise Invalid("paid_on_future", "发放日期不能晚于今天")


async def account(conn: AsyncConnection, cipher: PiiCipher, app: Application) -> str | None:
    """The bank account the money goes to: the application form's, else the member's own on the roster."""
    given = str(app.form.get("bank_account") or "").strip()
    if given:
        return given
    enc = (await conn.execute(sa.select(members.c.bank_account_enc).where(members.c.id == app.member_id))).scalar()
    return cipher.decrypt(enc, purpose=BANK_ACCOUNT_PURPOSE) if enc else None


async def _load_at_payment(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int) -> Application:
    policy.require(actor, "relief.pay")
    app = await load_in_scope(conn, cipher, actor, application_id, lock=True)
    if app.status != "submitted" or app.step != "payment":
        raise Conflict("step_mismatch", "该申请不在待发放环节，请刷新后查看")
    await check_four_eyes(conn, actor, app, "payment")
    return app


async def _pay(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, app: Application, *, amount: int, method: str,
               last4: str | None, voucher_no: str, paid_on: date, batch: str | None = None) -> Application:
    held = await ledger.held(conn, app.id)
    if held is None or app.approved_amount is None:
        raise Conflict("reservation_missing", "该申请没有预留资金，无法发放")
    fund_id, reserved = held
    if amount != app.approved_amount or amount != reserved:
        raise Unprocessable("amount_mismatch", f"发放金额须等于审批金额（{app.approved_amount} 分）")
    note = f"凭证 {voucher_no}"
    await sources.spend(conn, fund_id, amount, application_id=app.id, kind=app.kind, org_path=app.org_path,
                        staff_id=actor.id, note=note)
    now = utcnow()
    done = await conn.execute(relief_payments.insert().values(
        application_id=app.id, fund_id=fund_id, amount=amount, method=method, account_last4=last4,
        voucher_no=voucher_no, paid_on=paid_on, batch=batch, status="paid", paid_by=actor.id, created_at=now))
    assert done.inserted_primary_key is not None
    payment_id = int(done.inserted_primary_key[0])
    new = await records.save(conn, cipher, app, status="paid", step="archived", step_since=now, due_at=None)
    await records.event(conn, app, "paid", step="payment", org_id=actor.org_id, staff_id=actor.id, amount=amount,
                        detail={"method": method, "voucher_no": voucher_no, "paid_on": paid_on.isoformat(),
                                **({"batch": batch} if batch else {})})
    name = app.definition.name
    await outbox.enqueue(conn, app.user_id, "payment.paid", title=f"{name}救助金已发放",
                         body=f"您的{name}救助金 {amount / 100:.2f} 元已发放（{METHODS[method]}），请注意查收。",
                         values={"kind": name, "amount": amount})
    await audit.record(conn, actor, "relief.pay", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"payment_id": payment_id, "fund_id": fund_id, "amount": amount,
                                                       "method": method, "voucher_no": voucher_no,
                                                       "paid_on": paid_on.isoformat(), "batch": batch})
    return new


async def pay(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int, body: Payment) -> Application:
    """Record the payment of an application waiting at ``payment``; the paid application."""
    app = await _load_at_payment(conn, cipher, actor, application_id)
    _check_day(body.paid_on)
    if body.method == "bank_transfer":
        if body.account_last4 is None:
            raise Invalid("account_last4_required", "银行转账须填写收款账号后 4 位")
        known = await account(conn, cipher, app)
        if known and not known.endswith(body.account_last4):
            raise Unprocessable("account_mismatch", "收款账号后 4 位与申请登记的银行账号不符")
    return await _pay(conn, cipher, actor, app, amount=body.amount, method=body.method,
                      last4=body.account_last4 if body.method == "bank_transfer" else None,
                      voucher_no=body.voucher_no, paid_on=body.paid_on)


async def reverse(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                  body: Reversal) -> Application:
    """Reverse the payment of a paid application: spending back to a reservation, the application back at
    ``payment``; the application."""
    policy.require(actor, "relief.pay")
    app = await load_in_scope(conn, cipher, actor, application_id, lock=True)
    row = (await conn.execute(sa.select(relief_payments).where(relief_payments.c.application_id == app.id,
                                                               relief_payments.c.status == "paid"))).first()
    if app.status != "paid" or row is None:
        raise Conflict("not_paid", "该申请没有可冲正的发放记录")
    now = utcnow()
    done = await conn.execute(relief_payments.update().where(relief_payments.c.id == row.id,
                                                             relief_payments.c.status == "paid")
                              .values(status="reversed", reverse_reason=body.reason, reversed_by=actor.id,
                                      reversed_at=now))
    if done.rowcount != 1:
        raise Conflict("not_paid", "该申请没有可冲正的发放记录")
    await sources.unspend(conn, row.fund_id, int(row.amount), application_id=app.id, kind=app.kind,
                          org_path=app.org_path, staff_id=actor.id, note=body.reason[:200])
    new = await records.save(conn, cipher, app, status="submitted", step="payment", step_since=now,
                             due_at=await calendar.step_due(conn, app, "payment", now))
    await records.event(conn, app, "payment_reversed", step="payment", org_id=actor.org_id, staff_id=actor.id,
                        comment=body.reason, amount=int(row.amount), detail={"payment_id": row.id})
    name = app.definition.name
    await outbox.enqueue(conn, app.user_id, "payment.reversed", title=f"{name}救助金发放未成功",
                         body=f"您的{name}救助金发放未成功：{body.reason}。工会将重新发放。",
                         values={"kind": name, "amount": int(row.amount)})
    await audit.record(conn, actor, "relief.pay_reverse", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"payment_id": row.id, "fund_id": row.fund_id,
                                                       "amount": int(row.amount), "reason": body.reason})
    return new


async def pay_batch(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, body: Batch) -> list[Application]:
    """Record a bank transfer batch as paid: each like a single payment, all or none (the caller's transaction
    rolls back on the first refusal, which names the application)."""
    policy.require(actor, "relief.pay")
    _check_day(body.paid_on)
    if len(set(body.application_ids)) != len(body.application_ids):
        raise Invalid("batch_duplicate", "批量发放的申请不能重复")
    batch = uuid.uuid4().hex
    paid = []
    # One lock order: two batches cannot deadlock (the applications by id; the statistics' counts at the end).
    async with tallies.batched(conn):
        for application_id in sorted(body.application_ids):
            try:
                app = await _load_at_payment(conn, cipher, actor, application_id)
                acct = await account(conn, cipher, app)
                if not acct:
                    raise Unprocessable("account_missing", "该申请没有登记银行账号，不能批量转账")
                paid.append(await _pay(conn, cipher, actor, app, amount=app.approved_amount or 0, method=body.method,
                                       last4=acct[-4:], voucher_no=body.voucher_no, paid_on=body.paid_on,
                                       batch=batch))
            except AppError as refused:
                refused.message = f"申请 {application_id}：{refused.message}"
                raise
    return paid


# --- the bank payment file -------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One line of the bank payment file."""

    application_id: int
    name: str
    account: str | None
    amount: int
    unit: str
    kind: str

    @property
    def reference(self) -> str:
        """What the bank statement carries back: the application's reference."""
        return f"RA{self.application_id:08d}"


async def waiting(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, org: str | None) -> list[Line]:
    """The applications waiting at ``payment`` in the actor's subtree (``org``: one unit's), with the full
    account. Audited: the file carries whole bank accounts."""
    policy.require(actor, "relief.export_payments")
    base = await tree.by_code(conn, org, within=policy.scope(actor)) if org else None
    path = base.path if base is not None else policy.scope(actor)
    query = (sa.select(relief_applications).where(relief_applications.c.status == "submitted",
                                                  relief_applications.c.step == "payment",
                                                  tree.in_subtree(relief_applications.c.org_path, path))
             .order_by(relief_applications.c.id).limit(MAX_EXPORT))
    apps = await records.rows(conn, cipher, query)
    names = dict((await conn.execute(sa.select(members.c.id, members.c.name).where(
        members.c.id.in_({a.member_id for a in apps})))).all()) if apps else {}
    units = dict((await conn.execute(sa.select(orgs.c.id, orgs.c.name).where(
        orgs.c.id.in_({a.org_id for a in apps})))).all()) if apps else {}
    lines = [Line(a.id, str(names.get(a.member_id, "")), await account(conn, cipher, a), a.approved_amount or 0,
                  str(units.get(a.org_id, "")), a.definition.name) for a in apps]
    await audit.record(conn, actor, "relief.export_payments", target_kind="org", target_id=base.id if base else None,
                       org_path=path, summary={"applications": [line.application_id for line in lines]})
    return lines


def payment_file(lines: list[Line]) -> Table:
    """The bank payment file as a table (CSV or XLSX): name, account, amount, reference, then what it is."""
    return Table(sheet="代发明细", header=["户名", "收款账号", "金额（元）", "业务参考号", "所属单位", "救助类别"],
                 rows=[[line.name, line.account or "", Money(line.amount), line.reference, line.unit, line.kind]
                       for line in lines],
                 footer=["合计", f"{len(lines)} 笔", Money(sum(line.amount for line in lines)), None, None, None],
                 title="救助金银行代发明细", widths=(12, 26, 14, 14, 20, 12))


def answer(app: Application) -> dict[str, Any]:
    """What the payment routes answer for one application."""
    return {"id": app.id, "status": app.status, "step": app.step}
