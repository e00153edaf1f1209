"""Async SQLAlchemy engines for MySQL/MariaDB (aiomysql) and SQLite (aiosqlite)."""
from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from server.config import Config, make_private_dir


def make_engine(config: Config, **kwargs: Any) -> AsyncEngine:
    """Create the engine for the configured database with pool settings fit for it."""
    url = make_url(config.effective_database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            make_private_dir(Path(url.database).parent)
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_pre_ping=False,
            **kwargs,
        )
        _sqlite_pragmas(engine)
        _read_guard(engine)
        return engine
    if "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    engine = create_async_engine(
        url,
        pool_pre_ping=False,  # see _ping_when_idle
        pool_recycle=config.db_pool_recycle,
        pool_size=config.db_pool_size,
        max_overflow=config.db_max_overflow,
        pool_timeout=config.db_pool_timeout,
        pool_reset_on_return=None,  # _roll_back_open_work does it, and only when there is something to end
        isolation_level="READ COMMITTED",
        **kwargs,
    )
    _ping_when_idle(engine)
    _roll_back_open_work(engine)
    return engine


def autocommit_twin(engine: AsyncEngine | None, config: Config) -> AsyncEngine | None:
    """For MySQL, an engine on the same database whose connections autocommit: for a request that only
    reads (the counter's QR code), so that ending it costs no ROLLBACK round trip. Each statement sees
    what was committed before it, as in a READ COMMITTED transaction. Disposed with ``engine``.
    None for SQLite, whose reads stay in a deferred transaction (``reading``), and without an engine.

    Its connections are held for one short query each: it keeps as many as the engine's pool
    (``db_pool_size``) but may open half as many more (overflow). A smaller kept pool cost the QR
    code's phase of the counter's benchmark a new connection for many requests (overflow connections
    are closed on return): 0.49 ms of the database's CPU per request, against 0.13-0.31 ms."""
    if engine is None:  # an app made without a database (tests of its wiring)
        return None
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return None
    twin = create_async_engine(url, isolation_level="AUTOCOMMIT", skip_autocommit_rollback=True,
                               pool_pre_ping=False, pool_recycle=config.db_pool_recycle,
                               pool_size=config.db_pool_size,
                               max_overflow=max(1, config.db_max_overflow // 2),
                               pool_timeout=config.db_pool_timeout)
    _ping_when_idle(twin)

    @event.listens_for(engine.sync_engine, "engine_disposed")
    def _with_it(_engine: Any) -> None:
        twin.sync_engine.dispose()

    return twin


#: A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE = 5.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a connection on checkout only when it sat idle in the pool for ``PING_AFTER_IDLE`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip per request, a fifth of
    the counter's QR code under load. A connection in use moments ago is taken as alive; if the
    server went away meanwhile, the request's first statement fails as a disconnect, SQLAlchemy
    drops the pool's connections, and the request is answered 503 with Retry-After (handlers/base.py).
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # the pool retries the checkout with a fresh connection
            raise exc.DisconnectionError() from err


#: In a pooled connection's info: whether a statement ran since its last COMMIT or ROLLBACK.
OPEN_WORK = "unionaid_open_work"


def needs_rollback(record: Any, state: Any) -> bool:
    """Whether a connection going back to the pool has work to roll back (``PoolResetState`` ``state``)."""
    if state.terminate_only or not state.asyncio_safe or state.transaction_was_reset:
        return False  # being discarded, or SQLAlchemy already ended its transaction
    return bool(record.info.get(OPEN_WORK, True))


def _roll_back_open_work(engine: AsyncEngine) -> None:
    """Give a connection back to the pool without a ROLLBACK after its COMMIT.

    SQLAlchemy rolls back every connection it takes back unless the ``Connection`` still held its
    transaction when closed, which ``engine.begin()`` never does (it commits, then closes): every
    write transaction cost a ROLLBACK round trip after its COMMIT. Instead of the pool's rollback
    (``pool_reset_on_return=None``) this reset rolls back only a connection that ran a statement since
    its last COMMIT or ROLLBACK (``models/db/direct.py`` statements included: they fire
    ``before_cursor_execute`` too), or whose state is unknown (a statement failed, a new connection).
    """
    sync = engine.sync_engine

    def _mark(conn: Any, open_work: bool) -> None:
        if not conn.invalidated and not conn.closed:
            conn.info[OPEN_WORK] = open_work

    @event.listens_for(sync, "before_cursor_execute")
    def _statement(conn: Any, *_args: Any) -> None:
        _mark(conn, True)

    @event.listens_for(sync, "commit")
    def _committing(conn: Any) -> None:
        _mark(conn, False)  # before the COMMIT is sent: one that fails marks the work open again (below)

    @event.listens_for(sync, "rollback")
    def _rolling_back(conn: Any) -> None:
        _mark(conn, False)

    @event.listens_for(sync, "handle_error")
    def _failed(context: Any) -> None:
        if context.connection is not None:
            _mark(context.connection, True)

    @event.listens_for(sync.pool, "reset")
    def _reset(dbapi_conn: Any, record: Any, state: Any) -> None:
        if needs_rollback(record, state):
            dbapi_conn.rollback()
        record.info[OPEN_WORK] = False


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so writers queue instead of failing on upgrade."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A read (see `reading`) begins deferred: in WAL mode it takes no lock and sees one snapshot,
        # so writers go on meanwhile. Anything else may write, and takes the write lock up front.
        read = conn.get_execution_options().get(_READ_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


# --- the two kinds of transaction ------------------------------------------------------------

#: The execution option that marks a connection's transactions as read-only work.
_READ_OPTION = "unionaid_read"


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read transaction: deferred on SQLite (blocks no writer), an ordinary one elsewhere.

    Begun on first use and rolled back when the connection goes back to the pool (a COMMIT
    would cost every read a round trip for nothing), so a write inside it would be dropped.
    On SQLite, where the whole test suite runs too, such a write is refused before it
    reaches the database; MySQL is spared that check on every statement (it cost a QR
    request about a fifth of its server CPU under load).
    """
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execution_options(**{_READ_OPTION: True})
        yield conn


#: What a read transaction may send: queries, and SQLite's own BEGIN.
_READ_VERBS = ("SELECT", "WITH", "BEGIN", "SHOW", "PRAGMA")


def _read_guard(engine: AsyncEngine) -> None:
    """Refuse (a programming error, so a 500) any statement but a query inside `reading` (SQLite's engines)."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _refuse_writes(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.get_execution_options().get(_READ_OPTION) and not statement.lstrip().upper().startswith(_READ_VERBS):
            raise RuntimeError(f"a write inside a read transaction (server.db.reading): {statement[:80]!r}")


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction: BEGIN IMMEDIATE on SQLite (writers queue), committed on success."""
    async with engine.begin() as conn:
        yield conn


async def ping(engine: AsyncEngine) -> str:
    """Run ``SELECT 1`` on a fresh connection; the dialect's name when the database answers."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return engine.dialect.name
