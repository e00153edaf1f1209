"""The counter's statements sent straight to MySQL's driver: built with SQLAlchemy Core, compiled once.

SQLAlchemy's async execution costs about 60 us of CPU a statement on top of the driver (an execution
context, parameter and result processing in Python, a greenlet hop each way): measured on MariaDB with
asyncmy, a one-row primary-key SELECT took 79 us through ``AsyncConnection.execute`` and 16 us on the
driver's cursor. The counter's requests send four to nine statements each, so that overhead was the
largest single cost of a scan or a redemption (docs/operations.md, "The counter near the database's limit").

``Direct(statement)`` keeps a constant statement compiled per dialect (per set of inserted columns for an
INSERT) and runs it on the driver's own connection under the caller's ``AsyncConnection``, so it joins
that connection's transaction: SQLAlchemy still checks the connection out, begins, commits or rolls back
(a write on a connection with no transaction begins one, as SQLAlchemy's autobegin would; a read does not,
and the pool rolls back whatever it left open: server/db.py).
What SQLAlchemy would do for the statement is done here too, once where it can be:

- parameters pass through their types' bind processors (``UTCDateTime`` stores naive UTC), results
  through their result processors (and come back aware); rows are named tuples of the selected keys;
- an INSERT names its columns from the parameters given; a column that would need a Python-side
  default is refused at compile time (give its value);
- ``before_cursor_execute`` fires as for any statement (tests count round trips with it);
- a driver error is raised as SQLAlchemy's (``IntegrityError``...), and a lost connection is
  invalidated, so the pool drops it and the handler answers 503 as for any other statement.

On any other database (SQLite: the demo and half the tests) the statement goes through
``AsyncConnection.execute`` unchanged: both paths answer the same rows, and the tests run both.
"""
from __future__ import annotations

import asyncio
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

#: The MySQL client's error codes for a connection gone (SQLAlchemy's MySQL dialect uses the same list).
_GONE = frozenset({1927, 2006, 2013, 2014, 2045, 2055, 4031})
_DRIVERS = ("asyncmy", "pymysql", "aiomysql")

Params = Mapping[str, Any]
Statement = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete


@dataclass(frozen=True)
class Done:
    """What a statement that returns no rows did: rows matched or changed, and an INSERT's new id."""

    rowcount: int
    lastrowid: int | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: (parameter name, bind processor or None, the statement's own value), in the order the SQL's
    #: placeholders take them. A literal in the statement (``column == "staff"``) is a parameter with its value.
    binds: tuple[tuple[str, Callable[[Any], Any] | None, Any], ...]
    #: The result's processors, one per selected column (None where the value is used as it comes).
    results: tuple[Callable[[Any], Any] | None, ...]


class Direct:
    """A constant Core statement run on MySQL's driver cursor (see the module's docstring)."""

    __slots__ = ("statement", "_row", "_compiled")

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        # Per dialect object (its driver and the server's version can change what is compiled), and for an
        # INSERT per set of columns given.
        self._compiled: dict[tuple[Any, frozenset[str]], _Compiled] = {}
        self._row: Any = None
        if isinstance(statement, sa.Select):
            keys = [column.key for column in statement.selected_columns]
            if len(set(keys)) != len(keys):
                raise TypeError(f"a Direct SELECT needs distinct column keys (label them): {keys}")
            self._row = namedtuple("Row", keys)  # type: ignore[misc,arg-type]

    async def all(self, conn: AsyncConnection, params: Params | None = None) -> list[Any]:
        """Every row, as named tuples of the selected columns' keys."""
        if conn.dialect.name != "mysql":
            return [self._row(*row) for row in (await conn.execute(self.statement, dict(params or {}))).all()]
        compiled = self._compile(conn, params)
        async with _RawCursor(conn) as cur:
            await _execute(conn, cur, compiled.sql, _args(compiled, params))
            rows = await cur.fetchall()
        processors = compiled.results
        if not any(processors):
            return [self._row(*row) for row in rows]
        return [self._row(*[value if p is None else p(value) for p, value in zip(processors, row)]) for row in rows]

    async def first(self, conn: AsyncConnection, params: Params | None = None) -> Any | None:
        """The first row, or None."""
        rows = await self.all(conn, params)
        return rows[0] if rows else None

    async def run(self, conn: AsyncConnection, params: Params | Sequence[Params] | None = None) -> Done:
        """An INSERT, UPDATE or DELETE; a sequence of parameter sets runs it for each (one round trip for an
        INSERT's rows)."""
        many = False
        if params is None or isinstance(params, Mapping):
            sets: list[Params] = [params or {}]
        else:
            sets, many = list(params), True
        if not sets:
            return Done(0, None)
        if conn.dialect.name != "mysql":
            result = await conn.execute(self.statement, [dict(p) for p in sets] if many else dict(sets[0]))
            lastrowid = None if many or not result.is_insert else result.lastrowid
            return Done(result.rowcount, lastrowid)
        if not conn.in_transaction():
            # As SQLAlchemy's own execute would (autobegin): so that conn.commit() commits this write. A read
            # needs none: whatever it leaves open is rolled back when the connection goes back to the pool.
            await conn.begin()
        compiled = self._compile(conn, sets[0])
        args = [_args(compiled, p) for p in sets]
        async with _RawCursor(conn) as cur:
            if many:
                await _execute(conn, cur, compiled.sql, args, many=True)
            else:
                await _execute(conn, cur, compiled.sql, args[0])
            return Done(cur.rowcount, cur.lastrowid or None)

    def _compile(self, conn: AsyncConnection, params: Params | None) -> _Compiled:
        columns = frozenset(params or ()) if isinstance(self.statement, sa.Insert) else frozenset()
        key = (conn.dialect, columns)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _compile(self.statement, conn.dialect, columns or None)
        return found


def _compile(statement: Statement, dialect: Any, columns: frozenset[str] | None) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect, column_keys=sorted(columns) if columns else None)
    prefetch = [c.key for c in getattr(compiled, "insert_prefetch", ()) or ()]
    prefetch += [c.key for c in getattr(compiled, "update_prefetch", ()) or ()]
    if prefetch:
        raise TypeError(f"give these columns' values to a Direct statement (no Python-side defaults): {prefetch}")
    for bind in compiled.binds.values():
        if bind.expanding or bind.literal_execute:
            raise TypeError(f"a Direct statement takes plain parameters, not {bind.key!r}")
    binds = tuple((name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
                   _MISSING if compiled.binds[name].required else compiled.binds[name].effective_value)
                  for name in compiled.positiontup or ())
    results: tuple[Callable[[Any], Any] | None, ...] = ()
    if isinstance(statement, sa.Select):
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                        for column in statement.selected_columns)
    return _Compiled(compiled.string, binds, results)


_MISSING = object()


def _args(compiled: _Compiled, params: Params | None) -> tuple[Any, ...]:
    values = params or {}
    out = []
    for name, process, own in compiled.binds:
        value = values.get(name, own)
        if value is _MISSING:
            raise KeyError(f"a value for the parameter {name!r} is required")
        out.append(value if process is None else process(value))
    return tuple(out)


class _RawCursor:
    """The driver's cursor on the connection under ``conn`` (in its transaction), closed after use."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.cursor: Any = None

    async def __aenter__(self) -> Any:
        sync = self.conn.sync_connection
        if sync is not None and not sync.invalidated and not sync.closed:
            fairy: Any = sync.connection  # checked out and valid: no I/O to reach it (no greenlet hop)
        else:
            fairy = await self.conn.get_raw_connection()  # SQLAlchemy's way, which reconnects or raises
        driver: Any = fairy.driver_connection
        if self.conn.dialect.driver == "aiomysql":
            # SQLAlchemy's cursor class for aiomysql: it does not send SHOW WARNINGS after a statement that
            # warned (an INSERT IGNORE that skipped a row), a round trip for nothing.
            self.cursor = await driver.cursor(self.conn.dialect.loaded_dbapi.Cursor)
        else:
            self.cursor = driver.cursor()
        return self.cursor

    async def __aexit__(self, *exc: object) -> None:
        await self.cursor.close()


async def _execute(conn: AsyncConnection, cursor: Any, sql: str, args: Any, *, many: bool = False) -> None:
    sync = conn.sync_connection
    assert sync is not None
    sync.dispatch.before_cursor_execute(sync, cursor, sql, args, None, many)
    try:
        if many:
            await cursor.executemany(sql, args)
        else:
            await cursor.execute(sql, args)
    except Exception as err:
        if not type(err).__module__.startswith(_DRIVERS) and not isinstance(err, (OSError, asyncio.IncompleteReadError)):
            raise
        gone = _gone(err)
        if gone:
            await conn.invalidate()
        raise sa.exc.DBAPIError.instance(sql, args, err, Exception, connection_invalidated=gone,
                                         dialect=conn.dialect) from err


def _gone(err: BaseException) -> bool:
    """Whether the error says the connection is lost (then it is dropped from the pool)."""
    if isinstance(err, (OSError, asyncio.IncompleteReadError)):
        return True
    names = {cls.__name__ for cls in type(err).__mro__}
    code = err.args[0] if err.args and isinstance(err.args[0], int) else None
    return bool(names & {"OperationalError", "InterfaceError", "ProgrammingError"}) and code in _GONE
