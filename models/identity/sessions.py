"""Opaque bearer tokens: random, stored only as a hash, expiring and revocable."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.identity.tables import auth_tokens


def new_token() -> str:
    """An opaque bearer token with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database stores of a bearer token (unkeyed: the token itself carries 256 random bits)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Issued:
    """A freshly issued bearer token (the only time it is seen in clear) and its expiry."""

    token: str
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


async def revoke(conn: AsyncConnection, token: str) -> bool:
    """Revoke one token; True when it was live."""
    result = await conn.execute(
        auth_tokens.update()
        .where(auth_tokens.c.token_hash == hash_token(token), auth_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount == 1


async def revoke_others(conn: AsyncConnection, subject_kind: str, subject_id: int, *, keep: str | None) -> int:
    """Revoke every live token of the subject but ``keep`` (the caller's own); how many were revoked."""
    query = auth_tokens.update().where(auth_tokens.c.subject_kind == subject_kind,
                                       auth_tokens.c.subject_id == subject_id, auth_tokens.c.revoked_at.is_(None))
    if keep is not None:
        query = query.where(auth_tokens.c.token_hash != hash_token(keep))
    return int((await conn.execute(query.values(revoked_at=utcnow()))).rowcount)


async def purge_expired(conn: AsyncConnection, *, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete tokens expired for more than ``older_than``."""
    result = await conn.execute(auth_tokens.delete().where(auth_tokens.c.expires_at < utcnow() - older_than))
    return result.rowcount
