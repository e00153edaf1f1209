"""The audit chain: it verifies, and a changed, removed or truncated record is detected; checked against
its signed checkpoints, a cut tail with its head rolled back and a rewritten chain are detected too."""
from __future__ import annotations

import json
import re
from dataclasses import replace

import sqlalchemy as sa

from models.core import audit
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.tables import audit_head, audit_log
from server.audit_checkpoints import load_checkpoints

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
    assert result.code == "content_changed" and "内容被改动" in result.reason


async def test_deleted_middle_record_is_detected(engine):
    await write(engine)
    second, third = await id_at(engine, 2), await id_at(engine, 3)
    async with engine.begin() as conn:
        await conn.execute(audit_log.delete().where(audit_log.c.id == second))
    result = await verify(engine)
    assert not result.ok and result.first_bad_id == third
    assert result.code == "record_missing" and "第 2 条记录缺失" in result.reason


async def test_deleted_last_record_is_detected(engine):
    await write(engine)
    last = await id_at(engine, 5)
    async with engine.begin() as conn:
        await conn.execute(audit_log.delete().where(audit_log.c.id == last))
    result = await verify(engine)
    assert not result.ok and result.checked == 4
    assert result.code == "tail_removed" and "链尾的记录被删除" in result.reason


async def test_rewritten_hash_breaks_the_next_link(engine):
    await write(engine)
    second = await id_at(engine, 2)
    async with engine.begin() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.id == second).values(hash="f" * 64))
    result = await verify(engine)
    assert not result.ok and result.first_bad_id == second
    assert result.code == "content_changed"


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


# -- checkpoints: the head kept outside the database ----------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")


async def checkpoint(engine, log) -> None:
    """Sign the chain's head into ``log`` (what the serving process's job and the CLI do)."""
    async with engine.connect() as conn:
        seq, digest = await audit.head(conn)
    log.append(seq, digest)


async def verify_against(engine, log) -> audit.Verification:
    async with engine.connect() as conn:
        return await audit.verify(conn, checkpoints=log.read())


async def test_a_cut_tail_with_its_head_rolled_back_fails_against_the_last_checkpoint(engine, tmp_path):
    """Deleting the last records and rolling the head back to the new last one leaves a chain that checks
    out by itself; the signed checkpoint of the head it had says it was longer."""
    log = load_checkpoints(tmp_path)
    await write(engine)
    await checkpoint(engine, log)
    assert (await verify_against(engine, log)).ok
    fourth, third = await id_at(engine, 4), await id_at(engine, 3)
    async with engine.begin() as conn:
        third_hash = (await conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.id == third))).scalar_one()
        await conn.execute(audit_log.delete().where(audit_log.c.seq >= 4))
        await conn.execute(audit_head.update().where(audit_head.c.id == 1).values(last_id=3, last_hash=third_hash))
    alone = await verify(engine)
    assert alone.ok and alone.checked == 3  # the hole the checkpoints close
    result = await verify_against(engine, log)
    assert not result.ok and result.code == "head_behind_checkpoint" and result.checked == 3
    assert "只到第 3 条" in result.reason and "第 5 条" in result.reason and "检查点文件第 1 行" in result.reason
    assert result.head == 3 and result.checkpoints == 1 and result.newest_checkpoint.seq == 5
    assert fourth > third


async def test_a_chain_rewritten_behind_a_checkpoint_is_detected(engine, tmp_path):
    """Whoever can write the database can recompute every hash after a change; not the signed checkpoint."""
    log = load_checkpoints(tmp_path)
    await write(engine)
    await checkpoint(engine, log)
    async with engine.begin() as conn:
        rows = (await conn.execute(sa.select(audit_log).order_by(audit_log.c.seq))).mappings().all()
        prev = audit.GENESIS
        for row in rows:
            fields = {**row, "summary": '{"n": 99}'} if row["seq"] == 2 else dict(row)
            digest = audit._digest(prev, audit._fields(fields))
            await conn.execute(audit_log.update().where(audit_log.c.id == row["id"]).values(
                summary=fields["summary"], prev_hash=prev, hash=digest))
            prev = digest
        await conn.execute(audit_head.update().where(audit_head.c.id == 1).values(last_hash=prev))
    assert (await verify(engine)).ok  # consistent by itself
    result = await verify_against(engine, log)
    assert not result.ok and result.code == "checkpoint_mismatch" and result.first_bad_id == await id_at(engine, 5)
    assert "此前的审计链被改写" in result.reason


async def test_forged_and_garbled_checkpoint_lines_are_reported(engine, tmp_path):
    log = load_checkpoints(tmp_path)
    await write(engine)
    await checkpoint(engine, log)
    good = json.loads(log.path.read_text().splitlines()[0])
    forged = {**good, "seq": 9}  # a head the chain never had, with the old signature
    stranger = load_checkpoints(tmp_path / "elsewhere")  # another key with the same id
    stranger.append(5, good["hash"])
    with open(log.path, "a") as fh:
        fh.write('{"seq": 5, "hash": "tr\n')  # a torn line
        fh.write(json.dumps(forged) + "\n")
        fh.write(stranger.path.read_text())
    checked = log.read()
    assert [bool(cp.problem) for cp in checked] == [False, True, True, True]
    result = await verify_against(engine, log)
    assert not result.ok and result.code == "checkpoint_invalid" and result.checkpoints == 1
    assert len(result.problems) == 3
    assert "第 2 行" in result.problems[0] and "JSON" in result.problems[0]
    assert "第 3 行" in result.problems[1] and "签名不符" in result.problems[1]
    assert "第 4 行" in result.problems[2] and "签名不符" in result.problems[2]


async def test_verify_seals_nothing_and_reports_pending_records_with_their_age(engine):
    """An unsealed record is not judged good by the check: it stays unsealed, counted, with its time."""
    await write(engine, 2)
    async with engine.begin() as conn:
        pending_id = await audit.record(conn, ACTOR, "test.pending", target_id=1)
        await conn.execute(audit_log.update().where(audit_log.c.id == pending_id).values(summary='{"x": 1}'))
    result = await verify(engine)
    assert result.ok and result.checked == 2 and result.pending == 1
    assert result.pending_since is not None and abs((utcnow() - result.pending_since).total_seconds()) < 60
    async with engine.connect() as conn:
        seq = (await conn.execute(sa.select(audit_log.c.seq).where(audit_log.c.id == pending_id))).scalar_one()
    assert seq is None


async def test_seal_by_request_seals_only_that_requests_records(engine):
    """A CLI command seals what it wrote and nothing written by anyone else."""
    mine, other = replace(ACTOR, request_id="cli-mine"), replace(ACTOR, request_id="req-other")
    async with engine.begin() as conn:
        theirs = await audit.record(conn, other, "test.other")
        own = [await audit.record(conn, mine, "test.mine", target_id=i) for i in range(2)]
    async with engine.begin() as conn:
        assert await audit.seal(conn, request_id="cli-mine") == 2
    async with engine.connect() as conn:
        seqs = dict((await conn.execute(sa.select(audit_log.c.id, audit_log.c.seq))).all())
    assert seqs[theirs] is None and [seqs[i] for i in own] == [1, 2]
    result = await verify(engine)
    assert result.ok and result.checked == 2 and result.pending == 1


async def test_every_reason_is_chinese(engine, tmp_path):
    """What staff read of a broken chain is Chinese; the codes stay English."""
    reasons = {}
    for damage in ("change", "delete_middle", "delete_last", "relink", "truncate"):
        log = load_checkpoints(tmp_path / damage)
        await write(engine, 3)
        await checkpoint(engine, log)
        last = await id_at(engine, (await verify(engine)).checked)
        async with engine.begin() as conn:
            first = (await conn.execute(sa.select(sa.func.min(audit_log.c.id)).where(audit_log.c.seq.is_not(None))
                                        )).scalar_one()
            if damage == "change":
                await conn.execute(audit_log.update().where(audit_log.c.id == last).values(summary="{}"))
            elif damage == "delete_middle":
                await conn.execute(audit_log.delete().where(audit_log.c.id == first + 1))
            elif damage == "delete_last":
                await conn.execute(audit_log.delete().where(audit_log.c.id == last))
            elif damage == "relink":
                await conn.execute(audit_log.update().where(audit_log.c.id == last).values(prev_hash="e" * 64))
            else:
                await conn.execute(audit_log.delete().where(audit_log.c.id == last))
                await conn.execute(audit_head.update().where(audit_head.c.id == 1).values(
                    last_id=sa.select(sa.func.max(audit_log.c.seq)).scalar_subquery(),
                    last_hash=sa.select(audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
                    .scalar_subquery()))
        result = await verify_against(engine, log)
        reasons[result.code] = result.reason
        async with engine.begin() as conn:  # start again
            await conn.execute(audit_log.delete())
            await conn.execute(audit_head.update().values(last_id=0, last_hash=audit.GENESIS))
    assert set(reasons) == {"content_changed", "record_missing", "tail_removed", "link_broken",
                            "head_behind_checkpoint"}
    for code, reason in reasons.items():
        assert CJK.search(reason) and not re.search(r"[A-Za-z]{3,}", reason), (code, reason)
