"""Background jobs of a serving process: seal and checkpoint the audit chain, send queued notifications,
forget what has expired, end notice periods.

Every job is safe to run in several processes at once: notifications are
claimed row by row, and purges only delete rows that are dead for everyone.
On a graceful stop the chain is sealed and checkpointed once more.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from models.core import audit, idempotency
from models.core.ports import AuditCheckpoint
from models.counter import scanning
from models.identity import sessions as auth_tokens
from models.identity import usecases as identity
from models.relief import notices as relief_notices
from server.audit_checkpoints import CheckpointLog, load_checkpoints
from server.config import Config
from server.crypto import PiiCipher, load_keyring
from server.db import reading

log = logging.getLogger("unionaid.jobs")

NOTIFY_EVERY = 5.0
# A committed audit record waits for the sealer at most this interval plus one run (milliseconds):
# the window in which it is only as safe as the database (docs/architecture.md, Background jobs).
SEAL_EVERY = 1.0
PURGE_EVERY = 600.0
NOTICES_EVERY = 30.0


async def send_notifications(engine: AsyncEngine, gateway: Any, config: Config) -> int:
    """Send the queued notices that are due (identity's use case: it needs the users' openids)."""
    return await identity.dispatch_notifications(engine, gateway, config.notice_templates())


async def seal_audit(engine: AsyncEngine, *, request_id: str | None = None) -> int:
    """Chain the audit records written since the last run (until none is left); with ``request_id``
    only that request's (a CLI command's own). A look without a lock first: no write when none waits."""
    if request_id is None:
        async with reading(engine) as conn:
            if not await audit.has_pending(conn):
                return 0
    total = 0
    while True:
        async with engine.begin() as conn:
            sealed = await audit.seal(conn, request_id=request_id)
        total += sealed
        if sealed == 0:
            return total


async def checkpoint_audit(engine: AsyncEngine, checkpoints: CheckpointLog, *, force: bool = False) -> AuditCheckpoint | None:
    """Sign the chain's head into the checkpoint file when it moved since the file's last checkpoint
    (always with ``force``); None when nothing was written (nothing sealed yet, or no move)."""
    async with reading(engine) as conn:
        seq, digest = await audit.head(conn)
    if seq == 0:
        return None
    loop = asyncio.get_running_loop()
    last = await loop.run_in_executor(None, checkpoints.latest)
    if last is not None and not last.problem and last.seq > seq:
        log.error("audit chain head at %s is behind the last checkpoint at %s: run unionaid audit-verify",
                  seq, last.seq)
    if not force and last is not None and (last.seq, last.hash) == (seq, digest):
        return None
    return await loop.run_in_executor(None, lambda: checkpoints.append(seq, digest))


async def seal_and_checkpoint(engine: AsyncEngine, checkpoints: CheckpointLog, *, request_id: str | None = None) -> int:
    """Seal (everything, or one request's records), then checkpoint the head if it moved; how many were sealed.

    A CLI command that wrote audit records runs it with its request id before it exits; the
    serving process runs it for everything on a graceful stop.
    """
    sealed = await seal_audit(engine, request_id=request_id)
    if request_id is None or sealed:
        await checkpoint_audit(engine, checkpoints)
    return sealed


async def purge(engine: AsyncEngine) -> dict[str, int]:
    """Drop spent card-code nonces and old scan sessions, old idempotency keys, expired login tokens."""
    async with engine.begin() as conn:
        nonces, sessions = await scanning.purge(conn)
        keys = await idempotency.purge(conn)
        tokens = await auth_tokens.purge_expired(conn)
    return {"nonces": nonces, "scan_sessions": sessions, "idempotency_keys": keys, "auth_tokens": tokens}


class Jobs:
    """Runs each job every so often until stopped; a failing run is logged and tried again later."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._at_stop: list[tuple[str, Callable[[], Awaitable[Any]]]] = []

    def every(self, seconds: float, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        """Run ``job`` every ``seconds`` on the running loop until stopped; a failed run is logged."""
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - a job must not die; the next run may succeed
                    log.exception("job %s failed", name)

        self._tasks.append(asyncio.get_running_loop().create_task(loop(), name=f"job:{name}"))

    def at_stop(self, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        """Run ``job`` once when the jobs are stopped, after every loop has ended."""
        self._at_stop.append((name, job))

    async def stop(self) -> None:
        """Cancel every job, wait for them to end, then run the jobs kept for the stop (a failure is logged)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for name, job in self._at_stop:
            try:
                await job()
            except Exception:  # noqa: BLE001 - the others still run; the next start picks up what is left
                log.exception("stop job %s failed", name)
        self._at_stop.clear()


def start(engine: AsyncEngine, gateway: Any, config: Config, cipher: PiiCipher | None = None,
          checkpoints: CheckpointLog | None = None) -> Jobs:
    """Start the periodic jobs: seal and checkpoint the audit chain, send notifications, purge what expired,
    end notice periods; and, for a graceful stop, a last seal and checkpoint."""
    cipher = cipher or PiiCipher(load_keyring(config))
    signed = checkpoints or load_checkpoints(config.data_dir, key=config.audit_key, key_id=config.audit_key_id)
    jobs = Jobs()
    jobs.every(SEAL_EVERY, "audit-seal", lambda: seal_audit(engine))
    jobs.every(config.audit_checkpoint_every, "audit-checkpoint", lambda: checkpoint_audit(engine, signed))
    jobs.at_stop("audit-seal-and-checkpoint", lambda: seal_and_checkpoint(engine, signed))
    jobs.every(NOTIFY_EVERY, "notifications", lambda: send_notifications(engine, gateway, config))
    jobs.every(PURGE_EVERY, "purge", lambda: purge(engine))
    # Conditional updates decide each move, so every process may run it (see end_notice_periods).
    jobs.every(NOTICES_EVERY, "relief-notices", lambda: relief_notices.end_notice_periods(engine, cipher))
    return jobs
