"""Counting what one request costs the database: statements sent, connections checked out, commits."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class Trips:
    """What the engine did while counting: each statement's text, checkouts, commits and rollbacks."""

    statements: list[str] = field(default_factory=list)
    checkouts: int = 0
    commits: int = 0
    rollbacks: int = 0

    @property
    def round_trips(self) -> int:
        """Statements, commits and rollbacks sent (a checkout pings only a connection idle for 5 s)."""
        return len(self.statements) + self.commits + self.rollbacks

    def __str__(self) -> str:
        lines = "\n  ".join(s.split("\n")[0][:110] for s in self.statements)
        return (f"{self.round_trips} round trips: {len(self.statements)} statements, {self.checkouts} checkouts, "
                f"{self.commits} commits, {self.rollbacks} rollbacks\n  {lines}")


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

    hooks: list[tuple[Any, str, Any]] = []
    for engine in engines:
        if engine is None:
            continue
        sync = engine.sync_engine
        hooks += [(sync, "before_cursor_execute", on_execute), (sync.pool, "checkout", on_checkout),
                  (sync, "commit", on_commit)]
        if not sync.dialect.skip_autocommit_rollback:
            hooks.append((sync, "rollback", on_rollback))
    for target, name, fn in hooks:
        event.listen(target, name, fn)
    try:
        yield trips
    finally:
        for target, name, fn in hooks:
            event.remove(target, name, fn)
