"""The notification outbox: written with the change it reports, sent to WeChat afterwards.

A notice is queued in the caller's transaction, so it exists exactly when the
change committed. ``dispatch_due`` sends what is due; a row is claimed by a
conditional UPDATE, so several processes can dispatch without sending twice.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.core.clock import utcnow
from models.core.errors import AppError
from models.core.tables import notifications
from models.identity.tables import users

log = logging.getLogger("unionaid.notify")

MAX_ATTEMPTS = 5
CLAIM_FOR = timedelta(seconds=60)
_SHANGHAI = ZoneInfo("Asia/Shanghai")
# The user has not subscribed (or has unsubscribed): retrying cannot help.
_FINAL_ERRORS = {"wechat_not_subscribed"}


@dataclass(frozen=True)
class Notice:
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


def _message(notice: Notice, sent_at: datetime) -> dict[str, Any]:
    shown = sent_at.astimezone(_SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return {"thing1": {"value": notice.title}, "thing2": {"value": notice.body}, "time3": {"value": shown}}


async def dispatch_due(engine: AsyncEngine, gateway: Any, template_id: str, *, limit: int = 50) -> int:
    """Send up to ``limit`` due notices; returns how many were sent."""
    now = utcnow()
    async with engine.connect() as conn:
        due = (await conn.execute(
            sa.select(notifications, users.c.openid).join(users, users.c.id == notifications.c.user_id)
            .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= now)
            .order_by(notifications.c.id).limit(limit))).all()
    sent = 0
    for row in due:
        async with engine.begin() as conn:
            claimed = await conn.execute(
                notifications.update()
                .where(notifications.c.id == row.id, notifications.c.status == "pending",
                       notifications.c.next_attempt_at == row.next_attempt_at)
                .values(next_attempt_at=now + CLAIM_FOR))
        if claimed.rowcount != 1:
            continue  # another process has it
        notice = _notice(row)
        try:
            await gateway.send_subscribe_message(row.openid, template_id, _message(notice, now), page=notice.page)
        except AppError as exc:
            await _failed(engine, row.id, row.attempts + 1, exc.code)
            continue
        except Exception as exc:  # noqa: BLE001 - one bad notice must not stop the batch or retry forever
            log.warning("notice %s: unexpected %s", row.id, type(exc).__name__, exc_info=exc)
            await _failed(engine, row.id, row.attempts + 1, type(exc).__name__)
            continue
        async with engine.begin() as conn:
            await conn.execute(notifications.update().where(notifications.c.id == row.id)
                               .values(status="sent", sent_at=utcnow(), attempts=row.attempts + 1))
        sent += 1
    return sent


async def _failed(engine: AsyncEngine, notice_id: int, attempts: int, code: str) -> None:
    final = code in _FINAL_ERRORS or attempts >= MAX_ATTEMPTS
    backoff = timedelta(seconds=30 * 2 ** attempts)
    log.info("notice %s not sent (%s), attempt %s%s", notice_id, code, attempts, ", giving up" if final else "")
    async with engine.begin() as conn:
        await conn.execute(notifications.update().where(notifications.c.id == notice_id).values(
            status="failed" if final else "pending", attempts=attempts, last_error=code[:200],
            next_attempt_at=utcnow() + backoff))
