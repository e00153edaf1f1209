"""The worker's in-app inbox: every notice queued for them, delivered by WeChat or not.

The subscribe message is the nudge and needs the worker's consent; the inbox is the record
and needs nothing: the mini-program lists it, shows the unread count, and marks notices read.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.core.outbox import Notice, notice_of
from models.core.tables import notifications

#: The most ids one "mark as read" names (the mini-program marks what it shows).
MARK_MAX = 100


async def page(conn: AsyncConnection, user_id: int, *, before: int | None, limit: int) -> list[Notice]:
    """A worker's notices newest first, from before the notice ``before`` (``limit + 1`` to find a next page)."""
    query = (sa.select(notifications).where(notifications.c.user_id == user_id)
             .order_by(notifications.c.id.desc()).limit(limit + 1))
    if before is not None:
        query = query.where(notifications.c.id < before)
    return [notice_of(row) for row in (await conn.execute(query)).all()]


async def unread(conn: AsyncConnection, user_id: int) -> int:
    """How many of the worker's notices they have not read."""
    count = await conn.execute(sa.select(sa.func.count()).select_from(notifications)
                               .where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None)))
    return int(count.scalar_one())


async def mark_read(conn: AsyncConnection, user_id: int, ids: Sequence[int] | None) -> int:
    """Mark the worker's notices ``ids`` read (all of them when None); answer the unread count left.

    Ids that are not the worker's, or already read, are passed over: marking is idempotent and
    says nothing about other people's notices.
    """
    query = notifications.update().where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
    if ids is not None:
        query = query.where(notifications.c.id.in_(list(ids)))
    if ids is None or ids:
        await conn.execute(query.values(read_at=utcnow()))
    return await unread(conn, user_id)
