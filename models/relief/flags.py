"""Duplicates and limits, flagged to the reviewer with the other application named (issue 13, item 5).

Found at submission and recomputed at each review step (``raise_flags``):

- ``same_kind_open``: the same member has another open application (submitted or returned) of the kind;
- ``household_open``: the applicant or a household member (by the ID numbers' blind index) is the
  applicant or a household member of another member's open application of the kind;
- ``frequency``: over the kind's limit (``times`` a ``year`` or ``ever``, per household or per value of
  ``per_field``), counting this member's applications of the kind that went in (submitted, returned,
  paid, archived), in the Beijing calendar year of the submission for a yearly limit.

A flag that no longer holds when recomputed is cleared; one that was overridden is not raised again for
the same reason and other application (the override, with its reason, stands).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import LOCAL_TZ, utcnow
from models.members.tables import members
from models.core.ports import PiiCipher
from models.relief.records import FORM_PURPOSE, OPEN, Application
from models.relief.tables import relief_applications, relief_flags, relief_household

REASONS = {"same_kind_open": "本人有同类申请正在办理", "household_open": "家庭成员有同类申请正在办理",
           "frequency": "超过该类别的申请次数限制"}
#: Applications that count against a kind's frequency (they went in and were not refused or withdrawn).
COUNTED = ("submitted", "returned", "paid", "archived")


@dataclass(frozen=True)
class Flag:
    """A flag on an application, with the other application's kind and status."""

    id: int
    application_id: int
    reason: str
    other_application_id: int | None
    other_kind: str | None
    other_status: str | None
    step: str | None
    status: str
    detail: str | None
    override_reason: str | None
    override_by: int | None
    created_at: datetime
    resolved_at: datetime | None

    def view(self) -> dict[str, Any]:
        """The flag as staff see it (override_by is a staff id)."""
        return {"id": self.id, "reason": self.reason, "reason_name": REASONS.get(self.reason, self.reason),
                "other_application_id": self.other_application_id, "other_kind": self.other_kind,
                "other_status": self.other_status, "step": self.step, "status": self.status, "detail": self.detail,
                "override_reason": self.override_reason, "override_by": self.override_by,
                "created_at": self.created_at, "resolved_at": self.resolved_at}


# Built once: the alias's column collection is costly to set up, and every review step reads the flags.
_other = relief_applications.alias("other")


#: An application's flags (built once: every file view reads them).
_OF_APPLICATION = (sa.select(relief_flags, _other.c.kind.label("other_kind"), _other.c.status.label("other_status"))
                   .outerjoin(_other, _other.c.id == relief_flags.c.other_application_id)
                   .where(relief_flags.c.application_id == sa.bindparam("application_id"))
                   .order_by(relief_flags.c.id))


async def _flags(conn: AsyncConnection, application_id: int, statuses: tuple[str, ...] | None) -> list[Flag]:
    query = _OF_APPLICATION
    if statuses is not None:
        query = query.where(relief_flags.c.status.in_(statuses))
    return [Flag(r.id, r.application_id, r.reason, r.other_application_id, r.other_kind, r.other_status, r.step,
                 r.status, r.detail, r.override_reason, r.override_by, r.created_at, r.resolved_at)
            for r in (await conn.execute(query, {"application_id": application_id})).all()]


async def open_flags(conn: AsyncConnection, application_id: int) -> list[Flag]:
    """The application's open flags (those that block a pass), oldest first."""
    return await _flags(conn, application_id, ("open",))


async def all_flags(conn: AsyncConnection, application_id: int) -> list[Flag]:
    """Every flag of the application: open, overridden and cleared."""
    return await _flags(conn, application_id, None)


async def _identities(conn: AsyncConnection, app: Application) -> set[str]:
    """The blind indexes of the applicant's and the household's ID numbers."""
    own = (await conn.execute(sa.select(members.c.id_number_bidx).where(members.c.id == app.member_id))).scalar()
    rows = await conn.execute(sa.select(relief_household.c.id_number_bidx).where(
        relief_household.c.application_id == app.id, relief_household.c.id_number_bidx.is_not(None)))
    return {str(r[0]) for r in rows} | ({str(own)} if own else set())


def _others(app: Application) -> Any:
    a = relief_applications.c
    return sa.select(a.id).where(a.kind == app.kind, a.status.in_(OPEN), a.id != app.id)


async def _found(conn: AsyncConnection, app: Application, cipher: PiiCipher | None) -> dict[tuple[str, int | None], str | None]:
    """(reason, other application) -> detail, for every duplicate and limit that holds now."""
    a = relief_applications.c
    found: dict[tuple[str, int | None], str | None] = {}
    same = await conn.execute(_others(app).where(a.member_id == app.member_id).order_by(a.id))
    for (other_id,) in same:
        found[("same_kind_open", int(other_id))] = None
    ids = await _identities(conn, app)
    if ids:
        by_applicant = _others(app).join_from(relief_applications, members, members.c.id == a.member_id).where(
            a.member_id != app.member_id, members.c.id_number_bidx.in_(ids))
        by_household = _others(app).join_from(
            relief_applications, relief_household, relief_household.c.application_id == a.id).where(
            a.member_id != app.member_id, relief_household.c.id_number_bidx.in_(ids))
        for query in (by_applicant, by_household):
            for (other_id,) in await conn.execute(query):
                found[("household_open", int(other_id))] = None
    over = await _over_frequency(conn, app, cipher)
    if over is not None:
        found[("frequency", over[0])] = over[1]
    return found


def _year(at: datetime) -> int:
    return at.astimezone(LOCAL_TZ).year


async def _over_frequency(conn: AsyncConnection, app: Application,
                          cipher: PiiCipher | None) -> tuple[int, str] | None:
    """(the latest other application counted, a detail) when this one goes over the kind's limit."""
    freq = app.definition.frequency
    if freq.period == "none" or freq.times is None:
        return None
    a = relief_applications.c
    query = (sa.select(relief_applications).where(a.member_id == app.member_id, a.kind == app.kind,
                                                  a.status.in_(COUNTED), a.id != app.id).order_by(a.id.desc()))
    rows = (await conn.execute(query)).all()
    year = _year(app.submitted_at or utcnow())
    counted = [r for r in rows if freq.period == "ever" or (r.submitted_at is not None and _year(r.submitted_at) == year)]
    if freq.per_field:
        value = app.form.get(freq.per_field)
        if value is None:
            return None
        if cipher is not None:  # without the cipher every application of the kind counts (flagged, not missed)
            counted = [r for r in counted
                       if json.loads(cipher.decrypt(r.form_enc, purpose=FORM_PURPOSE)).get(freq.per_field) == value]
    if len(counted) + 1 <= freq.times:
        return None
    when = f"{year} 年" if freq.period == "year" else "累计"
    return int(counted[0].id), f"{when}已有 {len(counted)} 份，限 {freq.times} 份"


async def raise_flags(conn: AsyncConnection, app: Application, step: str | None, *,
                      cipher: PiiCipher | None = None) -> list[Flag]:
    """Recompute the application's duplicates and limits at ``step``: write the new ones as open flags, clear
    open ones that no longer hold, set ``flagged``; the open flags now.

    ``flagged`` is derived state: it is written without bumping the application's version, so the caller's
    record stays saveable. Pass ``cipher`` for kinds limited per value of a form field (school aid per child):
    the other applications' forms are read to compare the value; without it they all count.
    """
    found = await _found(conn, app, cipher)
    now = utcnow()
    kept = {(f.reason, f.other_application_id): f for f in await all_flags(conn, app.id)
            if f.status in ("open", "overridden")}
    stale = [f.id for key, f in kept.items() if f.status == "open" and key not in found]
    if stale:
        await conn.execute(relief_flags.update().where(relief_flags.c.id.in_(stale))
                           .values(status="cleared", resolved_at=now))
    new = [{"application_id": app.id, "other_application_id": other, "reason": reason, "step": step,
            "status": "open", "detail": detail, "created_at": now}
           for (reason, other), detail in found.items() if (reason, other) not in kept]
    if new:
        await conn.execute(relief_flags.insert(), new)
    current = await open_flags(conn, app.id)
    await conn.execute(relief_applications.update().where(relief_applications.c.id == app.id)
                       .values(flagged=bool(current)))
    return current


async def clear_all(conn: AsyncConnection, application_id: int) -> None:
    """Clear the open flags of an application that left the review (withdrawn)."""
    await conn.execute(relief_flags.update().where(relief_flags.c.application_id == application_id,
                                                   relief_flags.c.status == "open")
                       .values(status="cleared", resolved_at=utcnow()))
    await conn.execute(relief_applications.update().where(relief_applications.c.id == application_id)
                       .values(flagged=False))
