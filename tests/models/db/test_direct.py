"""models/db/direct.py: a statement sent straight to the driver answers what SQLAlchemy would, in the caller's
transaction, with SQLAlchemy's errors and events; on SQLite it simply goes through SQLAlchemy."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from models.db.direct import Direct, Done
from models.db.types import BigId, UTCDateTime

meta = sa.MetaData()
things = sa.Table(
    "direct_things", meta,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("at", UTCDateTime, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("made", sa.Integer, nullable=False, default=7),  # a Python-side default
)
_BY_NAME = sa.select(things.c.id, things.c.name, things.c.flag, things.c.at, things.c.note.label("remark")).where(
    things.c.name == sa.bindparam("name"))
_ALL = sa.select(things.c.id, things.c.name, things.c.flag, things.c.at).order_by(things.c.id)
_INSERT = things.insert()
_RENAME = things.update().where(things.c.name == sa.bindparam("old")).values(name=sa.bindparam("new"))
AT = datetime(2026, 12, 5, 8, 30, 15, 123456, tzinfo=timezone.utc)


@pytest.fixture
async def table(engine):
    async with engine.begin() as conn:
        await conn.run_sync(meta.drop_all)
        await conn.run_sync(meta.create_all)
    yield
    async with engine.begin() as conn:
        await conn.run_sync(meta.drop_all)


async def test_rows_are_what_sqlalchemy_reads(engine, table):
    async with engine.begin() as conn:
        done = await Direct(_INSERT).run(conn, {"name": "a", "flag": True, "at": AT, "note": "百分之百 %s", "made": 1})
        assert done.rowcount == 1 and done.lastrowid is not None
        await Direct(_INSERT).run(conn, [{"name": n, "flag": False, "at": None, "note": None, "made": 2}
                                         for n in ("b", "c")])
        assert await Direct(_INSERT).run(conn, []) == Done(0, None)  # no rows: nothing sent
    async with engine.connect() as conn:
        row = await Direct(_BY_NAME).first(conn, {"name": "a"})
        assert row is not None
        assert (row.id, row.name, row.flag, row.at, row.remark) == (done.lastrowid, "a", True, AT, "百分之百 %s")
        assert row.at.tzinfo is not None and row.flag is True  # through the types' result processors
        assert await Direct(_BY_NAME).first(conn, {"name": "nobody"}) is None
        direct = await Direct(_ALL).all(conn)
        through_sa = (await conn.execute(_ALL)).all()
    assert [tuple(r) for r in direct] == [tuple(r) for r in through_sa]
    assert [r.name for r in direct] == ["a", "b", "c"]


async def test_an_aware_time_is_stored_as_utc_and_a_naive_one_refused(engine, table):
    beijing = AT.astimezone(timezone(timedelta(hours=8)))
    async with engine.begin() as conn:
        await Direct(_INSERT).run(conn, {"name": "t", "flag": True, "at": beijing, "note": None, "made": 1})
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(things.c.at))).scalar_one()
        assert stored == AT
    with pytest.raises((ValueError, sa.exc.StatementError)):
        async with engine.begin() as conn:
            await Direct(_INSERT).run(conn, {"name": "n", "flag": True, "at": AT.replace(tzinfo=None),
                                             "note": None, "made": 1})


async def test_it_joins_the_callers_transaction(engine, table):
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await Direct(_INSERT).run(conn, {"name": "gone", "flag": True, "at": None, "note": None, "made": 1})
            assert (await Direct(_BY_NAME).first(conn, {"name": "gone"})) is not None  # seen inside
            raise RuntimeError("roll back")
    async with engine.begin() as conn:
        assert await Direct(_BY_NAME).first(conn, {"name": "gone"}) is None
        await Direct(_INSERT).run(conn, {"name": "kept", "flag": True, "at": None, "note": None, "made": 1})
        changed = await Direct(_RENAME).run(conn, {"old": "kept", "new": "renamed"})
        assert changed.rowcount == 1 and changed.lastrowid is None
        assert (await Direct(_RENAME).run(conn, {"old": "nobody", "new": "x"})).rowcount == 0
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(things.c.name))).scalars().all() == ["renamed"]


async def test_a_duplicate_key_is_sqlalchemys_integrity_error(engine, table):
    row = {"name": "same", "flag": True, "at": None, "note": None, "made": 1}
    async with engine.begin() as conn:
        await Direct(_INSERT).run(conn, row)
    with pytest.raises(sa.exc.IntegrityError) as caught:
        async with engine.begin() as conn:
            await Direct(_INSERT).run(conn, row)
    assert not caught.value.connection_invalidated


async def test_each_statement_is_seen_by_the_engines_hooks(engine, table):
    seen: list[str] = []

    def on_execute(_conn, _cursor, statement, *_args):
        seen.append(statement.split()[0])

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        async with engine.begin() as conn:
            await Direct(_INSERT).run(conn, {"name": "h", "flag": True, "at": None, "note": None, "made": 1})
            await Direct(_BY_NAME).all(conn, {"name": "h"})
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
    assert [s.upper() for s in seen if s.upper() != "BEGIN"] == ["INSERT", "SELECT"]


async def test_what_it_cannot_send_is_refused_before_it_is_sent(engine, table):
    with pytest.raises(TypeError, match="distinct column keys"):
        Direct(sa.select(things.c.id, sa.literal(1).label("id")))
    if engine.dialect.name != "mysql":
        return  # the fallback sends it through SQLAlchemy, which fills the default itself
    async with engine.begin() as conn:
        with pytest.raises(TypeError, match="made"):  # its Python-side default would be skipped
            await Direct(_INSERT).run(conn, {"name": "d", "flag": True, "at": None, "note": None})
        with pytest.raises(TypeError, match="plain parameters"):
            await Direct(sa.select(things.c.id).where(things.c.name.in_(sa.bindparam("names", expanding=True)))
                         ).all(conn, {"names": ["a"]})


async def test_a_lost_connection_is_dropped_from_the_pool(engine, table):
    if engine.dialect.name != "mysql":
        return
    async with engine.connect() as conn:
        own = (await conn.execute(sa.text("SELECT CONNECTION_ID()"))).scalar_one()
        async with engine.connect() as other:
            await other.execute(sa.text(f"KILL {int(own)}"))
        with pytest.raises(sa.exc.DBAPIError) as caught:
            await Direct(_BY_NAME).all(conn, {"name": "a"})
        assert caught.value.connection_invalidated
        assert conn.invalidated
    async with engine.connect() as conn:  # the pool hands out a live connection again
        assert await Direct(_BY_NAME).all(conn, {"name": "a"}) == []


async def test_a_write_on_a_connection_commits_with_it_as_sqlalchemys_would(engine, table):
    async with engine.connect() as conn:  # no transaction begun: the write begins one (autobegin)
        await Direct(_INSERT).run(conn, {"name": "as-you-go", "flag": True, "at": None, "note": None, "made": 1})
        await conn.commit()
        await Direct(_INSERT).run(conn, {"name": "left-open", "flag": True, "at": None, "note": None, "made": 1})
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(things.c.name))).scalars().all() == ["as-you-go"]
