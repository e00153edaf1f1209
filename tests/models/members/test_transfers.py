"""Member transfers against a connection: import asks, the holder decides, a move carries what follows."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import sqlalchemy as sa

from models.cards import lifecycle as cards
from models.cards import usecases as card_flows
from models.cards.tables import cards as cards_t
from models.core.actors import SYSTEM, Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Forbidden, Invalid, NotFound
from models.core.tables import audit_log, notifications
from models.identity import staff_accounts as staff
from models.identity.tables import users
from models.members import hardship, hardship_review, transfers
from models.members import membership as members
from models.members.roster import parse_roster
from models.members.tables import hardship_records, member_transfers
from models.members.tables import members as members_t
from models.network import tree as orgs
from server.crypto import PiiCipher, load_keyring
from server.passwords import ARGON2
from tests.factories import id_number, roster_csv

B1, B2, NEW = id_number(301), id_number(302), id_number(303)


async def scene(engine, config):
    """C ─ KA ─ GA, C ─ KB ─ GB, C ─ KC; a station clerk at each county and at the city; 李四, 王五 in GB."""
    cipher = PiiCipher(load_keyring(config))
    tree: dict[str, orgs.Org] = {}
    actors: dict[str, Actor] = {}
    async with engine.begin() as conn:
        for code, type_, parent in (("C", "city", None), ("KA", "county", "C"), ("GA", "grassroots", "KA"),
                                    ("KB", "county", "C"), ("GB", "grassroots", "KB"), ("KC", "county", "C")):
            tree[code] = await orgs.create(conn, SYSTEM, code=code, name=f"单位{code}", type_=type_,
                                           parent_code=parent)
        for code in ("KA", "KB", "KC", "C"):
            row = await staff.create(conn, SYSTEM, hasher=ARGON2,
                                     username=f"clerk_{code.lower()}", password="Correct-Horse-42",
                                     roles=["station"], org_code=code)
            actors[code] = Actor(kind="staff", id=row.id, roles=frozenset({"station"}), org_id=tree[code].id,
                                 org_path=tree[code].path)
        await imp(conn, cipher, actors["KB"], tree["GB"], [("李四", B1, "13800000301"), ("王五", B2, "")])
        ids = dict((await conn.execute(sa.select(members_t.c.name, members_t.c.id))).all())
    return cipher, tree, actors, ids


async def imp(conn, cipher, actor, org, rows, *, strict=False) -> members.ImportReport:
    return await members.import_roster(conn, cipher, actor, parse_roster(roster_csv(rows), "r.csv"), org=org,
                                       strict=strict)


async def org_of(conn, member_id: int) -> int:
    return (await conn.execute(sa.select(members_t.c.org_id).where(members_t.c.id == member_id))).scalar_one()


async def test_a_sibling_member_gets_one_answer_and_one_request(engine, config):
    cipher, tree, actors, ids = await scene(engine, config)
    async with engine.begin() as conn:
        right = await imp(conn, cipher, actors["KA"], tree["GA"], [("李四", B1, "13900000301")])
        wrong = await imp(conn, cipher, actors["KA"], tree["GA"], [("李某", B1, "")])
        repeat = await imp(conn, cipher, actors["KA"], tree["GA"], [("李四", B1, "13900000301")])
        assert right.view() == wrong.view() == repeat.view()
        assert (right.transfer_requested, right.created, right.unchanged, right.problems) == (1, 0, 0, [])
        assert [(n.line, n.field, n.code) for n in right.notices] == [(2, "id_number", "transfer_requested")]
        rows = (await conn.execute(sa.select(member_transfers))).all()
        assert len(rows) == 1
        t = rows[0]
        assert (t.member_id, t.from_org_id, t.to_org_id, t.status) == (ids["李四"], tree["GB"].id, tree["GA"].id,
                                                                      "pending")
        # The latest roster's details, the phone encrypted.
        assert (t.name, t.requested_by) == ("李四", actors["KA"].id)
        assert "13900000301" not in (t.phone_enc or "")
        assert cipher.decrypt(t.phone_enc, purpose="phone") == "13900000301"
        # B's record untouched.
        li = (await conn.execute(sa.select(members_t).where(members_t.c.id == ids["李四"]))).one()
        assert li.org_id == tree["GB"].id and cipher.decrypt(li.phone_enc, purpose="phone") == "13800000301"
        summaries = [json.loads(r.summary) for r in (await conn.execute(
            sa.select(audit_log.c.summary).where(audit_log.c.action == "member.transfer_request")
            .order_by(audit_log.c.id))).all()]
        # Created once, refreshed by each change of details (the wrong name, then the right one again).
        assert summaries == [{"to_org_id": tree["GA"].id}] + [{"to_org_id": tree["GA"].id, "refreshed": True}] * 2


async def test_strict_import_with_a_bad_row_asks_nothing(engine, config):
    cipher, tree, actors, _ = await scene(engine, config)
    bad = NEW[:-1] + ("0" if NEW[-1] != "0" else "1")
    async with engine.begin() as conn:
        report = await imp(conn, cipher, actors["KA"], tree["GA"], [("李四", B1, ""), ("钱八", bad, "")],
                           strict=True)
        assert not report.committed and report.notices == [] and report.transfer_requested == 0
        assert (await conn.execute(sa.select(sa.func.count()).select_from(member_transfers))).scalar_one() == 0


async def test_accept_moves_the_member_with_card_hardship_and_phone(engine, config):
    cipher, tree, actors, ids = await scene(engine, config)
    li = ids["李四"]
    async with engine.begin() as conn:
        user_id = (await conn.execute(users.insert().values(openid="o-li", created_at=utcnow(),
                                                            last_login_at=utcnow()))).inserted_primary_key[0]
        await conn.execute(members_t.update().where(members_t.c.id == li).values(user_id=user_id))
        card = await cards.issue(conn, actors["KB"], li)
        await hardship.set_income_lines(conn, Actor(kind="staff", id=None, roles=frozenset({"admin"}),
                                                    org_id=tree["C"].id, org_path=tree["C"].path), "C", 50_000, 80_000)
        record = await hardship.enter(conn, cipher, actors["KB"], li, hardship.HardshipEntry.of({"household": [
            {"relation": "本人", "name": "李四", "age": 40, "monthly_income": 30_000}], "causes": ["illness"],
            "verification_method": "home_visit"}))
        # Confirmed by a second person (the city's staff member, as a reviewer): the record is in force.
        await hardship_review.confirm(conn, replace(actors["C"], roles=frozenset({"reviewer"})), record.id)
        await imp(conn, cipher, actors["KA"], tree["GA"], [("李四", B1, "13900000301")])
        transfer_id = (await conn.execute(sa.select(member_transfers.c.id))).scalar_one()

    async with engine.begin() as conn:
        # The asking side cannot decide; the holder's side can.
        with pytest.raises(NotFound):
            await transfers.accept(conn, cipher, actors["KA"], transfer_id)
        with pytest.raises(NotFound):
            await transfers.accept(conn, cipher, actors["KC"], transfer_id)
        done = await card_flows.accept_transfer(conn, cipher, actors["KB"], transfer_id)
        assert done.status == "accepted" and done.incoming_view()["member"] is None
        assert await org_of(conn, li) == tree["GA"].id
        row = (await conn.execute(sa.select(members_t).where(members_t.c.id == li))).one()
        assert cipher.decrypt(row.phone_enc, purpose="phone") == "13900000301"
        assert row.phone_bidx == cipher.blind_index("13900000301", purpose="phone")
        # The card and the active register entry are A's to manage now.
        assert (await conn.execute(sa.select(cards_t.c.org_id).where(cards_t.c.id == card.id))).scalar_one() \
            == tree["GA"].id
        assert (await conn.execute(sa.select(hardship_records.c.org_id)
                                   .where(hardship_records.c.id == record.id))).scalar_one() == tree["GA"].id
        assert [r.id for r in await hardship.due_for_recheck(conn, actors["KA"], within_days=366)] == [record.id]
        assert await hardship.due_for_recheck(conn, actors["KB"], within_days=366) == []
        await cards.freeze(conn, actors["KA"], card.id, reason="核查")
        with pytest.raises(NotFound):
            await cards.unfreeze(conn, actors["KB"], card.id)
        notice = (await conn.execute(sa.select(notifications.c.kind).where(notifications.c.user_id == user_id)
                                     .order_by(notifications.c.id.desc()))).scalars().first()
        assert notice == "card.frozen"
        kinds = set((await conn.execute(sa.select(notifications.c.kind))).scalars().all())
        assert "member.moved" in kinds
        actions = (await conn.execute(sa.select(audit_log.c.action, audit_log.c.org_path, audit_log.c.summary)
                                      .where(audit_log.c.action.in_(["member.move", "member.transfer_accept"]))
                                      .order_by(audit_log.c.id))).all()
        assert [a.action for a in actions] == ["member.move", "member.transfer_accept"]
        assert json.loads(actions[0].summary) == {"from_org_id": tree["GB"].id, "to_org_id": tree["GA"].id,
                                                  "fields": ["phone"]}
        with pytest.raises(Conflict) as again:
            await transfers.accept(conn, cipher, actors["KB"], transfer_id)
        assert again.value.code == "transfer_decided"


async def test_refuse_keeps_the_member_and_cancel_withdraws(engine, config):
    cipher, tree, actors, ids = await scene(engine, config)
    async with engine.begin() as conn:
        await imp(conn, cipher, actors["KA"], tree["GA"], [("李四", B1, ""), ("王五", B2, "")])
        by_member = {t.member.id: t.id for t in await transfers.listing(conn, cipher, actors["KB"],
                                                                         direction="incoming")}
        with pytest.raises(Invalid):
            await transfers.refuse(conn, cipher, actors["KB"], by_member[ids["李四"]], reason="  ")
        refused = await transfers.refuse(conn, cipher, actors["KB"], by_member[ids["李四"]], reason="本人未调动")
        assert (refused.status, refused.reason) == ("refused", "本人未调动")
        assert await org_of(conn, ids["李四"]) == tree["GB"].id
        # Only the asking side withdraws.
        with pytest.raises(NotFound):
            await transfers.cancel(conn, cipher, actors["KB"], by_member[ids["王五"]])
        cancelled = await transfers.cancel(conn, cipher, actors["KA"], by_member[ids["王五"]])
        assert cancelled.status == "cancelled"
        outgoing = await transfers.listing(conn, cipher, actors["KA"], direction="outgoing")
        assert [(t.outgoing_view()["status"], t.outgoing_view()["reason"]) for t in outgoing] == [
            ("refused", "本人未调动"), ("cancelled", None)]
        assert await transfers.listing(conn, cipher, actors["KA"], direction="outgoing", status="pending") == []
        # A decided request no longer blocks a new one.
        again = await imp(conn, cipher, actors["KA"], tree["GA"], [("李四", B1, "")])
        assert again.transfer_requested == 1
        assert len(await transfers.listing(conn, cipher, actors["KB"], direction="incoming", status="pending")) == 1


async def test_pending_requests_follow_the_member_or_are_granted_by_the_move(engine, config):
    cipher, tree, actors, ids = await scene(engine, config)
    li = ids["李四"]
    async with engine.begin() as conn:
        await imp(conn, cipher, actors["KA"], tree["GA"], [("李四", B1, "")])
        await imp(conn, cipher, actors["KC"], tree["KC"], [("李四", B1, "")])
        pending = {t.to_org.id: t.id for t in await transfers.listing(conn, cipher, actors["KB"],
                                                                       direction="incoming")}
        assert set(pending) == {tree["GA"].id, tree["KC"].id}
        await transfers.accept(conn, cipher, actors["KB"], pending[tree["GA"].id])
        # KC's request now goes to A, who holds the member; KC sees no change.
        assert await transfers.listing(conn, cipher, actors["KB"], direction="incoming", status="pending") == []
        to_a = await transfers.listing(conn, cipher, actors["KA"], direction="incoming", status="pending")
        assert [(t.id, t.from_org.id) for t in to_a] == [(pending[tree["KC"].id], tree["GA"].id)]
        kc_view = (await transfers.listing(conn, cipher, actors["KC"], direction="outgoing"))[0].outgoing_view()
        assert kc_view["status"] == "pending" and "from_org" not in kc_view
        # The city moves the member into KC's subtree by a roster of its own: KC's request is granted.
        report = await imp(conn, cipher, actors["C"], tree["KC"], [("李四", B1, "")])
        assert (report.moved, report.transfer_requested) == (1, 0)
        kc_view = (await transfers.listing(conn, cipher, actors["KC"], direction="outgoing"))[0].outgoing_view()
        assert kc_view["status"] == "accepted"
        assert await org_of(conn, li) == tree["KC"].id


async def test_inside_the_subtree_the_roster_is_obeyed(engine, config):
    cipher, tree, actors, ids = await scene(engine, config)
    async with engine.begin() as conn:
        # The city: 李四 moves from GB to GA; a wrong name is named as such; nothing is asked.
        report = await imp(conn, cipher, actors["C"], tree["GA"], [("李四", B1, ""), ("王某", B2, "")])
        assert (report.moved, report.transfer_requested) == (1, 0)
        assert [p.code for p in report.problems] == ["name_mismatch"]
        assert await org_of(conn, ids["李四"]) == tree["GA"].id
        # A roster of an upper unit leaves members of its lower units where they are.
        county = await imp(conn, cipher, actors["C"], tree["KA"], [("李四", B1, "")])
        assert (county.moved, county.unchanged) == (0, 1)
        # The CLI (the system) sees the whole network: it moves directly too.
        cli = await imp(conn, cipher, SYSTEM, tree["GB"], [("李四", B1, "")])
        assert cli.moved == 1 and await org_of(conn, ids["李四"]) == tree["GB"].id
        assert (await conn.execute(sa.select(sa.func.count()).select_from(member_transfers))).scalar_one() == 0


async def test_roles_and_query_checks(engine, config):
    cipher, tree, actors, _ = await scene(engine, config)
    finance = Actor(kind="staff", id=None, roles=frozenset({"finance"}), org_id=tree["KB"].id,
                    org_path=tree["KB"].path)
    reviewer = Actor(kind="staff", id=None, roles=frozenset({"reviewer"}), org_id=tree["KB"].id,
                     org_path=tree["KB"].path)
    async with engine.begin() as conn:
        await imp(conn, cipher, actors["KA"], tree["GA"], [("李四", B1, "")])
        transfer_id = (await conn.execute(sa.select(member_transfers.c.id))).scalar_one()
        with pytest.raises(Forbidden):
            await transfers.listing(conn, cipher, finance, direction="incoming")
        assert len(await transfers.listing(conn, cipher, reviewer, direction="incoming")) == 1
        with pytest.raises(Forbidden):
            await transfers.accept(conn, cipher, reviewer, transfer_id)
        for bad in ({"direction": "sideways"}, {"direction": "incoming", "status": "done"}):
            with pytest.raises(Invalid):
                await transfers.listing(conn, cipher, actors["KB"], **bad)
