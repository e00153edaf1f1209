"""Identity flows that own their transactions: staff login, and sending the queued notices to WeChat.

Domain functions take a connection and never commit; these take the engine because
their guarantees need several transactions: a failed login is counted although it is
refused, and a notice is claimed, sent (off any transaction: a WeChat call is slow)
and marked, each in its own step.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from models.core import outbox
from models.core.clock import utcnow
from models.core.errors import AppError
from models.core.ports import NoticeTemplates, PasswordHasher
from models.core.tables import notifications
from models.identity import sessions, subscriptions
from models.identity import staff_accounts as staff
from models.identity.tables import users

log = logging.getLogger("unionaid.notify")


@dataclass(frozen=True)
class StaffLogin:
    """A member of staff who logged in, and their new bearer token."""

    staff: staff.Staff
    token: sessions.Issued


async def staff_login(engine: AsyncEngine, username: str, password: str, ip: str | None, *,
                      hasher: PasswordHasher, token_ttl: int) -> StaffLogin:
    """Check a login and issue a token; a failure is counted in its own committed transaction, then refused.

    Refused while the address or the username is locked out; unknown users, wrong
    passwords and inactive accounts all answer the same 401.
    """
    keys = staff.LoginKeys.of(username, ip)
    async with engine.connect() as conn:
        await staff.refuse_if_locked(conn, keys)
        row = await staff.for_login(conn, username)
    if await staff.password_accepted(row, password, hasher):
        async with engine.begin() as conn:
            member = await staff.login_succeeded(conn, keys, row)
            issued = await sessions.issue(conn, "staff", member.id, ttl=token_ttl)
        return StaffLogin(member, issued)
    async with engine.begin() as conn:
        refusal = await staff.login_failed(conn, keys)
    raise refusal


async def dispatch_notifications(engine: AsyncEngine, gateway: Any, templates: NoticeTemplates, *,
                                 limit: int = 50) -> int:
    """Send up to ``limit`` due notices to their users' WeChat; returns how many were sent.

    Each notice is claimed in a transaction of its own (another process that claimed it
    first keeps it), together with one of the worker's grants for its template; without a
    grant it stays in the inbox alone. It is sent outside any transaction, then marked. A
    refusal that no retry can mend (the gateway's errors without ``Retry-After``) ends it:
    43101 takes the template's grants back, any other gives the grant back.
    """
    now = utcnow()
    due_with_openid = (outbox.due_query(now, limit).add_columns(users.c.openid)
                       .join(users, users.c.id == notifications.c.user_id))
    async with engine.connect() as conn:
        rows = (await conn.execute(due_with_openid)).all()
    sent = 0
    for row in rows:
        due = outbox.due_of(row)
        notice = due.notice
        async with engine.begin() as conn:
            if not await outbox.claim(conn, due, now):
                continue  # another process has it
            template_id = notice.template_id
            if template_id is None:
                template_id = templates.template_id(notice.category)
                if not await subscriptions.spend(conn, notice.user_id, template_id):
                    await outbox.mark_unsent(conn, due)
                    continue
                await outbox.reserve(conn, due, template_id)
        failure = await _send(gateway, row.openid, template_id, templates.render(notice.category, notice.values,
                                                                                   notice.at), notice)
        async with engine.begin() as conn:
            if failure is None:
                await outbox.mark_sent(conn, due)
                sent += 1
                continue
            retry_after = failure.headers.get("Retry-After")
            ended = await outbox.mark_failed(conn, due, failure.code, final=retry_after is None,
                                             retry_after=float(retry_after) if retry_after else None)
            if failure.code == "wechat_not_subscribed":
                await subscriptions.withdraw(conn, notice.user_id, template_id)
            elif ended:
                await subscriptions.refund(conn, notice.user_id, template_id)
    return sent


async def _send(gateway: Any, openid: str, template_id: str, data: dict[str, Any],
                notice: outbox.Notice) -> AppError | None:
    """Send one notice; the error when it was not sent (an unexpected one counts as retryable)."""
    try:
        await gateway.send_subscribe_message(openid, template_id, data, page=notice.page)
    except AppError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - one bad notice must not stop the batch or retry forever
        log.warning("notice %s: unexpected %s", notice.id, type(exc).__name__, exc_info=exc)
        return AppError(type(exc).__name__, headers={"Retry-After": "60"})
    return None
