"""Reading the audit log: an admin's search of the records of their subtree, newest first.

A record is in an admin's reach when its unit (``org_path``) lies in their subtree, or, for a record that
names no unit (a store added, an invite made, a login), when the member of staff who acted belongs to a
unit of their subtree. Records are never changed here; the chain check is ``models.core.audit.verify``.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import policy
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ
from models.core.errors import Invalid
from models.core.tables import audit_log
from models.core.typed import Cursor, Date, Paging, text
from models.identity.tables import staff
from models.network.tables import orgs
from models.network.tree import in_subtree


class AuditQuery(Paging):
    """Filters of the search, each optional: who acted (a staff username), the action (exact, or a prefix
    ending in "."), the target (kind, and id), the days (Beijing, both ends included); the cursor."""

    cursor: Cursor | None = None
    person: Annotated[str, text(64)] | None = None
    action: Annotated[str, text(64)] | None = None
    target_kind: Annotated[str, text(32)] | None = None
    target_id: Annotated[str, text(64)] | None = None
    from_: Date | None = Field(None, alias="from")
    to: Date | None = None


def _day(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=LOCAL_TZ)


async def search(conn: AsyncConnection, actor: Actor, q: AuditQuery, *, actor_id: int | None = None,
                 limit: int | None = None) -> list[dict[str, Any]]:
    """The records of the actor's reach matching the filters, newest first, those before the cursor (``limit``
    of them when given); ``actor_id`` is the staff id the page resolved ``person`` to (-1: nobody)."""
    policy.require(actor, "audit.view")
    within = policy.scope(actor)
    a = audit_log.c
    home = sa.select(orgs.c.path).join(staff, staff.c.org_id == orgs.c.id).where(
        a.actor_kind == "staff", staff.c.id == a.actor_id).scalar_subquery()
    query = (sa.select(audit_log).where(sa.or_(in_subtree(a.org_path, within),
                                               sa.and_(a.org_path.is_(None), in_subtree(home, within))))
             .order_by(a.id.desc()).limit(limit))
    if q.cursor is not None:
        query = query.where(a.id < q.cursor)
    if q.person is not None:
        query = query.where(a.actor_kind == "staff", a.actor_id == (actor_id if actor_id is not None else -1))
    if q.action:
        query = query.where(a.action.startswith(q.action, autoescape=True) if q.action.endswith(".")
                            else a.action == q.action)
    if q.target_kind:
        query = query.where(a.target_kind == q.target_kind)
    if q.target_id:
        query = query.where(a.target_id == q.target_id)
    if q.from_ and q.to and q.from_ > q.to:
        raise Invalid("period_order", "起始日期不能晚于截止日期", details=[{"field": "from", "reason": "起始日期不能晚于截止日期"}])
    if q.from_:
        query = query.where(a.created_at >= _day(q.from_))
    if q.to:
        query = query.where(a.created_at < _day(q.to + timedelta(days=1)))
    rows = (await conn.execute(query)).mappings().all()
    return [{"id": r["id"], "at": r["created_at"], "actor_kind": r["actor_kind"], "actor_id": r["actor_id"],
             "actor_role": r["actor_role"], "action": r["action"], "target_kind": r["target_kind"],
             "target_id": r["target_id"], "org_path": r["org_path"], "summary": _summary(r["summary"]),
             "request_id": r["request_id"], "ip": r["ip"], "sealed": r["seq"] is not None} for r in rows]



def _summary(text_: str) -> dict[str, Any]:
    try:
        found = json.loads(text_)
    except ValueError:
        return {"text": text_}
    return found if isinstance(found, dict) else {"value": found}
