"""The statistics' summary, kept as the timeline is written: what ``statistics`` reports, counted once.

Two tables (``relief_tallies`` and ``relief_tally_paid``, models/relief/tables.py), written by ``record`` in the
transaction of the timeline's event that changes them (its one caller is ``records.event``):

- ``received``: the first submission (the event ``submitted``), on the Beijing day of ``submitted_at``;
- ``approved``: an event ``passed`` at step ``approval``; ``rejected``: an event ``rejected`` (any step);
- ``paid``: an event ``paid`` at step ``payment``, for the application's ``approved_amount``. A reversal
  (``payment_reversed``) takes it back from the day it was counted on, so an application paid, reversed and
  paid again counts once, at its latest payment, and only while it is paid or archived.

Each is added to every subtree the application lies in (each path prefix of its ``org_path``: a report reads
its unit's rows, never its sub-units'), per Beijing day and per Beijing month (a report reads whole months
from the month rows, the days at either end from the day rows). ``relief_tally_paid`` keeps one row per paid
application and subtree for the distinct workers helped (``people``, which no sum of rows gives).

``rebuild`` counts both tables afresh from the applications and their timelines with the same rules: the
migration that made them (0022), the scenes that write timelines directly (the benchmark's, the tests'), the
demo's data (whose times are moved back) and ``unionaid rebuild-relief-stats`` use it.

Row locks: a count's rows are shared by every application of the unit, day, kind and figure. A transaction
writes all its counts at its end in one sorted statement (a single event at once; a domain function writing
many events in one transaction, a batch payment or a meeting's votes, inside ``batched``), after the payments'
own rows, so two transactions take the shared rows in one order and cannot deadlock on them. A payment or a
reversal first locks the worker's row in ``members``: one at a time per worker, their chain of payments is read
(under the service's READ COMMITTED: the latest rows) and rewritten whole (tests/models/relief/test_tallies.py
pays and reverses thirty at once on MariaDB).
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import LOCAL_TZ
from models.members.tables import members
from models.relief.tables import relief_applications, relief_events, relief_tallies, relief_tally_paid

#: What a report counts, in the tables' ``figure``.
FIGURES = ("received", "approved", "rejected", "paid")
#: The statuses of an application whose payment counts.
PAID = ("paid", "archived")
CHUNK = 2000
#: The people's rows' ``kind`` for a first payment (no previous one).
NO_PREVIOUS = "-"
#: The ``kind`` of the month rows that count every kind (what a report grouped by month or unit reads).
ALL_KINDS = "*"
#: (scope, span, day, kind, figure): a row of ``relief_tallies``.
Key = tuple[str, str, date, str, str]


def day_of(at: datetime) -> date:
    """The Beijing day of a moment."""
    return at.astimezone(LOCAL_TZ).date()


def scopes(org_path: str) -> list[str]:
    """Every subtree a unit's path lies in, from the root down to the unit: ``/1/5/9/`` gives ``/1/``, ``/1/5/``
    and ``/1/5/9/`` (a report for a unit reads the rows of its own path)."""
    parts = [p for p in org_path.split("/") if p]
    return ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


def figure_of(action: str, step: str | None) -> str | None:
    """The figure a timeline event adds to, if any."""
    if action == "submitted":
        return "received"
    if action == "passed" and step == "approval":
        return "approved"
    if action == "rejected":
        return "rejected"
    if action == "paid" and step == "payment":
        return "paid"
    return None


class Tally:
    """Counts gathered before they are written: per row, (n, amount, lowest application id)."""

    def __init__(self) -> None:
        self.rows: dict[Key, list[int]] = {}

    def add(self, org_path: str, kind: str, figure: str, day: date, amount: int, application_id: int) -> None:
        """One application counted under ``figure`` on ``day``, in every subtree, per day and per month (and in
        the month's row of every kind, ``ALL_KINDS``, whose ``first_id`` is 0: no kind to name)."""
        month = day.replace(day=1)
        for scope in scopes(org_path):
            for key in ((scope, "d", day, kind, figure), (scope, "m", month, kind, figure)):
                self.bump(key, 1, amount, application_id)
            self.bump((scope, "m", month, ALL_KINDS, figure), 1, amount, 0)

    def bump(self, key: Key, n: int, amount: int = 0, first: int = 0) -> None:
        """Change one row by ``n`` and ``amount`` (the people's rows, span "p", and what a reversal takes back)."""
        row = self.rows.get(key)
        if row is None:
            self.rows[key] = [n, amount, first]
        else:
            row[0] += n
            row[1] += amount
            row[2] = min(row[2], first)

    def merge(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        for key, (n, amount, first) in other.rows.items():
            self.bump(key, n, amount, first)

    def values(self) -> list[dict[str, Any]]:
        """The rows, in key order (the one lock order of every writer)."""
        return [{"scope": k[0], "span": k[1], "day": k[2], "kind": k[3], "figure": k[4], "n": v[0], "amount": v[1],
                 "first_id": v[2]} for k, v in sorted(self.rows.items()) if v[0] or v[1]]


class _Batch:
    """What a transaction's events change, written together at the end in key order: the counts, the payments
    and reversals still to do (per worker), and the rows whose lowest application id a reversal may have taken."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.paid: list[tuple[int, int, Paid | None]] = []  # (member id, application id, payment or None)
        self.after: list[tuple[int, Key]] = []


_PENDING: ContextVar[_Batch | None] = ContextVar("relief_tallies_pending", default=None)
#: ``first_id`` of a row that takes back: never the lowest (LEAST keeps the row's own).
_NONE_FIRST = 2**62


def _upsert(conn: AsyncConnection, rows: list[dict[str, Any]]) -> Any:
    t = relief_tallies
    if conn.dialect.name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        mine = mysql_insert(t).values(rows)
        return mine.on_duplicate_key_update(n=t.c.n + mine.inserted.n, amount=t.c.amount + mine.inserted.amount,
                                            first_id=sa.func.least(t.c.first_id, mine.inserted.first_id))
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    lite = sqlite_insert(t).values(rows)
    return lite.on_conflict_do_update(
        index_elements=[c.name for c in t.primary_key.columns],
        set_={"n": t.c.n + lite.excluded.n, "amount": t.c.amount + lite.excluded.amount,
              "first_id": sa.func.min(t.c.first_id, lite.excluded.first_id)})


async def _write(conn: AsyncConnection, tally: Tally) -> None:
    rows = tally.values()
    for i in range(0, len(rows), CHUNK):
        await conn.execute(_upsert(conn, rows[i:i + CHUNK]))
    t = relief_tallies.c
    for row in rows:  # a row counted down to nothing goes, as a count afresh would not write it
        if row["n"] < 0:
            await conn.execute(relief_tallies.delete().where(
                t.scope == row["scope"], t.span == row["span"], t.day == row["day"], t.kind == row["kind"],
                t.figure == row["figure"], t.n == 0))


async def _finish(conn: AsyncConnection, batch: _Batch) -> None:
    """Do the payments gathered (worker by worker, in id order), then write every count in key order."""
    for member_id, application_id, paid in sorted(batch.paid, key=lambda x: (x[0], x[1])):
        await _set_paid(conn, batch, application_id, member_id, paid)
    batch.paid.clear()
    await _write(conn, batch.tally)
    t = relief_tallies.c
    for application_id, (scope, span, day, kind, figure) in batch.after:  # the lowest id, if it was taken back
        key = sa.and_(t.scope == scope, t.span == span, t.day == day, t.kind == kind, t.figure == figure)
        row = (await conn.execute(sa.select(t.first_id).where(key))).first()
        if row is not None and row.first_id == application_id:
            p = relief_tally_paid.c
            end = day if span == "d" else _month_end(day)
            first = (await conn.execute(sa.select(sa.func.min(p.application_id)).where(
                p.scope == scope, p.day >= day, p.day <= end, p.kind == kind))).scalar_one()
            await conn.execute(relief_tallies.update().where(key).values(first_id=first))


@asynccontextmanager
async def batched(conn: AsyncConnection) -> AsyncIterator[None]:
    """Gather the counts of the events written inside, and write them at the end in key order (not when the
    body fails: its transaction is rolled back anyway)."""
    if _PENDING.get() is not None:  # already gathering
        yield
        return
    batch = _Batch()
    token = _PENDING.set(batch)
    try:
        yield
    finally:
        _PENDING.reset(token)
    await _finish(conn, batch)


async def record(conn: AsyncConnection, *, application_id: int, org_path: str, kind: str, member_id: int,
                 approved_amount: int | None, submitted_at: datetime | None, action: str, step: str | None,
                 at: datetime) -> None:
    """Count a timeline event (``at``, as written) of the application, in the caller's transaction."""
    figure = figure_of(action, step)
    when = submitted_at if figure == "received" else at
    if action != "payment_reversed" and (figure is None or when is None):
        return
    pending = _PENDING.get()
    batch = pending if pending is not None else _Batch()
    if action == "payment_reversed" or figure == "paid":  # counted at its latest payment only
        assert when is not None or action == "payment_reversed"
        paid = None if action == "payment_reversed" else Paid(org_path, kind, approved_amount or 0, day_of(at))
        batch.paid.append((member_id, application_id, paid))
    else:
        assert figure is not None and when is not None
        batch.tally.add(org_path, kind, figure, day_of(when), 0, application_id)
    if pending is None:
        await _finish(conn, batch)


class Paid:
    """An application's counted payment: where, what, how much, on which Beijing day."""

    def __init__(self, org_path: str, kind: str, amount: int, day: date) -> None:
        self.org_path, self.kind, self.amount, self.day = org_path, kind, amount, day


def _chain(payments: Iterable[tuple[date, int]]) -> dict[int, date | None]:
    """Each of a worker's payments in a subtree, (day, application id), with the day of the one before it."""
    out: dict[int, date | None] = {}
    before: date | None = None
    for day, application_id in sorted(payments):
        out[application_id] = before
        before = day
    return out


def month_key(day: date | None) -> str:
    """How the people's rows (span "p") name the month of a previous payment: ``YYYY-MM``, ``-`` for none."""
    return NO_PREVIOUS if day is None else day.strftime("%Y-%m")


def _people(tally: Tally, scope: str, payments: list[tuple[date, int]], sign: int) -> dict[int, date | None]:
    """Count a worker's payments in a subtree into the people's rows (``sign`` -1 takes them out); the chain."""
    chain, days = _chain(payments), {a: d for d, a in payments}
    for application_id, previous in chain.items():
        tally.bump((scope, "p", days[application_id].replace(day=1), month_key(previous), "people"), sign)
    return chain


async def _set_paid(conn: AsyncConnection, batch: _Batch, application_id: int, member_id: int,
                    paid: Paid | None) -> None:
    """Make the application's counted payment ``paid`` (None: not paid): its former one (if any) taken back from
    the day it was counted on, the worker's chain of payments in each subtree and the people's rows redone; the
    counts into ``batch``.

    The worker's row in ``members`` is locked first: one payment or reversal of a worker at a time, so their
    chains are read (READ COMMITTED: the latest rows) and rewritten whole; no shared row is locked before it."""
    p = relief_tally_paid
    await conn.execute(sa.select(members.c.id).where(members.c.id == member_id).with_for_update())
    former = (await conn.execute(sa.select(p).where(p.c.application_id == application_id))).all()
    if not former and paid is None:
        return
    tally = batch.tally
    for scope in sorted({r.scope for r in former} | set(scopes(paid.org_path) if paid is not None else ())):
        mine = (await conn.execute(sa.select(p.c.day, p.c.application_id).where(
            p.c.scope == scope, p.c.member_id == member_id))).all()
        before = [(r.day, int(r.application_id)) for r in mine]
        after = [x for x in before if x[1] != application_id]
        if paid is not None and scope in scopes(paid.org_path):
            after.append((paid.day, application_id))
        old, new = _people(tally, scope, before, -1), _people(tally, scope, after, 1)
        if application_id in old:
            await conn.execute(p.delete().where(p.c.application_id == application_id, p.c.scope == scope))
        if paid is not None and application_id in new:
            await conn.execute(p.insert().values(
                application_id=application_id, scope=scope, day=paid.day, prev_day=new[application_id],
                member_id=member_id, kind=paid.kind, amount=paid.amount))
        for other, previous in new.items():
            if other != application_id and old.get(other) != previous:
                await conn.execute(p.update().where(p.c.application_id == other, p.c.scope == scope)
                                   .values(prev_day=previous))
    for r in former:  # taken back from the day (and month) it was counted on
        day = r.day
        for key in ((r.scope, "d", day, r.kind, "paid"), (r.scope, "m", day.replace(day=1), r.kind, "paid")):
            tally.bump(key, -1, -int(r.amount), _NONE_FIRST)
            batch.after.append((application_id, key))
        tally.bump((r.scope, "m", day.replace(day=1), ALL_KINDS, "paid"), -1, -int(r.amount), _NONE_FIRST)
    if paid is not None:
        tally.add(paid.org_path, paid.kind, "paid", paid.day, paid.amount, application_id)


def people_parts(scope: str, start: date, end: date) -> list[tuple[int, Any]]:
    """The distinct workers paid in the subtree over the Beijing days [start, end], as (sign, scalar subquery)
    parts to add up: the payments of the period whose previous payment (of the same worker in the subtree) lies
    before ``start``, or that have none. The whole months from the people's rows, the days at either end from
    ``relief_tally_paid``."""
    p, t = relief_tally_paid.c, relief_tallies.c
    counted = sa.or_(p.prev_day.is_(None), p.prev_day < start)
    parts: list[tuple[int, Any]] = []
    for span, lo, hi in spans(start, end):
        if span == "d":
            parts.append((1, sa.select(sa.func.count()).select_from(relief_tally_paid).where(
                p.scope == scope, p.day >= lo, p.day <= hi, counted).scalar_subquery()))
            continue
        earlier = sa.or_(t.kind == NO_PREVIOUS, t.kind < month_key(lo))
        parts.append((1, sa.select(sa.func.coalesce(sa.func.sum(t.n), 0)).where(
            t.scope == scope, t.span == "p", t.day >= lo, t.day <= hi, earlier).scalar_subquery()))
        if start < lo:  # the month before them begins inside the period: a previous payment there is inside too
            parts.append((-1, sa.select(sa.func.count()).select_from(relief_tally_paid).where(
                p.scope == scope, p.prev_day >= start, p.prev_day < lo, p.day >= lo, p.day <= hi).scalar_subquery()))
    return parts


async def people(conn: AsyncConnection, scope: str, start: date, end: date) -> int:
    """``people_parts`` counted in one statement."""
    parts = people_parts(scope, start, end)
    found = (await conn.execute(sa.select(*(part for _, part in parts)))).one()
    return sum(sign * int(n) for (sign, _), n in zip(parts, found))


def spans(start: date, end: date) -> list[tuple[str, date, date]]:
    """The rows a period reads: (span, first day, last day) of the month rows for the whole months inside it and
    of the day rows for the days before and after them."""
    first = start if start.day == 1 else _next_month(start)
    after = end + timedelta(days=1)
    stop = after if after.day == 1 else end.replace(day=1)  # the first day after the whole months
    if first >= stop:
        return [("d", start, end)]
    out = [("m", first, stop - timedelta(days=1))]
    if start < first:
        out.append(("d", start, first - timedelta(days=1)))
    if stop <= end:
        out.append(("d", stop, end))
    return out


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _next_month(day) - timedelta(days=1)


# --- counting afresh ---------------------------------------------------------------------------------


def counted(conn: sa.Connection) -> tuple[Tally, list[dict[str, Any]]]:
    """What the summary holds, counted from the applications and their timelines (the rules of ``record``):
    the tally and the rows of ``relief_tally_paid``."""
    a, e = relief_applications.c, relief_events.c
    tally = Tally()
    paid: dict[tuple[int, str], dict[str, Any]] = {}
    for r in conn.execute(sa.select(a.id, a.org_path, a.kind, a.submitted_at).where(a.submitted_at.is_not(None))):
        tally.add(r.org_path, r.kind, "received", day_of(r.submitted_at), 0, r.id)
    decided = sa.or_(sa.and_(e.action == "passed", e.step == "approval"), e.action == "rejected")
    for ev in conn.execute(sa.select(a.id, a.org_path, a.kind, e.action, e.step, e.at)
                           .join_from(relief_events, relief_applications, a.id == e.application_id).where(decided)):
        figure = figure_of(ev.action, ev.step)
        assert figure is not None
        tally.add(ev.org_path, ev.kind, figure, day_of(ev.at), 0, ev.id)
    latest = (sa.select(e.application_id, sa.func.max(e.at).label("at"))
              .where(e.action == "paid", e.step == "payment").group_by(e.application_id).subquery("latest"))
    chains: dict[tuple[str, int], list[tuple[date, int]]] = {}
    for pd in conn.execute(sa.select(a.id, a.org_path, a.kind, a.member_id, a.approved_amount, latest.c.at)
                           .join_from(latest, relief_applications, a.id == latest.c.application_id)
                           .where(a.status.in_(PAID))):
        day, amount = day_of(pd.at), int(pd.approved_amount or 0)
        tally.add(pd.org_path, pd.kind, "paid", day, amount, pd.id)
        for scope in scopes(pd.org_path):
            chains.setdefault((scope, pd.member_id), []).append((day, pd.id))
            paid[(pd.id, scope)] = {"application_id": pd.id, "scope": scope, "day": day, "prev_day": None,
                                    "member_id": pd.member_id, "kind": pd.kind, "amount": amount}
    for (scope, _member), payments in chains.items():
        for application_id, previous in _people(tally, scope, payments, 1).items():
            paid[(application_id, scope)]["prev_day"] = previous
    return tally, [paid[k] for k in sorted(paid)]


def rebuild_sync(conn: sa.Connection) -> dict[str, int]:
    """Count the summary afresh from the applications and their timelines, in the caller's transaction; the
    rows written per table."""
    tally, paid = counted(conn)
    conn.execute(relief_tallies.delete())
    conn.execute(relief_tally_paid.delete())
    for table, rows in ((relief_tallies, tally.values()), (relief_tally_paid, paid)):
        for i in range(0, len(rows), CHUNK):
            conn.execute(table.insert(), rows[i:i + CHUNK])
    return {"relief_tallies": len(tally.rows), "relief_tally_paid": len(paid)}


async def rebuild(conn: AsyncConnection) -> dict[str, int]:
    """``rebuild_sync`` on an async connection."""
    return await conn.run_sync(rebuild_sync)


async def drift(conn: AsyncConnection) -> list[str]:
    """How the summary differs from a fresh count (empty when it holds exactly what ``rebuild`` would write)."""

    def compare(sync: sa.Connection) -> list[str]:
        tally, paid = counted(sync)
        want = {(r["scope"], r["span"], r["day"], r["kind"], r["figure"]): (r["n"], r["amount"], r["first_id"])
                for r in tally.values()}
        p = relief_tally_paid.c
        have = {(r.scope, r.span, r.day, r.kind, r.figure): (int(r.n), int(r.amount), int(r.first_id))
                for r in sync.execute(sa.select(relief_tallies))}
        fields = ("application_id", "scope", "day", "prev_day", "member_id", "kind", "amount")
        want_paid = sorted(tuple(r[f] for f in fields) for r in paid)
        have_paid = sorted(tuple(getattr(r, f) for f in fields) for r in sync.execute(
            sa.select(*(getattr(p, f) for f in fields))))
        out = [f"{k}: kept {have.get(k)}, counted {want.get(k)}" for k in sorted(set(want) | set(have), key=str)
               if want.get(k) != have.get(k)]
        if want_paid != have_paid:
            out.append(f"relief_tally_paid: kept {len(have_paid)} rows, counted {len(want_paid)}, differing")
        return out

    return await conn.run_sync(compare)
