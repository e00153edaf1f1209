"""The notification outbox: written with the change it reports, sent to WeChat afterwards.

A notice is queued in the caller's transaction, so it exists exactly when the change
committed, and it stays for the worker's in-app inbox (``models/core/inbox.py``) whatever
WeChat does with it. Sending is a use case of the identity domain (it needs the users'
openids and their subscription grants): ``models/identity/usecases.py``
``dispatch_notifications`` reads what is due here, claims each row by a conditional UPDATE
(so several processes can dispatch without sending twice), and marks it sent, unsent (no
grant: the inbox alone carries it), failed for good, or due again later.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.core.tables import notifications
from models.db.direct import Direct

_QUEUE = Direct(notifications.insert())

log = logging.getLogger("unionaid.notify")

MAX_ATTEMPTS = 5
CLAIM_FOR = timedelta(seconds=60)

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


#: The kind of notice (its template) of each kind of event, by the event kind's first part.
_CATEGORY_OF = {"card": "card", "member": "card", "redemption": "redemption", "relief": "relief",
                "payment": "payment"}
TITLE_MAX, BODY_MAX = 40, 200


def category_of(kind: str) -> str:
    """The kind of notice (template) that carries an event kind such as ``card.frozen``."""
    try:
        return _CATEGORY_OF[kind.split(".", 1)[0]]
    except KeyError:
        raise ValueError(f"no kind of notice carries {kind!r}") from None


@dataclass(frozen=True)
class Notice:
    """A notice for a worker: what it says, the event's values for its template, and its delivery."""

    id: int
    user_id: int
    kind: str
    category: str
    title: str
    body: str
    page: str | None
    values: Mapping[str, str | int]
    status: str
    template_id: str | None
    at: datetime
    read_at: datetime | None

    def view(self) -> dict[str, Any]:
        """The notice as the worker's inbox shows it."""
        return {"id": self.id, "kind": self.kind, "title": self.title, "body": self.body, "page": self.page,
                "at": self.at, "read": self.read_at is not None, "delivery": self.status}


async def enqueue(
    conn: AsyncConnection, user_id: int, kind: str, *, title: str, body: str, page: str | None = None,
    values: Mapping[str, str | int] | None = None, at: datetime | None = None,
) -> int:
    """Queue a notice for a worker in the caller's transaction.

    ``values`` are the event's values for its template (``CATEGORIES``: a merchant, an amount in
    fen...); ``title`` and ``body`` are given to every template too. ``at`` is when the event
    happened (default now).
    """
    category = category_of(kind)
    extra = dict(values or {})
    unknown = set(extra) - CATEGORIES[category]
    if unknown:
        raise ValueError(f"{kind}: {', '.join(sorted(unknown))} is not a value of a {category} notice")
    if any(not isinstance(extra[name], int) for name in MONEY_VALUES & set(extra)):
        raise ValueError(f"{kind}: amounts are integer fen")
    now = utcnow()
    payload = json.dumps({"title": title[:TITLE_MAX], "body": body[:BODY_MAX], "page": page, "values": extra},
                         ensure_ascii=False)
    done = await _QUEUE.run(conn, dict(
        user_id=user_id, kind=kind, category=category, payload=payload, status="pending", attempts=0,
        next_attempt_at=now, event_at=at or now, created_at=now))
    assert done.lastrowid is not None
    return done.lastrowid


async def for_user(conn: AsyncConnection, user_id: int, *, limit: int = 20) -> list[Notice]:
    """A worker's latest notices, newest first."""
    rows = (await conn.execute(sa.select(notifications).where(notifications.c.user_id == user_id)
                               .order_by(notifications.c.id.desc()).limit(limit))).all()
    return [notice_of(r) for r in rows]


def notice_of(row: Any) -> Notice:
    """A notifications row as a Notice."""
    payload = json.loads(row.payload)
    values = {"title": payload["title"], "body": payload["body"], **payload.get("values", {})}
    return Notice(row.id, row.user_id, row.kind, row.category, payload["title"], payload["body"],
                  payload.get("page"), values, row.status, row.template_id, row.event_at, row.read_at)


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
    return Due(notice_of(row), int(row.attempts), row.next_attempt_at)


async def claim(conn: AsyncConnection, due: Due, now: datetime) -> bool:
    """Take a due notice for ``CLAIM_FOR``; False when another process has it (a conditional UPDATE)."""
    claimed = await conn.execute(
        notifications.update()
        .where(notifications.c.id == due.notice.id, notifications.c.status == "pending",
               notifications.c.next_attempt_at == due.next_attempt_at)
        .values(next_attempt_at=now + CLAIM_FOR))
    return bool(claimed.rowcount == 1)


async def reserve(conn: AsyncConnection, due: Due, template_id: str) -> None:
    """Note the template whose grant the notice spent (a retry sends it without spending another)."""
    await conn.execute(notifications.update().where(notifications.c.id == due.notice.id)
                       .values(template_id=template_id))


async def mark_unsent(conn: AsyncConnection, due: Due) -> None:
    """The worker held no grant for the template: the notice lives in the inbox only, never retried."""
    await conn.execute(notifications.update().where(notifications.c.id == due.notice.id)
                       .values(status="unsent", last_error="no_grant"))


async def mark_sent(conn: AsyncConnection, due: Due) -> None:
    """The notice reached WeChat."""
    await conn.execute(notifications.update().where(notifications.c.id == due.notice.id)
                       .values(status="sent", sent_at=utcnow(), attempts=due.attempts + 1, last_error=None))


async def mark_failed(conn: AsyncConnection, due: Due, code: str, *, final: bool,
                      retry_after: float | None = None) -> bool:
    """The notice was not sent: due again after a backoff (at least ``retry_after`` seconds), or failed
    for good when ``final`` or after ``MAX_ATTEMPTS``. True when it will not be tried again."""
    attempts = due.attempts + 1
    final = final or attempts >= MAX_ATTEMPTS
    backoff = max(30.0 * 2 ** attempts, retry_after or 0.0)
    log.info("notice %s not sent (%s), attempt %s%s", due.notice.id, code, attempts, ", giving up" if final else "")
    await conn.execute(notifications.update().where(notifications.c.id == due.notice.id).values(
        status="failed" if final else "pending", attempts=attempts, last_error=code[:200],
        next_attempt_at=utcnow() + timedelta(seconds=backoff)))
    return final
