"""Statistics kept per process (``KeptStats``): a kept report is at most ``max_age`` seconds old; another
process (another instance) counts afresh and sees a change at once; the caller's reach is checked on every
request; requests that miss together share one count, and a failed count is not kept."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import NotFound
from models.relief import statistics
from models.relief.tables import relief_applications, relief_events
from scripts.bench_relief import seed
from server.crypto import PiiCipher, load_keyring


async def staff_of(conn: Any) -> list[Actor]:
    found = (await conn.execute(sa.text(
        "SELECT s.id, s.roles, s.org_id, o.path FROM staff s JOIN orgs o ON o.id = s.org_id ORDER BY s.id"))).all()
    return [Actor(kind="staff", id=r.id, roles=frozenset(r.roles.split(",")), org_id=r.org_id, org_path=r.path)
            for r in found]


async def test_a_kept_report_is_at_most_max_age_old_and_another_process_sees_the_change(engine: Any,
                                                                                      config: Any) -> None:
    clock = [1000.0]
    here = statistics.KeptStats(max_age=60, clock=lambda: clock[0])
    there = statistics.KeptStats(max_age=60, clock=lambda: clock[0])
    q = statistics.StatsQuery(by="kind")
    async with engine.begin() as conn:
        await seed(conn, PiiCipher(load_keyring(config)), 60, 30, districts=2, units_each=2)
        city = next(a for a in await staff_of(conn) if "admin" in a.roles)
        before = await statistics.applications(conn, city, q, here)
        assert before == await statistics.applications(conn, city, q)  # kept or not, the same answer
        assert await statistics.applications(conn, city, q, there) == before

        # A rejection now: every count reads it at once; the kept answers show it once they are max_age old.
        app_id = (await conn.execute(sa.select(sa.func.min(relief_applications.c.id)))).scalar_one()
        await conn.execute(relief_events.insert().values(application_id=app_id, step="verification",
                                                         action="rejected", at=utcnow()))
        fresh = await statistics.applications(conn, city, q)
        assert fresh["total"]["rejected"] == before["total"]["rejected"] + 1
        clock[0] += 59
        assert await statistics.applications(conn, city, q, here) == before
        assert await statistics.applications(conn, city, q, statistics.KeptStats()) == fresh  # another process
        clock[0] += 1
        assert await statistics.applications(conn, city, q, here) == fresh
        assert await statistics.applications(conn, city, q, there) == fresh
        # Other groupings and reports are kept apart.
        assert (await statistics.applications(conn, city, statistics.StatsQuery(by="month"), here))["by"] == "month"
        assert "people" in (await statistics.payments(conn, city, q, here))["total"]


async def test_the_callers_reach_is_checked_even_when_the_report_is_kept(engine: Any, config: Any) -> None:
    kept = statistics.KeptStats()
    async with engine.begin() as conn:
        await seed(conn, PiiCipher(load_keyring(config)), 20, 10, districts=2, units_each=1)
        everyone = await staff_of(conn)
        city = next(a for a in everyone if "admin" in a.roles)
        below = next(a for a in everyone if a.org_path != city.org_path and "reviewer" in a.roles)
        city_code = (await conn.execute(sa.text(f"SELECT code FROM orgs WHERE id = {city.org_id}"))).scalar_one()
        await statistics.payments(conn, city, statistics.StatsQuery(org=city_code), kept)
        with pytest.raises(NotFound):
            await statistics.payments(conn, below, statistics.StatsQuery(org=city_code), kept)


async def test_misses_at_once_share_one_count_and_a_failed_count_is_not_kept() -> None:
    kept = statistics.KeptStats()
    gate, counted = asyncio.Event(), []

    async def count() -> dict[str, Any]:
        counted.append(1)
        await gate.wait()
        return {"n": len(counted)}

    first, second = asyncio.create_task(kept.read("k", count)), asyncio.create_task(kept.read("k", count))
    await asyncio.sleep(0)
    gate.set()
    one, two = await first, await second
    assert one == two == {"n": 1} and len(counted) == 1
    one["n"] = 99  # each caller has its own copy
    assert await kept.read("k", count) == {"n": 1}

    async def broken() -> dict[str, Any]:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        await kept.read("b", broken)
    assert await kept.read("b", count) == {"n": 2}


async def test_a_waiter_counts_itself_when_the_shared_count_is_cancelled() -> None:
    kept = statistics.KeptStats()
    gate, counted = asyncio.Event(), []

    async def count() -> dict[str, Any]:
        counted.append(1)
        await gate.wait()
        return {"n": len(counted)}

    first = asyncio.create_task(kept.read("k", count))
    await asyncio.sleep(0)
    second = asyncio.create_task(kept.read("k", count))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert await second == {"n": 2} and len(counted) == 2
    with pytest.raises(asyncio.CancelledError):
        await first


def test_at_most_size_reports_are_kept() -> None:
    async def run() -> list[int]:
        kept, calls = statistics.KeptStats(size=2), []

        async def count_for(key: str) -> dict[str, Any]:
            calls.append(key)
            return {"key": key}

        for key in ("a", "b", "c", "a"):
            await kept.read(key, lambda key=key: count_for(key))
        return calls

    assert asyncio.run(run()) == ["a", "b", "c", "a"]
