"""The two kinds of transaction: on SQLite a read takes no lock (writers go on), writes queue one at a time."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.config import load_config
from server.db import make_engine, reading, writing


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A fresh SQLite file (WAL, as the service runs it) with one counter row."""
    engine = make_engine(load_config(env={}, data_dir=tmp_path))
    async with writing(engine) as conn:
        await conn.execute(sa.text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        await conn.execute(sa.text("INSERT INTO counter (id, n) VALUES (1, 0)"))
    yield engine
    await engine.dispose()


async def _n(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.text("SELECT n FROM counter WHERE id = 1"))).scalar_one())


async def test_a_long_read_does_not_block_a_writer(sqlite: AsyncEngine) -> None:
    async with reading(sqlite) as reader:
        assert await _n(reader) == 0  # the read transaction has begun and holds its snapshot
        # With the read holding the write lock (BEGIN IMMEDIATE), this would wait out busy_timeout (30 s).
        async with asyncio.timeout(5):
            async with writing(sqlite) as writer:
                await writer.execute(sa.text("UPDATE counter SET n = 1 WHERE id = 1"))
        assert await _n(reader) == 0  # one snapshot for the whole read
    async with reading(sqlite) as conn:
        assert await _n(conn) == 1


async def test_writes_queue_one_at_a_time_while_reads_go_on(sqlite: AsyncEngine) -> None:
    """Read-modify-write in writing() transactions loses no update: each waits for the one before."""
    seen: list[int] = []

    async def bump() -> None:
        async with writing(sqlite) as conn:
            n = await _n(conn)
            await asyncio.sleep(0.02)  # another writer would slip in here if writes did not queue
            await conn.execute(sa.text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})

    async def look() -> None:
        async with reading(sqlite) as conn:
            seen.append(await _n(conn))
            await asyncio.sleep(0.05)

    await asyncio.gather(*(bump() for _ in range(8)), *(look() for _ in range(4)))
    async with reading(sqlite) as conn:
        assert await _n(conn) == 8
    assert all(0 <= n <= 8 for n in seen)


async def test_a_read_begins_deferred_and_a_write_immediate(sqlite: AsyncEngine) -> None:
    """What SQLite was told: a read leaves the database unlocked; a write holds the lock from its start."""
    async with reading(sqlite) as reader:
        await _n(reader)
        async with sqlite.connect() as other:
            raw = await other.get_raw_connection()
            # Another connection can take the write lock at once (and give it back) while the read is open.
            await raw.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
            await raw.driver_connection.execute("ROLLBACK")  # type: ignore[union-attr]
    async with writing(sqlite) as writer:
        await _n(writer)
        async with sqlite.connect() as other:
            raw = await other.get_raw_connection()
            await raw.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            with pytest.raises(Exception, match="locked"):
                await raw.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
            await raw.driver_connection.execute("PRAGMA busy_timeout=30000")  # type: ignore[union-attr]


async def test_a_write_inside_a_read_is_refused(sqlite: AsyncEngine) -> None:
    """A read is rolled back, not committed, when it ends: a write in it must fail loudly, never vanish.

    Checked on SQLite, where every path of the suite runs, so a handler that writes in a read fails a test.
    """
    engine = sqlite
    async with writing(engine) as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS read_guard (id INTEGER PRIMARY KEY)"))
    try:
        with pytest.raises(RuntimeError, match="read transaction"):
            async with reading(engine) as conn:
                await conn.execute(sa.text("SELECT COUNT(*) FROM read_guard"))
                await conn.execute(sa.text("INSERT INTO read_guard (id) VALUES (1)"))
        async with reading(engine) as conn:  # the pooled connection is not left marked read-only for writers
            assert (await conn.execute(sa.text("SELECT COUNT(*) FROM read_guard"))).scalar_one() == 0
        async with writing(engine) as conn:
            await conn.execute(sa.text("INSERT INTO read_guard (id) VALUES (2)"))
    finally:
        async with writing(engine) as conn:
            await conn.execute(sa.text("DROP TABLE read_guard"))
