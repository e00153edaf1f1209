"""Job leases: one holder at a time, renewed by its holder, taken over only once lapsed or given back."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from models.core import leases
from models.core.clock import utcnow


async def _take(engine, holder, now, ttl=60.0):
    async with engine.begin() as conn:
        return await leases.take(conn, "job", holder, ttl=ttl, now=now)


async def test_one_holder_renews_another_waits_until_it_lapses_or_is_given_back(engine):
    now = utcnow()
    async with engine.begin() as conn:
        await leases.ensure(conn, "job")
    async with engine.begin() as conn:
        await leases.ensure(conn, "job")  # made once: a second call finds it
        assert await leases.get(conn, "job") == leases.Lease("job", None, None, 0)
    assert await _take(engine, "a", now) == 1
    assert await _take(engine, "b", now + timedelta(seconds=30)) is None  # a's runs
    assert await _take(engine, "a", now + timedelta(seconds=50)) == 1  # renewed: same generation, 60 s more
    assert await _take(engine, "b", now + timedelta(seconds=100)) is None  # would have lapsed without the renewal
    assert await _take(engine, "b", now + timedelta(seconds=111)) == 2  # lapsed: b takes it, a new generation
    async with engine.begin() as conn:
        assert (await leases.get(conn, "job")).holder == "b"
        assert not await leases.release(conn, "job", "a")  # a no longer holds it: nothing happens
        assert (await leases.get(conn, "job")).holder == "b"
        assert await leases.release(conn, "job", "b")
    assert await _take(engine, "a", now + timedelta(seconds=112)) == 3  # given back: taken at once


async def test_two_takers_at_once_one_wins(engine):
    async with engine.begin() as conn:
        await leases.ensure(conn, "job")
    now = utcnow()
    won = await asyncio.gather(*(_take(engine, f"p{i}", now) for i in range(4)))
    assert sorted(w is not None for w in won) == [False, False, False, True]
    async with engine.begin() as conn:
        lease = await leases.get(conn, "job")
    assert lease.generation == 1 and lease.holder == f"p{[w is not None for w in won].index(True)}"
