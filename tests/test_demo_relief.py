"""The demo's relief work (scripts/demo_relief.py), loaded with the rest of the demo on each database: every
state of the procedure is there, made by the domain (timeline, four eyes, funds, audit), and loading again
changes nothing."""
from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from models.core import audit
from models.core.clock import utcnow
from models.core.tables import audit_log, notifications
from models.funds import ledger, sources
from models.funds.tables import fund_ledger, funds
from models.relief import records
from models.relief.reviewing import DECIDING
from models.relief.tables import (
    relief_applications,
    relief_attachments,
    relief_events,
    relief_notice_entries,
    relief_objections,
)
from scripts import demo_relief
from scripts.demo import load_demo
from server.attachments import AttachmentStore
from server.crypto import load_keyring
from server.upload_check import sanitise

TABLES = (relief_applications, relief_events, relief_attachments, relief_objections, funds, fund_ledger, audit_log,
          notifications)


async def _counts(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {t.name: (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one() for t in TABLES}


async def _by_state(engine) -> dict[str, list]:
    a = relief_applications.c
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(relief_applications).order_by(a.id))).all()
    found: dict[str, list] = {}
    for row in rows:
        found.setdefault(row.status if row.status != "submitted" else row.step, []).append(row)
    return found


async def test_the_demo_holds_relief_work_in_every_state(api, engine, config):
    assert (await load_demo(config, engine))["created"] is True
    states = await _by_state(engine)
    assert Counter({k: len(v) for k, v in states.items()}) == Counter({
        "draft": 1, "verification": 2, "returned": 1, "county_review": 1, "collective_review": 1, "notice": 1,
        "approval": 1, "payment": 1, "paid": 1, "archived": 1, "rejected": 1, "withdrawn": 1})
    assert {r.kind for rows in states.values() for r in rows} == {"living", "medical", "school", "holiday",
                                                                  "temporary", "register"}
    # One waits at the station past its deadline, the other within it.
    now = utcnow()
    assert sorted(r.due_at < now for r in states["verification"]) == [False, True]
    [returned] = states["returned"]
    assert returned.returned_step == "verification" and "event_proof" in returned.missing
    [rejected] = states["rejected"]
    assert rejected.kind == "register" and rejected.reject_reason
    store = AttachmentStore.from_config(config, load_keyring(config))

    async with engine.connect() as conn:
        # The paid one went the whole way, each step by its own member of staff.
        [paid] = states["paid"]
        timeline = await records.timeline(conn, paid.id)
        assert [e.action for e in timeline] == ["created", "submitted", "visited", "passed", "passed", "meeting",
                                                "published", "notice_ended", "passed", "paid"]
        assert [e.at for e in timeline] == sorted(e.at for e in timeline)
        assert timeline[0].at < now - timedelta(days=9) < timeline[-1].at  # the notice ran its days before
        [done] = states["archived"]
        assert [e.action for e in await records.timeline(conn, done.id)][-2:] == ["paid", "archived"]
        deciders = (await conn.execute(sa.select(relief_events.c.application_id, relief_events.c.staff_id,
                                                 sa.func.count(sa.distinct(relief_events.c.step)))
                                       .where(relief_events.c.action.in_(DECIDING))
                                       .group_by(relief_events.c.application_id, relief_events.c.staff_id))).all()
        assert deciders and all(steps == 1 for _, _, steps in deciders)  # four eyes

        # The open objection pauses the entry of the notice in force.
        [objected] = states["notice"]
        objection = (await conn.execute(sa.select(relief_objections)
                                        .where(relief_objections.c.application_id == objected.id))).one()
        entry = (await conn.execute(sa.select(relief_notice_entries.c.state)
                                    .where(relief_notice_entries.c.id == objection.entry_id))).scalar_one()
        assert (objection.status, entry) == ("open", "paused")

        # Two sources; each one's sums are what its ledger rows prove; three reserved, two paid of them.
        made = [await sources.get(conn, i) for i in (await conn.execute(sa.select(funds.c.id))).scalars()]
        assert sorted(f.source for f in made) == ["central", "union"]
        for fund in made:
            assert await ledger.sums(conn, fund.id) == {"income": fund.budget + fund.topped_up,
                                                        "reserved": fund.reserved, "spent": fund.spent}
        assert sum(f.spent for f in made) == paid.approved_amount + done.approved_amount
        assert sum(f.reserved for f in made) == states["payment"][0].approved_amount

        # The proofs are real files in the store, readable for their purpose.
        proof = (await conn.execute(sa.select(relief_attachments).where(relief_attachments.c.application_id == paid.id)
                                    .order_by(relief_attachments.c.id).limit(1))).one()
        assert store.get(proof.store_key, purpose="relief_proof")[:4] in (b"%PDF", b"\xff\xd8\xff\xe0", b"\x89PNG")

    # Anyone reads the notice in force and the one that ended lately, names masked.
    public = await api.get("/api/v1/public/notices")
    entries = [e for batch in public.data["items"] for e in batch["entries"]]
    assert {(e["name"], e["kind"]) for e in entries} >= {("李*华", "临时救助"), ("杨*玲", "金秋助学")}

    # The objected-to worker logs in with the sandbox's `jianhua.1` and follows it on the phone.
    assert ("jianhua", "李建华", "objected") in demo_relief.logins()
    login = await api.post("/api/v1/auth/wechat", {"code": "jianhua.1"})
    assert login.status == 200 and login.data["user"]["roles"] == ["member"], login.data
    mine = await api.get("/api/v1/relief/applications", token=login.data["token"])
    assert [(a["id"], a["step"]) for a in mine.data["items"]] == [(objected.id, "notice")]

    # Loading again changes nothing; the audit chain holds every record.
    before = await _counts(engine)
    assert (await load_demo(config, engine))["created"] is False
    assert await demo_relief.load(config, engine) is False
    assert await _counts(engine) == before
    async with engine.begin() as conn:
        await audit.seal(conn)
        checked = await audit.verify(conn)
    assert checked.ok and checked.checked == before["audit_log"]


def test_the_demo_proofs_are_what_the_upload_check_accepts():
    assert sanitise(io.BytesIO(demo_relief.tiny_pdf("income_proof")), max_bytes=10**6).mime == "application/pdf"
    assert sanitise(io.BytesIO(demo_relief.tiny_png(1)), max_bytes=10**6).mime == "image/jpeg"
