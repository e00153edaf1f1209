"""Idempotency keys: first answer replayed, another body refused, a live duplicate refused, a dead claim freed."""
from __future__ import annotations

from datetime import timedelta

import pytest

from models.core import idempotency
from models.core.clock import utcnow
from models.core.errors import AppError
from models.core.tables import idempotency_keys


async def test_claim_replay_refusals_and_abandoned_claims(engine):
    digest = idempotency.body_hash({"a": 1})
    async with engine.begin() as conn:
        assert await idempotency.claim(conn, "cashier:1", "key-00001", digest) is None
    async with engine.begin() as conn:
        with pytest.raises(AppError) as running:
            await idempotency.claim(conn, "cashier:1", "key-00001", digest)
    assert (running.value.status, running.value.code) == (409, "request_in_progress")
    async with engine.begin() as conn:
        with pytest.raises(AppError) as other:
            await idempotency.claim(conn, "cashier:1", "key-00001", idempotency.body_hash({"a": 2}))
    assert (other.value.status, other.value.code) == (422, "idempotency_key_reused")
    async with engine.begin() as conn:
        assert await idempotency.claim(conn, "cashier:2", "key-00001", digest) is None  # keys are per caller
        await idempotency.finish(conn, "cashier:1", "key-00001", 200, {"id": 7})
    async with engine.begin() as conn:
        replay = await idempotency.claim(conn, "cashier:1", "key-00001", digest)
    assert replay is not None and (replay.status, replay.body) == (200, {"id": 7})
    # A claim left running by a process that died is taken over after a while, not refused for days.
    async with engine.begin() as conn:
        await conn.execute(idempotency_keys.update().where(idempotency_keys.c.scope == "cashier:2")
                           .values(created_at=utcnow() - idempotency.ABANDONED - timedelta(seconds=1)))
    async with engine.begin() as conn:
        assert await idempotency.claim(conn, "cashier:2", "key-00001", digest) is None
    async with engine.begin() as conn:
        with pytest.raises(AppError):
            await idempotency.claim(conn, "cashier:2", "key-00001", digest)


def test_key_format():
    assert idempotency.check_key("abc-123_4:5.6") == "abc-123_4:5.6"
    for bad in (None, "", "short", "x" * 65, "有中文的键值有中文的键值"):
        with pytest.raises(AppError):
            idempotency.check_key(bad)
    assert idempotency.body_hash({"b": 1, "a": 2}) == idempotency.body_hash({"a": 2, "b": 1})
