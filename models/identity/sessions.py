"""Opaque bearer tokens: random, stored only as a hash, expiring and revocable."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.core.errors import Unauthorized
from models.identity.tables import auth_tokens
from server.crypto import hash_token, new_token


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Resolved:
    subject_kind: str
    subject_id: int
    expires_at: datetime


async def issue(conn: AsyncConnection, subject_kind: str, subject_id: int, *, ttl: int) -> Issued:
    """Create a token for a user or a member of staff; only its hash is stored."""
    token = new_token()
    now = utcnow()
    expires = now + timedelta(seconds=ttl)
    await conn.execute(
        auth_tokens.insert().values(
            token_hash=hash_token(token),
            subject_kind=subject_kind,
            subject_id=subject_id,
            created_at=now,
            expires_at=expires,
        )
    )
    return Issued(token, expires)


# Built once: every request of a logged-in caller runs it.
_BY_HASH = sa.select(auth_tokens).where(auth_tokens.c.token_hash == sa.bindparam("token_hash"))


async def resolve(conn: AsyncConnection, token: str) -> Resolved:
    """Who a token speaks for; Unauthorized when unknown, revoked or expired."""
    if len(token) > 128:
        raise Unauthorized("token_invalid", "登录凭证无效，请重新登录")
    row = (await conn.execute(_BY_HASH, {"token_hash": hash_token(token)})).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("token_invalid", "登录凭证无效，请重新登录")
    if row.expires_at <= utcnow():
        raise Unauthorized("token_expired", "登录已过期，请重新登录")
    return Resolved(row.subject_kind, row.subject_id, row.expires_at)


async def revoke(conn: AsyncConnection, token: str) -> bool:
    """Revoke one token; True when it was live."""
    result = await conn.execute(
        auth_tokens.update()
        .where(auth_tokens.c.token_hash == hash_token(token), auth_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount == 1


async def revoke_all(conn: AsyncConnection, subject_kind: str, subject_id: int) -> int:
    """Revoke every live token of one subject (e.g. a staff account locked or removed)."""
    result = await conn.execute(
        auth_tokens.update()
        .where(
            auth_tokens.c.subject_kind == subject_kind,
            auth_tokens.c.subject_id == subject_id,
            auth_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return result.rowcount


async def purge_expired(conn: AsyncConnection, *, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete tokens expired for more than ``older_than``."""
    result = await conn.execute(auth_tokens.delete().where(auth_tokens.c.expires_at < utcnow() - older_than))
    return result.rowcount
