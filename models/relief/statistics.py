"""What the seeds' reports count, per organisation subtree and period (Beijing days): applications received,
approved and rejected; people helped and money paid; each grouped by kind, by month or by the unit's
direct sub-units. Every total is the sum of its rows (``people``, distinct workers, alone is not additive).

Counted from the timeline and the application's columns:
- received: ``submitted_at`` in the period (a resubmission keeps the first submission's time);
- approved: an event ``passed`` at step ``approval`` in the period; rejected: an event ``rejected``;
- paid: applications now ``paid`` or ``archived``, at the time of their latest ``paid`` event, for their
  ``approved_amount``. Funds' ledger totals (payments by source) would replace this reading once the
  ledger exists: swap ``_paid`` for a query over its payment rows.
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
from models.relief.tables import relief_applications, relief_events

By = Literal["kind", "month", "org"]
MAX_DAYS = 366 * 10
PAID = ("paid", "archived")


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

    def key(self, kind: str, kind_name: str, org_path: str, at: datetime) -> str:
        """The line's group, its name kept for the answer."""
        if self.by == "kind":
            self.names.setdefault(kind, kind_name)
            return kind
        if self.by == "month":
            month = at.astimezone(LOCAL_TZ).strftime("%Y-%m")
            self.names.setdefault(month, month)
            return month
        unit = next((c for c in self.children if org_path.startswith(c.path)), self.root)
        self.names.setdefault(unit.code, unit.name)
        return unit.code


async def _scope(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> tuple[tree.Org, list[tree.Org]]:
    policy.require(actor, "relief.statistics")
    within = policy.scope(actor)
    root = await tree.by_code(conn, q.org, within=within) if q.org else (
        await tree.get(conn, actor.org_id, within=within) if actor.org_id is not None else None)
    if root is None:
        raise Invalid("org_required", "请指定单位代码")
    kids = (await conn.execute(sa.select(orgs.c.id).where(orgs.c.parent_id == root.id).order_by(orgs.c.code))).all()
    return root, [await tree.get(conn, r.id) for r in kids]


def _kind_name(definition: str, cache: dict[str, str]) -> str:
    if definition not in cache:
        cache[definition] = str(json.loads(definition).get("name", ""))
    return cache[definition]


def _answer(root: tree.Org, q: StatsQuery, start: date, end: date, group: _Grouper,
            rows: dict[str, dict[str, int]], fields: Iterable[str], total_extra: dict[str, Any]) -> dict[str, Any]:
    names = list(fields)
    lines: list[dict[str, Any]] = [{"key": key, "name": group.names[key], **{f: rows[key].get(f, 0) for f in names}}
             for key in sorted(rows)]
    total = {f: sum(line[f] for line in lines) for f in names}
    return {"org": root.code, "org_name": root.name, "from": start.isoformat(), "to": end.isoformat(),
            "by": q.by, "rows": lines, "total": {**total, **total_extra}}


async def applications(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> dict[str, Any]:
    """Applications received, approved and rejected in the period within the unit's subtree, grouped."""
    root, children = await _scope(conn, actor, q)
    start, end, lo, hi = _bounds(q)
    a, e = relief_applications.c, relief_events.c
    inside = a.org_path.startswith(root.path, autoescape=True)
    group, names = _Grouper(q.by, root, children), dict[str, str]()
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    received = await conn.execute(sa.select(a.kind, a.kind_definition, a.org_path, a.submitted_at)
                                  .where(inside, a.submitted_at >= lo, a.submitted_at < hi))
    for r in received:
        rows[group.key(r.kind, _kind_name(r.kind_definition, names), r.org_path, r.submitted_at)]["received"] += 1
    decided = await conn.execute(
        sa.select(a.kind, a.kind_definition, a.org_path, e.at, e.action)
        .join_from(relief_events, relief_applications, a.id == e.application_id)
        .where(inside, e.at >= lo, e.at < hi, sa.or_(sa.and_(e.action == "passed", e.step == "approval"),
                                                     e.action == "rejected")))
    for d in decided:
        field = "approved" if d.action == "passed" else "rejected"
        rows[group.key(d.kind, _kind_name(d.kind_definition, names), d.org_path, d.at)][field] += 1
    return _answer(root, q, start, end, group, rows, ("received", "approved", "rejected"), {})


async def _paid(conn: AsyncConnection, root: tree.Org) -> list[Any]:
    """(application, kind, definition, org path, member, approved amount, latest ``paid`` event time) of the
    paid and archived applications in the subtree."""
    a, e = relief_applications.c, relief_events.c
    return list((await conn.execute(
        sa.select(a.id, a.kind, a.kind_definition, a.org_path, a.member_id, a.approved_amount,
                  sa.func.max(e.at).label("paid_at"))
        .join_from(relief_applications, relief_events, e.application_id == a.id)
        .where(a.org_path.startswith(root.path, autoescape=True), a.status.in_(PAID), e.action == "paid")
        .group_by(a.id, a.kind, a.kind_definition, a.org_path, a.member_id, a.approved_amount))).all())


async def payments(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> dict[str, Any]:
    """People helped (人次, and distinct workers in the total) and money paid (fen) in the period, grouped."""
    root, children = await _scope(conn, actor, q)
    start, end, lo, hi = _bounds(q)
    group, names = _Grouper(q.by, root, children), dict[str, str]()
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    people: set[int] = set()
    for r in await _paid(conn, root):
        if not lo <= r.paid_at < hi:
            continue
        line = rows[group.key(r.kind, _kind_name(r.kind_definition, names), r.org_path, r.paid_at)]
        line["times"] += 1
        line["amount"] += int(r.approved_amount or 0)
        people.add(int(r.member_id))
    return _answer(root, q, start, end, group, rows, ("times", "amount"), {"people": len(people)})


# --- the other reports of the statistics page: partners, cards, funds (over their own domains' figures) ---


async def redemptions(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> dict[str, Any]:
    """Redemptions and their discounts per partner merchant signed in the unit's subtree, in the period (net of
    refunds, voids left out; ``counter.totals``), with the total of the rows."""
    root, _ = await _scope(conn, actor, q)
    start, end, lo, hi = _bounds(q)
    lines = await counter_totals.by_merchant(conn, root.path, lo, hi)
    total = {f: sum(line[f] for line in lines) for f in counter_totals.FIGURES}
    return {"org": root.code, "org_name": root.name, "from": start.isoformat(), "to": end.isoformat(),
            "by": "merchant", "rows": lines, "total": total}


async def cards_issued(conn: AsyncConnection, actor: Actor, q: StatsQuery) -> dict[str, Any]:
    """Service cards issued to units of the subtree in the period, by month (Beijing): new cards and
    replacements (a reissue after a loss or a damage), with the total of the rows."""
    root, _ = await _scope(conn, actor, q)
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
    root, _ = await _scope(conn, actor, q)
    start, end, _lo, _hi = _bounds(q)
    found = await fund_accounts.for_staff(conn, root.path, end.year, "source")
    lines = [{"key": r["source"], "name": r["source_name"], "income": r["income"], "reserved": r["reserved"],
              "spent": r["spent"]} for r in found["rows"]]
    return {"org": root.code, "org_name": root.name, "from": start.isoformat(), "to": end.isoformat(),
            "by": "source", "year": end.year, "rows": lines, "total": found["total"]}
