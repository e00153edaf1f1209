"""Monthly settlement statements per partner merchant (月度结算对账单).

A statement of merchant M for month X holds every non-void redemption whose
``month`` is X (positive rows) and every refund made in X of M's redemptions,
whatever month the redemption was in (negative rows). Its totals are the sums
of its rows, to the fen. A redemption's row says it was fully refunded only when
refunds of month X or before give its whole bill back: a later refund is a
refund row of the later month and changes nothing here.

Staff build the draft once the month is over (it may be rebuilt), a second
person confirms it (the lines are then frozen in ``statement_lines``: every view
and export of a confirmed statement reads them, never the redemptions again),
and a third, or the builder, records the money moving: ``union_owed`` > 0 the
union pays the merchant (→ paid), < 0 the merchant owes the union (→ received),
0 nothing moves and the statement is settled at confirmation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from models.cards.tables import cards
from models.core import audit, policy, spreadsheets
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, local_today, utcnow
from models.core.errors import Conflict, Invalid, NotFound
from models.core.spreadsheets import Money
from models.counter.tables import redemptions, refunds, statement_lines, statements
from models.identity.tables import staff
from models.network.tables import orgs
from models.network.tree import in_subtree
from models.partners import partnership as merchants_model
from models.partners.tables import merchants, stores

STATUS_LABELS = {"draft": "草稿", "confirmed": "已确认", "paid": "已付款", "received": "已收款",
                 "settled": "已结清"}
#: Which way ``union_owed`` goes: the union pays the merchant, the merchant pays the union, or neither.
DIRECTION_LABELS = {"union_pays": "工会付给商家", "merchant_pays": "商家付给工会", "none": "无需收付款"}
#: What recording the money is called, by direction (付款 the union pays, 收款 the union receives).
_MOVE = {"union_pays": "付款", "merchant_pays": "收款", "none": "收付款"}
#: The state the money's record moves a confirmed statement to, by direction.
_SETTLED_AS = {"union_pays": "paid", "merchant_pays": "received"}
#: Statuses whose lines are frozen: read from ``statement_lines`` only.
FROZEN = frozenset({"confirmed", "paid", "received", "settled"})
ROW_STATUS_LABELS = {"done": "已核销", "refunded": "已全额退款", "refund": "退款"}
KIND_LABELS = {"redemption": "核销", "refund": "退款"}
HEADER = ["时间", "核销单号", "类型", "门店", "卡号尾号", "消费金额(元)", "优惠金额(元)", "工会承担(元)",
          "商家让利(元)", "状态"]
FOUR_EYES = ("four_eyes", "对账单的生成、确认和收付款须由不同人员办理")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def direction_of(union_owed: int) -> str:
    """``union_pays`` (positive), ``merchant_pays`` (negative) or ``none`` (zero)."""
    return "union_pays" if union_owed > 0 else "merchant_pays" if union_owed < 0 else "none"


@dataclass(frozen=True)
class StatementRow:
    """One line of a statement: a redemption (positive) or a refund (negative figures)."""

    kind: str  # redemption | refund
    redemption_id: int
    refund_id: int | None
    created_at: datetime  # UTC
    store: str
    card_tail: str
    amount: int
    discount: int
    union_share: int
    merchant_share: int
    status: str  # a redemption: done, or refunded (in full by the statement's month); a refund: "refund"

    def view(self) -> dict[str, Any]:
        """The row as the API shows it, with its kind and status labels."""
        return {"kind": self.kind, "kind_label": KIND_LABELS[self.kind], "redemption_id": self.redemption_id,
                "refund_id": self.refund_id, "created_at": self.created_at, "store": self.store,
                "card_tail": self.card_tail, "amount": self.amount, "discount": self.discount,
                "union_share": self.union_share, "merchant_share": self.merchant_share, "status": self.status,
                "status_label": ROW_STATUS_LABELS.get(self.status, self.status)}


def _order(row: StatementRow) -> tuple[datetime, bool, int, int]:
    return (row.created_at, row.kind != "redemption", row.redemption_id, row.refund_id or 0)


@dataclass(frozen=True)
class Totals:
    """A statement's figures: redemptions, bills, discounts, the union's and merchant's shares."""

    redemptions: int
    bills: int
    discounts: int
    union_owed: int
    merchant_conceded: int


@dataclass(frozen=True)
class Statement:
    """A merchant's statement for one month; ``union_owed`` is what the union pays (negative: is owed)."""

    id: int
    merchant_id: int
    merchant_name: str  # as frozen at confirmation (a draft: the merchant's name now)
    month: str
    redemptions: int
    bills: int
    discounts: int
    union_owed: int
    merchant_conceded: int
    status: str  # draft | confirmed | paid | received | settled
    created_at: datetime
    confirmed_at: datetime | None
    paid_at: datetime | None  # when the money moved, either way
    payment_ref: str | None
    built_by: int | None = None
    confirmed_by: int | None = None
    confirmed_by_name: str | None = None
    paid_by: int | None = None

    @property
    def totals(self) -> Totals:
        """The statement's figures, to compare with a recomputation."""
        return Totals(self.redemptions, self.bills, self.discounts, self.union_owed, self.merchant_conceded)

    @property
    def direction(self) -> str:
        """Which way the money goes: ``union_pays``, ``merchant_pays`` or ``none``."""
        return direction_of(self.union_owed)

    def view(self) -> dict[str, Any]:
        """The statement as the API shows it, with its status and direction labels."""
        received = self.status == "received"
        return {"id": self.id, "merchant_id": self.merchant_id, "merchant_name": self.merchant_name,
                "month": self.month, "redemptions": self.redemptions, "bills": self.bills,
                "discounts": self.discounts, "union_owed": self.union_owed,
                "merchant_conceded": self.merchant_conceded, "status": self.status,
                "status_label": STATUS_LABELS[self.status], "direction": self.direction,
                "direction_label": DIRECTION_LABELS[self.direction], "amount_due": abs(self.union_owed),
                "created_at": self.created_at, "built_by": self.built_by, "confirmed_at": self.confirmed_at,
                "confirmed_by": self.confirmed_by, "confirmed_by_name": self.confirmed_by_name,
                "paid_at": None if received else self.paid_at, "paid_by": None if received else self.paid_by,
                "received_at": self.paid_at if received else None, "received_by": self.paid_by if received else None,
                "payment_ref": self.payment_ref}


def _statement(row: Any) -> Statement:
    return Statement(row.id, row.merchant_id, row.merchant_name, row.month, row.redemptions, row.bills,
                     row.discounts, row.union_owed, row.merchant_conceded, row.status, row.created_at,
                     row.confirmed_at, row.paid_at, row.payment_ref, row.built_by, row.confirmed_by,
                     row.confirmed_by_name, row.paid_by)


def totals_of(rows: Iterable[StatementRow]) -> Totals:
    """The statement's figures from its rows: the only way they are computed."""
    count = bills = discounts = union = merchant = 0
    for r in rows:
        count += r.kind == "redemption"
        bills += r.amount
        discounts += r.discount
        union += r.union_share
        merchant += r.merchant_share
    return Totals(count, bills, discounts, union, merchant)


def check_month(month: Any) -> str:
    """``month`` as ``YYYY-MM``, or Invalid."""
    if not isinstance(month, str) or not _MONTH.match(month):
        raise Invalid("invalid_month", "月份格式应为 YYYY-MM，例如 2026-03")
    return month


def _check_closed(month: str, today: date) -> None:
    if check_month(month) >= today.strftime("%Y-%m"):
        raise Invalid("month_not_closed", "该月份尚未结束，月底之后才能生成对账单")


async def statement_rows(conn: AsyncConnection, merchant_id: int, month: str) -> list[StatementRow]:
    """The rows of merchant ``merchant_id``'s statement for ``month`` computed from the redemptions and
    refunds (a draft's), in time order."""
    base = (sa.select(redemptions.c.id, stores.c.name.label("store"), cards.c.card_no)
            .outerjoin(stores, stores.c.id == redemptions.c.store_id)
            .outerjoin(cards, cards.c.id == redemptions.c.card_id)
            .where(redemptions.c.merchant_id == merchant_id))
    sold = (await conn.execute(base.add_columns(
        redemptions.c.created_at, redemptions.c.amount, redemptions.c.discount, redemptions.c.union_share,
        redemptions.c.merchant_share).where(redemptions.c.month == month, redemptions.c.status != "void"))).all()
    back = (await conn.execute(base.add_columns(
        refunds.c.id.label("refund_id"), refunds.c.created_at, refunds.c.amount, refunds.c.discount,
        refunds.c.union_share, refunds.c.merchant_share).join(refunds, refunds.c.redemption_id == redemptions.c.id)
        .where(refunds.c.month == month))).all()
    # What refunds of this month or before gave back of each of the month's redemptions: not what came later.
    given_back = {r.redemption_id: int(r.amount) for r in (await conn.execute(
        sa.select(refunds.c.redemption_id, sa.func.sum(refunds.c.amount).label("amount"))
        .join(redemptions, redemptions.c.id == refunds.c.redemption_id)
        .where(redemptions.c.merchant_id == merchant_id, redemptions.c.month == month, refunds.c.month <= month)
        .group_by(refunds.c.redemption_id))).all()}
    rows = [StatementRow("redemption", r.id, None, r.created_at, r.store or "", (r.card_no or "")[-4:],
                         r.amount, r.discount, r.union_share, r.merchant_share,
                         "refunded" if given_back.get(r.id, -1) == r.amount else "done") for r in sold]
    rows += [StatementRow("refund", r.id, r.refund_id, r.created_at, r.store or "", (r.card_no or "")[-4:],
                          -r.amount, -r.discount, -r.union_share, -r.merchant_share, "refund") for r in back]
    rows.sort(key=_order)
    return rows


async def frozen_rows(conn: AsyncConnection, statement_id: int) -> list[StatementRow]:
    """The lines a statement was confirmed with, in time order."""
    found = (await conn.execute(sa.select(statement_lines).where(statement_lines.c.statement_id == statement_id)
                                )).all()
    rows = [StatementRow(r.kind, r.redemption_id, r.refund_id, r.created_at, r.store, r.card_tail, r.amount,
                         r.discount, r.union_share, r.merchant_share, r.status) for r in found]
    rows.sort(key=_order)
    return rows


async def rows_of(conn: AsyncConnection, statement: Statement) -> list[StatementRow]:
    """A statement's rows: as frozen at confirmation, or a draft's computed now."""
    if statement.status in FROZEN:
        return await frozen_rows(conn, statement.id)
    return await statement_rows(conn, statement.merchant_id, statement.month)


def _select() -> Any:
    own = [c for c in statements.c if c.name != "merchant_name"]
    return (sa.select(*own, sa.func.coalesce(statements.c.merchant_name, merchants.c.name).label("merchant_name"),
                      orgs.c.path.label("org_path"))
            .join(merchants, merchants.c.id == statements.c.merchant_id)
            .join(orgs, orgs.c.id == merchants.c.org_id))


async def _get(conn: AsyncConnection, statement_id: int, *, within: str | None = None,
               merchant_id: int | None = None, lock: bool = False) -> Any:
    query = _select().where(statements.c.id == statement_id)
    if within is not None:
        query = query.where(in_subtree(orgs.c.path, within))
    if merchant_id is not None:
        query = query.where(statements.c.merchant_id == merchant_id, statements.c.status != "draft")
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("statement_not_found", "找不到该对账单")
    if lock:
        # Lock the statement row alone (a locking join would lock the merchant and org rows too).
        await conn.execute(sa.select(statements.c.id).where(statements.c.id == statement_id).with_for_update())
        row = (await conn.execute(_select().where(statements.c.id == statement_id))).one()
    return row


async def _lock_month(conn: AsyncConnection, merchant_id: int, month: str) -> Any:
    return (await conn.execute(sa.select(statements).where(
        statements.c.merchant_id == merchant_id, statements.c.month == month).with_for_update())).first()


def _figures(t: Totals) -> dict[str, int]:
    return {"redemptions": t.redemptions, "bills": t.bills, "discounts": t.discounts, "union_owed": t.union_owed,
            "merchant_conceded": t.merchant_conceded}


async def build(conn: AsyncConnection, actor: Actor, merchant_id: int, month: str, *,
                today: date | None = None) -> Statement:
    """Create the draft statement of a finished month from its rows, or recompute a draft (the actor is then
    its builder, who may not confirm it)."""
    policy.require(actor, "settlement.manage")
    merchant = await merchants_model.get(conn, merchant_id, within=policy.scope(actor))
    _check_closed(month, today or local_today())
    row = await _lock_month(conn, merchant_id, month)
    if row is None:
        try:
            async with conn.begin_nested():
                await conn.execute(statements.insert().values(
                    merchant_id=merchant_id, month=month, redemptions=0, bills=0, discounts=0, union_owed=0,
                    merchant_conceded=0, status="draft", created_at=utcnow(), built_by=actor.id))
        except IntegrityError:
            pass  # built at the same moment by someone else: recompute theirs
        row = await _lock_month(conn, merchant_id, month)
        rebuilt = False
    else:
        rebuilt = True
    if row.status != "draft":
        raise Conflict("statement_locked", "该月对账单已确认，不能重新生成；之后的退款计入以后月份的对账单")
    totals = totals_of(await statement_rows(conn, merchant_id, month))
    await conn.execute(statements.update().where(statements.c.id == row.id)
                       .values(built_by=actor.id, **_figures(totals)))
    path = (await conn.execute(sa.select(orgs.c.path).where(orgs.c.id == merchant.org_id))).scalar_one()
    await audit.record(conn, actor, "settlement.build", target_kind="statement", target_id=row.id, org_path=path,
                       summary={"merchant_id": merchant_id, "month": month, "rebuilt": rebuilt, **_figures(totals)})
    return _statement(await _get(conn, row.id))


async def confirm(conn: AsyncConnection, actor: Actor, statement_id: int) -> Statement:
    """Draft → confirmed (settled when nothing is owed either way), by someone other than its last builder;
    refused when the rows no longer add up to the draft's figures. The lines are frozen as they are now."""
    policy.require(actor, "settlement.confirm")
    row = await _get(conn, statement_id, within=policy.scope(actor), lock=True)
    if row.status != "draft":
        raise Conflict("statement_not_draft", "只有草稿状态的对账单可以确认")
    if row.built_by is None or row.built_by == actor.id:
        raise Conflict(*FOUR_EYES)  # no builder on record (built before it was kept): rebuild, then confirm
    rows = await statement_rows(conn, row.merchant_id, row.month)
    current = totals_of(rows)
    if current != _statement(row).totals:
        raise Conflict("statement_changed", "对账单生成后核销或退款记录有变动，请重新生成后再确认")
    status = "confirmed" if current.union_owed else "settled"
    name = (await conn.execute(sa.select(staff.c.username).where(staff.c.id == actor.id))).scalar()
    await conn.execute(statements.update().where(statements.c.id == statement_id, statements.c.status == "draft")
                       .values(status=status, confirmed_at=utcnow(), confirmed_by=actor.id,
                               confirmed_by_name=name, merchant_name=row.merchant_name))
    if rows:
        await conn.execute(statement_lines.insert(), [
            {"statement_id": statement_id, "kind": r.kind, "redemption_id": r.redemption_id,
             "refund_id": r.refund_id, "created_at": r.created_at, "store": r.store[:100], "card_tail": r.card_tail,
             "amount": r.amount, "discount": r.discount, "union_share": r.union_share,
             "merchant_share": r.merchant_share, "status": r.status} for r in rows])
    await audit.record(conn, actor, "settlement.confirm", target_kind="statement", target_id=statement_id,
                       org_path=row.org_path, summary={"merchant_id": row.merchant_id, "month": row.month,
                                                       "status": status, "direction": direction_of(current.union_owed),
                                                       "lines": len(rows), **_figures(current)})
    return _statement(await _get(conn, statement_id))


async def mark_paid(conn: AsyncConnection, actor: Actor, statement_id: int, *, payment_ref: str) -> Statement:
    """Confirmed → paid: the union paid the merchant ``union_owed`` (bank transfer number, voucher)."""
    return await _settle(conn, actor, statement_id, payment_ref, "union_pays")


async def mark_received(conn: AsyncConnection, actor: Actor, statement_id: int, *, payment_ref: str) -> Statement:
    """Confirmed → received: the merchant paid the union what it owed (``-union_owed``), with the reference."""
    return await _settle(conn, actor, statement_id, payment_ref, "merchant_pays")


_WRONG_WAY = {
    "union_pays": ("wrong_direction", "该对账单是商家应付工会的款项，工会无需付款，请登记收款"),
    "merchant_pays": ("wrong_direction", "该对账单是工会应付商家的款项，请登记付款而非收款"),
}


async def _settle(conn: AsyncConnection, actor: Actor, statement_id: int, payment_ref: str,
                  direction: str) -> Statement:
    """Record the money of a confirmed statement moving in ``direction``, by someone other than its confirmer."""
    policy.require(actor, "settlement.pay")
    move = _MOVE[direction]
    ref = payment_ref.strip() if isinstance(payment_ref, str) else ""
    if not 1 <= len(ref) <= 100:
        raise Invalid("payment_ref_required", f"请填写{move}凭证号（100 字以内）")
    row = await _get(conn, statement_id, within=policy.scope(actor), lock=True)
    if row.status == "draft":
        raise Conflict("statement_not_confirmed", f"只有已确认的对账单可以登记{move}")
    if row.status == "settled":
        raise Conflict("statement_settled", "该对账单收付金额为零，确认时即已结清，无需登记收付款")
    if row.status != "confirmed":
        raise Conflict("statement_closed", "该对账单的收付款已经登记，不能再次登记")
    if direction_of(row.union_owed) != direction:
        raise Conflict(*_WRONG_WAY[direction])
    if row.confirmed_by == actor.id:
        raise Conflict(*FOUR_EYES)
    status = _SETTLED_AS[direction]
    await conn.execute(statements.update().where(statements.c.id == statement_id, statements.c.status == "confirmed")
                       .values(status=status, paid_at=utcnow(), paid_by=actor.id, payment_ref=ref))
    await audit.record(conn, actor, f"settlement.{status}", target_kind="statement", target_id=statement_id,
                       org_path=row.org_path, summary={"merchant_id": row.merchant_id, "month": row.month,
                                                       "union_owed": row.union_owed, "payment_ref": ref})
    return _statement(await _get(conn, statement_id))


async def get_for_staff(conn: AsyncConnection, actor: Actor, statement_id: int) -> Statement:
    """A statement of a merchant in the actor's subtree."""
    policy.require(actor, "settlement.view")
    return _statement(await _get(conn, statement_id, within=policy.scope(actor)))


def check_status(status: Any) -> str:
    """``status`` as one of the statement statuses, or Invalid."""
    if status not in STATUS_LABELS:
        raise Invalid("invalid_status", "对账单状态应为草稿、已确认、已付款、已收款或已结清之一",
                      details=[{"field": "status", "reason": "状态不对"}])
    return str(status)


async def list_for_staff(conn: AsyncConnection, actor: Actor, *, month: str | None = None,
                         merchant_id: int | None = None, status: str | None = None,
                         after: tuple[str, int] | None = None, limit: int | None = None) -> list[Statement]:
    """Statements of the merchants in the actor's subtree (of one month, one merchant, one status), newest
    month first, then by merchant; those after the position ``after`` (month, merchant id), ``limit`` of
    them when given."""
    policy.require(actor, "settlement.view")
    query = _select().where(in_subtree(orgs.c.path, policy.scope(actor)))
    if month is not None:
        query = query.where(statements.c.month == check_month(month))
    if merchant_id is not None:
        query = query.where(statements.c.merchant_id == merchant_id)
    if status is not None:
        query = query.where(statements.c.status == check_status(status))
    if after is not None:
        query = query.where(sa.or_(statements.c.month < after[0], sa.and_(statements.c.month == after[0],
                                                                         statements.c.merchant_id > after[1])))
    rows = (await conn.execute(query.order_by(statements.c.month.desc(), statements.c.merchant_id)
                               .limit(limit))).all()
    return [_statement(r) for r in rows]


async def count_for_staff(conn: AsyncConnection, actor: Actor, *, status: str) -> int:
    """How many statements of the merchants in the actor's subtree are in ``status`` (the home page's work:
    drafts to confirm, confirmed ones whose money is still to record), counted exactly."""
    policy.require(actor, "settlement.view")
    query = (sa.select(sa.func.count()).select_from(statements)
             .join(merchants, merchants.c.id == statements.c.merchant_id)
             .join(orgs, orgs.c.id == merchants.c.org_id)
             .where(in_subtree(orgs.c.path, policy.scope(actor)), statements.c.status == check_status(status)))
    return int((await conn.execute(query)).scalar_one())


async def get_for_merchant(conn: AsyncConnection, merchant_id: int, statement_id: int) -> Statement:
    """One of the merchant's own statements, once confirmed (a draft may still change)."""
    return _statement(await _get(conn, statement_id, merchant_id=merchant_id))


async def list_for_merchant(conn: AsyncConnection, merchant_id: int, *, before: str | None = None,
                            limit: int | None = None) -> list[Statement]:
    """The merchant's own confirmed and paid statements, newest month first (those before month ``before``)."""
    query = _select().where(statements.c.merchant_id == merchant_id, statements.c.status != "draft")
    if before is not None:
        query = query.where(statements.c.month < before)
    rows = (await conn.execute(query.order_by(statements.c.month.desc()).limit(limit))).all()
    return [_statement(r) for r in rows]


# --- export ---

def _local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None)


def _checked_totals(statement: Statement, rows: Sequence[StatementRow]) -> Totals:
    """The rows' totals, which must be the statement's: an export never contradicts its statement."""
    totals = totals_of(rows)
    if totals != statement.totals:
        raise Conflict("statement_changed", "对账单明细与合计不一致，请重新生成对账单")
    return totals


def _preamble(statement: Statement, rows: Sequence[StatementRow], totals: Totals) -> list[tuple[str, spreadsheets.Cell]]:
    """The header block: what the document is, who confirmed it, and where the money stands."""
    direction, move = statement.direction, _MOVE[statement.direction]
    moved = statement.status in ("paid", "received")
    due = {"union_pays": "工会应付商家(元)", "merchant_pays": "商家应付工会(元)", "none": "应收付金额(元)"}[direction]
    return [
        ("商家", statement.merchant_name),
        ("门店", "、".join(sorted({r.store for r in rows if r.store})) or None),
        ("结算月份", statement.month),
        ("对账单编号", str(statement.id)),
        ("状态", STATUS_LABELS[statement.status]),
        ("收付方向", DIRECTION_LABELS[direction]),
        ("核销笔数", str(totals.redemptions)),
        ("消费金额合计(元)", Money(totals.bills)),
        ("优惠金额合计(元)", Money(totals.discounts)),
        ("工会承担合计(元)", Money(totals.union_owed)),
        ("商家让利合计(元)", Money(totals.merchant_conceded)),
        (due, Money(abs(totals.union_owed))),
        (f"{move}凭证号", statement.payment_ref if moved else None),
        (f"{move}日期", statement.paid_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d")
         if moved and statement.paid_at else None),
        ("确认人", statement.confirmed_by_name or (f"工作人员 #{statement.confirmed_by}"
                                                  if statement.confirmed_by is not None else None)),
        ("确认时间", _local(statement.confirmed_at).replace(microsecond=0) if statement.confirmed_at else None),
    ]


def _table(statement: Statement, rows: Sequence[StatementRow]) -> spreadsheets.Table:
    """The statement as one sheet: a title, the header block, the table's header, a line per row, a totals line.

    Nothing in it comes from the moment of export: a confirmed statement exports to the same bytes for ever
    (until its money is recorded, which the header block then shows)."""
    totals = _checked_totals(statement, rows)
    body: list[list[spreadsheets.Cell]] = [
        [_local(r.created_at), str(r.redemption_id), KIND_LABELS[r.kind], r.store, r.card_tail,
         *(Money(v) for v in (r.amount, r.discount, r.union_share, r.merchant_share)),
         ROW_STATUS_LABELS.get(r.status, r.status)] for r in rows]
    footer: list[spreadsheets.Cell] = [
        "合计", None, f"核销 {totals.redemptions} 笔", None, None,
        *(Money(v) for v in (totals.bills, totals.discounts, totals.union_owed, totals.merchant_conceded)),
        STATUS_LABELS[statement.status]]
    return spreadsheets.Table(
        sheet=statement.month, header=HEADER, rows=body, footer=footer,
        title=f"{statement.merchant_name} {statement.month} 结算对账单（{STATUS_LABELS[statement.status]}）",
        widths=(20, 24, 8, 24, 10, 14, 14, 14, 14, 12),
        preamble=_preamble(statement, rows, totals),
        stamp=statement.confirmed_at or statement.created_at,
    )


def export_csv(statement: Statement, rows: Sequence[StatementRow]) -> bytes:
    """The statement as CSV: UTF-8 with BOM so Excel reads it, the header block, a Chinese header, the rows,
    a totals row."""
    return spreadsheets.write_csv(_table(statement, rows))


def export_xlsx(statement: Statement, rows: Sequence[StatementRow]) -> bytes:
    """The statement as an Excel workbook: a title line, the header block, the header, the rows, a totals row."""
    return spreadsheets.write_xlsx(_table(statement, rows))


def export_name(statement: Statement, fmt: str) -> str:
    """The file's human name, 对账单-<merchant>-<month>.<fmt> (the caller makes it safe for a header)."""
    return f"对账单-{statement.merchant_name}-{statement.month}.{fmt}"
