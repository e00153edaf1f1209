"""Today's relief work of one member of staff, as counts: what waits at their steps (overdue, flagged,
resubmitted after a return), objections to investigate, notice periods about to end. The console's
home page shows each with a link to the list that does it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import policy
from models.core.actors import Actor
from models.core.clock import utcnow
from models.network import tree
from models.relief.notices import IN_FORCE
from models.relief.queue import my_steps, resubmitted_here
from models.relief.records import STEP_NAMES
from models.relief.tables import (
    relief_applications,
    relief_notice_entries,
    relief_notices,
    relief_objections,
)

#: A notice period "ends soon" when it ends within this many days.
ENDING_WITHIN = timedelta(days=2)


@dataclass(frozen=True)
class StepWork:
    """What waits at one step in the actor's subtree."""

    step: str
    name: str
    waiting: int
    overdue: int
    flagged: int
    resubmitted: int


@dataclass(frozen=True)
class ReliefWork:
    """The relief counts of one member of staff."""

    steps: list[StepWork]
    objections_open: int | None
    objections_overdue: int | None
    notices_ending: int | None


async def at_steps(conn: AsyncConnection, actor: Actor, now: datetime | None = None) -> list[StepWork]:
    """For each step the actor's roles decide (every step for an admin), how many submitted applications of the
    subtree wait there, how many are overdue, flagged, or back after a return; in the order of the procedure."""
    policy.require(actor, "relief.queue")
    now = now or utcnow()
    t = relief_applications.c
    steps = my_steps(actor)
    if not steps:
        return []

    def count_of(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    query = (sa.select(t.step, sa.func.count().label("waiting"), count_of(t.due_at < now).label("overdue"),
                       count_of(t.flagged.is_(True)).label("flagged"),
                       count_of(resubmitted_here()).label("resubmitted"))
             .where(t.status == "submitted", t.step.in_(steps),
                    t.org_path.startswith(policy.scope(actor), autoescape=True))
             .group_by(t.step))
    found = {r.step: r for r in await conn.execute(query)}
    out = []
    for step in steps:
        row = found.get(step)
        out.append(StepWork(step, STEP_NAMES[step], int(row.waiting) if row else 0, int(row.overdue) if row else 0,
                            int(row.flagged) if row else 0, int(row.resubmitted) if row else 0))
    return out


async def objections_open(conn: AsyncConnection, actor: Actor, now: datetime | None = None) -> tuple[int, int]:
    """(open, overdue) objections to applications of the actor's subtree."""
    policy.require(actor, "relief.objection_resolve")
    now = now or utcnow()
    o, a = relief_objections.c, relief_applications.c
    row = (await conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((o.due_at < now, 1), else_=0)), 0))
        .select_from(relief_objections.join(relief_applications, a.id == o.application_id))
        .where(o.status == "open", a.org_path.startswith(policy.scope(actor), autoescape=True)))).one()
    return int(row[0]), int(row[1])


async def notices_ending(conn: AsyncConnection, actor: Actor, now: datetime | None = None) -> int:
    """Entries still in their notice period in the actor's subtree whose period ends within ``ENDING_WITHIN``."""
    policy.require(actor, "relief.publish")
    now = now or utcnow()
    n, e = relief_notices.c, relief_notice_entries.c
    return int((await conn.execute(
        sa.select(sa.func.count()).select_from(relief_notice_entries.join(relief_notices, n.id == e.notice_id))
        .where(e.state.in_(IN_FORCE), n.ends_at <= now + ENDING_WITHIN,
               tree.in_subtree(n.org_path, policy.scope(actor))))).scalar_one())


async def today(conn: AsyncConnection, actor: Actor) -> ReliefWork:
    """The actor's relief work: the counts their roles have anything to do with (None: not theirs)."""
    now = utcnow()
    steps = await at_steps(conn, actor, now) if policy.allowed(actor, "relief.queue") else []
    opened = await objections_open(conn, actor, now) if policy.allowed(actor, "relief.objection_resolve") else None
    ending = await notices_ending(conn, actor, now) if policy.allowed(actor, "relief.publish") else None
    return ReliefWork(steps, opened[0] if opened else None, opened[1] if opened else None, ending)

