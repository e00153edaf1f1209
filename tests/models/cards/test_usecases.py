"""Member changes that reach the card (models/cards/usecases.py), against a connection."""
from __future__ import annotations

import sqlalchemy as sa

from models.cards import lifecycle as cards
from models.cards import usecases as card_flows
from models.cards.tables import cards as cards_t
from models.core import actors
from models.core.actors import SYSTEM
from models.members.tables import members as members_t
from server.crypto import PiiCipher, load_keyring
from tests.factories import id_number, import_rows, org_tree, staff_actor


async def test_a_roster_import_that_moves_members_takes_their_cards_along(engine, config):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("张三", id_number(41), ""), ("李四", id_number(42), "")])
        ids = dict((await conn.execute(sa.select(members_t.c.name, members_t.c.id))).all())
        moving, staying = (await cards.issue(conn, SYSTEM, ids["张三"]), await cards.issue(conn, SYSTEM, ids["李四"]))
    async with engine.begin() as conn:
        report = await import_rows(conn, cipher, tree["G02"], [("张三", id_number(41), "")])
        assert report.moved == 1 and report.moved_member_ids == [ids["张三"]]
    async with engine.connect() as conn:
        units = dict((await conn.execute(sa.select(cards_t.c.id, cards_t.c.org_id))).all())
    assert units == {moving.id: tree["G02"].id, staying.id: tree["G01"].id}


async def test_a_rebinding_by_the_same_worker_issues_nothing(engine, config):
    """Only a new binding brings a card: the same worker binding again after a cancellation gets none."""
    from models.core.clock import utcnow
    from models.identity.tables import users

    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("王五", id_number(43), "")])
        user_id = (await conn.execute(users.insert().values(openid="o-wang", created_at=utcnow(),
                                                            last_login_at=utcnow()))).inserted_primary_key[0]
        member = await card_flows.claim_membership(conn, cipher, actors.worker(user_id), name="王五", id_number=id_number(43))
        card = await cards.live_for_member(conn, member.id)
        assert card is not None
        await cards.cancel(conn, staff_actor(tree["C01"], "admin"), card.id, reason="测试")
        again = await card_flows.claim_membership(conn, cipher, actors.worker(user_id), name="王五", id_number=id_number(43))
        assert again.id == member.id and await cards.live_for_member(conn, member.id) is None
        assert len(await cards.history(conn, member.id)) == 1


def test_a_search_text_says_what_it_is():
    assert card_flows.search_kind("110101198001010011") == "id_number"
    assert card_flows.search_kind("11010119800101001x") == "id_number"
    assert card_flows.search_kind("8537 8914 8948 4540") == "card"
    assert card_flows.search_kind("13800000001") == "phone"
    assert card_flows.search_kind("王") == "name"
    assert card_flows.search_kind("13800000001", "name") == "name"


async def test_members_are_found_by_name_card_number_and_id_number_within_the_subtree(engine, config):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("王秀英", id_number(1), ""), ("王丽", id_number(2), "")])
        await import_rows(conn, cipher, tree["K02"], [("王五", id_number(3), "")])
        ids = dict((await conn.execute(sa.select(members_t.c.name, members_t.c.id))).all())
        card = await cards.issue(conn, SYSTEM, ids["王秀英"])
        clerk = staff_actor(tree["S01"], "station")

        async def names(text, by=""):
            found = await card_flows.find_members(conn, cipher, clerk, text=text, by=by)
            return sorted(m.name for m in found)

        assert await names("王") == ["王丽", "王秀英"]  # the other county's 王五 is not found
        assert await names("王丽") == ["王丽"]
        assert await names("%") == await names("_") == await names("王_") == []  # typed wildcards match nothing
        assert await names(card.card_no) == ["王秀英"]
        assert await names(card.card_no[:-1] + str((int(card.card_no[-1]) + 1) % 10)) == []  # a typo
        assert await names(id_number(1)) == ["王秀英"] and await names(id_number(3)) == []
        assert await names("") == ["王丽", "王秀英"]
