"""Routes that exist only in tests: an uncaught exception, a database connection killed mid-request."""
from __future__ import annotations

import sqlalchemy as sa

from handlers.base import APIHandler
from models.core.policy import PUBLIC


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


TEST_ROUTES = [
    (r"/__test__/boom", BoomHandler),
    (r"/__test__/kill-db", KillConnectionHandler),
]
