"""A second person on the register (四眼原则): what waits for confirmation, and its confirmation or decline.

An entry or a re-check (models/members/hardship.py) is ``pending`` until a member of staff with
``hardship.confirm`` who did not enter it confirms it (``active``; a re-check makes the record it
re-checked ``renewed``) or declines it with a reason (``declined``). The confirmer sees the category the
figures proposed beside the one chosen and the reason for the difference.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import local_today, utcnow
from models.core.errors import Conflict, Invalid
from models.members import hardship
from models.members.hardship import HardshipRecord
from models.members.tables import hardship_records, members
from models.network import tree as orgs
from models.network.tables import orgs as orgs_t

FOUR_EYES = ("four_eyes", "困难职工档案的录入（复核）和确认须由不同人员办理")
_NOT_PENDING = {
    "active": "该档案已确认，无需再次确认",
    "declined": "该档案已被退回",
    "renewed": "该档案已确认并已复核更新",
    "exited": "该档案已确认并已办理脱困",
}


async def _pending_in_scope(conn: AsyncConnection, actor: Actor, record_id: int) -> Any:
    """The pending record, in the actor's subtree, under its member's lock; not by the one who entered it."""
    row = await hardship.record_in_scope(conn, actor, record_id)
    await hardship.lock_member(conn, row.member_id)
    status = await hardship.current_status(conn, record_id)
    if status != "pending":
        raise Conflict("hardship_not_pending", _NOT_PENDING.get(status, "该档案不在待确认状态"))
    if actor.id is not None and actor.id == row.verified_by:
        raise Conflict(*FOUR_EYES)
    return row


async def confirm(conn: AsyncConnection, actor: Actor, record_id: int, *, note: str | None = None) -> HardshipRecord:
    """Confirm a pending entry or re-check: it becomes active (a re-check renews the record it re-checked).

    Refused (409) to the one who entered it (``four_eyes``), when its validity has ended meanwhile
    (``hardship_expired``: decline it and enter it again), when the member has left the roster, and for a
    re-check whose record is no longer active (exited meanwhile).
    """
    policy.require(actor, "hardship.confirm")
    row = await _pending_in_scope(conn, actor, record_id)
    if row.valid_to < local_today():
        raise Conflict("hardship_expired",
                       f"该档案的有效期已于 {row.valid_to.isoformat()} 结束，不能确认；请退回后按新的有效期重新办理")
    member_status = (await conn.execute(sa.select(members.c.status)
                                        .where(members.c.id == row.member_id))).scalar_one()
    if member_status != "active":
        raise Conflict("member_not_active", "该会员已不是在册会员，不能确认困难职工档案，请退回")
    now = utcnow()
    if row.supersedes_id is not None:
        renewed = await conn.execute(
            hardship_records.update()
            .where(hardship_records.c.id == row.supersedes_id, hardship_records.c.status == "active")
            .values(status="renewed", superseded_by_id=record_id))
        if renewed.rowcount != 1:
            raise Conflict("hardship_not_active", "被复核的原档案已不是有效档案（已脱困或已更新），请退回本次复核")
    await conn.execute(hardship_records.update()
                       .where(hardship_records.c.id == record_id, hardship_records.c.status == "pending")
                       .values(status="active", decided_by=actor.id, decided_at=now))
    await audit.record(conn, actor, "hardship.confirm", target_kind="hardship", target_id=record_id,
                       org_path=row.path, summary={
                           "member_id": row.member_id, "kind": "entry" if row.supersedes_id is None else "recheck",
                           "supersedes_id": row.supersedes_id, "entered_by": row.verified_by,
                           "category": row.category, "proposed_category": row.proposed_category,
                           "category_reason": row.category_reason, "note": note})
    return await hardship.load_one(conn, None, record_id)


async def decline(conn: AsyncConnection, actor: Actor, record_id: int, *, reason: str) -> HardshipRecord:
    """Decline a pending entry or re-check with a reason; it stays in the history, the record it re-checked
    (if any) stays as it was. The one who entered it cannot decline it either (``four_eyes``)."""
    policy.require(actor, "hardship.confirm")
    why = reason.strip()
    if not why:
        raise Invalid("hardship_field", "退回原因不能为空", details=[{"field": "reason", "reason": "不能为空"}])
    row = await _pending_in_scope(conn, actor, record_id)
    await conn.execute(hardship_records.update()
                       .where(hardship_records.c.id == record_id, hardship_records.c.status == "pending")
                       .values(status="declined", decline_reason=why, decided_by=actor.id, decided_at=utcnow()))
    await audit.record(conn, actor, "hardship.decline", target_kind="hardship", target_id=record_id,
                       org_path=row.path, summary={"member_id": row.member_id, "reason": why,
                                                   "supersedes_id": row.supersedes_id})
    return await hardship.load_one(conn, None, record_id)


async def pending(conn: AsyncConnection, actor: Actor, *, after: int | None = None,
                  limit: int | None = None) -> list[HardshipRecord]:
    """Entries and re-checks in the actor's subtree waiting for confirmation, oldest first; those after the
    id ``after``, ``limit`` of them when given."""
    policy.require(actor, "hardship.view")
    query = (sa.select(hardship_records).join(orgs_t, orgs_t.c.id == hardship_records.c.org_id)
             .where(hardship_records.c.status == "pending", orgs.in_subtree(orgs_t.c.path, policy.scope(actor))))
    if after is not None:
        query = query.where(hardship_records.c.id > after)
    rows = (await conn.execute(query.order_by(hardship_records.c.id).limit(limit))).all()
    return await hardship.load(conn, None, list(rows))


async def count_pending(conn: AsyncConnection, actor: Actor) -> int:
    """How many entries and re-checks in the actor's subtree wait for confirmation, counted exactly."""
    policy.require(actor, "hardship.view")
    return int((await conn.execute(
        sa.select(sa.func.count()).select_from(hardship_records).join(orgs_t, orgs_t.c.id == hardship_records.c.org_id)
        .where(hardship_records.c.status == "pending", orgs.in_subtree(orgs_t.c.path, policy.scope(actor)))))
        .scalar_one())
