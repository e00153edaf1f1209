"""The public notice kept by a process: reused while the same batches are visible, read afresh at once when a
batch is published or passes ``visible_until``, and at least every ``max_age`` seconds (a unit's new name)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from models.core.clock import utcnow
from models.identity.tables import staff
from models.network import tree
from models.network.tables import orgs
from models.relief.notices import PublicNotices
from models.relief.tables import relief_applications, relief_notice_entries, relief_notices
from scripts.bench_relief import seed
from server.crypto import PiiCipher, load_keyring


async def batch(conn: Any, org: Any, publisher: int, application_id: int, name: str, *, visible_days: int = 30) -> int:
    """A batch of one entry published now at ``org``."""
    now = utcnow()
    notice_id = int((await conn.execute(relief_notices.insert().values(
        org_id=org.id, org_path=org.path, starts_at=now, ends_at=now + timedelta(days=7),
        visible_until=now + timedelta(days=visible_days), working_days=False, days=7, published_by=publisher,
        created_at=now))).inserted_primary_key[0])
    await conn.execute(relief_notice_entries.insert().values(
        notice_id=notice_id, application_id=application_id, masked_name=name, unit="湘绣厂工会", kind_name="医疗救助",
        amount=300_000, state="in_notice"))
    return notice_id


async def test_the_kept_answer_follows_the_visible_batches(engine: Any, config: Any) -> None:
    clock = [1000.0]
    kept = PublicNotices(max_age=60, clock=lambda: clock[0])
    async with engine.begin() as conn:
        await seed(conn, PiiCipher(load_keyring(config)), 20, 10, districts=2, units_each=1)
        await conn.execute(relief_notice_entries.delete())
        await conn.execute(relief_notices.delete())
        app_id = (await conn.execute(sa.select(sa.func.min(relief_applications.c.id)))).scalar_one()
        publisher = (await conn.execute(sa.select(sa.func.min(staff.c.id)))).scalar_one()
        one, two = (await tree.by_code(conn, "D00"), await tree.by_code(conn, "D01"))
        assert await kept.read(conn) == []
        first = await batch(conn, one, publisher, app_id, "王*英")
        seen = await kept.read(conn)
        assert [(b["id"], b["org"], [e["name"] for e in b["entries"]]) for b in seen] == [(first, one.name, ["王*英"])]

        # Nothing changed: the same answer, not read again.
        assert await kept.read(conn) is seen
        # A new name is the one change the check cannot see: it shows once max_age has passed.
        await conn.execute(orgs.update().where(orgs.c.id == one.id).values(name="新名称总工会"))
        assert (await kept.read(conn))[0]["org"] == one.name
        clock[0] += 61
        assert (await kept.read(conn))[0]["org"] == "新名称总工会"

        # A new batch shows at once, newest first.
        second = await batch(conn, two, publisher, app_id, "李*强", visible_days=10)
        assert [b["id"] for b in await kept.read(conn)] == [second, first]
        # ... and one past visible_until goes at once.
        later = utcnow() + timedelta(days=20)
        assert [b["id"] for b in await kept.read(conn, later)] == [first]
