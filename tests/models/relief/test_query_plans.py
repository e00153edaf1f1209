"""The query plans of the relief pages staff and the public read most (and of the member search by name, over the
same seeded city), on MySQL/MariaDB: the SQL the real code
path issues (captured while calling the model functions) is EXPLAINed over a seeded city, and no big table is
read whole (``type: ALL``) nor through its whole primary key, and the index each was built around is the one used.

MySQL only (SQLite's planner is another matter): the SQLite variants are deselected in this directory's
conftest, not skipped, so that a skip in CI always means trouble.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from models.core.actors import Actor
from models.members import membership
from models.members.tables import members
from models.relief import notices, queue, statistics
from models.relief.tables import relief_applications
from scripts.bench_relief import STAFF, TABLES, seed
from server.crypto import PiiCipher, load_keyring

#: The tables that grow with the network (the members, the applications and what hangs off them): never read
#: whole. Aliases in the captured SQL count as their tables.
BIG = {"relief_applications", "relief_events", "relief_attachments", "relief_household", "relief_visits",
       "relief_flags", "relief_votes", "relief_notice_entries", "members", "other", "later", "relief_tallies",
       "relief_tally_paid"}

Plan = list[dict[str, Any]]


@pytest.fixture
async def city(engine: Any, config: Any) -> tuple[PiiCipher, list[Actor]]:
    """A city of 4 districts of 6 units, 2,500 applications with their timelines, analysed; the staff as Actors."""
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        await seed(conn, cipher, 2500, 1200, districts=4, units_each=6)
    async with engine.connect() as conn:
        for table in TABLES:
            await conn.execute(sa.text(f"ANALYZE TABLE {table}"))
        found = (await conn.execute(sa.text(
            "SELECT s.id, s.roles, s.org_id, o.path FROM staff s JOIN orgs o ON o.id = s.org_id ORDER BY s.id"))).all()
    assert len(found) == len(STAFF)
    return cipher, [Actor(kind="staff", id=r.id, roles=frozenset(r.roles.split(",")), org_id=r.org_id,
                          org_path=r.path) for r in found]


async def plans(engine: Any, call: Callable[[Any], Awaitable[Any]]) -> list[tuple[str, Plan]]:
    """(statement, EXPLAIN rows) of every SELECT ``call(conn)`` issues, in a transaction rolled back after."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with engine.connect() as conn:
            await call(conn)
            await conn.rollback()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    out = []
    async with engine.connect() as conn:
        for statement, parameters in seen:
            rows = (await conn.exec_driver_sql("EXPLAIN " + statement, parameters)).mappings().all()
            out.append((" ".join(statement.split()), [dict(r) for r in rows]))
    return out


def keys(row: dict[str, Any]) -> set[str]:
    """The indexes an EXPLAIN row reads (MariaDB writes a rowid filter as ``a|b``)."""
    return set(str(row["key"] or "").split("|")) - {""}


def check_no_scan(found: list[tuple[str, Plan]]) -> None:
    """No big table read whole: neither ``ALL`` nor a walk of its whole primary key."""
    for statement, rows in found:
        for row in rows:
            if row["table"] not in BIG:
                continue
            kind = str(row["type"]).split("|")[0]
            assert kind != "ALL", f"full scan of {row['table']}: {row}\n{statement}"
            assert not (kind == "index" and keys(row) == {"PRIMARY"}), f"primary key walk: {row}\n{statement}"


def using(found: list[tuple[str, Plan]], table: str, starts: str) -> set[str]:
    """The indexes ``table`` is read through in the statements that start with ``starts``."""
    return {k for statement, rows in found if statement.startswith(starts)
            for row in rows if row["table"] == table for k in keys(row)}


def require_mysql(engine: Any) -> None:
    assert engine.dialect.name == "mysql", "deselected on SQLite (conftest): the plans are MySQL's"


async def test_the_queue_reads_only_what_waits(engine: Any, city: tuple[PiiCipher, list[Actor]]) -> None:
    require_mysql(engine)
    cipher, staff = city
    some = {"city admin": staff[0], "city reviewer": staff[1], "district reviewer": staff[4], "station": staff[12]}

    async def pages(conn: Any) -> None:
        for actor in some.values():
            for q in (queue.QueueQuery(), queue.QueueQuery(flagged="1"), queue.QueueQuery(overdue="1"),
                      queue.QueueQuery(resubmitted="1"), queue.QueueQuery(step="county_review"),
                      queue.QueueQuery(limit=20)):
                _, apps = await queue.listing(conn, cipher, actor, q)
                if len(apps) > 1:  # the next page, from the cursor the first one gives
                    await queue.listing(conn, cipher, actor, q.model_copy(update={"cursor": apps[-2].id}))

    found = await plans(engine, pages)
    assert len(found) > 20
    check_no_scan(found)
    main = using(found, "relief_applications", "SELECT relief_applications.id")
    assert main == {"ix_relief_applications_waiting"}, main


async def test_the_file_reads_one_application(engine: Any, city: tuple[PiiCipher, list[Actor]]) -> None:
    require_mysql(engine)
    cipher, staff = city
    async with engine.connect() as conn:  # the fullest files: archived, with every step behind them
        ids = (await conn.execute(sa.select(relief_applications.c.id).where(relief_applications.c.status == "archived")
                                  .order_by(relief_applications.c.id.desc()).limit(3))).scalars().all()
    assert len(ids) == 3

    async def files(conn: Any) -> None:
        for application_id in ids:
            await queue.file_view(conn, cipher, staff[0], application_id)

    found = await plans(engine, files)
    check_no_scan(found)
    for statement, rows in found:
        for row in rows:
            if row["table"] in BIG:  # one application's rows: by key, never a range over many
                assert str(row["type"]).split("|")[0] in ("const", "eq_ref", "ref", "range"), (row, statement)
    assert using(found, "relief_events", "SELECT relief_events.id") == {"ix_relief_events_application_id"}
    assert using(found, "relief_attachments", "SELECT relief_attachments.id") == {
        "ix_relief_attachments_application_id"}
    assert using(found, "relief_household", "SELECT relief_household.id") == {"ix_relief_household_application_id"}


async def test_the_public_notice_reads_the_visible_batches(engine: Any, city: tuple[PiiCipher, list[Actor]]) -> None:
    require_mysql(engine)

    async def public(conn: Any) -> None:
        await notices.PublicNotices().read(conn)

    found = await plans(engine, public)
    check_no_scan(found)
    assert len(found) == 3  # the check, the batches, their entries
    assert using(found, "relief_notices", "SELECT") == {"ix_relief_notices_visible"}
    assert using(found, "relief_notice_entries", "SELECT") == {"ix_relief_notice_entries_notice_id"}


async def test_the_statistics_read_the_summary_by_its_keys(engine: Any, city: tuple[PiiCipher, list[Actor]]) -> None:
    require_mysql(engine)
    _, staff = city

    async def reports(conn: Any) -> None:
        for actor in (staff[0], staff[4], staff[12]):
            for q in (statistics.StatsQuery(), statistics.StatsQuery.model_validate({"from": "2025-03-17",
                                                                                      "to": "2026-02-03"})):
                for by in ("kind", "month", "org"):
                    q = q.model_copy(update={"by": by})
                    await statistics.applications(conn, actor, q)
                    await statistics.payments(conn, actor, q)

    found = await plans(engine, reports)
    check_no_scan(found)
    # Neither the timeline nor the applications are counted any more: the summary's rows by their keys, the
    # applications only by id (the kinds' names).
    assert using(found, "relief_events", "SELECT") == set()
    assert using(found, "relief_applications", "SELECT") <= {"PRIMARY"}
    assert using(found, "relief_tallies", "SELECT") == {"PRIMARY"}
    assert using(found, "relief_tally_paid", "SELECT") <= {"ix_relief_tally_paid_day", "ix_relief_tally_paid_prev"}
    assert "ix_relief_tally_paid_day" in using(found, "relief_tally_paid", "SELECT")
    for statement, rows in found:
        for row in rows:
            if row["table"] in ("relief_tallies", "relief_tally_paid"):
                assert str(row["type"]).split("|")[0] in ("range", "ref", "const", "eq_ref"), (row, statement)


async def test_a_name_search_reads_the_name_s_range(engine: Any, city: tuple[PiiCipher, list[Actor]]) -> None:
    """The service hall's search by the start of a name: through ``ix_members_name`` (migration 0023), not the
    members under the caller in id order (at a province's millions, a rare name read every one of them)."""
    require_mysql(engine)
    cipher, staff = city
    async with engine.connect() as conn:
        name = (await conn.execute(sa.select(members.c.name).order_by(members.c.id.desc()).limit(1))).scalar_one()

    def searches(actor: Actor) -> Callable[[Any], Awaitable[None]]:
        async def run(conn: Any) -> None:
            for wanted in (name, name[:2]):
                await membership.search(conn, cipher, actor, name=wanted)
        return run

    for actor in (staff[0], staff[4], staff[12]):  # city, district and station
        found = await plans(engine, searches(actor))
        assert len(found) == 2
        check_no_scan(found)
        # The city's and the district's through the name; a station's few members may rightly come by its unit.
        read = using(found, "members", "SELECT members.id")
        assert read == {"ix_members_name"} or (actor is staff[12] and read <= {"ix_members_name", "ix_members_org_id"}), \
            (actor.org_path, read)
