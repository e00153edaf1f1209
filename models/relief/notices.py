"""The public notice (公示): staff publish a batch of applications at the notice step for a period; the public
reads the batches in force (masked name, unit, kind, amount: nothing else about the person); when the period
has ended with no open objection, ``end_notice_periods`` moves each application on to approval.

What was published stays what it was: an entry keeps the masked name, unit, kind and amount of the day.
Entry states: ``in_notice``, ``paused`` (an open objection), ``ended`` (moved to approval),
``withdrawn_by_objection`` (an upheld objection took the application back or rejected it).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from time import monotonic
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.core import audit, outbox, policy
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, utcnow
from models.core.errors import Conflict, NotFound, Unprocessable
from models.core.masking import mask_name
from models.core.ports import PiiCipher
from models.core.typed import Id, PageQuery, text
from models.core.typed import Body as RequestBody
from models.members.tables import members
from models.network import tree
from models.network.tables import orgs
from models.relief import calendar, records, reviewing
from models.relief.tables import relief_notice_entries, relief_notices

STEP = "notice"
DEFAULT_DAYS = 7
#: The unit setting (inherited down the tree): "true" counts the period in working days.
WORKING_DAYS_SETTING = "relief.notice_working_days"
IN_FORCE = ("in_notice", "paused")
NOTICE_PHRASE = "公示中"
ENDED_PHRASE = "公示期满"


class PublishBody(RequestBody):
    """The applications to publish, the period (days) and the publishing unit (default: the caller's)."""

    application_ids: Annotated[list[Id], Field(min_length=1, max_length=200)]
    days: Annotated[int, Field(ge=1, le=60)] | None = None
    org: Annotated[str, text(32, min_len=1)] | None = None


class NoticesQuery(PageQuery):
    """A page of the batches published in the caller's subtree, newest first."""


@dataclass(frozen=True)
class Entry:
    """One published application as the notice shows it."""

    id: int
    notice_id: int
    application_id: int
    name: str
    unit: str
    kind: str
    amount: int | None
    state: str

    def public(self) -> dict[str, Any]:
        """What anyone may read: the masked name, the unit, the kind and the amount."""
        return {"id": self.id, "name": self.name, "unit": self.unit, "kind": self.kind, "amount": self.amount}

    def staff(self) -> dict[str, Any]:
        """What staff read: the public view with the application and the entry's state."""
        return {**self.public(), "application_id": self.application_id, "state": self.state}


def _entry(row: Any) -> Entry:
    return Entry(row.id, row.notice_id, row.application_id, row.masked_name, row.unit, row.kind_name,
                 row.amount, row.state)


async def _entries(conn: AsyncConnection, notice_ids: list[int]) -> dict[int, list[Entry]]:
    out: dict[int, list[Entry]] = {i: [] for i in notice_ids}
    if notice_ids:
        rows = (await conn.execute(sa.select(relief_notice_entries)
                                   .where(relief_notice_entries.c.notice_id.in_(notice_ids))
                                   .order_by(relief_notice_entries.c.id))).all()
        for row in rows:
            out[row.notice_id].append(_entry(row))
    return out


async def period_end(conn: AsyncConnection, org: tree.Org, start: datetime, days: int) -> tuple[datetime, bool]:
    """When a period of ``days`` from ``start`` ends at ``org``, and whether it counts working days."""
    working = (await tree.get_setting(conn, org, WORKING_DAYS_SETTING) or "").lower() == "true"
    if working:
        return await calendar.add_working_days(conn, start, days), True
    day = start.astimezone(LOCAL_TZ).date() + timedelta(days=days)
    return datetime.combine(day, time(23, 59, 59), tzinfo=LOCAL_TZ), False


def _refuse(code: str, message: str, status: type[Conflict] | type[Unprocessable] = Unprocessable) -> Exception:
    return status(code, message)


async def publish(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, body: PublishBody, *,
                  visible_days: int) -> dict[str, Any]:
    """Publish the applications as one batch; each gets the event ``published`` and the worker a notice."""
    policy.require(actor, "relief.publish")
    scope = policy.scope(actor)
    if body.org is not None:
        org = await tree.by_code(conn, body.org, within=scope)
    else:
        assert actor.org_id is not None
        org = await tree.get(conn, actor.org_id)
    ids = list(dict.fromkeys(body.application_ids))
    apps = []
    for app_id in ids:
        try:
            app = await reviewing.load_in_scope(conn, cipher, actor, app_id, lock=True)
        except NotFound:
            app = None
        if app is None or not app.org_path.startswith(org.path):
            raise Unprocessable("notice_application", f"申请 {app_id} 不在该单位范围内")
        if app.status != "submitted" or app.step != STEP:
            raise Conflict("notice_not_ready", f"申请 {app_id} 不在待公示环节")
        busy = (await conn.execute(sa.select(relief_notice_entries.c.notice_id).where(
            relief_notice_entries.c.application_id == app_id,
            relief_notice_entries.c.state.in_(IN_FORCE)).limit(1))).first()
        if busy is not None:
            raise Conflict("notice_already_published", f"申请 {app_id} 已在公示批次 {busy.notice_id} 中")
        apps.append(app)
    now = utcnow()
    days = body.days or DEFAULT_DAYS
    ends_at, working = await period_end(conn, org, now, days)
    done = await conn.execute(relief_notices.insert().values(
        org_id=org.id, org_path=org.path, starts_at=now, ends_at=ends_at,
        visible_until=ends_at + timedelta(days=visible_days), working_days=working, days=days,
        published_by=actor.id, created_at=now))
    notice_id = int(done.inserted_primary_key[0])  # type: ignore[index]
    names = dict((await conn.execute(sa.select(members.c.id, members.c.name)
                                     .where(members.c.id.in_([a.member_id for a in apps])))).all())
    units = dict((await conn.execute(sa.select(orgs.c.id, orgs.c.name)
                                     .where(orgs.c.id.in_([a.org_id for a in apps])))).all())
    for app in apps:
        await conn.execute(relief_notice_entries.insert().values(
            notice_id=notice_id, application_id=app.id, masked_name=mask_name(names.get(app.member_id)),
            unit=units.get(app.org_id, ""), kind_name=app.definition.name, amount=app.proposed_amount,
            state="in_notice"))
        await records.event(conn, app, "published", step=STEP, org_id=actor.org_id, staff_id=actor.id,
                            detail={"notice_id": notice_id, "ends_at": ends_at.isoformat()},
                            amount=app.proposed_amount)
        name = app.definition.name
        await outbox.enqueue(conn, app.user_id, "relief.notice", title=f"{name}申请进入公示",
                             body=f"您的{name}申请已进入公示，公示期至 {ends_at.astimezone(LOCAL_TZ):%Y-%m-%d}。",
                             values={"kind": name, "step": NOTICE_PHRASE})
    await audit.record(conn, actor, "relief.publish", target_kind="relief_notice", target_id=notice_id,
                       org_path=org.path, summary={"applications": ids, "days": days, "working_days": working,
                                                   "ends_at": ends_at.isoformat()})
    return await view(conn, notice_id)


async def view(conn: AsyncConnection, notice_id: int) -> dict[str, Any]:
    """A batch as staff see it."""
    row = (await conn.execute(sa.select(relief_notices, orgs.c.code, orgs.c.name)
                              .join(orgs, orgs.c.id == relief_notices.c.org_id)
                              .where(relief_notices.c.id == notice_id))).one()
    entries = (await _entries(conn, [notice_id]))[notice_id]
    return _staff_view(row, entries)


def _staff_view(row: Any, entries: list[Entry]) -> dict[str, Any]:
    return {"id": row.id, "org": row.code, "org_name": row.name, "starts_at": row.starts_at,
            "ends_at": row.ends_at, "visible_until": row.visible_until, "working_days": bool(row.working_days),
            "days": row.days, "items": [e.staff() for e in entries]}


async def listing(conn: AsyncConnection, actor: Actor, q: NoticesQuery) -> list[dict[str, Any]]:
    """Batches published in the actor's subtree, newest first (``limit + 1`` fetched)."""
    policy.require(actor, "relief.publish")
    t = relief_notices
    query = (sa.select(t, orgs.c.code, orgs.c.name).join(orgs, orgs.c.id == t.c.org_id)
             .where(tree.in_subtree(t.c.org_path, policy.scope(actor))).order_by(t.c.id.desc()).limit(q.limit + 1))
    if q.cursor:
        query = query.where(t.c.id < q.cursor)
    rows = (await conn.execute(query)).all()
    entries = await _entries(conn, [r.id for r in rows])
    return [_staff_view(r, entries[r.id]) for r in rows]


def _visible(now: datetime) -> Any:
    t = relief_notices.c
    return sa.and_(t.visible_until > now, t.starts_at <= now)


async def public(conn: AsyncConnection, now: datetime | None = None) -> list[dict[str, Any]]:
    """The batches anyone may read now (started, not past ``visible_until``), newest first."""
    now = now or utcnow()
    t = relief_notices
    rows = (await conn.execute(sa.select(t.c.id, t.c.starts_at, t.c.ends_at, orgs.c.name)
                               .join(orgs, orgs.c.id == t.c.org_id)
                               .where(_visible(now))
                               .order_by(t.c.id.desc()).limit(200))).all()
    entries = await _entries(conn, [r.id for r in rows])
    return [{"id": r.id, "org": r.name, "starts_at": r.starts_at, "ends_at": r.ends_at,
             "entries": [e.public() for e in entries[r.id]]} for r in rows]


class PublicNotices:
    """The public answer kept by one process, reused while the same batches are visible.

    A city's notice holds thousands of entries and anyone may ask for it, so reading them all for every
    request is what the page would cost. What the public sees of a batch never changes once published
    (entries are frozen; their state is not shown), so one small query, the count, the id range and the latest
    publication time of the visible batches, tells whether the kept answer still holds: a new batch or one past
    ``visible_until`` changes it at once. A unit's new name (shown with its batches) is the one change it cannot
    see; the answer is read afresh at least every ``max_age`` seconds for it."""

    def __init__(self, max_age: float = 60.0, clock: Callable[[], float] = monotonic) -> None:
        self.max_age, self.clock = max_age, clock
        self._key: tuple[Any, ...] | None = None
        self._at = 0.0
        self._value: list[dict[str, Any]] = []

    async def read(self, conn: AsyncConnection, now: datetime | None = None) -> list[dict[str, Any]]:
        """The batches anyone may read now (as ``public``)."""
        now = now or utcnow()
        t = relief_notices.c
        key = tuple((await conn.execute(sa.select(sa.func.count(), sa.func.min(t.id), sa.func.max(t.id),
                                                  sa.func.max(t.starts_at)).where(_visible(now)))).one())
        if key == self._key and self.clock() - self._at < self.max_age:
            return self._value
        value = await public(conn, now)
        self._key, self._at, self._value = key, self.clock(), value
        return value


# --- the end of a period (the background job) ---------------------------------------------------------


async def _move(engine: AsyncEngine, cipher: PiiCipher, entry_id: int, application_id: int, now: datetime) -> bool:
    """Move one application whose period ended; False when another process (or an objection) got there first."""
    async with engine.begin() as conn:
        flipped = await conn.execute(relief_notice_entries.update().where(
            relief_notice_entries.c.id == entry_id, relief_notice_entries.c.state == "in_notice")
            .values(state="ended", ended_at=now))
        if flipped.rowcount != 1:
            return False
        app = await records.load(conn, cipher, application_id)
        if app.status != "submitted" or app.step != STEP:
            return True  # the entry is spent; the application went elsewhere (withdrawn, say)
        nxt = records.next_step(STEP)
        await records.save(conn, cipher, app, step=nxt, step_since=now, due_at=await calendar.step_due(conn, app, nxt, now))
        await records.event(conn, app, "notice_ended", step=STEP, detail={"entry_id": entry_id})
        name = app.definition.name
        await outbox.enqueue(conn, app.user_id, "relief.notice_ended", title=f"{name}申请公示期满",
                             body=f"您的{name}申请公示期满无异议，进入审批环节。",
                             values={"kind": name, "step": ENDED_PHRASE})
    return True


async def end_notice_periods(engine: AsyncEngine, cipher: PiiCipher, now: datetime | None = None) -> int:
    """Move to approval every application whose notice period has ended with no open objection; how many moved.

    Safe with several processes: the conditional update of the entry from ``in_notice`` to ``ended``
    decides who moves it, and the application's own save is conditional on its version."""
    now = now or utcnow()
    e, n = relief_notice_entries, relief_notices
    async with engine.connect() as conn:
        due = (await conn.execute(sa.select(e.c.id, e.c.application_id).join(n, n.c.id == e.c.notice_id)
                                  .where(e.c.state == "in_notice", n.c.ends_at <= now)
                                  .order_by(e.c.id).limit(500))).all()
    moved = 0
    for row in due:
        try:
            moved += await _move(engine, cipher, row.id, row.application_id, now)
        except Conflict:
            continue  # the application changed under us: its entry stays in_notice for the next run
    return moved
