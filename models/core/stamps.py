"""The version stamp of the reference data (programmes and their merchants, the union tree), which a
process may cache: every change of it draws a new stamp in its own transaction, and every request
with a caller reads the stamp with the caller's query (``models/access/callers.py``), at no extra
round trip. A process whose cache was filled under another stamp drops it before using it, so a
change is honoured by every process from the first request that begins after it committed.

The stamp is a row of ``shared_cache`` (``stamp:reference``) holding a random token, not a secret and
not sealed. A token rather than a counter: a row deleted and made again (a restore, the tests'
cleaning) never repeats an old stamp.
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.tables import shared_cache
from models.db.sql import insert_ignore

REFERENCE = "stamp:reference"

#: The stamp, as a scalar subquery another query can carry.
REFERENCE_STAMP = (sa.select(shared_cache.c.value).where(shared_cache.c.name == REFERENCE)
                   .scalar_subquery().label("reference_stamp"))
_BUMP = (shared_cache.update().where(shared_cache.c.name == REFERENCE)
         .values(value=sa.bindparam("token")))


async def bump(conn: AsyncConnection) -> None:
    """Draw a new reference stamp in the caller's transaction (call it with every change of reference data)."""
    token = secrets.token_hex(16)
    if (await conn.execute(_BUMP, {"token": token})).rowcount != 1:
        await conn.execute(insert_ignore(shared_cache), [{"name": REFERENCE, "value": token}])
        await conn.execute(_BUMP, {"token": token})


async def current(conn: AsyncConnection) -> str | None:
    """The reference stamp now (None before the first change)."""
    return (await conn.execute(sa.select(REFERENCE_STAMP))).scalar()
