"""The editable holiday calendar: weekdays off (holidays) and weekend days worked (make-up days, 调休).

Working-day deadlines (the notice period when a unit counts working days, an objection's due date)
load the calendar for the span they need and pass it to ``records.add_working_days``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, utcnow
from models.core.errors import Forbidden, NotFound, Unprocessable
from models.core.typed import Body, text
from models.db.sql import upsert
from models.network import tree
from models.relief import records
from models.relief.records import Application
from models.relief.tables import relief_calendar

#: How far ahead a deadline's calendar is loaded: comfortably more than any period counted in working days.
SPAN = timedelta(days=400)


@dataclass(frozen=True)
class Calendar:
    """The holidays and make-up working days of a span."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The end of the ``days``-th working day after ``start`` under this calendar."""
        return records.add_working_days(start, days, self.holidays, self.workdays)


class DayBody(Body):
    """One day of the calendar: ``off`` true for a holiday on a weekday, false for a make-up working weekend day."""

    off: bool
    name: Annotated[str, text(50, min_len=1)]


async def load(conn: AsyncConnection, start: date, end: date) -> Calendar:
    """The calendar from ``start`` to ``end`` (both included)."""
    rows = (await conn.execute(sa.select(relief_calendar.c.day, relief_calendar.c.off)
                               .where(relief_calendar.c.day >= start, relief_calendar.c.day <= end))).all()
    return Calendar(frozenset(r.day for r in rows if r.off), frozenset(r.day for r in rows if not r.off))


async def add_working_days(conn: AsyncConnection, start: datetime, days: int) -> datetime:
    """``records.add_working_days`` with the calendar loaded for the span ahead of ``start``."""
    first = start.astimezone(LOCAL_TZ).date()
    return (await load(conn, first, first + SPAN + timedelta(days=2 * days))).add_working_days(start, days)


async def step_due(conn: AsyncConnection, app: Application, step: str, start: datetime) -> datetime:
    """When an application that reached ``step`` at ``start`` is overdue there: the kind's working days for
    the step (else ``records.DEFAULT_DEADLINE_DAYS``), counted on the calendar. Every step's deadline comes
    from here."""
    return await add_working_days(conn, start, app.definition.deadlines.get(step, records.DEFAULT_DEADLINE_DAYS))


def _view(row: Any) -> dict[str, Any]:
    return {"date": row.day.isoformat(), "off": bool(row.off), "name": row.name}


async def year(conn: AsyncConnection, year_: int) -> list[dict[str, Any]]:
    """The year's days off and make-up working days, in date order."""
    rows = (await conn.execute(sa.select(relief_calendar)
                               .where(relief_calendar.c.day >= date(year_, 1, 1),
                                      relief_calendar.c.day <= date(year_, 12, 31))
                               .order_by(relief_calendar.c.day))).all()
    return [_view(r) for r in rows]


def editable(actor: Actor) -> bool:
    """The calendar counts every unit's notice and review days: only an administrator of a top unit changes it."""
    return policy.allowed(actor, "calendar.manage") and tree.is_top(actor.org_path)


def _may_change(actor: Actor) -> None:
    policy.require(actor, "calendar.manage")
    if not editable(actor):
        raise Forbidden("calendar_top_only", "节假日日历全网通用，只能由最上级工会的管理员修改")


async def put(conn: AsyncConnection, actor: Actor, day: date, body: DayBody) -> dict[str, Any]:
    """Set one day (audited): a holiday must fall on a weekday, a make-up working day on a weekend."""
    _may_change(actor)
    weekend = day.weekday() >= 5
    if body.off and weekend:
        raise Unprocessable("calendar_weekend_off", "周末本就不是工作日，无需设为节假日")
    if not body.off and not weekend:
        raise Unprocessable("calendar_weekday_work", "工作日本就上班，只有周末才能设为调休上班日")
    now = utcnow()
    values = {"day": day, "off": body.off, "name": body.name, "updated_by": actor.id, "updated_at": now}
    await conn.execute(upsert(conn, relief_calendar, values, ["day"],
                              {"off": body.off, "name": body.name, "updated_by": actor.id, "updated_at": now}))
    await audit.record(conn, actor, "calendar.put", target_kind="relief_calendar", target_id=day.isoformat(),
                       summary={"off": body.off, "name": body.name})
    return {"date": day.isoformat(), "off": body.off, "name": body.name}


async def delete(conn: AsyncConnection, actor: Actor, day: date) -> None:
    """Make the day an ordinary one again (audited); 404 when the calendar does not name it."""
    _may_change(actor)
    done = await conn.execute(relief_calendar.delete().where(relief_calendar.c.day == day))
    if done.rowcount != 1:
        raise NotFound("calendar_day_not_found", "日历中没有这一天的设置")
    await audit.record(conn, actor, "calendar.delete", target_kind="relief_calendar", target_id=day.isoformat())
