"""The caller of a request is known from one query (token and caller's row together), so one staff
request checks out two pooled connections: one for the caller (and the declared target), one for its work.
On MySQL the caller's comes from the app's autocommit twin of its engine (server/db.py): both are counted."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.identity import sessions
from models.identity import staff_accounts as staff
from server.passwords import ARGON2
from tests.factories import org_tree

PASSWORD = "conn-Count-2026!"


async def _staff_token(engine: Any) -> str:
    async with engine.begin() as conn:
        await org_tree(conn)
        made = await staff.create(conn, SYSTEM, hasher=ARGON2, username="conn.admin", password=PASSWORD, roles=["admin"],
                                  org_code="K01")
        return (await sessions.issue(conn, "staff", made.id, ttl=3600)).token


async def _measured(engines: list[Any], call: Any) -> tuple[Any, int, list[str]]:
    checkouts: list[int] = []
    statements: list[str] = []

    def on_checkout(*_args: Any) -> None:
        checkouts.append(1)

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = [e for e in engines if e is not None]
    for engine in engines:
        sa.event.listen(engine.sync_engine.pool, "checkout", on_checkout)
        sa.event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        resp = await call()
    finally:
        for engine in engines:
            sa.event.remove(engine.sync_engine.pool, "checkout", on_checkout)
            sa.event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
    return resp, len(checkouts), statements


async def test_one_staff_request_checks_out_two_connections_and_reads_its_caller_once(api, engine, running):
    token = await _staff_token(engine)
    engines = [engine, running.settings["autocommit_engine"]]
    resp, checkouts, statements = await _measured(engines, lambda: api.get("/api/v1/staff/orgs", token=token))
    assert resp.status == 200, resp.data
    assert checkouts == 2  # was 3: the token, then the staff row, then the work
    caller_reads = [s for s in statements if "auth_tokens" in s]
    assert len(caller_reads) == 1 and "staff" in caller_reads[0].split("FROM", 1)[1]
