"""Fund sources: creating one with its budget, topping it up, closing it (year end) and reopening it, reading
them, and moving money on one by conditional updates that can never overdraw it (reserve, release, spend,
unspend), each with its ledger row.

A closed source holds nothing reserved, and nothing can be reserved on it: the close locks the row and is
refused while anything is reserved; a reservation (and a payment's reversal, which turns spending back into a
reservation) updates the row only while it is active. Spending what is reserved is therefore never blocked by
a close. Its ledger row (``close``) records the balance left: what the year's source declares unspent.

A relief approval reserves on a source whose unit is the application's unit or above it, of the current
year, whose kinds include the application's kind; the relief side (models/relief/reservations.py) checks
the application, this module the money.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Invalid, NotFound
from models.core.money import yuan
from models.core.typed import Body, Fen, PositiveFen, text
from models.funds import ledger
from models.funds.tables import funds
from models.network import tree
from models.network.tree import in_subtree

SOURCES = {"central": "中央财政专项", "local": "地方财政配套", "union": "工会经费", "donation": "社会捐赠"}
KIND_CODE = "^[a-z][a-z0-9_]{1,31}$"


class NewFund(Body):
    """A fund source: its unit (code), source type, name, year, budget (fen) and the kinds it may pay for."""

    org: Annotated[str, text(32, min_len=1)]
    source: Annotated[str, Field(pattern="^(" + "|".join(SOURCES) + ")$")]
    name: Annotated[str, text(100, min_len=2)]
    year: Annotated[int, Field(ge=2000, le=2100)]
    budget: Fen
    kinds: Annotated[list[Annotated[str, Field(pattern=KIND_CODE)]], Field(min_length=1, max_length=30)]
    donor: Annotated[str, text(100, min_len=1)] | None = None


class Closing(Body):
    """Why a source is closed (or reopened): kept on the source, its ledger row and the audit."""

    reason: Annotated[str, text(200, min_len=2)]


class TopUp(Body):
    """Money added to a source (fen) and why."""

    amount: PositiveFen
    note: Annotated[str, text(200, min_len=2)]


@dataclass(frozen=True)
class Fund:
    """One fund source and its sums (fen)."""

    id: int
    org_id: int
    org_path: str
    source: str
    name: str
    year: int
    kinds: list[str]
    donor: str | None
    status: str
    budget: int
    topped_up: int
    reserved: int
    spent: int
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: int | None = None
    close_reason: str | None = None

    @property
    def balance(self) -> int:
        """What is neither reserved nor spent: budget + top-ups − reserved − spent."""
        return self.budget + self.topped_up - self.reserved - self.spent

    @property
    def available(self) -> int:
        """What a new approval may reserve: the balance of an active source, nothing of a closed one."""
        return self.balance if self.status == "active" else 0

    def view(self) -> dict[str, Any]:
        """The source as the routes answer it."""
        return {"id": self.id, "org_id": self.org_id, "source": self.source, "source_name": SOURCES[self.source],
                "name": self.name, "year": self.year, "kinds": self.kinds, "donor": self.donor,
                "status": self.status, "budget": self.budget, "topped_up": self.topped_up,
                "reserved": self.reserved, "spent": self.spent, "balance": self.balance,
                "available": self.available, "created_at": self.created_at, "closed_at": self.closed_at,
                "closed_by": self.closed_by, "close_reason": self.close_reason}


def _of(row: Any) -> Fund:
    return Fund(row.id, row.org_id, row.org_path, row.source, row.name, row.year, json.loads(row.kinds), row.donor,
                row.status, int(row.budget), int(row.topped_up), int(row.reserved), int(row.spent), row.created_at,
                row.closed_at, row.closed_by, row.close_reason)


def not_found() -> NotFound:
    """The answer for a source that is missing or out of the caller's reach."""
    return NotFound("fund_not_found", "找不到该资金来源")


async def get(conn: AsyncConnection, fund_id: int, *, lock: bool = False) -> Fund:
    """The source (404 ``fund_not_found``)."""
    query = sa.select(funds).where(funds.c.id == fund_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise not_found()
    return _of(row)


async def get_in_scope(conn: AsyncConnection, actor: Actor, fund_id: int, *, lock: bool = False) -> Fund:
    """The source when its unit lies in the actor's subtree, else the same 404 as a missing one."""
    fund = await get(conn, fund_id, lock=lock)
    if not fund.org_path.startswith(policy.scope(actor)):
        raise not_found()
    return fund


async def create(conn: AsyncConnection, actor: Actor, body: NewFund) -> Fund:
    """Add a source at a unit of the actor's subtree with its budget as the first ledger row. Audited."""
    policy.require(actor, "fund.manage")
    org = await tree.by_code(conn, body.org, within=policy.scope(actor))
    if body.donor is not None and body.source != "donation":
        raise Invalid("fund_donor", "只有社会捐赠来源可以填写捐赠方")
    taken = (await conn.execute(sa.select(funds.c.id).where(funds.c.org_id == org.id, funds.c.year == body.year,
                                                            funds.c.name == body.name))).first()
    if taken is not None:
        raise Conflict("fund_name_taken", f"{org.name}{body.year}年已有名为“{body.name}”的资金来源")
    now = utcnow()
    done = await conn.execute(funds.insert().values(
        org_id=org.id, org_path=org.path, source=body.source, name=body.name, year=body.year,
        kinds=json.dumps(sorted(set(body.kinds))), donor=body.donor, status="active", budget=body.budget,
        topped_up=0, reserved=0, spent=0, created_by=actor.id if actor.kind == "staff" else None, created_at=now,
        updated_at=now))
    assert done.inserted_primary_key is not None
    fund_id = int(done.inserted_primary_key[0])
    if body.budget > 0:
        await ledger.write(conn, fund_id, "budget", body.budget, org_path=org.path, staff_id=_staff(actor),
                           note="年度预算")
    await audit.record(conn, actor, "fund.create", target_kind="fund", target_id=fund_id, org_path=org.path,
                       summary={"source": body.source, "name": body.name, "year": body.year, "budget": body.budget,
                                "kinds": sorted(set(body.kinds))})
    return await get(conn, fund_id)


def _staff(actor: Actor) -> int | None:
    return actor.id if actor.kind == "staff" else None


def closed(fund: Fund) -> Conflict:
    """409 ``fund_closed``: the source is closed (its balance was declared when it was)."""
    return Conflict("fund_closed", f"资金来源“{fund.name}”（{fund.year}年）已关闭")


async def top_up(conn: AsyncConnection, actor: Actor, fund_id: int, body: TopUp) -> Fund:
    """Add money to an active source of the actor's subtree, with its ledger row (409 ``fund_closed`` on a
    closed one: its balance left was declared when it was closed). Audited."""
    policy.require(actor, "fund.manage")
    fund = await get_in_scope(conn, actor, fund_id)
    done = await conn.execute(funds.update().where(funds.c.id == fund.id, funds.c.status == "active")
                              .values(topped_up=funds.c.topped_up + body.amount, updated_at=utcnow()))
    if done.rowcount != 1:
        raise closed(fund)
    await ledger.write(conn, fund.id, "top_up", body.amount, org_path=fund.org_path, staff_id=_staff(actor),
                       note=body.note)
    await audit.record(conn, actor, "fund.top_up", target_kind="fund", target_id=fund.id, org_path=fund.org_path,
                       summary={"amount": body.amount, "note": body.note})
    return await get(conn, fund.id)


async def close(conn: AsyncConnection, actor: Actor, fund_id: int, body: Closing) -> Fund:
    """Close an active source of the actor's subtree (finance, admin): no new approval may reserve on it, and its
    balance left is recorded as a ``close`` ledger row. Refused (409 ``fund_has_reservations``) while anything is
    reserved for approved, unpaid applications, and (409 ``fund_closed``) when it is closed already. The row is
    locked first, so an approval reserving at the same time either commits before (and the close is refused) or
    finds it closed. Audited."""
    policy.require(actor, "fund.manage")
    fund = await get_in_scope(conn, actor, fund_id, lock=True)
    if fund.status != "active":
        raise closed(fund)
    if fund.reserved > 0:
        raise Conflict("fund_has_reservations", f"资金来源“{fund.name}”还有 {yuan(fund.reserved)} 元预留给已审批、"
                       "尚未发放的申请，须先发放或释放这些预留，才能关闭")
    now = utcnow()
    # Conditional as well as locked: whatever the isolation, a close never leaves reserved money behind it.
    done = await conn.execute(funds.update().where(funds.c.id == fund.id, funds.c.status == "active",
                                                   funds.c.reserved == 0)
                              .values(status="closed", closed_at=now, closed_by=_staff(actor),
                                      close_reason=body.reason, updated_at=now))
    if done.rowcount != 1:
        raise _changed()
    await ledger.write(conn, fund.id, "close", fund.balance, org_path=fund.org_path, staff_id=_staff(actor),
                       note=body.reason)
    await audit.record(conn, actor, "fund.close", target_kind="fund", target_id=fund.id, org_path=fund.org_path,
                       summary={"reason": body.reason, "balance": fund.balance, "spent": fund.spent})
    return await get(conn, fund.id)


async def reopen(conn: AsyncConnection, actor: Actor, fund_id: int, body: Closing) -> Fund:
    """Reopen a closed source of the actor's subtree (an administrator, to remedy a mistaken close): active
    again, with a ``reopen`` ledger row (409 ``fund_not_closed`` when it is active). Audited."""
    policy.require(actor, "fund.reopen")
    fund = await get_in_scope(conn, actor, fund_id, lock=True)
    if fund.status != "closed":
        raise Conflict("fund_not_closed", f"资金来源“{fund.name}”（{fund.year}年）未关闭，无需重新启用")
    done = await conn.execute(funds.update().where(funds.c.id == fund.id, funds.c.status == "closed")
                              .values(status="active", closed_at=None, closed_by=None, close_reason=None,
                                      updated_at=utcnow()))
    if done.rowcount != 1:
        raise _changed()
    await ledger.write(conn, fund.id, "reopen", fund.balance, org_path=fund.org_path, staff_id=_staff(actor),
                       note=body.reason)
    await audit.record(conn, actor, "fund.reopen", target_kind="fund", target_id=fund.id, org_path=fund.org_path,
                       summary={"reason": body.reason, "balance": fund.balance,
                                "closed_reason": fund.close_reason})
    return await get(conn, fund.id)


async def listing(conn: AsyncConnection, actor: Actor, *, org: str | None, year: int | None,
                  before: int | None = None, limit: int = 100) -> list[Fund]:
    """Up to ``limit`` sources, newest first (older than ``before``), of the actor's subtree and of the units
    above it (those its applications may draw on); ``org`` (a code) narrows to that unit's subtree and the
    units above it, ``year`` to one year."""
    scope = policy.scope(actor)
    base = await tree.by_code(conn, org, within=scope) if org else None
    path = base.path if base is not None else scope
    above = [path[:i + 1] for i, ch in enumerate(path) if ch == "/" and i + 1 < len(path)]
    query = sa.select(funds).where(sa.or_(in_subtree(funds.c.org_path, path), funds.c.org_path.in_(above)))
    if year is not None:
        query = query.where(funds.c.year == year)
    if before is not None:
        query = query.where(funds.c.id < before)
    found = (await conn.execute(query.order_by(funds.c.id.desc()).limit(limit))).all()
    return [_of(r) for r in found]


# --- moving money ------------------------------------------------------------------------------

def insufficient(fund: Fund, asked: int) -> Conflict:
    """409 ``fund_insufficient``: which source, how much is left, how much was asked."""
    return Conflict("fund_insufficient", f"资金来源“{fund.name}”（{fund.year}年{SOURCES[fund.source]}）可用余额 "
                    f"{yuan(fund.available)} 元，不足以支付本次 {yuan(asked)} 元")


async def reserve(conn: AsyncConnection, fund: Fund, amount: int, *, application_id: int, kind: str,
                  org_path: str, staff_id: int | None) -> None:
    """Reserve ``amount`` on the source: one conditional update, refused (409) when what is left cannot
    cover it, however many approvals run at once."""
    done = await conn.execute(funds.update().where(
        funds.c.id == fund.id, funds.c.status == "active",
        funds.c.budget + funds.c.topped_up - funds.c.reserved - funds.c.spent >= amount)
        .values(reserved=funds.c.reserved + amount, updated_at=utcnow()))
    if done.rowcount != 1:
        # Read again, locked: a plain read may still show the snapshot of before a close that won the row.
        fresh = await get(conn, fund.id, lock=True)
        if fresh.status != "active":
            raise Conflict("fund_scope", f"资金来源“{fresh.name}”已关闭")
        raise insufficient(fresh, amount)
    await ledger.write(conn, fund.id, "reserve", amount, org_path=org_path, staff_id=staff_id,
                       application_id=application_id, kind=kind)


async def release(conn: AsyncConnection, fund_id: int, amount: int, *, application_id: int, kind: str,
                  org_path: str, staff_id: int | None, note: str | None = None) -> None:
    """Give a reservation back to the source."""
    await _move(conn, fund_id, amount, reserved=-amount, spent=0)
    await ledger.write(conn, fund_id, "release", amount, org_path=org_path, staff_id=staff_id,
                       application_id=application_id, kind=kind, note=note)


async def spend(conn: AsyncConnection, fund_id: int, amount: int, *, application_id: int, kind: str,
                org_path: str, staff_id: int | None, note: str | None = None) -> None:
    """Turn a reservation into spending: a release and a pay row."""
    await _move(conn, fund_id, amount, reserved=-amount, spent=amount)
    for entry in ("release", "pay"):
        await ledger.write(conn, fund_id, entry, amount, org_path=org_path, staff_id=staff_id,
                           application_id=application_id, kind=kind, note=note)


async def unspend(conn: AsyncConnection, fund_id: int, amount: int, *, application_id: int, kind: str,
                  org_path: str, staff_id: int | None, note: str | None = None) -> None:
    """Reverse a payment: the spending back to a reservation (a reverse and a reserve row). Only on an active
    source (409 ``fund_closed``): a closed one holds nothing reserved; an administrator reopens it first."""
    await _move(conn, fund_id, amount, reserved=amount, spent=-amount, active=True)
    for entry in ("reverse", "reserve"):
        await ledger.write(conn, fund_id, entry, amount, org_path=org_path, staff_id=staff_id,
                           application_id=application_id, kind=kind, note=note)


def _changed() -> Conflict:
    return Conflict("fund_changed", "资金来源的预留或支出与本次操作不符，请刷新后重试")


async def _move(conn: AsyncConnection, fund_id: int, amount: int, *, reserved: int, spent: int,
                active: bool = False) -> None:
    # Guarded so that neither sum goes below zero (a bug elsewhere refuses rather than corrupts); ``active``:
    # only on an active source.
    query = funds.update().where(funds.c.id == fund_id, funds.c.reserved + reserved >= 0, funds.c.spent + spent >= 0)
    if active:
        query = query.where(funds.c.status == "active")
    done = await conn.execute(query.values(reserved=funds.c.reserved + reserved, spent=funds.c.spent + spent,
                                           updated_at=utcnow()))
    if done.rowcount != 1:
        fresh = await get(conn, fund_id, lock=True)
        if active and fresh.status != "active":
            raise Conflict("fund_closed", f"资金来源“{fresh.name}”（{fresh.year}年）已关闭，不能冲正其支出（冲正会把支出"
                           "转回预留）；请管理员先重新启用该资金来源")
        raise _changed()
