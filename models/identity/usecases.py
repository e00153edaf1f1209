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
from models.core.ports import PasswordHasher
from models.core.tables import notifications
from models.identity import sessions
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


async def dispatch_notifications(engine: AsyncEngine, gateway: Any, template_id: str, *, limit: int = 50) -> int:
    """Send up to ``limit`` due notices to their users' WeChat; returns how many were sent.

    Each notice is claimed in a transaction of its own (another process that claimed
    it first keeps it), sent outside any transaction, then marked sent or failed.
    """
    now = utcnow()
    due_with_openid = (outbox.due_query(now, limit).add_columns(users.c.openid)
                       .join(users, users.c.id == notifications.c.user_id))
    async with engine.connect() as conn:
        rows = (await conn.execute(due_with_openid)).all()
    sent = 0
    for row in rows:
        due = outbox.due_of(row)
        async with engine.begin() as conn:
            claimed = await outbox.claim(conn, due, now)
        if not claimed:
            continue  # another process has it
        failure: str | None = None
        try:
            await gateway.send_subscribe_message(row.openid, template_id, outbox.message(due.notice, now),
                                                 page=due.notice.page)
        except AppError as exc:
            failure = exc.code
        except Exception as exc:  # noqa: BLE001 - one bad notice must not stop the batch or retry forever
            log.warning("notice %s: unexpected %s", due.notice.id, type(exc).__name__, exc_info=exc)
            failure = type(exc).__name__
        async with engine.begin() as conn:
            if failure is None:
                await outbox.mark_sent(conn, due)
            else:
                await outbox.mark_failed(conn, due, failure)
        sent += failure is None
    return sent
