"""Routes that exist only in tests: an uncaught exception, a database connection killed mid-request,
a handler declared idempotent."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from handlers.base import APIHandler
from handlers.idempotency import idempotent
from models.core import outbox
from models.core.errors import Conflict
from models.core.policy import PUBLIC, Access


class BoomHandler(APIHandler):
    access = {"get": PUBLIC}

    async def get(self) -> None:
        raise RuntimeError("secret internal detail /etc/passwd")


class KillConnectionHandler(APIHandler):
    """Kills its own MySQL connection from another one, then uses it: the database 'goes away'."""

    access = {"get": PUBLIC}

    async def get(self) -> None:
        async with self.engine.connect() as conn:
            conn_id = (await conn.execute(sa.text("SELECT CONNECTION_ID()"))).scalar_one()
            async with self.engine.connect() as killer:
                await killer.execute(sa.text(f"KILL {int(conn_id)}"))
            await conn.execute(sa.text("SELECT 1"))
        self.write_json({"status": "unreachable"})


class IdempotentEchoHandler(APIHandler):
    """Declared idempotent, and nothing else: each run queues one notice (so runs can be counted)."""

    access = {"post": Access("me.view")}  # any WeChat user, as the worker's own routes

    @idempotent()
    async def post(self, conn: Any) -> tuple[int, dict[str, Any]]:
        body = self.json_body()
        notice_id = await outbox.enqueue(conn, self.user_id(), "card.echo", title="测试", body="测试")
        if body.get("refuse"):
            raise Conflict("test_refused", "测试拒绝")  # after a write: the refusal must leave nothing
        if body.get("crash"):
            raise RuntimeError("crash")
        return 201, {"notice_id": notice_id, "echo": body}


async def _claimed(handler: Any, conn: Any) -> None:
    """``on_claim`` work: a notice of its own kind, which must stay when the method is refused."""
    await outbox.enqueue(conn, handler.user_id(), "card.claim", title="测试", body="测试")


class IdempotentOneHandler(APIHandler):
    """``@idempotent(one_transaction=True)``: the claim, on_claim and the method in one transaction."""

    access = {"post": Access("me.view")}

    @idempotent(on_claim=_claimed, one_transaction=True)
    async def post(self, conn: Any) -> tuple[int, dict[str, Any]]:
        return await _echo(self, conn)


class IdempotentLazyHandler(APIHandler):
    """The same, its refusals before its writes unless it took the savepoint (``before_writes``)."""

    access = {"post": Access("me.view")}

    @idempotent(on_claim=_claimed, one_transaction=True, refusals_before_writes=True)
    async def post(self, conn: Any) -> tuple[int, dict[str, Any]]:
        body = self.json_body()
        if body.get("refuse_first"):
            raise Conflict("test_refused", "测试拒绝")  # before any write: no savepoint needed
        assert self.before_writes is not None
        await self.before_writes()
        return await _echo(self, conn)


async def _echo(handler: APIHandler, conn: Any) -> tuple[int, dict[str, Any]]:
    body = handler.json_body()
    notice_id = await outbox.enqueue(conn, handler.user_id(), "card.echo", title="测试", body="测试")
    if body.get("refuse"):
        raise Conflict("test_refused", "测试拒绝")  # after a write: the refusal must leave nothing of it
    if body.get("crash"):
        raise RuntimeError("crash")
    return 201, {"notice_id": notice_id, "echo": body}


TEST_ROUTES = [
    (r"/__test__/boom", BoomHandler),
    (r"/__test__/kill-db", KillConnectionHandler),
    (r"/__test__/idempotent", IdempotentEchoHandler),
    (r"/__test__/idempotent-one", IdempotentOneHandler),
    (r"/__test__/idempotent-lazy", IdempotentLazyHandler),
]
