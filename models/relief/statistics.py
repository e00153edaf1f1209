"""What the seeds' reports count, per organisation subtree and period (Beijing days): applications received,
approved and rejected; people helped and money paid; each grouped by kind, by month or by the unit's
direct sub-units. Every total is the sum of its rows (``people``, distinct workers, alone is not additive).

Counted from the timeline and the application's columns:
- received: ``submitted_at`` in the period (a resubmission keeps the first submission's time);
- approved: an event ``passed`` at step ``approval`` in the period; rejected: an event ``rejected``;
- paid: applications now ``paid`` or ``archived``, at the time of their latest ``paid`` event, for their
  ``approved_amount``. Funds' ledger totals (payments by source) would replace this reading once the
  ledger exists: swap ``_paid`` for a query over its payment rows.

A report over a city's year reads tens of thousands of index entries (seconds at 100,000 applications), so
``KeptStats`` keeps each computed answer per process for ``max_age`` seconds (60 by default), per unit, period
and grouping: **the figures shown may be up to that old**. The caller's right to the unit is checked on every
request; only the counting is reused.
"""
from __future__ import annotations

import asyncio
import copy
import json
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.cards import lifecycle as card_lifecycle
from models.core import policy
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, local_today
from models.core.errors import Invalid
from models.core.typed import Date, Query, text
from models.counter import totals as counter_totals
from models.funds import accounts as fund_accounts
from models.network import tree
from models.network.tables import orgs
from models.relief.tables import relief_applications, relief_events

By = Literal["kind", "month", "org"]
MAX_DAYS = 366 * 10
PAID = ("paid", "archived")
#: The joins from the timeline read what they need of each application from its narrow index by id, not its row
#: (MySQL would take the primary key, kilobytes a row). tests/models/relief/test_query_plans.py checks the plan.
TALLY = (relief_applications, "FORCE INDEX (ix_relief_applications_tally)", "mysql")


class StatsQuery(Query):
    """The unit (default the caller's), the period (default this year up to today) and the grouping."""

    org: Annotated[str, text(32, min_len=1)] | None = Field(None, description="单位代码；默认为本人所属单位")
    from_: Date | None = Field(None, alias="from", description="起始日期（含，北京时间）；默认今年 1 月 1 日")
    to: Date | None = Field(None, description="截止日期（含，北京时间）；默认今天")
    by: Annotated[By, Field(description="分组：kind 类别、month 月份、org 下级单位")] = "kind"


def _bounds(q: StatsQuery) -> tuple[date, date, datetime, datetime]:
    today = local_today()
    start, end = q.from_ or date(today.year, 1, 1), q.to or today
    if start > end:
        raise Invalid("period_order", "起始日期不能晚于截止日期")
    if (end - start).days > MAX_DAYS:
        raise Invalid("period_too_long", "统计期间最长十年")
    return (start, end, datetime.combine(start, time(), tzinfo=LOCAL_TZ),
            datetime.combine(end + timedelta(days=1), time(), tzinfo=LOCAL_TZ))


class _Grouper:
    """The key and display name of each counted line under one grouping."""

    def __init__(self, by: By, root: tree.Org, children: list[tree.Org]) -> None:
        self.by, self.root, self.children = by, root, children
        self.names: dict[str, str] = {}

    def key(self, kind: str, kind_name: str, org_path: str, month: str | None) -> str:
        """The line's group, its name kept for the answer (``month`` is the slice's, when grouped by month)."""
        if self.by == "kind":
            self.names.setdefault(kind, kind_name)
            return kind
        if self.by == "month":
            assert month is not None
            self.names.setdefault(month, month)
            return month
        unit = next((c for c in self.children if org_path.startswith(c.path)), self.root)
        self.names.setdefault(unit.code, unit.name)
        return unit.code


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


async def _scope(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> tree.Org:
    """The unit counted, within the caller's reach (checked on every request, kept answers or not)."""
    policy.require(actor, "relief.statistics")
    within = policy.scope(actor)
    root = await tree.by_code(conn, q.org, within=within) if q.org else (
        await tree.get(conn, actor.org_id, within=within) if actor.org_id is not None else None)
    if root is None:
        raise Invalid("org_required", "请指定单位代码")
    return root


async def _children(conn: AsyncConnection, root: tree.Org, by: By) -> list[tree.Org]:
    """The unit's direct sub-units, when the report groups by them."""
    if by != "org":
        return []
    kids = (await conn.execute(sa.select(orgs.c.id).where(orgs.c.parent_id == root.id).order_by(orgs.c.code))).all()
    return [await tree.get(conn, r.id) for r in kids]


Report = dict[str, Any]


class KeptStats:
    """Computed reports kept by one process for ``max_age`` seconds, per (report, unit, period, grouping).

    The figures a kept answer shows are at most ``max_age`` seconds older than the request that counted them
    (another process, or this one after a change, shows the change once its own kept answer is that old).
    Requests that miss the same key at once share one count; at most ``size`` answers are kept (least recently
    used dropped). Each caller gets its own copy."""

    def __init__(self, max_age: float = 60.0, clock: Callable[[], float] = monotonic, size: int = 512) -> None:
        self.max_age, self.clock, self.size = max_age, clock, size
        self._kept: OrderedDict[Hashable, tuple[float, asyncio.Future[Report]]] = OrderedDict()

    async def read(self, key: Hashable, count: Callable[[], Awaitable[Report]]) -> Report:
        """The kept answer for ``key`` while younger than ``max_age``, else ``count()``'s (then kept)."""
        found = self._kept.get(key)
        if found is not None and self.clock() - found[0] < self.max_age:
            self._kept.move_to_end(key)
            try:
                return copy.deepcopy(await asyncio.shield(found[1]))
            except asyncio.CancelledError:
                if not found[1].cancelled():
                    raise  # this request was cancelled
                # the request counting it was cancelled: count here
        entry = (self.clock(), asyncio.get_running_loop().create_future())
        self._kept[key] = entry
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        try:
            value = await count()
        except BaseException as exc:
            if self._kept.get(key) is entry:
                del self._kept[key]
            if isinstance(exc, Exception):
                entry[1].set_exception(exc)
                entry[1].exception()  # retrieved: waiters (if any) get it, none need to
            else:
                entry[1].cancel()
            raise
        entry[1].set_result(value)
        return copy.deepcopy(value)


async def _kept(kept: KeptStats | None, key: Hashable, count: Callable[[], Awaitable[Report]]) -> Report:
    return await count() if kept is None else await kept.read(key, count)


async def _kind_names(conn: AsyncConnection, samples: dict[str, int]) -> dict[str, str]:
    """Each kind's name, from the definition kept by the first application of the kind counted."""
    if not samples:
        return {}
    a = relief_applications.c
    rows = await conn.execute(sa.select(a.kind, a.kind_definition).where(a.id.in_(sorted(set(samples.values())))))
    return {r.kind: str(json.loads(r.kind_definition).get("name", "")) for r in rows}


def _sample(samples: dict[str, int], kind: str, first: int) -> None:
    samples[kind] = min(first, samples.get(kind, first))


def _answer(root: tree.Org, q: StatsQuery, start: date, end: date, group: _Grouper,
            rows: dict[str, dict[str, int]], fields: Iterable[str], total_extra: dict[str, Any]) -> dict[str, Any]:
    names = list(fields)
    lines: list[dict[str, Any]] = [{"key": key, "name": group.names[key], **{f: rows[key].get(f, 0) for f in names}}
             for key in sorted(rows)]
    total = {f: sum(line[f] for line in lines) for f in names}
    return {"org": root.code, "org_name": root.name, "from": start.isoformat(), "to": end.isoformat(),
            "by": q.by, "rows": lines, "total": {**total, **total_extra}}


def _count(found: list[tuple[str | None, Any]], group: _Grouper, names: dict[str, str],
           rows: dict[str, dict[str, int]], figures: Any) -> None:
    """Add each counted (slice, row) to its line; ``figures(row)`` gives the row's {field: number}."""
    for month, r in found:
        line = rows[group.key(r.kind, names.get(r.kind, ""), r.org_path, month)]
        for name, number in figures(r).items():
            line[name] += number


async def applications(conn: AsyncConnection, actor: Actor, q: StatsQuery,
                       kept: KeptStats | None = None) -> dict[str, Any]:
    """Applications received, approved and rejected in the period within the unit's subtree, grouped.

    Counted in SQL per kind and unit path (and Beijing month): the answer's size follows the units and
    kinds, never the number of applications. With ``kept``, a kept count is reused (see ``KeptStats``)."""
    root = await _scope(conn, actor, q)
    start, end, lo, hi = _bounds(q)
    return await _kept(kept, ("applications", root.id, start, end, q.by),
                       lambda: _applications(conn, root, q, start, end, lo, hi))


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


async def payments(conn: AsyncConnection, actor: Actor, q: StatsQuery,
                   kept: KeptStats | None = None) -> dict[str, Any]:
    """People helped (人次, and distinct workers in the total) and money paid (fen) in the period, grouped.
    With ``kept``, a kept count is reused (see ``KeptStats``)."""
    root = await _scope(conn, actor, q)
    start, end, lo, hi = _bounds(q)
    return await _kept(kept, ("payments", root.id, start, end, q.by),
                       lambda: _payments(conn, root, q, start, end, lo, hi))


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


# --- the other reports of the statistics page: partners, cards, funds (over their own domains' figures) ---


async def redemptions(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> dict[str, Any]:
    """Redemptions and their discounts per partner merchant signed in the unit's subtree, in the period (net of
    refunds, voids left out; ``counter.totals``), with the total of the rows."""
    root = await _scope(conn, actor, q)
    start, end, lo, hi = _bounds(q)
    lines = await counter_totals.by_merchant(conn, root.path, lo, hi)
    total = {f: sum(line[f] for line in lines) for f in counter_totals.FIGURES}
    return {"org": root.code, "org_name": root.name, "from": start.isoformat(), "to": end.isoformat(),
            "by": "merchant", "rows": lines, "total": total}


async def cards_issued(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> dict[str, Any]:
    """Service cards issued to units of the subtree in the period, by month (Beijing): new cards and
    replacements (a reissue after a loss or a damage), with the total of the rows."""
    root = await _scope(conn, actor, q)
    start, end, lo, hi = _bounds(q)
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for issued_at, reissue in await card_lifecycle.issued_between(conn, root.path, lo, hi):
        rows[issued_at.astimezone(LOCAL_TZ).strftime("%Y-%m")]["reissued" if reissue else "issued"] += 1
    lines = [{"key": month, "name": month, "issued": rows[month]["issued"], "reissued": rows[month]["reissued"]}
             for month in sorted(rows)]
    return {"org": root.code, "org_name": root.name, "from": start.isoformat(), "to": end.isoformat(), "by": "month",
            "rows": lines, "total": {f: sum(line[f] for line in lines) for f in ("issued", "reissued")}}


async def funds(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> dict[str, Any]:
    """The funds' income and spending in the unit's subtree, by source, for the budget year the period ends in
    (funds are budgeted per year: ``funds.accounts``, every figure a sum of ledger rows)."""
    root = await _scope(conn, actor, q)
    start, end, _lo, _hi = _bounds(q)
    found = await fund_accounts.for_staff(conn, root.path, end.year, "source")
    lines = [{"key": r["source"], "name": r["source_name"], "income": r["income"], "reserved": r["reserved"],
              "spent": r["spent"]} for r in found["rows"]]
    return {"org": root.code, "org_name": root.name, "from": start.isoformat(), "to": end.isoformat(),
            "by": "source", "year": end.year, "rows": lines, "total": found["total"]}
