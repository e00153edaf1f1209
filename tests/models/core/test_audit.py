"""The audit chain: it verifies, and a changed, removed or truncated record is detected."""
from __future__ import annotations

import sqlalchemy as sa

from models.core import audit
from models.core.actors import Actor
from models.core.tables import audit_log

ACTOR = Actor(kind="staff", id=7, roles=frozenset({"admin"}), org_id=1, org_path="/1/", request_id="req-1",
              ip="10.0.0.1")


async def write(engine, n: int = 5) -> None:
    async with engine.begin() as conn:
        for i in range(n):
            await audit.record(conn, ACTOR, "test.action", target_kind="thing", target_id=i, org_path="/1/",
                               summary={"n": i, "名称": "测试"})
    async with engine.begin() as conn:
        assert await audit.seal(conn) == n


async def verify(engine) -> audit.Verification:
    async with engine.connect() as conn:
        return await audit.verify(conn)


async def test_chain_verifies(engine):
    assert (await verify(engine)) == audit.Verification(True, 0)
    await write(engine)
    result = await verify(engine)
    assert result.ok and result.checked == 5
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_log).order_by(audit_log.c.id))).all()
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    assert rows[2].actor_role == "admin" and rows[2].ip == "10.0.0.1" and rows[2].request_id == "req-1"


async def id_at(engine, seq: int) -> int:
    """The id of the record at position ``seq`` of the chain (ids need not start at 1)."""
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(audit_log.c.id).where(audit_log.c.seq == seq))).scalar_one())


async def test_altered_summary_is_detected(engine):
    await write(engine)
    third = await id_at(engine, 3)
    async with engine.begin() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.id == third).values(summary='{"n": 99}'))
    result = await verify(engine)
    assert not result.ok and result.first_bad_id == third and result.checked == 2
    assert "changed" in result.reason


async def test_deleted_middle_record_is_detected(engine):
    await write(engine)
    second, third = await id_at(engine, 2), await id_at(engine, 3)
    async with engine.begin() as conn:
        await conn.execute(audit_log.delete().where(audit_log.c.id == second))
    result = await verify(engine)
    assert not result.ok and result.first_bad_id == third
    assert "missing" in result.reason


async def test_deleted_last_record_is_detected(engine):
    await write(engine)
    last = await id_at(engine, 5)
    async with engine.begin() as conn:
        await conn.execute(audit_log.delete().where(audit_log.c.id == last))
    result = await verify(engine)
    assert not result.ok and result.checked == 4
    assert "removed" in result.reason


async def test_rewritten_hash_breaks_the_next_link(engine):
    await write(engine)
    second = await id_at(engine, 2)
    async with engine.begin() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.id == second).values(hash="f" * 64))
    result = await verify(engine)
    assert not result.ok and result.first_bad_id == second


async def test_writers_never_wait_and_the_sealer_chains_what_committed(engine):
    """Records written in parallel transactions are sealed afterwards, each once, in a gap-free chain;
    a rolled-back record leaves no hole in it; unsealed records are reported as pending, not as damage."""
    import asyncio

    async def one(i: int, fail: bool = False) -> None:
        try:
            async with engine.begin() as conn:
                await audit.record(conn, ACTOR, "test.parallel", target_id=i)
                if fail:
                    raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    await asyncio.gather(*(one(i, fail=i % 5 == 0) for i in range(20)))
    pending = await verify(engine)
    assert pending.ok and pending.checked == 0 and pending.pending == 16
    async with engine.begin() as conn:
        assert await audit.seal(conn, batch=10) == 10
        assert await audit.seal(conn) == 6
        assert await audit.seal(conn) == 0
    await write(engine, 2)
    done = await verify(engine)
    assert done.ok and done.checked == 18 and done.pending == 0
