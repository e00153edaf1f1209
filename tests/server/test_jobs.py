"""Background jobs keep running after a failure, stop cleanly, and purge only what is dead."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from models.cards.tables import qr_nonces
from models.core.clock import utcnow
from models.core.tables import idempotency_keys
from server import jobs


async def test_a_failing_job_runs_again_and_stops_cleanly():
    runs = []

    async def flaky():
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("first run fails")

    background = jobs.Jobs()
    background.every(0.01, "flaky", flaky)
    for _ in range(100):
        if len(runs) >= 3:
            break
        await asyncio.sleep(0.01)
    await background.stop()
    assert len(runs) >= 3
    stopped_at = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == stopped_at


async def test_purge_drops_dead_rows_only(engine):
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(qr_nonces.insert(), [
            {"nonce": "a" * 16, "card_id": 1, "claimed_at": now, "keep_until": now - timedelta(seconds=1)},
            {"nonce": "b" * 16, "card_id": 1, "claimed_at": now, "keep_until": now + timedelta(minutes=5)},
        ])
        await conn.execute(idempotency_keys.insert(), [
            {"scope": "s", "key": "old-key-1", "request_hash": "h", "status": "done", "created_at": now - timedelta(days=8)},
            {"scope": "s", "key": "new-key-1", "request_hash": "h", "status": "done", "created_at": now},
        ])
    counts = await jobs.purge(engine)
    assert counts["nonces"] == 1 and counts["idempotency_keys"] == 1
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(qr_nonces.c.nonce))).scalars().all() == ["b" * 16]
        assert (await conn.execute(sa.select(idempotency_keys.c.key))).scalars().all() == ["new-key-1"]
