"""Signed checkpoints of the audit chain's head: the key kept like the card key, lines an outsider can
verify, and the serving process's jobs: a checkpoint when the head moved (none when it did not), a
bounded sealing window, and a last seal and checkpoint on a graceful stop."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import time

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.core import audit
from models.core.actors import Actor
from models.core.tables import audit_log
from server import jobs
from server.audit_checkpoints import KEYS_FILE, LOG_FILE, MESSAGE_PREFIX, load_checkpoints
from server.config import replace

ACTOR = Actor(kind="staff", id=7, roles=frozenset({"admin"}), org_id=1, org_path="/1/", request_id="req-1")
HASH = "ab" * 32


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_key_is_made_once_in_the_data_dir_with_mode_0600(tmp_path):
    first = load_checkpoints(tmp_path)
    assert _mode(tmp_path / KEYS_FILE) == 0o600
    again = load_checkpoints(tmp_path)
    assert first.public_keys() == again.public_keys()
    first.append(3, HASH)
    assert _mode(tmp_path / LOG_FILE) == 0o600
    assert not again.read()[0].problem  # another process with the same key verifies it


def test_a_configured_seed_and_key_id_sign_instead(tmp_path):
    seed = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    raw = seed.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    log = load_checkpoints(tmp_path, key=base64.b64encode(raw).decode(), key_id=7)
    assert not (tmp_path / KEYS_FILE).exists()
    written = log.append(12, HASH)
    assert written.key_id == 7 and log.public_keys()[0]["key_id"] == 7
    assert [cp.problem for cp in log.read()] == [""]


def test_a_line_is_verifiable_outside_the_service_with_the_public_key_alone(tmp_path):
    log = load_checkpoints(tmp_path)
    log.append(41, HASH)
    line = json.loads((tmp_path / LOG_FILE).read_text())
    assert set(line) == {"seq", "hash", "at", "key_id", "sig"} and line["at"].endswith("Z")
    key = log.public_keys()[0]
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key["public_key"] + "="))
    signed = MESSAGE_PREFIX + json.dumps({k: line[k] for k in ("at", "hash", "key_id", "seq")}, sort_keys=True,
                                         separators=(",", ":")).encode()
    public.verify(base64.urlsafe_b64decode(line["sig"] + "=="), signed)  # raises when it does not verify


def test_a_torn_last_line_stays_one_bad_line_and_the_next_checkpoint_is_whole(tmp_path):
    log = load_checkpoints(tmp_path)
    log.append(1, HASH)
    with open(tmp_path / LOG_FILE, "a") as fh:
        fh.write('{"seq": 2, "ha')  # a crash in the middle of a write
    log.append(3, HASH)
    read = log.read()
    assert [(cp.line, cp.seq, bool(cp.problem)) for cp in read] == [(1, 1, False), (2, 0, True), (3, 3, False)]
    assert log.latest().seq == 3
    page = log.page(None, 2)
    assert [cp.line for cp in page] == [3, 2] and [cp.line for cp in log.page(2, 5)] == [1]


async def write(engine, n: int = 2) -> None:
    async with engine.begin() as conn:
        for i in range(n):
            await audit.record(conn, ACTOR, "test.action", target_id=i)


async def test_the_job_writes_a_checkpoint_when_the_head_moved_and_none_when_it_did_not(engine, tmp_path):
    log = load_checkpoints(tmp_path)
    assert await jobs.checkpoint_audit(engine, log) is None  # an empty chain: nothing to sign
    await write(engine)
    assert await jobs.checkpoint_audit(engine, log) is None  # written but not sealed: the head did not move
    assert await jobs.seal_audit(engine) == 2
    first = await jobs.checkpoint_audit(engine, log)
    assert first is not None and first.seq == 2
    assert await jobs.checkpoint_audit(engine, log) is None  # nothing moved since
    assert await jobs.checkpoint_audit(engine, log) is None
    await write(engine, 1)
    await jobs.seal_audit(engine)
    second = await jobs.checkpoint_audit(engine, log)
    assert second is not None and second.seq == 3
    assert [(cp.seq, cp.problem) for cp in log.read()] == [(2, ""), (3, "")]
    forced = await jobs.checkpoint_audit(engine, log, force=True)  # `unionaid audit-checkpoint`
    assert forced is not None and forced.seq == 3 and len(log.read()) == 3
    async with engine.connect() as conn:
        assert (await audit.verify(conn, checkpoints=log.read())).ok


async def test_the_serving_process_seals_within_two_seconds_checkpoints_and_does_both_on_a_graceful_stop(
        engine, config, tmp_path):
    log = load_checkpoints(tmp_path)
    # The checkpoint job's interval is the configured one; a long one here, so that only the stop writes.
    background = jobs.start(engine, None, replace(config, audit_checkpoint_every=300), checkpoints=log)
    try:
        await write(engine, 1)
        written = time.monotonic()
        sealed_after = None
        # Behaviour, not timing: the job seals by itself (the bound is SEAL_EVERY plus one run, documented;
        # the wait is generous so that a loaded CI machine does not fail it).
        assert jobs.SEAL_EVERY <= 1.0
        while time.monotonic() - written < 30:
            async with engine.connect() as conn:
                if not await audit.has_pending(conn):
                    sealed_after = time.monotonic() - written
                    break
            await asyncio.sleep(0.05)
        assert sealed_after is not None
        assert log.read() == []
        await write(engine, 2)  # committed just before the stop: the loop has not reached them
    finally:
        await background.stop()
    async with engine.connect() as conn:
        assert not await audit.has_pending(conn)
        assert (await conn.execute(sa.select(sa.func.count()).select_from(audit_log)
                                   .where(audit_log.c.seq.is_(None)))).scalar_one() == 0
        head = await audit.head(conn)
    checkpoints = log.read()
    assert [(cp.seq, cp.hash) for cp in checkpoints] == [head] and head[0] == 3
