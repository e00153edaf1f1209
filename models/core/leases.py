"""Leases: a background job that must run in one place at a time holds its lease row while it runs.

A lease has a holder (one serving process) and an expiry. The holder renews it on each run; another
process takes it only once it is free or has lapsed, so a process that dies without a word hands its
jobs on after the lease's time. Each change of hands adds one to ``generation`` (a fencing number: a
holder that lost its lease sees another number). Every move is a conditional UPDATE on the row,
so two processes cannot both win; the row itself is made once by ``ensure``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.tables import job_leases


@dataclass(frozen=True)
class Lease:
    """A lease row as it stands."""

    name: str
    holder: str | None
    expires_at: datetime | None
    generation: int


async def ensure(conn: AsyncConnection, name: str) -> None:
    """Make the lease's row if it has none yet (free, generation 0); a row another process made counts.

    Run it in a transaction of its own: a duplicate key ends the transaction on some databases.
    """
    if (await conn.execute(sa.select(job_leases.c.name).where(job_leases.c.name == name))).first():
        return
    try:
        async with conn.begin_nested():
            await conn.execute(job_leases.insert().values(name=name, generation=0))
    except IntegrityError:
        pass  # another process made it first


async def take(conn: AsyncConnection, name: str, holder: str, *, ttl: float, now: datetime) -> int | None:
    """Renew the lease when ``holder`` has it, else take it when free or lapsed, for ``ttl`` seconds from
    ``now``; the generation held, or None when another holder's lease runs. The row must exist (``ensure``)."""
    until = now + timedelta(seconds=ttl)
    row = job_leases.c
    renewed = await conn.execute(
        job_leases.update().where(row.name == name, row.holder == holder).values(expires_at=until))
    if renewed.rowcount != 1:
        taken = await conn.execute(
            job_leases.update()
            .where(row.name == name, sa.or_(row.holder.is_(None), row.expires_at.is_(None), row.expires_at <= now))
            .values(holder=holder, expires_at=until, taken_at=now, generation=row.generation + 1))
        if taken.rowcount != 1:
            return None
    lease = await get(conn, name)
    return lease.generation if lease is not None and lease.holder == holder else None


async def release(conn: AsyncConnection, name: str, holder: str) -> bool:
    """Give the lease back if ``holder`` still has it (another process may take it at once)."""
    result = await conn.execute(
        job_leases.update().where(job_leases.c.name == name, job_leases.c.holder == holder)
        .values(holder=None, expires_at=None))
    return result.rowcount == 1


async def get(conn: AsyncConnection, name: str) -> Lease | None:
    """The lease's row, or None when it was never taken."""
    row = (await conn.execute(sa.select(job_leases).where(job_leases.c.name == name))).first()
    if row is None:
        return None
    return Lease(row.name, row.holder, row.expires_at, int(row.generation))
