"""What the seeds' reports count, per organisation subtree and period (Beijing days): applications received,
approved and rejected; people helped and money paid; each grouped by kind, by month or by the unit's
direct sub-units. Every total is the sum of its rows (``people``, distinct workers, alone is not additive).

What is counted (``tallies``, which keeps the counts as the timeline is written):
- received: ``submitted_at`` in the period (a resubmission keeps the first submission's time);
- approved: an event ``passed`` at step ``approval`` in the period; rejected: an event ``rejected``;
- paid: applications now ``paid`` or ``archived``, at the time of their latest ``paid`` event, for their
  ``approved_amount``. Funds' ledger totals (payments by source) would replace this reading once the
  ledger exists: count them into the summary from the ledger's writer instead.

A report reads the summary's rows of its unit (and, grouped by unit, of its direct sub-units): the whole
months of the period from the month rows, the days at either end from the day rows, so its cost follows the
months, kinds and sub-units, never the applications. The figures are live: a change shows in the next
report, in every process (the summary is written in the transaction of the change).
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
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
from models.relief import tallies
from models.relief.tables import relief_applications, relief_tallies

By = Literal["kind", "month", "org"]
MAX_DAYS = 366 * 10


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


async def _scope(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> tree.Org:
    """The unit counted, within the caller's reach."""
    policy.require(actor, "relief.statistics")
    within = policy.scope(actor)
    root = await tree.by_code(conn, q.org, within=within) if q.org else (
        await tree.get(conn, actor.org_id, within=within) if actor.org_id is not None else None)
    if root is None:
        raise Invalid("org_required", "请指定单位代码")
    return root


async def _children(conn: AsyncConnection, root: tree.Org, by: By) -> list[tree.Org]:
    """The unit's direct sub-units, when the report groups by them (one query)."""
    if by != "org":
        return []
    o = orgs.c
    kids = await conn.execute(sa.select(o.id, o.code, o.name, o.type, o.parent_id, o.path, o.depth)
                              .where(o.parent_id == root.id).order_by(o.code))
    return [tree.Org(r.id, r.code, r.name, r.type, r.parent_id, r.path, r.depth) for r in kids]


#: The kind's name each counted application's kept definition gives, by (application id, kind): a report's sample
#: ids are mostly the same ones, so the definitions are read and parsed once per process (a kept definition never
#: changes; the kind in the key keeps an id that came back with another application, after a restore, apart).
_NAMES: dict[tuple[int, str], str] = {}


async def _kind_names(conn: AsyncConnection, samples: dict[str, int]) -> dict[str, str]:
    """Each kind's name, from the definition kept by the first application of the kind counted."""
    missing = sorted(i for kind, i in samples.items() if (i, kind) not in _NAMES)
    if missing:
        a = relief_applications.c
        rows = await conn.execute(sa.select(a.id, a.kind, a.kind_definition).where(a.id.in_(missing)))
        if len(_NAMES) > 4096:
            _NAMES.clear()
        _NAMES.update({(r.id, r.kind): str(json.loads(r.kind_definition).get("name", "")) for r in rows})
    return {kind: _NAMES[(i, kind)] for kind, i in samples.items() if (i, kind) in _NAMES}


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


async def _tallied(conn: AsyncConnection, root: tree.Org, children: list[tree.Org], by: By, start: date, end: date,
                   figures: tuple[str, ...], extra: list[Any]) -> list[Any]:
    """The summary's rows of the period for the unit (and, grouped by unit, its direct sub-units), summed in SQL
    per what the grouping keeps apart: (scope, figure) by unit, (kind, figure) by kind, (day, figure) by month (a
    month row, or a day at either end); ``extra`` scalar subqueries ride along on every row (one round trip)."""
    t = relief_tallies.c
    # Whole months from the month rows (of every kind at once, unless grouped by kind), the days at either end
    # from the day rows.
    kinds = (t.kind != tallies.ALL_KINDS) if by == "kind" else (t.kind == tallies.ALL_KINDS)
    spans = [sa.and_(t.span == span, t.day >= lo, t.day <= hi, *((kinds,) if span == "m" else ()))
             for span, lo, hi in tallies.spans(start, end)]
    kept = {"org": (t.scope, t.figure), "kind": (t.kind, t.figure), "month": (t.day, t.figure)}[by]
    found = await conn.execute(
        sa.select(*kept, sa.func.sum(t.n).label("n"), sa.func.sum(t.amount).label("amount"),
                  sa.func.min(t.first_id).label("first_id"),
                  *(sa.func.max(x).label(f"extra{i}") for i, x in enumerate(extra)))  # a constant: MAX keeps it
        .where(t.scope.in_([root.path, *(c.path for c in children)]), t.figure.in_(figures), sa.or_(*spans),
               t.n > 0)
        .group_by(*kept))
    return list(found)


async def _grouped(conn: AsyncConnection, root: tree.Org, q: StatsQuery, start: date, end: date,
                   figures: dict[str, tuple[str, str]], extra: list[Any] | None = None,
                   ) -> tuple[_Grouper, dict[str, dict[str, int]], list[int]]:
    """The lines of a report: per group, each field's sum. ``figures`` maps a field to (figure, ``n`` or
    ``amount``). Grouped by unit, a sub-unit's line is its own subtree's rows and the unit's line what its
    subtree holds beyond its sub-units' (applications made at the unit itself). With them, ``extra``'s values
    (none when nothing was counted)."""
    children = await _children(conn, root, q.by)
    rows = await _tallied(conn, root, children, q.by, start, end, tuple({f for f, _ in figures.values()}),
                          extra or [])
    extras = [int(getattr(rows[0], f"extra{i}")) for i in range(len(extra or []))] if rows else []
    samples: dict[str, int] = {}
    if q.by == "kind":
        for r in rows:
            _sample(samples, r.kind, int(r.first_id))
    group, names = _Grouper(q.by, root, children), await _kind_names(conn, samples)
    lines: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sub = {c.path: c for c in children}
    fields: dict[str, list[tuple[str, str]]] = defaultdict(list)  # figure -> [(field, column)]
    for field, (figure, column) in figures.items():
        fields[figure].append((field, column))
    own: dict[str, int] = defaultdict(int)  # grouped by unit: the unit's subtree less its sub-units'
    for r in rows:
        values = [(field, int(r.n if column == "n" else r.amount)) for field, column in fields[r.figure]]
        if q.by == "org":
            unit = sub.get(r.scope)
            sign = 1 if unit is None else -1
            for field, number in values:
                own[field] += sign * number
            if unit is None:
                continue
            line = lines[group.key("", "", unit.path, None)]
        elif q.by == "kind":
            line = lines[group.key(r.kind, names.get(r.kind, ""), root.path, None)]
        else:
            line = lines[group.key("", "", root.path, r.day.strftime("%Y-%m"))]
        for field, number in values:
            line[field] += number
    if any(own.values()):
        line = lines[group.key("", "", root.path, None)]
        for field, number in own.items():
            line[field] += number
    return group, lines, extras


async def applications(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> dict[str, Any]:
    """Applications received, approved and rejected in the period within the unit's subtree, grouped.

    Read from the summary (``tallies``): the answer's cost follows the months, kinds and sub-units, never the
    number of applications."""
    root = await _scope(conn, actor, q)
    start, end, _lo, _hi = _bounds(q)
    group, lines, _ = await _grouped(conn, root, q, start, end, {
        "received": ("received", "n"), "approved": ("approved", "n"), "rejected": ("rejected", "n")})
    return _answer(root, q, start, end, group, lines, ("received", "approved", "rejected"), {})


async def payments(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> dict[str, Any]:
    """People helped (人次, and distinct workers in the total) and money paid (fen) in the period, grouped:
    the applications now paid or archived, at their latest payment, for their approved amount."""
    root = await _scope(conn, actor, q)
    start, end, _lo, _hi = _bounds(q)
    parts = tallies.people_parts(root.path, start, end)  # the distinct workers, read with the rows
    group, lines, found = await _grouped(conn, root, q, start, end, {"times": ("paid", "n"),
                                                                     "amount": ("paid", "amount")},
                                         [part for _, part in parts])
    people = sum(sign * n for (sign, _), n in zip(parts, found))
    return _answer(root, q, start, end, group, lines, ("times", "amount"), {"people": int(people)})


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
