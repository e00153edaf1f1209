"""Background jobs of a serving process: seal and checkpoint the audit chain, send queued notifications,
forget what has expired, end notice periods.

Several processes (``serve --workers N``, or several hosts) run them against one database. The
audit seal works under a lock on the chain head and the checkpoint appends under a lock on its
file only when the head moved past the file's last line, so every process runs those two. The
others (notifications, purge, relief notices) each hold a lease (``models/core/leases.py``): one
process runs each at a time, and hands it on when it stops or dies; their rows are claimed by
conditional updates besides. On a graceful stop the chain is sealed and checkpointed once more.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from models.core import audit, idempotency, leases
from models.core.clock import utcnow
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
#: A leased job's lease lasts this many of its intervals (at least LEASE_MIN seconds): how long a
#: process that died without giving its leases back keeps its jobs from running elsewhere.
LEASE_INTERVALS = 3
LEASE_MIN = 60.0
#: On stop, how long a run in progress may take to finish before it is cancelled. A run cancelled in the
#: middle of a transaction can leave its connection's transaction open until the connection is collected:
#: on SQLite that is the write lock, and the stop's last seal then waited out the 30 s busy timeout.
STOP_WAIT = 5.0


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
    if force:
        return await loop.run_in_executor(None, lambda: checkpoints.append(seq, digest))
    if last is not None and (last.seq, last.hash) == (seq, digest):
        return None
    # Decided again under the file's lock: of processes sharing the file, one writes each head.
    return await loop.run_in_executor(None, lambda: checkpoints.advance(seq, digest))


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


def holder_id() -> str:
    """Who holds a lease: this host and process, and a nonce (a pid can come back after a restart)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class _Leased:
    """A job that runs where its lease is held."""

    name: str
    job: Callable[[], Awaitable[Any]]
    ttl: float


class Jobs:
    """Runs each job every so often until stopped; a failing run is logged and tried again later.

    A job given ``lease=True`` runs only in the process holding its lease (one row per job name in
    ``job_leases``): each round renews it or tries to take it, the lease is kept alive while a run
    lasts, and it is given back on stop.
    """

    def __init__(self, engine: AsyncEngine | None = None, *, holder: str | None = None) -> None:
        self.engine = engine
        self.holder = holder or holder_id()
        self._tasks: list[asyncio.Task[None]] = []
        self._at_stop: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        self._leased: dict[str, _Leased] = {}
        self._held: set[str] = set()
        self._rows: set[str] = set()
        self._stopping = False
        self._running: set[asyncio.Task[None]] = set()  # the loops in the middle of a run

    def every(self, seconds: float, name: str, job: Callable[[], Awaitable[Any]], *, lease: bool = False) -> None:
        """Run ``job`` every ``seconds`` on the running loop until stopped; a failed run is logged.

        A leased job runs where its lease is held; its first round comes at once, not after ``seconds``
        (a process restarted more often than the interval would otherwise never run it).
        """
        if lease:
            if self.engine is None:
                raise ValueError("a leased job needs the engine its lease lives in")
            self._leased[name] = _Leased(name, job, max(LEASE_MIN, LEASE_INTERVALS * seconds))

        async def loop() -> None:
            first = True
            this = asyncio.current_task()
            assert this is not None
            while not self._stopping:
                if not (lease and first):
                    await asyncio.sleep(seconds)
                first = False
                if self._stopping:
                    return
                self._running.add(this)
                try:
                    if lease:
                        await self.run_leased(name)
                    else:
                        await job()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - a job must not die; the next run may succeed
                    log.exception("job %s failed", name)
                finally:
                    self._running.discard(this)

        self._tasks.append(asyncio.get_running_loop().create_task(loop(), name=f"job:{name}"))

    async def run_leased(self, name: str) -> bool:
        """One round of a leased job: renew or take its lease, and run it when held; whether it ran."""
        leased = self._leased[name]
        if not await self._take(leased):
            return False
        if self._stopping:  # the stop came during the take: no new run (the lease is given back with the rest)
            return False
        keeper = asyncio.get_running_loop().create_task(self._keep(leased), name=f"lease:{name}")
        try:
            await leased.job()
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        return True

    async def _take(self, leased: _Leased) -> bool:
        assert self.engine is not None
        if leased.name not in self._rows:
            async with self.engine.begin() as conn:
                await leases.ensure(conn, leased.name)
            self._rows.add(leased.name)
        async with self.engine.begin() as conn:
            generation = await leases.take(conn, leased.name, self.holder, ttl=leased.ttl, now=utcnow())
            if generation is None and await leases.get(conn, leased.name) is None:
                self._rows.discard(leased.name)  # its row is gone (a restored database): made again next round
        if generation is None:
            if leased.name in self._held:
                log.warning("lease %s lost to another process", leased.name)
                self._held.discard(leased.name)
            return False
        if leased.name not in self._held:
            log.info("lease %s taken by %s (generation %d)", leased.name, self.holder, generation)
            self._held.add(leased.name)
        return True

    async def _keep(self, leased: _Leased) -> None:
        """Renew the lease while a run lasts longer than a third of it."""
        while True:
            await asyncio.sleep(leased.ttl / 3)
            try:
                await self._take(leased)
            except Exception:  # noqa: BLE001 - the run goes on; the next round tries again
                log.exception("renewing lease %s failed", leased.name)

    def at_stop(self, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        """Run ``job`` once when the jobs are stopped, after every loop has ended."""
        self._at_stop.append((name, job))

    async def stop(self) -> None:
        """End every job: a waiting one at once, one in the middle of a run when its run ends (cancelled
        after ``STOP_WAIT``); then run the jobs kept for the stop (a failure is logged) and give back the
        leases held, so that another process takes them on at its next round."""
        self._stopping = True
        busy = [task for task in self._tasks if task in self._running]
        for task in self._tasks:
            if task not in busy:
                task.cancel()
        if busy:
            _, late = await asyncio.wait(busy, timeout=STOP_WAIT)
            for task in late:
                log.warning("job %s still running after %.0f s: cancelled", task.get_name(), STOP_WAIT)
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for name, job in self._at_stop:
            try:
                await job()
            except Exception:  # noqa: BLE001 - the others still run; the next start picks up what is left
                log.exception("stop job %s failed", name)
        self._at_stop.clear()
        for name in sorted(self._held):
            try:
                assert self.engine is not None
                async with self.engine.begin() as conn:
                    await leases.release(conn, name, self.holder)
            except Exception:  # noqa: BLE001 - it lapses by itself
                log.exception("giving back lease %s failed", name)
        self._held.clear()


def start(engine: AsyncEngine, gateway: Any, config: Config, cipher: PiiCipher | None = None,
          checkpoints: CheckpointLog | None = None, *, holder: str | None = None) -> Jobs:
    """Start the periodic jobs: seal and checkpoint the audit chain, send notifications, purge what expired,
    end notice periods (these three under leases); and, for a graceful stop, a last seal and checkpoint."""
    cipher = cipher or PiiCipher(load_keyring(config))
    signed = checkpoints or load_checkpoints(config.data_dir, key=config.audit_key, key_id=config.audit_key_id)
    jobs = Jobs(engine, holder=holder)
    # Safe in every process at once: the seal locks the chain head, the checkpoint its file.
    jobs.every(SEAL_EVERY, "audit-seal", lambda: seal_audit(engine))
    jobs.every(config.audit_checkpoint_every, "audit-checkpoint", lambda: checkpoint_audit(engine, signed))
    jobs.at_stop("audit-seal-and-checkpoint", lambda: seal_and_checkpoint(engine, signed))
    # One process at a time (and each row claimed by a conditional update besides).
    jobs.every(NOTIFY_EVERY, "notifications", lambda: send_notifications(engine, gateway, config), lease=True)
    jobs.every(PURGE_EVERY, "purge", lambda: purge(engine), lease=True)
    jobs.every(NOTICES_EVERY, "relief-notices", lambda: relief_notices.end_notice_periods(engine, cipher), lease=True)
    return jobs
