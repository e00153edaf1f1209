"""The notification outbox: written with the change it reports, sent to WeChat afterwards.

A notice is queued in the caller's transaction, so it exists exactly when the
change committed. Sending is a use case of the identity domain (it needs the
users' openids): models/identity/usecases.py ``dispatch_notifications`` reads what
is due here, claims each row by a conditional UPDATE (so several processes can
dispatch without sending twice), and marks it sent or failed.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.core.tables import notifications

log = logging.getLogger("unionaid.notify")

MAX_ATTEMPTS = 5
CLAIM_FOR = timedelta(seconds=60)
_SHANGHAI = ZoneInfo("Asia/Shanghai")
# The user has not subscribed (or has unsubscribed): retrying cannot help.
_FINAL_ERRORS = {"wechat_not_subscribed"}

#: The kinds of notice, one subscribe-message template each, and the values an event of each
#: kind gives its template (besides ``at``, the time of the event). A deployment maps these
#: onto its templates' keywords (server/wechat_templates.py).
CATEGORIES: dict[str, frozenset[str]] = {
    "card": frozenset({"title", "body", "status", "card_no"}),
    "redemption": frozenset({"title", "body", "merchant", "amount", "discount"}),
    "relief": frozenset({"title", "body", "kind", "step"}),
    "payment": frozenset({"title", "body", "kind", "amount"}),
}
#: Values that are amounts in fen (integers); every other value is text.
MONEY_VALUES = frozenset({"amount", "discount"})


@dataclass(frozen=True)
class Notice:
    """A notice queued for a worker: its WeChat message fields and delivery status."""

    id: int
    user_id: int
    kind: str
    title: str
    body: str
    page: str | None
    status: str
    created_at: datetime


async def enqueue(
    conn: AsyncConnection, user_id: int, kind: str, *, title: str, body: str, page: str | None = None
) -> int:
    """Queue a notice for a worker in the caller's transaction."""
    now = utcnow()
    payload = json.dumps({"title": title[:20], "body": body[:20], "page": page}, ensure_ascii=False)
    result = await conn.execute(notifications.insert(), dict(
        user_id=user_id, kind=kind, payload=payload, status="pending", attempts=0, next_attempt_at=now,
        created_at=now))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


async def for_user(conn: AsyncConnection, user_id: int, *, limit: int = 20) -> list[Notice]:
    """A worker's latest notices, newest first."""
    rows = (await conn.execute(sa.select(notifications).where(notifications.c.user_id == user_id)
                               .order_by(notifications.c.id.desc()).limit(limit))).all()
    return [_notice(r) for r in rows]


def _notice(row: Any) -> Notice:
    payload = json.loads(row.payload)
    return Notice(row.id, row.user_id, row.kind, payload["title"], payload["body"], payload.get("page"),
                  row.status, row.created_at)


def message(notice: Notice, sent_at: datetime) -> dict[str, Any]:
    """The subscribe message's data for a notice."""
    shown = sent_at.astimezone(_SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return {"thing1": {"value": notice.title}, "thing2": {"value": notice.body}, "time3": {"value": shown}}


def due_query(now: datetime, limit: int) -> sa.Select[Any]:
    """The pending notices due at ``now``, oldest first (a dispatcher adds who they go to)."""
    return (sa.select(notifications)
            .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= now)
            .order_by(notifications.c.id).limit(limit))


@dataclass(frozen=True)
class Due:
    """A notice to send, with what claiming it and counting its attempts need."""

    notice: Notice
    attempts: int
    next_attempt_at: datetime


def due_of(row: Any) -> Due:
    """A row of ``due_query`` as a notice to send."""
    return Due(_notice(row), int(row.attempts), row.next_attempt_at)


async def claim(conn: AsyncConnection, due: Due, now: datetime) -> bool:
    """Take a due notice for ``CLAIM_FOR``; False when another process has it (a conditional UPDATE)."""
    claimed = await conn.execute(
        notifications.update()
        .where(notifications.c.id == due.notice.id, notifications.c.status == "pending",
               notifications.c.next_attempt_at == due.next_attempt_at)
        .values(next_attempt_at=now + CLAIM_FOR))
    return bool(claimed.rowcount == 1)


async def mark_sent(conn: AsyncConnection, due: Due) -> None:
    """The notice reached WeChat."""
    await conn.execute(notifications.update().where(notifications.c.id == due.notice.id)
                       .values(status="sent", sent_at=utcnow(), attempts=due.attempts + 1))


async def mark_failed(conn: AsyncConnection, due: Due, code: str) -> None:
    """The notice was not sent: try again later with backoff, or give up (final error, too many attempts)."""
    attempts = due.attempts + 1
    final = code in _FINAL_ERRORS or attempts >= MAX_ATTEMPTS
    backoff = timedelta(seconds=30 * 2 ** attempts)
    log.info("notice %s not sent (%s), attempt %s%s", due.notice.id, code, attempts, ", giving up" if final else "")
    await conn.execute(notifications.update().where(notifications.c.id == due.notice.id).values(
        status="failed" if final else "pending", attempts=attempts, last_error=code[:200],
        next_attempt_at=utcnow() + backoff))
