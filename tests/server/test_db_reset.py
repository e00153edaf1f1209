"""A MySQL connection goes back to the pool without a ROLLBACK after its COMMIT, and with one whenever work is open
(server/db.py: _roll_back_open_work). Counted on the connection itself: MariaDB's session counters and
``@@in_transaction``, read on a pool of one connection."""
from __future__ import annotations

from dataclasses import replace
from typing import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.core.tables import shared_cache
from models.db.direct import Direct
from server.config import Config
from server.db import make_engine

_ONE = Direct(sa.select(shared_cache.c.name, shared_cache.c.value).where(shared_cache.c.name == sa.bindparam("n")))
_PUT = Direct(shared_cache.insert())


@pytest.fixture
async def one(backend: str, base_config: Config, engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The service's MySQL engine with a pool of one connection, so every checkout is the same connection."""
    if backend != "mysql":
        pytest.skip("the pool's reset on return is MySQL's (SQLite keeps SQLAlchemy's)")
    eng = make_engine(replace(base_config, db_pool_size=1, db_max_overflow=0))
    yield eng
    await eng.dispose()


async def _session(conn: AsyncConnection) -> tuple[int, int, int]:
    """This connection's ROLLBACKs and COMMITs so far, and whether a transaction is open (before these reads)."""
    open_ = int((await conn.execute(sa.text("SELECT @@in_transaction"))).scalar_one())
    rows = dict((await conn.execute(sa.text(
        "SHOW SESSION STATUS WHERE Variable_name IN ('Com_rollback', 'Com_commit')"))).all())
    return int(rows["Com_rollback"]), int(rows["Com_commit"]), open_


async def test_a_committed_write_goes_back_without_a_rollback(one: AsyncEngine) -> None:
    async with one.connect() as conn:
        before = await _session(conn)
    rollbacks_of_that_look = 1  # the look above was a read: its ROLLBACK is due
    for n in range(5):
        async with one.begin() as conn:
            await _PUT.run(conn, {"name": f"reset-test-{n}", "value": "x"})
    async with one.connect() as conn:
        rolled, committed, open_ = await _session(conn)
    assert committed - before[1] == 5
    assert rolled - before[0] == rollbacks_of_that_look  # none after the five COMMITs
    assert open_ == 0


async def test_a_read_left_open_is_rolled_back_before_the_connection_serves_again(one: AsyncEngine) -> None:
    async with one.connect() as conn:
        await _ONE.first(conn, {"n": "nothing"})  # a Direct read: SQLAlchemy began no transaction of its own
        assert (await conn.execute(sa.text("SELECT @@in_transaction"))).scalar_one() == 1
    async with one.connect() as conn:
        assert (await _session(conn))[2] == 0


async def test_a_write_never_committed_is_rolled_back_not_kept(one: AsyncEngine) -> None:
    async with one.connect() as conn:
        await _PUT.run(conn, {"name": "reset-test-uncommitted", "value": "x"})  # no commit: the pool must undo it
    async with one.connect() as conn:
        assert (await _session(conn))[2] == 0
        assert await _ONE.first(conn, {"n": "reset-test-uncommitted"}) is None


async def test_a_failed_statement_leaves_the_work_to_roll_back(one: AsyncEngine) -> None:
    async with one.connect() as conn:
        await _PUT.run(conn, {"name": "reset-test-dup", "value": "x"})
        await conn.commit()
    with pytest.raises(sa.exc.IntegrityError):
        async with one.begin() as conn:
            await _PUT.run(conn, {"name": "reset-test-first", "value": "x"})
            await _PUT.run(conn, {"name": "reset-test-dup", "value": "y"})  # duplicate key: the block rolls back
    async with one.connect() as conn:
        assert (await _session(conn))[2] == 0
        assert await _ONE.first(conn, {"n": "reset-test-first"}) is None
