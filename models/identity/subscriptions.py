"""Subscribe-message grants: what each worker accepted in ``wx.requestSubscribeMessage``.

WeChat delivers a subscribe message only to a user who accepted its template, and each
one-time acceptance allows one message (errcode 43101 otherwise). The mini-program reports
the result of each request here; a grant is spent per message sent, and a 43101 (the user
turned the template off in WeChat's settings) takes every grant of that template back.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.db.sql import upsert
from models.identity.tables import subscription_grants as grants_t

#: The answers ``wx.requestSubscribeMessage`` gives per template id.
RESULTS = ("accept", "reject", "ban", "filter")
#: Grants kept per template at most: a buggy or hostile client cannot pile up thousands.
MAX_GRANTS = 50


async def grants(conn: AsyncConnection, user_id: int) -> dict[str, int]:
    """{template id: messages the worker still allows}, only templates with some left."""
    rows = (await conn.execute(sa.select(grants_t.c.template_id, grants_t.c.remaining)
                               .where(grants_t.c.user_id == user_id, grants_t.c.remaining > 0))).all()
    return {row.template_id: int(row.remaining) for row in rows}


async def record(conn: AsyncConnection, user_id: int, results: Mapping[str, str],
                 templates: Collection[str]) -> dict[str, int]:
    """Keep one request's answers: ``accept`` adds a grant, ``ban`` (WeChat banned the template)
    takes them all back, ``reject`` and ``filter`` change nothing. Ids not in ``templates`` (the
    service's own) are passed over. Answers the worker's grants afterwards."""
    now = utcnow()
    for template_id, result in results.items():
        if template_id not in templates:
            continue
        if result == "accept":
            await conn.execute(upsert(
                conn, grants_t, {"user_id": user_id, "template_id": template_id, "remaining": 1, "updated_at": now},
                ["user_id", "template_id"],
                {"remaining": sa.case((grants_t.c.remaining >= MAX_GRANTS, MAX_GRANTS),
                                      else_=grants_t.c.remaining + 1),
                 "updated_at": now}))
        elif result == "ban":
            await withdraw(conn, user_id, template_id)
    return await grants(conn, user_id)


async def spend(conn: AsyncConnection, user_id: int, template_id: str) -> bool:
    """Take one grant for a message (a conditional UPDATE: two senders never spend the same one)."""
    spent = await conn.execute(grants_t.update().where(
        grants_t.c.user_id == user_id, grants_t.c.template_id == template_id, grants_t.c.remaining > 0)
        .values(remaining=grants_t.c.remaining - 1, updated_at=utcnow()))
    return bool(spent.rowcount == 1)


async def refund(conn: AsyncConnection, user_id: int, template_id: str) -> None:
    """Give back a grant a message spent but WeChat never used (the message failed on our side)."""
    await conn.execute(grants_t.update().where(grants_t.c.user_id == user_id, grants_t.c.template_id == template_id)
                       .values(remaining=grants_t.c.remaining + 1, updated_at=utcnow()))


async def withdraw(conn: AsyncConnection, user_id: int, template_id: str) -> None:
    """The worker no longer allows this template (WeChat answered 43101, or banned it): no grant left."""
    await conn.execute(grants_t.update().where(grants_t.c.user_id == user_id, grants_t.c.template_id == template_id)
                       .values(remaining=0, updated_at=utcnow()))
