"""What one view of an application's file costs the database, pinned so that it cannot creep back: the
application with its applicant's and unit's names and which of its household, flags, visits and votes exist (one
query), its attachments (proofs and visit photos, one query), the household, flags, visits and votes it has (one
query each, none for a part it lacks), the timeline, and the audit row, in the caller's transaction."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from models.core.actors import Actor
from models.relief import queue
from models.relief.tables import (
    relief_applications,
    relief_attachments,
    relief_flags,
    relief_household,
    relief_visits,
    relief_votes,
)
from scripts.bench_relief import seed
from server.crypto import PiiCipher, load_keyring

#: The application (with both names), attachments, household, flags, visits, votes, timeline; the audit row.
EXPECTED = ["select"] * 7 + ["insert"]
#: A file without household, flags, visits or votes: the application, attachments, timeline; the audit row.
BARE = ["select"] * 3 + ["insert"]


@contextmanager
def statements(engine: Any) -> Iterator[list[str]]:
    """Every statement sent on ``engine`` inside the block, as its first word (lower case)."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split(None, 1)[0].lower())

    sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_the_file_costs_at_most_seven_reads_and_its_audit_row(engine: Any, config: Any) -> None:
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        await seed(conn, cipher, 400, 200, districts=2, units_each=2)
        found = (await conn.execute(sa.text(
            "SELECT s.id, s.roles, s.org_id, o.path FROM staff s JOIN orgs o ON o.id = s.org_id ORDER BY s.id"))).all()
        city = next(Actor(kind="staff", id=r.id, roles=frozenset(r.roles.split(",")), org_id=r.org_id,
                          org_path=r.path) for r in found if "admin" in r.roles)
        a = relief_applications.c
        # A full file: photos of a visit, proofs, a household, a vote and a flag (the bench's data has them all).
        richest = (await conn.execute(
            sa.select(a.id).where(
                a.id.in_(sa.select(relief_attachments.c.application_id)
                         .where(relief_attachments.c.visit_id.is_not(None))),
                a.id.in_(sa.select(relief_household.c.application_id)),
                a.id.in_(sa.select(relief_votes.c.application_id)),
                a.id.in_(sa.select(relief_flags.c.application_id)))
            .order_by(a.id).limit(1))).scalar()
        assert richest is not None
        bare = (await conn.execute(
            sa.select(a.id).where(*(a.id.not_in(sa.select(part.c.application_id)) for part in (
                relief_household, relief_flags, relief_visits, relief_votes)))
            .order_by(a.id).limit(1))).scalar()
        assert bare is not None
        with statements(engine) as seen:
            view = await queue.file_view(conn, cipher, city, int(richest), full=True)
        with statements(engine) as seen_bare:
            bare_view = await queue.file_view(conn, cipher, city, int(bare))
    assert seen == EXPECTED, seen
    assert view["applicant"] and view["unit"] and view["visits"] and view["votes"] and view["flags"]
    assert view["household"] and any(v["photos"] for v in view["visits"]) and view["timeline"]
    assert seen_bare == BARE, seen_bare
    assert bare_view["timeline"] and not (bare_view["household"] or bare_view["flags"] or bare_view["visits"]
                                          or bare_view["votes"])
