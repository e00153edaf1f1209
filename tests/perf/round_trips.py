"""Counting what one request costs the database: statements sent, connections checked out, commits."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from sqlalchemy import event
from sqlalchemy.pool import reset_none
from sqlalchemy.ext.asyncio import AsyncEngine

from server.db import needs_rollback


@dataclass
class Trips:
    """What the engine did while counting: each statement's text, checkouts, commits and rollbacks."""

    statements: list[str] = field(default_factory=list)
    checkouts: int = 0
    commits: int = 0
    rollbacks: int = 0
    #: ROLLBACKs the pool sends when it takes a connection back (server/db.py: only when work is open).
    pool_rollbacks: int = 0

    @property
    def round_trips(self) -> int:
        """Statements, commits and rollbacks sent (a checkout pings only a connection idle for 5 s)."""
        return len(self.statements) + self.commits + self.rollbacks + self.pool_rollbacks

    def __str__(self) -> str:
        lines = "\n  ".join(s.split("\n")[0][:110] for s in self.statements)
        return (f"{self.round_trips} round trips: {len(self.statements)} statements, {self.checkouts} checkouts, "
                f"{self.commits} commits, {self.rollbacks} rollbacks, {self.pool_rollbacks} on return to the pool"
                f"\n  {lines}")


@contextmanager
def counting(*engines: AsyncEngine | None) -> Iterator[Trips]:
    """Count the engines' round trips while the block runs (other engines' are not counted). A rollback
    an autocommit engine skips (``skip_autocommit_rollback``) sends nothing and is not counted."""
    trips = Trips()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        trips.statements.append(statement)

    def on_checkout(*_args: Any) -> None:
        trips.checkouts += 1

    def on_commit(*_args: Any) -> None:
        trips.commits += 1

    def on_rollback(*_args: Any) -> None:
        trips.rollbacks += 1

    def on_reset(engine: AsyncEngine) -> Any:
        ours = engine.sync_engine.pool._reset_on_return is reset_none  # server/db.py resets, only when needed

        def count(_dbapi: Any, record: Any, state: Any) -> None:
            if ours:
                trips.pool_rollbacks += needs_rollback(record, state)
            elif not (state.transaction_was_reset or state.terminate_only or not state.asyncio_safe):
                trips.pool_rollbacks += 1  # SQLAlchemy's own rollback on return
        return count

    hooks: list[tuple[Any, str, Any]] = []
    for engine in engines:
        if engine is None:
            continue
        sync = engine.sync_engine
        hooks += [(sync, "before_cursor_execute", on_execute), (sync.pool, "checkout", on_checkout),
                  (sync, "commit", on_commit)]
        if not sync.dialect.skip_autocommit_rollback:
            hooks += [(sync, "rollback", on_rollback), (sync.pool, "reset", on_reset(engine))]
    for target, name, fn in hooks:
        event.listen(target, name, fn, insert=True)  # before server/db.py's reset clears what it reads
    try:
        yield trips
    finally:
        for target, name, fn in hooks:
            event.remove(target, name, fn)
