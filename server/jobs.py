"""Background jobs of a serving process: seal the audit chain, send queued notifications, forget what has expired.

Every job is safe to run in several processes at once: notifications are
claimed row by row, and purges only delete rows that are dead for everyone.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from models.core import audit, idempotency
from models.counter import scanning
from models.identity import sessions as auth_tokens
from models.identity import usecases as identity
from models.relief import notices as relief_notices
from server.config import Config
from server.crypto import PiiCipher, load_keyring

log = logging.getLogger("unionaid.jobs")

NOTIFY_EVERY = 5.0
SEAL_EVERY = 2.0
PURGE_EVERY = 600.0
NOTICES_EVERY = 30.0


async def send_notifications(engine: AsyncEngine, gateway: Any, config: Config) -> int:
    """Send the queued notices that are due (identity's use case: it needs the users' openids)."""
    return await identity.dispatch_notifications(engine, gateway, config.notice_templates())


async def seal_audit(engine: AsyncEngine) -> int:
    """Chain the audit records written since the last run (until none is left)."""
    total = 0
    while True:
        async with engine.begin() as conn:
            sealed = await audit.seal(conn)
        total += sealed
        if sealed == 0:
            return total


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

    async def stop(self) -> None:
        """Cancel every job and wait for them to end."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


def start(engine: AsyncEngine, gateway: Any, config: Config, cipher: PiiCipher | None = None) -> Jobs:
    """Start the periodic jobs: seal the audit chain, send notifications, purge what expired, end notice periods."""
    cipher = cipher or PiiCipher(load_keyring(config))
    jobs = Jobs()
    jobs.every(SEAL_EVERY, "audit-seal", lambda: seal_audit(engine))
    jobs.every(NOTIFY_EVERY, "notifications", lambda: send_notifications(engine, gateway, config))
    jobs.every(PURGE_EVERY, "purge", lambda: purge(engine))
    # Conditional updates decide each move, so every process may run it (see end_notice_periods).
    jobs.every(NOTICES_EVERY, "relief-notices", lambda: relief_notices.end_notice_periods(engine, cipher))
    return jobs
