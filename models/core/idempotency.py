"""Idempotency keys for POSTs that move money: the first answer is kept and replayed.

Same key and body: the first answer again. Same key, another body: 422. A
duplicate that arrives while the first is still running: 409. Keys are scoped
to the caller, so two cashiers cannot collide or read each other's answers.

Two forms. ``claim`` takes the key first (a ``running`` row) and ``finish`` keeps the answer
later, for work spread over transactions. ``keep`` claims and keeps in one statement at the end
of a single transaction (the counter's redemption): a duplicate is found when that insert meets
the first request's row (``KeyTaken``, after waiting for its commit), or sooner when the work
itself refuses the duplicate (the scan already spent); ``kept`` then reads the answer to replay.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.core.errors import AppError, Conflict, Invalid
from models.core.tables import idempotency_keys
from models.db.direct import Direct
from models.db.sql import insert_ignore

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
KEPT = timedelta(days=7)
# A claim still "running" after this long belongs to a process that died mid-request:
# nothing of its work committed, so a retry may take the key over.
ABANDONED = timedelta(minutes=2)


_CLAIM = insert_ignore(idempotency_keys)
_KEEP = Direct(idempotency_keys.insert())
_KEPT = sa.select(idempotency_keys).where(idempotency_keys.c.scope == sa.bindparam("b_scope"),
                                          idempotency_keys.c.key == sa.bindparam("b_key"))
_FINISH = (idempotency_keys.update().where(idempotency_keys.c.scope == sa.bindparam("b_scope"),
                                           idempotency_keys.c.key == sa.bindparam("b_key"))
           .values(status="done", response_status=sa.bindparam("b_status"), response=sa.bindparam("b_response")))


@dataclass(frozen=True)
class Replay:
    """A kept answer to replay: its HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


def check_key(key: str | None) -> str:
    """The Idempotency-Key header's value, refused when missing or malformed."""
    if not key:
        raise Invalid("idempotency_key_required", "请在请求头 Idempotency-Key 中提供幂等键（8 到 64 个字符）")
    if not _KEY.match(key):
        raise Invalid("idempotency_key_format", "Idempotency-Key 应为 8 到 64 个字母、数字或 _.:-")
    return key


def body_hash(body: Any) -> str:
    """The SHA-256 of the body as canonical JSON (sorted keys), to tell one request from another."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def claim(conn: AsyncConnection, scope: str, key: str, request_hash: str) -> Replay | None:
    """Take the key for this request (None), or the kept answer of the request that took it first."""
    taken = await conn.execute(_CLAIM, dict(scope=scope, key=key, request_hash=request_hash, status="running",
                                            created_at=utcnow()))
    if taken.rowcount == 1:
        return None
    row = (await conn.execute(sa.select(idempotency_keys).where(idempotency_keys.c.scope == scope,
                                                                idempotency_keys.c.key == key))).one()
    if row.request_hash != request_hash:
        raise AppError("idempotency_key_reused", "该幂等键已用于另一笔不同的请求", status=422)
    if row.status != "done":
        now = utcnow()
        # Only an old claim is worth taking over; a fresh one is a live duplicate (and an UPDATE here
        # would deadlock with it on InnoDB: both hold the shared lock of the duplicate-key check).
        if row.created_at < now - ABANDONED:
            taken = await conn.execute(idempotency_keys.update().where(
                idempotency_keys.c.scope == scope, idempotency_keys.c.key == key,
                idempotency_keys.c.status == "running", idempotency_keys.c.created_at == row.created_at)
                .values(created_at=now))
            if taken.rowcount == 1:
                return None
        raise Conflict("request_in_progress", "同一请求正在处理中，请稍候查看结果")
    return Replay(int(row.response_status), orjson.loads(row.response))


class KeyTaken(Exception):
    """Another request kept an answer under the key first: roll this transaction back and read it (``kept``)."""


async def keep(conn: AsyncConnection, scope: str, key: str, request_hash: str, status: int,
               body: dict[str, Any]) -> None:
    """Claim the key and keep the answer at once, at the end of the transaction that did the work.

    ``KeyTaken`` when the key has a row already (another request's, committed, or uncommitted and
    then waited for): nothing of this transaction may then commit."""
    try:
        await _KEEP.run(conn, dict(scope=scope, key=key, request_hash=request_hash, status="done",
                                       response_status=status, created_at=utcnow(),
                                       response=_stored(body)))
    except sa.exc.IntegrityError:
        raise KeyTaken() from None


def _stored(body: dict[str, Any]) -> str:
    """The answer as kept: JSON text (the answer is already what the client saw: plain JSON types)."""
    return orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


async def kept(conn: AsyncConnection, scope: str, key: str, request_hash: str) -> Replay | None:
    """The answer kept under the key, None when there is none; 422 when it was kept for another body,
    409 while a claim of the two-transaction form still runs."""
    row = (await conn.execute(_KEPT, {"b_scope": scope, "b_key": key})).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise AppError("idempotency_key_reused", "该幂等键已用于另一笔不同的请求", status=422)
    if row.status != "done":
        raise Conflict("request_in_progress", "同一请求正在处理中，请稍候查看结果")
    return Replay(int(row.response_status), orjson.loads(row.response))


async def finish(conn: AsyncConnection, scope: str, key: str, status: int, body: dict[str, Any]) -> None:
    """Keep the answer (success or refusal) for replays."""
    await conn.execute(_FINISH, {"b_scope": scope, "b_key": key, "b_status": status,
                                 "b_response": _stored(body)})


async def release(conn: AsyncConnection, scope: str, key: str) -> None:
    """Forget a key whose request failed unexpectedly, so that a retry is evaluated afresh."""
    await conn.execute(idempotency_keys.delete().where(idempotency_keys.c.scope == scope,
                                                       idempotency_keys.c.key == key,
                                                       idempotency_keys.c.status == "running"))


async def purge(conn: AsyncConnection) -> int:
    """Delete the keys older than KEPT (seven days); answer how many went."""
    result = await conn.execute(idempotency_keys.delete().where(idempotency_keys.c.created_at < utcnow() - KEPT))
    return int(result.rowcount)
