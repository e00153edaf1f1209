"""Background jobs keep running after a failure, stop cleanly, and purge only what is dead."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

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


async def test_a_run_in_progress_finishes_before_the_stop_and_a_waiting_job_ends_at_once(monkeypatch):
    """A run is never cut in the middle of its transaction by a stop (unless it outlasts STOP_WAIT)."""
    began, ended, slow_began = asyncio.Event(), [], asyncio.Event()

    async def busy():
        began.set()
        await asyncio.sleep(0.2)  # the middle of its work when the stop comes
        ended.append("busy")

    async def endless():
        slow_began.set()
        await asyncio.sleep(3600)
        ended.append("endless")

    monkeypatch.setattr(jobs, "STOP_WAIT", 0.5)
    background = jobs.Jobs()
    background.every(0.01, "busy", busy)
    background.every(3600, "sleeper", busy)  # waits an hour before its first run: ended at once
    background.every(0.01, "endless", endless)
    await asyncio.wait_for(began.wait(), 5)
    await asyncio.wait_for(slow_began.wait(), 5)
    started = asyncio.get_running_loop().time()
    await background.stop()
    took = asyncio.get_running_loop().time() - started
    assert ended == ["busy"]  # the run in progress finished; the endless one was cancelled after the wait
    assert 0.15 < took < 2.0
    await asyncio.sleep(0.05)
    assert ended == ["busy"]  # and nothing runs after the stop


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


async def test_two_processes_runners_do_not_both_run_a_leased_job(engine):
    """Two Jobs runners (two processes' worth) against one database: the holder of the lease runs the job,
    the other does not, even when both try at the same moment; the lease moves on when the holder stops."""
    ran: list[str] = []
    entered = asyncio.Event()
    release = asyncio.Event()

    def runner(holder: str) -> jobs.Jobs:
        background = jobs.Jobs(engine, holder=holder)

        async def job() -> None:
            ran.append(holder)
            entered.set()
            await release.wait()  # a run in progress while the other tries

        background._leased["job"] = jobs._Leased("job", job, 60.0)
        return background

    a, b = runner("a"), runner("b")
    first = asyncio.gather(a.run_leased("job"), b.run_leased("job"))
    await entered.wait()
    holder, other = (a, b) if ran == ["a"] else (b, a)
    assert not await other.run_leased("job")  # while the holder's run is in progress
    release.set()
    assert sorted(await first) == [False, True] and len(ran) == 1  # one of the two at once
    assert await holder.run_leased("job")  # the holder's next round renews and runs
    assert not await other.run_leased("job")
    assert ran == [holder.holder, holder.holder]
    await holder.stop()  # gives the lease back
    assert await other.run_leased("job")
    assert ran[-1] == other.holder
    await other.stop()


async def test_the_periodic_loops_of_two_runners_run_a_leased_job_in_one_of_them(engine):
    ran: list[str] = []
    runners = [jobs.Jobs(engine, holder=h) for h in ("a", "b")]

    def job(holder: str):
        async def run() -> None:
            ran.append(holder)
        return run

    for background in runners:
        background.every(0.01, "tick", job(background.holder), lease=True)
    for _ in range(1000):
        if len(ran) >= 10:
            break
        await asyncio.sleep(0.01)
    before_stop = list(ran)  # a runner stopped first gives its lease back: the other may then take it, rightly
    await asyncio.gather(*(background.stop() for background in runners))
    assert len(before_stop) >= 10 and len(set(before_stop)) == 1


async def test_a_stop_during_the_lease_s_take_starts_no_run(engine, monkeypatch):
    ran: list[str] = []
    taking, go = asyncio.Event(), asyncio.Event()
    real_take = jobs.leases.take

    async def slow_take(*args: Any, **kwargs: Any) -> Any:
        taking.set()
        await go.wait()
        return await real_take(*args, **kwargs)

    async def run() -> None:
        ran.append("ran")

    monkeypatch.setattr(jobs.leases, "take", slow_take)
    background = jobs.Jobs(engine, holder="a")
    background.every(600, "tick", run, lease=True)  # a leased job's first round comes at once
    await asyncio.wait_for(taking.wait(), 10)
    stopping = asyncio.create_task(background.stop())
    await asyncio.sleep(0.05)  # the stop waits for the round in progress
    go.set()
    await asyncio.wait_for(stopping, 10)
    assert ran == []
    async with engine.connect() as conn:
        assert (await jobs.leases.get(conn, "tick")).holder is None  # taken, then given back with the stop


async def test_two_processes_checkpoint_a_head_once(engine, tmp_path):
    from models.core import audit
    from models.core.actors import SYSTEM
    from server.audit_checkpoints import load_checkpoints

    async with engine.begin() as conn:
        await audit.record(conn, SYSTEM, "test.action", target_id=1)
    await jobs.seal_audit(engine)
    # Two processes on one data dir, each with its own view of the file.
    one, two = load_checkpoints(tmp_path), load_checkpoints(tmp_path)
    written = await asyncio.gather(*(jobs.checkpoint_audit(engine, log) for log in (one, two, one, two)))
    assert sum(w is not None for w in written) == 1 and len(one.read()) == 1
    # Both seal at once: each record gets one place in the chain.
    async with engine.begin() as conn:
        for i in range(5):
            await audit.record(conn, SYSTEM, "test.action", target_id=i)
    sealed = await asyncio.gather(jobs.seal_audit(engine), jobs.seal_audit(engine))
    assert sum(sealed) == 5
    async with engine.connect() as conn:
        assert (await audit.verify(conn, checkpoints=one.read())).ok


async def test_a_lease_row_that_vanished_is_made_again(engine):
    from models.core.tables import job_leases

    ran = []
    background = jobs.Jobs(engine, holder="a")

    async def job() -> None:
        ran.append(1)

    background._leased["job"] = jobs._Leased("job", job, 60.0)
    assert await background.run_leased("job")
    async with engine.begin() as conn:
        await conn.execute(job_leases.delete())
    assert not await background.run_leased("job")  # finds it gone
    assert await background.run_leased("job")  # made again and taken
    assert len(ran) == 2
    await background.stop()
