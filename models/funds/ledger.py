"""The ledger of the funds: one row per movement, pages of it, the sums it proves, totals for statistics."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import LOCAL_TZ, utcnow
from models.funds.tables import fund_ledger, funds
from models.network.tree import in_subtree

ENTRIES = ("budget", "top_up", "reserve", "release", "pay", "reverse", "close", "reopen")
#: Which of a fund's sums each entry moves, and the sign.
MOVES: dict[str, tuple[str, int]] = {"budget": ("income", 1), "top_up": ("income", 1), "reserve": ("reserved", 1),
                                     "release": ("reserved", -1), "pay": ("spent", 1), "reverse": ("spent", -1)}
#: Entries that move no sum: a change of the fund's status, with the balance left then as their amount (≥ 0).
STATUS_ENTRIES = ("close", "reopen")
GroupBy = Literal["source", "kind", "org", "month", "fund"]


async def write(conn: AsyncConnection, fund_id: int, entry: str, amount: int, *, org_path: str,
                staff_id: int | None, application_id: int | None = None, kind: str | None = None,
                note: str | None = None) -> None:
    """Add one movement row (in the caller's transaction, with the fund's conditional update), or a row of a
    change of status (``STATUS_ENTRIES``, the balance left as its amount)."""
    assert (entry in MOVES and amount > 0) or (entry in STATUS_ENTRIES and amount >= 0)
    await conn.execute(fund_ledger.insert().values(
        fund_id=fund_id, entry=entry, amount=amount, application_id=application_id, kind=kind, org_path=org_path,
        staff_id=staff_id, note=note, at=utcnow()))


@dataclass(frozen=True)
class Row:
    """One movement."""

    id: int
    entry: str
    amount: int
    application_id: int | None
    kind: str | None
    staff_id: int | None
    note: str | None
    at: datetime

    def view(self) -> dict[str, Any]:
        """The row as the ledger route answers it."""
        return {"id": self.id, "entry": self.entry, "amount": self.amount, "application_id": self.application_id,
                "kind": self.kind, "staff_id": self.staff_id, "note": self.note, "at": self.at}


async def page(conn: AsyncConnection, fund_id: int, *, before: int | None, limit: int) -> list[Row]:
    """Up to ``limit`` rows of the fund, newest first, older than the row ``before``."""
    query = sa.select(fund_ledger).where(fund_ledger.c.fund_id == fund_id)
    if before is not None:
        query = query.where(fund_ledger.c.id < before)
    found = (await conn.execute(query.order_by(fund_ledger.c.id.desc()).limit(limit))).all()
    return [Row(r.id, r.entry, r.amount, r.application_id, r.kind, r.staff_id, r.note, r.at) for r in found]


async def sums(conn: AsyncConnection, fund_id: int) -> dict[str, int]:
    """What the fund's movement rows prove: ``income``, ``reserved``, ``spent`` (status rows move nothing)."""
    found = (await conn.execute(sa.select(fund_ledger.c.entry, sa.func.sum(fund_ledger.c.amount))
                                .where(fund_ledger.c.fund_id == fund_id, fund_ledger.c.entry.in_(MOVES))
                                .group_by(fund_ledger.c.entry))).all()
    out = {"income": 0, "reserved": 0, "spent": 0}
    for entry, total in found:
        name, sign = MOVES[entry]
        out[name] += sign * int(total)
    return out


async def held(conn: AsyncConnection, application_id: int) -> tuple[int, int] | None:
    """(fund id, amount) the application holds reserved, as its rows prove; None when nothing is held."""
    found = (await conn.execute(sa.select(fund_ledger.c.fund_id, fund_ledger.c.entry, fund_ledger.c.amount)
                                .where(fund_ledger.c.application_id == application_id,
                                       fund_ledger.c.entry.in_(("reserve", "release"))))).all()
    net: dict[int, int] = defaultdict(int)
    for fund_id, entry, amount in found:
        net[int(fund_id)] += int(amount) if entry == "reserve" else -int(amount)
    held_ = [(f, a) for f, a in net.items() if a > 0]
    return held_[0] if held_ else None


def _month(at: datetime) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m")


async def totals(conn: AsyncConnection, org_path: str, year: int,
                 group_by: Iterable[GroupBy] = ("source",)) -> list[dict[str, Any]]:
    """Income, reserved and spent (net, fen) of one year's funds, over the ledger rows whose unit (the
    application's, else the fund's) lies in the subtree at ``org_path``, grouped by the source, the application's kind, the row's unit (a path), the month of the movement (Beijing, YYYY-MM) or the fund.

    Every figure is a sum of movement rows, nothing else (a close or reopen row moves no sum): the statistics and
    public accounts reuse it."""
    keys = tuple(group_by)
    found = (await conn.execute(
        sa.select(fund_ledger.c.fund_id, fund_ledger.c.entry, fund_ledger.c.amount, fund_ledger.c.kind,
                  fund_ledger.c.org_path, fund_ledger.c.at, funds.c.source)
        .join_from(fund_ledger, funds, funds.c.id == fund_ledger.c.fund_id)
        .where(funds.c.year == year, in_subtree(fund_ledger.c.org_path, org_path),
               fund_ledger.c.entry.in_(MOVES)))).all()
    groups: dict[tuple[Any, ...], dict[str, int]] = {}
    for r in found:
        values = {"source": r.source, "kind": r.kind, "org": r.org_path, "month": _month(r.at), "fund": r.fund_id}
        key = tuple(values[k] for k in keys)
        acc = groups.setdefault(key, {"income": 0, "reserved": 0, "spent": 0})
        name, sign = MOVES[r.entry]
        acc[name] += sign * int(r.amount)
    return [{**dict(zip(keys, key)), **acc} for key, acc in sorted(groups.items(), key=lambda kv: str(kv[0]))]
