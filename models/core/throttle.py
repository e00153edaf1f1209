"""Failure counters with lock-outs (binding tries, staff logins), shared by every process."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.core.tables import throttles
from models.db.sql import upsert


async def locked_until(conn: AsyncConnection, key: str) -> datetime | None:
    """When the lock on ``key`` ends, or None when it is not locked."""
    row = (await conn.execute(sa.select(throttles.c.locked_until).where(throttles.c.key == key))).first()
    if row is None or row.locked_until is None or row.locked_until <= utcnow():
        return None
    until: datetime = row.locked_until
    return until


async def fail(
    conn: AsyncConnection, key: str, *, limit: int, window: timedelta, lock_for: timedelta
) -> datetime | None:
    """Count one failure; after ``limit`` failures within ``window`` lock for ``lock_for``.

    Returns the end of the lock when this failure caused one. Run it in a
    transaction of its own so it stays even when the caller's work is refused.
    """
    now = utcnow()
    # Create the counter or take the existing one with an exclusive lock in one statement: two first
    # failures at once never hold a shared lock each and then deadlock upgrading it.
    await conn.execute(upsert(conn, throttles, {"key": key, "window_start": now, "failures": 0}, ["key"],
                              {"key": key}))
    row = (
        await conn.execute(sa.select(throttles).where(throttles.c.key == key).with_for_update())
    ).one()
    failures = row.failures
    window_start = row.window_start
    if window_start + window <= now or (row.locked_until is not None and row.locked_until <= now):
        failures, window_start = 0, now
    failures += 1
    until = now + lock_for if failures >= limit else None
    await conn.execute(
        throttles.update()
        .where(throttles.c.key == key)
        .values(failures=0 if until else failures, window_start=window_start, locked_until=until)
    )
    return until


async def reset(conn: AsyncConnection, key: str) -> None:
    """Clear the failures and any lock on ``key`` (after a success)."""
    await conn.execute(throttles.delete().where(throttles.c.key == key))
