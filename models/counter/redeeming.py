"""Redemptions at the counter, and their voids and refunds: every fen accounted for.

A redemption prices the bill (models/benefit_rules.py), takes the quotas under
row locks with conditional updates, and records who pays what, in one
transaction. A void (same day) or refund gives back exactly what was taken.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Awaitable, Callable, Sequence

import sqlalchemy as sa
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.ext.asyncio import AsyncConnection

from models.cards.codes import status_error
from models.cards.tables import cards
from models.core import audit, policy
from models.core import outbox as notifications
from models.core.clock import LOCAL_TZ, local_today, utcnow
from models.core.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from models.core.money import yuan
from models.core.typed import Body, Date, PageQuery, PositiveFen, text
from models.counter.tables import redemption_usage, redemptions, refunds, scan_sessions
from models.db.direct import Direct
from models.members.tables import members
from models.network.tables import orgs
from models.partners import programmes as benefits
from models.partners.partnership import Cashier
from models.partners.rules import BillLine, Quote, allocate, calculate
from models.partners.tables import merchants, quota_usage, stores


@dataclass(frozen=True)
class Redemption:
    """A redemption: the bill, discount, union and merchant shares, what was refunded, and status."""

    id: int
    merchant_id: int
    store_id: int
    cashier_id: int
    member_id: int
    amount: int
    discount: int
    payable: int
    union_share: int
    merchant_share: int
    refunded_amount: int
    refunded_discount: int
    refunded_union: int
    refunded_merchant: int
    lines: list[dict[str, Any]]
    status: str
    month: str
    created_at: datetime
    void_reason: str | None

    def view(self) -> dict[str, Any]:
        """The redemption as the API shows it, with its refunded totals and bill lines."""
        return {
            "id": self.id, "merchant_id": self.merchant_id, "store_id": self.store_id, "cashier_id": self.cashier_id,
            "amount": self.amount,
            "discount": self.discount, "payable": self.payable, "union_share": self.union_share,
            "merchant_share": self.merchant_share, "status": self.status, "created_at": self.created_at,
            "refunded": {"amount": self.refunded_amount, "discount": self.refunded_discount,
                         "union_share": self.refunded_union, "merchant_share": self.refunded_merchant},
            "lines": self.lines, "void_reason": self.void_reason,
        }


def _redemption(row: Any) -> Redemption:
    return Redemption(row.id, row.merchant_id, row.store_id, row.cashier_id, row.member_id, row.amount, row.discount,
                      row.payable, row.union_share, row.merchant_share, row.refunded_amount, row.refunded_discount,
                      row.refunded_union, row.refunded_merchant, json.loads(row.lines), row.status, row.month,
                      row.created_at, row.void_reason)


def not_found() -> NotFound:
    """The one answer for a redemption that is missing or not the caller's to see (the policy's too)."""
    return NotFound("redemption_not_found", "找不到该核销记录")


async def get(conn: AsyncConnection, redemption_id: int, *, lock: bool = False) -> Redemption:
    """The redemption with this id, optionally locked for update (404 redemption_not_found)."""
    query = sa.select(redemptions).where(redemptions.c.id == redemption_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise not_found()
    return _redemption(row)



_ms = members.c
_card_of_scan = cards.c.id == scan_sessions.c.card_id
# The scan, its holder's row locked (whatever changes a member's quotas queues on it, see
# partners.programmes.lock_member) with their usage rows of this month and year, the card as it is
# now and the holder's unit path: one statement. The subqueries' rows (card, unit) are read, not locked.
_ss = scan_sessions.c
# Of the scan, what a redemption reads (each column costs the driver's parsing on every redemption).
_HOLD = (sa.select(_ss.id, _ss.card_id, _ss.card_version, _ss.member_id, _ss.cashier_id, _ss.expires_at, _ms.user_id, _ms.status.label("member_status"),
                   sa.select(orgs.c.path).where(orgs.c.id == _ms.org_id).scalar_subquery().label("member_path"),
                   sa.select(cards.c.status).where(_card_of_scan).scalar_subquery().label("card_status"),
                   sa.select(cards.c.version).where(_card_of_scan).scalar_subquery().label("card_version_now"),
                   quota_usage.c.program_id.label("usage_program_id"),
                   quota_usage.c.period_key.label("usage_period_key"), quota_usage.c.money_used,
                   quota_usage.c.count_used)
         .select_from(scan_sessions.join(members, _ms.id == scan_sessions.c.member_id)
                      .outerjoin(quota_usage, sa.and_(quota_usage.c.member_id == _ms.id,
                                                      quota_usage.c.period_key.in_([sa.bindparam("month"),
                                                                                    sa.bindparam("year")]))))
         .where(scan_sessions.c.id == sa.bindparam("scan_id"))
         .with_for_update())
# A redemption's statements, on MySQL straight to the driver (models/db/direct.py).
_HOLD_DIRECT = Direct(_HOLD)
_RECORD = Direct(redemptions.insert())
_RECORD_USAGE = Direct(redemption_usage.insert())


@dataclass(frozen=True)
class Held:
    """A scan about to be redeemed, with its holder's row locked: what the redemption needs to know."""

    scan: Any  # the scan_sessions row: id, card_id, card_version, member_id, cashier_id, expires_at
    user_id: int | None
    member_status: str
    member_path: str
    card_status: str
    card_version: int
    #: (programme id, period key) -> (money used, count used), this month's and year's rows.
    used: dict[tuple[int, str], tuple[int, int]]


async def hold(conn: AsyncConnection, cashier: Cashier, scan_id: str, *, today: date) -> Held:
    """The cashier's open scan, its holder locked for the redemption (``scan_not_found``, ``scan_expired``)."""
    rows = await _HOLD_DIRECT.all(conn, {"scan_id": scan_id, "month": benefits.period_key("month", today),
                                         "year": benefits.period_key("year", today)})
    if not rows or rows[0].cashier_id != cashier.id:
        raise AppError("scan_not_found", "扫码记录不存在，请重新扫码", status=404)
    first = rows[0]
    if first.expires_at <= utcnow():
        raise AppError("scan_expired", "扫码已超时，请重新扫码", status=422)
    used = {(r.usage_program_id, r.usage_period_key): (r.money_used, r.count_used)
            for r in rows if r.usage_program_id is not None}
    return Held(first, first.user_id, first.member_status, first.member_path, first.card_status,
                first.card_version_now, used)


class BillItem(Body):
    """One line of the bill the cashier enters: a category and its amount."""

    category: Annotated[str, text(32)]
    amount: PositiveFen


class Bill(Body):
    """A bill to redeem against an open scan."""

    scan_id: Annotated[str, text(32, min_len=16)]
    items: Annotated[list[BillItem], Field(min_length=1, max_length=50)]

    def lines(self) -> list[BillLine]:
        """The bill's lines as the benefit rules price them."""
        return [BillLine(item.category, item.amount) for item in self.items]


def refuse_unusable(member_status: str, card_status: str, card_version: int, scanned_version: int) -> None:
    """A redemption's (and a quote's) refusals for the card as it is now: membership ended, card not
    active, or changed since it was scanned."""
    if member_status != "active":
        raise status_error("cancelled")
    if card_status != "active":
        raise status_error(card_status)
    if card_version != scanned_version:
        raise AppError("qr_outdated", "服务卡在扫码后发生了变更，请重新扫码", status=422)


def priced(items: Sequence[BillLine], found: Sequence[Any], left: Any) -> Quote:
    """The bill priced by the programmes in force with what is left of their quotas; a bill that gets
    nothing is refused (422 ``no_benefit``, each line's reason in the details)."""
    quote = calculate(items, [p.terms for p in found], left)
    if quote.discount == 0:
        raise AppError("no_benefit", "本次消费没有可享受的优惠，请按原价结算", status=422,
                       details=quote.view()["lines"])
    return quote


async def redeem(conn: AsyncConnection, cashier: Cashier, held: Held, items: Sequence[BillLine], *,
                 today: date, request_id: str | None = None, ip: str | None = None,
                 catalog: benefits.Catalog | None = None,
                 before_writes: Callable[[], Awaitable[None]] | None = None) -> Redemption:
    """Price the bill for the scanned card, take the quotas and record the redemption.

    ``held`` is the scan with its holder locked (``hold``, in this transaction); the caller has
    already spent the scan's code (in a transaction of its own, or before a savepoint this
    function's refusals roll back to). ``catalog``: the process's programme cache. Every refusal
    comes before the first write, but for a quota a second programme cannot take after a first
    took its own: ``before_writes()`` is awaited before the takes when there are several.
    """
    scan = held.scan
    refuse_unusable(held.member_status, held.card_status, held.card_version, scan.card_version)
    found = await benefits.programs_for(conn, scan.member_id, today=today, merchant=cashier.merchant,
                                        member=(held.member_status, held.member_path), catalog=catalog)
    # The usage rows were read with the member's row locked: nobody changes them before this commits.
    quote = priced(items, found, benefits.remaining_of(found, held.used, today=today))
    by_id = {p.id: p for p in found}
    if before_writes is not None and len(quote.usage) > 1:
        await before_writes()
    usage_rows = []
    for program_id, used in quote.usage.items():
        program = by_id[program_id]
        key = benefits.period_key(program.period, today)
        if (program_id, key) in held.used:
            await benefits.take(conn, scan.member_id, program, key, money=used.money, count=used.count)
        else:  # the period's first use: its row, already holding what this takes (under the member's lock)
            await benefits.first_take(conn, scan.member_id, program, key, money=used.money, count=used.count)
        usage_rows.append({"program_id": program_id, "period_key": key, "money": used.money, "count": used.count,
                           "money_returned": 0, "count_returned": 0})
    now = utcnow()
    lines = quote.view()["lines"]
    done = await _RECORD.run(conn, dict(
        merchant_id=cashier.merchant_id, store_id=cashier.store_id, cashier_id=cashier.id, card_id=scan.card_id,
        member_id=scan.member_id, scan_id=scan.id, amount=quote.amount, discount=quote.discount,
        payable=quote.payable, union_share=quote.union_share, merchant_share=quote.merchant_share,
        refunded_amount=0, refunded_discount=0, refunded_union=0, refunded_merchant=0,
        lines=json.dumps(lines, ensure_ascii=False), status="done", month=today.strftime("%Y-%m"),
        created_at=now))
    assert done.lastrowid is not None
    redemption_id = done.lastrowid
    await _RECORD_USAGE.run(conn, [{**u, "redemption_id": redemption_id} for u in usage_rows])
    if held.user_id is not None:
        await notifications.enqueue(
            conn, held.user_id, "redemption", title=f"{cashier.merchant.name}优惠",
            body=f"消费 {yuan(quote.amount)} 元，优惠 {yuan(quote.discount)} 元", page="pages/redemptions/index",
            values={"merchant": cashier.merchant.name, "amount": quote.amount, "discount": quote.discount}, at=now)
    await audit.record(conn, cashier.actor(request_id, ip), "redemption.create", target_kind="redemption",
                       target_id=redemption_id, summary={"amount": quote.amount, "discount": quote.discount,
                                                         "union_share": quote.union_share, "card_id": scan.card_id})
    return Redemption(redemption_id, cashier.merchant_id, cashier.store_id, cashier.id, scan.member_id, quote.amount,
                      quote.discount, quote.payable, quote.union_share, quote.merchant_share, 0, 0, 0, 0, lines,
                      "done", today.strftime("%Y-%m"), now, None)


def _may_change(cashier: Cashier, redemption: Redemption, *, manager_only: bool) -> None:
    """The policy's own rule for a redemption (its merchant; the cashier who made it, or a manager), kept
    here as a guard on the locked row: the same function the declared access applies, so they cannot disagree."""
    policy.may_change_redemption(cashier.actor(), redemption.merchant_id, redemption.cashier_id,
                                 manager_only=manager_only)


async def void(conn: AsyncConnection, cashier: Cashier, redemption_id: int, *, reason: str | None,
               today: date, request_id: str | None = None) -> Redemption:
    """Cancel a mistaken redemption the same day: quotas come back, the record stays, marked."""
    redemption = await get(conn, redemption_id, lock=True)
    _may_change(cashier, redemption, manager_only=False)
    if redemption.status == "void":
        return redemption
    if redemption.refunded_amount:
        raise Conflict("already_refunded", "该笔核销已有退款，不能撤销，请继续办理退款")
    if local_today(redemption.created_at) != today:
        raise Conflict("void_window_passed", "只能撤销当天的核销；之后请办理退款")
    why = (reason or "").strip()[:200] or "收银撤销"
    await benefits.lock_member(conn, redemption.member_id)
    await _give_back_all(conn, redemption)
    await conn.execute(redemptions.update().where(redemptions.c.id == redemption_id).values(
        status="void", voided_at=utcnow(), voided_by=f"merchant:{cashier.id}", void_reason=why))
    await _notify(conn, redemption, "核销已撤销", f"优惠 {yuan(redemption.discount)} 元已退回额度", redemption.discount)
    await audit.record(conn, cashier.actor(request_id), "redemption.void", target_kind="redemption",
                       target_id=redemption_id, summary={"reason": why, "discount": redemption.discount})
    return await get(conn, redemption_id)


async def _give_back_all(conn: AsyncConnection, redemption: Redemption) -> None:
    rows = (await conn.execute(sa.select(redemption_usage).where(
        redemption_usage.c.redemption_id == redemption.id))).all()
    for row in rows:
        money, count = row.money - row.money_returned, row.count - row.count_returned
        if money or count:
            await benefits.give_back(conn, redemption.member_id, row.program_id, row.period_key, money=money,
                                     count=count)
            await conn.execute(redemption_usage.update().where(
                redemption_usage.c.redemption_id == redemption.id, redemption_usage.c.program_id == row.program_id)
                .values(money_returned=row.money, count_returned=row.count))


async def _notify(conn: AsyncConnection, redemption: Redemption, title: str, body: str, discount: int) -> None:
    found = (await conn.execute(sa.select(members.c.user_id, merchants.c.name).select_from(members)
                                .join(merchants, merchants.c.id == redemption.merchant_id)
                                .where(members.c.id == redemption.member_id))).first()
    if found is not None and found.user_id is not None:
        await notifications.enqueue(conn, found.user_id, "redemption.change", title=title, body=body,
                                    page="pages/redemptions/index",
                                    values={"merchant": found.name, "amount": redemption.amount, "discount": discount})


def _part(total: int, share: int, whole: int) -> int:
    """``total`` × ``share`` / ``whole``, rounded half up (whole > 0)."""
    return (2 * total * share + whole) // (2 * whole)


async def refund(conn: AsyncConnection, cashier: Cashier, redemption_id: int, *, amount: int, reason: str,
                 today: date, request_id: str | None = None) -> dict[str, Any]:
    """Give back part of a bill later: the discount, both shares and the quotas in proportion; the last
    refund returns exactly what is left, so nothing is lost to rounding."""
    redemption = await get(conn, redemption_id, lock=True)
    _may_change(cashier, redemption, manager_only=True)
    if redemption.status == "void":
        raise Conflict("redemption_void", "该笔核销已撤销")
    left_amount = redemption.amount - redemption.refunded_amount
    if type(amount) is not int or not 0 < amount <= left_amount:
        raise Invalid("refund_amount", f"退款金额应在 0.01 到 {yuan(left_amount)} 元之间")
    why = (reason or "").strip()
    if not why or len(why) > 200:
        raise Invalid("reason_required", "请填写退款原因（200 字以内）")
    left_discount = redemption.discount - redemption.refunded_discount
    left_union = redemption.union_share - redemption.refunded_union
    full = amount == left_amount
    discount = left_discount if full else _part(left_discount, amount, left_amount)
    union = left_union if full else min(discount, _part(left_union, amount, left_amount))
    merchant = discount - union
    if merchant > redemption.merchant_share - redemption.refunded_merchant:
        merchant = redemption.merchant_share - redemption.refunded_merchant
        union = discount - merchant
    await benefits.lock_member(conn, redemption.member_id)
    if full:
        await _give_back_all(conn, redemption)
    elif discount:
        rows = (await conn.execute(sa.select(redemption_usage).where(
            redemption_usage.c.redemption_id == redemption.id).order_by(redemption_usage.c.program_id))).all()
        parts = allocate(discount, [r.money - r.money_returned for r in rows])
        for row, money in zip(rows, parts):
            if money:
                await benefits.give_back(conn, redemption.member_id, row.program_id, row.period_key, money=money,
                                         count=0)
                await conn.execute(redemption_usage.update().where(
                    redemption_usage.c.redemption_id == redemption.id,
                    redemption_usage.c.program_id == row.program_id)
                    .values(money_returned=redemption_usage.c.money_returned + money))
    now = utcnow()
    result = await conn.execute(refunds.insert().values(
        redemption_id=redemption_id, amount=amount, discount=discount, union_share=union, merchant_share=merchant,
        month=today.strftime("%Y-%m"), reason=why, created_by=f"merchant:{cashier.id}", created_at=now))
    await conn.execute(redemptions.update().where(redemptions.c.id == redemption_id).values(
        refunded_amount=redemptions.c.refunded_amount + amount,
        refunded_discount=redemptions.c.refunded_discount + discount,
        refunded_union=redemptions.c.refunded_union + union,
        refunded_merchant=redemptions.c.refunded_merchant + merchant,
        status="refunded" if full else "done"))
    await _notify(conn, redemption, "核销已退款", f"退回优惠 {yuan(discount)} 元", discount)
    refund_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    await audit.record(conn, cashier.actor(request_id), "redemption.refund", target_kind="redemption",
                       target_id=redemption_id, summary={"refund_id": refund_id, "amount": amount,
                                                         "discount": discount, "reason": why})
    return {"id": refund_id, "redemption_id": redemption_id, "amount": amount, "discount": discount,
            "union_share": union, "merchant_share": merchant, "redemption": (await get(conn, redemption_id)).view()}


async def for_member(conn: AsyncConnection, member_id: int, *, before: int | None = None,
                     limit: int = 20) -> tuple[list[dict[str, Any]], int | None]:
    """A worker's redemptions, newest first, with the merchant's name; and the cursor of the next page."""
    query = (sa.select(redemptions, merchants.c.name.label("merchant_name"), stores.c.name.label("store_name"))
             .join(merchants, merchants.c.id == redemptions.c.merchant_id)
             .outerjoin(stores, stores.c.id == redemptions.c.store_id)  # a manager has no store (store_id 0)
             .where(redemptions.c.member_id == member_id).order_by(redemptions.c.id.desc()).limit(limit + 1))
    if before is not None:
        query = query.where(redemptions.c.id < before)
    rows = (await conn.execute(query)).all()
    items = [{**_redemption(r).view(), "merchant": r.merchant_name, "store": r.store_name or ""}
             for r in rows[:limit]]
    return items, (rows[limit - 1].id if len(rows) > limit else None)


#: How far back a merchant manager may list a day's redemptions (refunds come on later days).
LIST_DAYS_BACK = 366


class CounterListQuery(PageQuery):
    """One day's redemptions at the counter, a page at a time: today unless a manager names another day."""

    day: Date | None = Field(None, description="北京时间的日期；默认今天。只有商家管理员可以查看其他日期，"
                                               "最早 366 天前，不能晚于今天")

    @field_validator("day")
    @classmethod
    def _within_reach(cls, day: date | None) -> date | None:
        if day is None:
            return None
        today = local_today()
        if day > today:
            raise PydanticCustomError("refused", "day 不能晚于今天")
        if (today - day).days > LIST_DAYS_BACK:
            raise PydanticCustomError("refused", f"day 太早：最多只能查看 {LIST_DAYS_BACK} 天以内的核销记录")
        return day


def listed_day(cashier: Cashier, day: date | None, *, today: date) -> date:
    """The day a counter list shows: today by default; another day is for a merchant manager only."""
    if day is None or day == today:
        return today
    if cashier.role != "manager":
        raise Forbidden("manager_only_day", "只有商家管理员可以查看其他日期的核销记录")
    return day


_rc = redemptions.c
#: What ``_redemption`` (and so the view) reads of a redemption's row: not the card, scan or void bookkeeping.
_VIEWED = (_rc.id, _rc.merchant_id, _rc.store_id, _rc.cashier_id, _rc.member_id, _rc.amount, _rc.discount,
           _rc.payable, _rc.union_share, _rc.merchant_share, _rc.refunded_amount, _rc.refunded_discount,
           _rc.refunded_union, _rc.refunded_merchant, _rc.lines, _rc.status, _rc.month, _rc.created_at,
           _rc.void_reason)


async def for_merchant(conn: AsyncConnection, merchant_id: int, *, day: date | None = None,
                       cashier_id: int | None = None, before: int | None = None,
                       limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    """A merchant's redemptions, newest first (one day's, one cashier's when given)."""
    query = (sa.select(*_VIEWED).where(redemptions.c.merchant_id == merchant_id)
             .order_by(redemptions.c.id.desc()).limit(limit + 1))
    if cashier_id is not None:
        query = query.where(redemptions.c.cashier_id == cashier_id)
    if before is not None:
        query = query.where(redemptions.c.id < before)
    if day is not None:
        query = query.where(*_made_on(day))
    rows = (await conn.execute(query)).all()
    return [_redemption(r).view() for r in rows[:limit]], (rows[limit - 1].id if len(rows) > limit else None)


def _made_on(day: date) -> tuple[Any, ...]:
    """The conditions of a redemption made on this Beijing day."""
    start = datetime.combine(day, time(), LOCAL_TZ)
    return redemptions.c.created_at >= start, redemptions.c.created_at < start + timedelta(days=1)


async def for_counter(conn: AsyncConnection, cashier: Cashier, redemption_id: int, *,
                      today: date) -> dict[str, Any]:
    """One redemption by its number, as the caller's day list shows it: any of the merchant's, of any
    day, for a manager; a cashier's own of ``today`` for a cashier. Anything else answers exactly like
    a missing one (404 ``redemption_not_found``), so numbers cannot be probed."""
    query = sa.select(*_VIEWED).where(_rc.id == redemption_id, _rc.merchant_id == cashier.merchant_id)
    if cashier.role != "manager":
        query = query.where(_rc.cashier_id == cashier.id, *_made_on(today))
    row = (await conn.execute(query)).first()
    if row is None:
        raise not_found()
    return _redemption(row).view()
