"""Values several processes share (the WeChat access token), with a lease so one refreshes.

Kept in the database by default, or in Redis when ``UNIONAID_REDIS_URL`` is set.
Values are secrets, so every value is sealed with the service's PII cipher
(AES-GCM, key id, the entry's name bound as associated data) on the way in: a
cache has no plaintext path, and refuses to store anything before it has a
cipher. A stored value that does not open (key lost or rotated away, a value
written by an older version) reads as missing, so the caller fetches it again.
Leases are not secrets and stay plain.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from models.core.clock import utcnow
from models.core.tables import shared_cache
from server.crypto import DecryptError, PiiCipher
from server.db import reading

log = logging.getLogger("unionaid.shared_cache")


def value_purpose(name: str) -> str:
    """The associated data a cached value is sealed under: a value moved to another name does not open."""
    return f"shared_cache:{name}"


class SharedCache(Protocol):
    """A small shared key-value store with expiring, encrypted values and exclusive leases."""

    cipher: PiiCipher | None

    def use_cipher(self, cipher: PiiCipher) -> None:
        """Seal values with ``cipher`` from now on."""

    async def get(self, name: str) -> str | None:
        """The value, or None when absent, expired or no longer decryptable."""

    async def set(self, name: str, value: str, ttl: float) -> None:
        """Store ``value`` encrypted for ``ttl`` seconds."""

    async def delete(self, name: str) -> None:
        """Forget the value of ``name``."""

    async def acquire(self, name: str, ttl: float) -> str | None:
        """Take the lease ``name`` for ``ttl`` seconds; returns a holder id, or None if held."""

    async def release(self, name: str, holder: str) -> None:
        """Give the lease ``name`` back, if ``holder`` still holds it."""

    async def close(self) -> None:
        """Release the backend's connections."""


class _Sealed:
    """Encryption of values, shared by both backends."""

    cipher: PiiCipher | None = None

    def use_cipher(self, cipher: PiiCipher) -> None:
        self.cipher = cipher

    def _cipher(self) -> PiiCipher:
        if self.cipher is None:
            raise RuntimeError("shared cache has no cipher: it stores secrets and never in plaintext")
        return self.cipher

    def _seal(self, name: str, value: str) -> str:
        return self._cipher().encrypt(value, purpose=value_purpose(name))

    def _open(self, name: str, stored: str) -> str | None:
        try:
            return self._cipher().decrypt(stored, purpose=value_purpose(name))
        except DecryptError:
            log.warning("shared cache %s: stored value does not decrypt (key changed?); treated as missing", name)
            return None


class DatabaseCache(_Sealed):
    """SharedCache on the ``shared_cache`` table; leases by a conditional UPDATE."""

    def __init__(self, engine: AsyncEngine, *, cipher: PiiCipher | None = None) -> None:
        self.engine = engine
        self.cipher = cipher

    async def get(self, name: str) -> str | None:
        """The value, or None when absent, expired or no longer decryptable."""
        async with reading(self.engine) as conn:
            row = (
                await conn.execute(
                    sa.select(shared_cache.c.value, shared_cache.c.expires_at).where(
                        shared_cache.c.name == name
                    )
                )
            ).first()
        if row is None or row.value is None:
            return None
        if row.expires_at is not None and row.expires_at <= utcnow():
            return None
        return self._open(name, row.value)

    async def _ensure_row(self, name: str) -> None:
        async with self.engine.begin() as conn:
            exists = (
                await conn.execute(sa.select(shared_cache.c.name).where(shared_cache.c.name == name))
            ).first()
            if exists:
                return
        try:
            async with self.engine.begin() as conn:
                await conn.execute(shared_cache.insert().values(name=name))
        except IntegrityError:
            pass  # another process created it first

    async def set(self, name: str, value: str, ttl: float) -> None:
        """Store ``value`` sealed for ``ttl`` seconds, creating its row if need be."""
        sealed = self._seal(name, value)
        await self._ensure_row(name)
        async with self.engine.begin() as conn:
            await conn.execute(
                shared_cache.update()
                .where(shared_cache.c.name == name)
                .values(value=sealed, expires_at=utcnow() + timedelta(seconds=ttl))
            )

    async def delete(self, name: str) -> None:
        """Forget the value; its row stays, emptied."""
        async with self.engine.begin() as conn:
            await conn.execute(
                shared_cache.update().where(shared_cache.c.name == name).values(value=None, expires_at=None)
            )

    async def acquire(self, name: str, ttl: float) -> str | None:
        """Take the lease by a conditional UPDATE if free or lapsed; a holder id, or None if held."""
        lease = f"lease:{name}"
        await self._ensure_row(lease)
        holder = uuid.uuid4().hex
        now: datetime = utcnow()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                shared_cache.update()
                .where(
                    shared_cache.c.name == lease,
                    sa.or_(shared_cache.c.lease_until.is_(None), shared_cache.c.lease_until < now),
                )
                .values(lease_owner=holder, lease_until=now + timedelta(seconds=ttl))
            )
        return holder if result.rowcount == 1 else None

    async def release(self, name: str, holder: str) -> None:
        """Give the lease back, only if ``holder`` still holds it."""
        async with self.engine.begin() as conn:
            await conn.execute(
                shared_cache.update()
                .where(shared_cache.c.name == f"lease:{name}", shared_cache.c.lease_owner == holder)
                .values(lease_owner=None, lease_until=None)
            )

    async def close(self) -> None:
        """Nothing to close: the engine belongs to the app."""
        return None


class RedisCache(_Sealed):
    """SharedCache on Redis: values with TTL, leases with SET NX PX."""

    def __init__(self, url: str, prefix: str = "unionaid:", *, cipher: PiiCipher | None = None) -> None:
        import redis.asyncio as redis

        self.redis = redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self.cipher = cipher

    async def get(self, name: str) -> str | None:
        """The value, or None when absent, expired or no longer decryptable."""
        value = await self.redis.get(self.prefix + name)
        return None if value is None else self._open(name, str(value))

    async def set(self, name: str, value: str, ttl: float) -> None:
        """Store ``value`` sealed with a Redis expiry of ``ttl`` seconds."""
        await self.redis.set(self.prefix + name, self._seal(name, value), px=max(1, int(ttl * 1000)))

    async def delete(self, name: str) -> None:
        """Forget the value."""
        await self.redis.delete(self.prefix + name)

    async def acquire(self, name: str, ttl: float) -> str | None:
        """Take the lease with SET NX PX; a holder id, or None if held."""
        holder = uuid.uuid4().hex
        ok = await self.redis.set(self.prefix + "lease:" + name, holder, nx=True, px=int(ttl * 1000))
        return holder if ok else None

    async def release(self, name: str, holder: str) -> None:
        """Give the lease back, only if ``holder`` still holds it (compare-and-delete in one script)."""
        # Delete only our own lease (compare-and-delete in one step).
        script = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
        await self.redis.eval(script, 1, self.prefix + "lease:" + name, holder)

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self.redis.aclose()


def make_cache(engine: AsyncEngine, redis_url: str = "", *, cipher: PiiCipher | None = None) -> SharedCache:
    """The configured shared cache: Redis when a URL is given, else the database.

    Without ``cipher`` it stores nothing until given one (the WeChat gateway gives it the service's).
    """
    if redis_url:
        return RedisCache(redis_url, cipher=cipher)
    return DatabaseCache(engine, cipher=cipher)
