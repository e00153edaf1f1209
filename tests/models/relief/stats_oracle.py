"""The statistics as they were counted before the summary (issue 18): straight from the timeline and the
applications, kept as the oracle the summary's reports must equal (tests/models/relief/test_tallies.py)."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.actors import Actor
from models.core.clock import LOCAL_TZ
from models.network import tree
# The counting here is the former code's; the shaping of the answer is the module's own.
from models.relief.statistics import By, StatsQuery, _answer, _bounds, _children, _Grouper, _sample, _scope
from models.relief.tables import relief_applications, relief_events

PAID = ("paid", "archived")
TALLY = (relief_applications, "FORCE INDEX (ix_relief_applications_tally)", "mysql")
Report = dict[str, Any]


async def applications(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> Report:
    """The applications report, counted from the timeline."""
    root = await _scope(conn, actor, q)
    start, end, lo, hi = _bounds(q)
    return await _applications(conn, root, q, start, end, lo, hi)


async def payments(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> Report:
    """The payments report, counted from the timeline."""
    root = await _scope(conn, actor, q)
    start, end, lo, hi = _bounds(q)
    return await _payments(conn, root, q, start, end, lo, hi)


def _slices(by: By, lo: datetime, hi: datetime) -> list[tuple[str | None, datetime, datetime]]:
    """The period as one slice, or by Beijing month (each counted in SQL over its own bounds)."""
    if by != "month":
        return [(None, lo, hi)]
    out: list[tuple[str | None, datetime, datetime]] = []
    start = lo
    while start < hi:
        local = start.astimezone(LOCAL_TZ)
        first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (first + timedelta(days=32)).replace(day=1)
        end = min(hi, following.astimezone(start.tzinfo))
        out.append((local.strftime("%Y-%m"), start, end))
        start = end
    return out


async def _kind_names(conn: AsyncConnection, samples: dict[str, int]) -> dict[str, str]:
    """Each kind's name, from the definition kept by the first application of the kind counted."""
    if not samples:
        return {}
    a = relief_applications.c
    rows = await conn.execute(sa.select(a.kind, a.kind_definition).where(a.id.in_(sorted(set(samples.values())))))
    return {r.kind: str(json.loads(r.kind_definition).get("name", "")) for r in rows}


def _count(found: list[tuple[str | None, Any]], group: _Grouper, names: dict[str, str],
           rows: dict[str, dict[str, int]], figures: Any) -> None:
    """Add each counted (slice, row) to its line; ``figures(row)`` gives the row's {field: number}."""
    for month, r in found:
        line = rows[group.key(r.kind, names.get(r.kind, ""), r.org_path, month)]
        for name, number in figures(r).items():
            line[name] += number


async def _applications(conn: AsyncConnection, root: tree.Org, q: StatsQuery, start: date, end: date,
                        lo: datetime, hi: datetime) -> Report:
    children = await _children(conn, root, q.by)
    a, e = relief_applications.c, relief_events.c
    inside = a.org_path.startswith(root.path, autoescape=True)
    decided = sa.or_(sa.and_(e.action == "passed", e.step == "approval"), e.action == "rejected")
    found: list[tuple[str | None, Any]] = []
    samples: dict[str, int] = {}
    for month, s_lo, s_hi in _slices(q.by, lo, hi):
        received = await conn.execute(
            sa.select(a.kind, a.org_path, sa.func.count().label("n"), sa.func.min(a.id).label("first"))
            .where(inside, a.submitted_at >= s_lo, a.submitted_at < s_hi).group_by(a.kind, a.org_path))
        found += [(month, r) for r in received]
        ends = await conn.execute(
            sa.select(a.kind, a.org_path, e.action, sa.func.count().label("n"), sa.func.min(a.id).label("first"))
            .join_from(relief_events, relief_applications, a.id == e.application_id).with_hint(*TALLY)
            .where(e.at >= s_lo, e.at < s_hi, decided, inside).group_by(a.kind, a.org_path, e.action))
        found += [(month, r) for r in ends]
    for _, r in found:
        _sample(samples, r.kind, r.first)
    group, names = _Grouper(q.by, root, children), await _kind_names(conn, samples)
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    _count(found, group, names, rows, lambda r: {
        "received" if "action" not in r._fields else "approved" if r.action == "passed" else "rejected": r.n})
    return _answer(root, q, start, end, group, rows, ("received", "approved", "rejected"), {})


def _paid_in(root: tree.Org, lo: datetime, hi: datetime) -> tuple[Any, Any]:
    """(FROM, WHERE) of the paid and archived applications in the subtree whose latest ``paid`` event lies in
    [lo, hi). The payments since ``lo`` are grouped per application (read from the index (action, step, at)):
    when the latest of them falls before ``hi`` it is the latest of all, and an application paid, reversed and
    paid again counts once, at its last payment."""
    a, e = relief_applications.c, relief_events.c
    # A payment is the one writer of ``paid`` and records it at the payment step: naming the step lets the
    # count read the index.
    latest = (sa.select(e.application_id).where(e.action == "paid", e.step == "payment", e.at >= lo)
              .group_by(e.application_id).having(sa.func.max(e.at) < hi).subquery("latest"))
    joined = sa.join(latest, relief_applications, a.id == latest.c.application_id)
    return joined, sa.and_(a.status.in_(PAID), a.org_path.startswith(root.path, autoescape=True))


async def _payments(conn: AsyncConnection, root: tree.Org, q: StatsQuery, start: date, end: date,
                    lo: datetime, hi: datetime) -> Report:
    children = await _children(conn, root, q.by)
    a = relief_applications.c
    found: list[tuple[str | None, Any]] = []
    samples: dict[str, int] = {}
    for month, s_lo, s_hi in _slices(q.by, lo, hi):
        joined, where = _paid_in(root, s_lo, s_hi)
        paid = await conn.execute(
            sa.select(a.kind, a.org_path, sa.func.count().label("n"),
                      sa.func.coalesce(sa.func.sum(a.approved_amount), 0).label("amount"),
                      sa.func.min(a.id).label("first"))
            .select_from(joined).where(where).group_by(a.kind, a.org_path).with_hint(*TALLY))
        found += [(month, r) for r in paid]
    for _, r in found:
        _sample(samples, r.kind, r.first)
    people = 0
    if found:
        joined, where = _paid_in(root, lo, hi)
        people = (await conn.execute(sa.select(sa.func.count(sa.distinct(a.member_id))).select_from(joined)
                                     .where(where).with_hint(*TALLY))).scalar_one()
    group, names = _Grouper(q.by, root, children), await _kind_names(conn, samples)
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    _count(found, group, names, rows, lambda r: {"times": int(r.n), "amount": int(r.amount)})
    return _answer(root, q, start, end, group, rows, ("times", "amount"), {"people": int(people)})
