"""Merchant invites against a connection: the kept code, open invites, reading a code again, who may."""
from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models.core import actors
from models.core.clock import utcnow
from models.core.errors import Forbidden, NotFound
from models.core.tables import audit_log
from models.identity.tables import users
from models.partners import invites
from models.partners import partnership as merchants
from models.partners.tables import merchant_invites
from server.crypto import DecryptError, PiiCipher, load_keyring
from tests.factories import org_tree, staff_actor


async def new_user(conn, name):
    now = utcnow()
    result = await conn.execute(users.insert().values(openid=f"openid-{name}", created_at=now, last_login_at=now))
    return int(result.inserted_primary_key[0])


async def scene(engine, config):
    """Two pharmacies (K01's, K02's) with a store each, and the K01 pharmacy's manager."""
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        admin = staff_actor(tree["K01"], "admin")
        made = {}
        for unit in ("K01", "K02"):
            merchant = await merchants.create(conn, staff_actor(tree["C01"], "admin"), name=f"{unit}药房",
                                              type="pharmacy", org_id=tree[unit].id,
                                              agreement_from=date(2020, 1, 1), agreement_to=date(2099, 12, 31))
            store = await merchants.add_store(conn, staff_actor(tree["C01"], "admin"), merchant.id, name="店",
                                              address="路 1 号")
            made[unit] = (merchant.id, store["id"])
        invite = await invites.create(conn, cipher, admin, made["K01"][0], role="manager", store_id=None)
        manager = await invites.bind(conn, actors.worker(await new_user(conn, "boss")), invite.code)
    return cipher, tree, admin, made, manager


async def audit_rows(conn, action):
    rows = (await conn.execute(sa.select(audit_log).where(audit_log.c.action == action)
                               .order_by(audit_log.c.id))).all()
    return [(r.target_kind, r.target_id, json.loads(r.summary)) for r in rows]


async def test_the_code_is_kept_encrypted_beside_its_hash(engine, config):
    cipher, tree, admin, made, _ = await scene(engine, config)
    merchant_id, store_id = made["K01"]
    async with engine.begin() as conn:
        invite = await invites.create(conn, cipher, admin, merchant_id, role="cashier", store_id=store_id)
        row = (await conn.execute(sa.select(merchant_invites).where(merchant_invites.c.id == invite.id))).one()
        created = await audit_rows(conn, "merchant.invite")
    assert len(invite.code) == invites.INVITE_LEN
    assert row.code_hash == hashlib.sha256(invite.code.encode()).hexdigest()
    assert invite.code not in row.code_enc and row.code_enc != invite.code
    assert cipher.decrypt(row.code_enc, purpose=invites.CODE) == invite.code
    with pytest.raises(DecryptError):
        cipher.decrypt(row.code_enc, purpose="phone")  # bound to its purpose
    assert invite.view() == {"id": invite.id, "code": invite.code, "merchant_id": merchant_id, "store_id": store_id,
                             "role": "cashier", "expires_at": invite.expires_at}
    assert created[-1] == ("merchant", str(merchant_id), {"invite_id": invite.id, "role": "cashier",
                                                          "store_id": store_id})


async def test_open_invites_newest_first_with_their_codes_and_the_reading_audited(engine, config):
    cipher, tree, admin, made, manager = await scene(engine, config)
    merchant_id, store_id = made["K01"]
    async with engine.begin() as conn:
        made_ = [await invites.create(conn, cipher, admin, merchant_id, role=role, store_id=store_id)
                 for role in ("cashier", "manager", "cashier", "cashier")]
        used = await invites.create(conn, cipher, admin, merchant_id, role="cashier", store_id=store_id)
        await invites.bind(conn, actors.worker(await new_user(conn, "cash")), used.code)
        expired = await invites.create(conn, cipher, admin, merchant_id, role="cashier", store_id=store_id)
        await conn.execute(merchant_invites.update().where(merchant_invites.c.id == expired.id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        await invites.create(conn, cipher, staff_actor(tree["K02"], "admin"), made["K02"][0], role="cashier",
                             store_id=made["K02"][1])
        everything = await invites.list_open(conn, cipher, admin, merchant_id)
        first = await invites.list_open(conn, cipher, admin, merchant_id, page=2)
        rest = await invites.list_open(conn, cipher, admin, merchant_id, before=first[1]["id"], page=2)
        cashiers = await invites.list_open(conn, cipher, manager.actor(), merchant_id, by_manager=manager)
        reads = await audit_rows(conn, "merchant.invite_reveal")
    newest_first = [i.id for i in reversed(made_)]
    assert [i["id"] for i in everything] == newest_first
    assert [i["code"] for i in everything] == [i.code for i in reversed(made_)]
    assert everything[0] == {"id": made_[3].id, "code": made_[3].code, "merchant_id": merchant_id,
                             "store_id": store_id, "role": "cashier", "created_at": everything[0]["created_at"],
                             "expires_at": made_[3].expires_at}
    # A page is fetched with one more row than it shows; only the shown are named in the audit.
    assert [i["id"] for i in first] == newest_first[:3] and [i["id"] for i in rest] == newest_first[2:]
    # The manager sees the cashier invites only: a manager invite is not theirs to make.
    assert [i["id"] for i in cashiers] == [made_[3].id, made_[2].id, made_[0].id]
    assert reads == [("merchant", str(merchant_id), {"invites": newest_first, "via": "list"}),
                     ("merchant", str(merchant_id), {"invites": newest_first[:2], "via": "list"}),
                     ("merchant", str(merchant_id), {"invites": newest_first[2:], "via": "list"}),
                     ("merchant", str(merchant_id), {"invites": [made_[3].id, made_[2].id, made_[0].id],
                                                     "via": "list"})]


async def test_reading_a_code_again_is_audited_and_refused_alike_when_it_may_not_be(engine, config):
    cipher, tree, admin, made, manager = await scene(engine, config)
    merchant_id, store_id = made["K01"]
    far_admin = staff_actor(tree["K02"], "admin")
    async with engine.begin() as conn:
        cashier_invite = await invites.create(conn, cipher, admin, merchant_id, role="cashier", store_id=store_id)
        manager_invite = await invites.create(conn, cipher, admin, merchant_id, role="manager", store_id=None)
        far = await invites.create(conn, cipher, far_admin, made["K02"][0], role="cashier", store_id=made["K02"][1])
        used = await invites.create(conn, cipher, admin, merchant_id, role="cashier", store_id=store_id)
        await invites.bind(conn, actors.worker(await new_user(conn, "cash")), used.code)
        expired = await invites.create(conn, cipher, admin, merchant_id, role="cashier", store_id=store_id)
        await conn.execute(merchant_invites.update().where(merchant_invites.c.id == expired.id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        legacy = await invites.create(conn, cipher, admin, merchant_id, role="cashier", store_id=store_id)
        await conn.execute(merchant_invites.update().where(merchant_invites.c.id == legacy.id).values(code_enc=None))

        by_staff = await invites.reveal(conn, cipher, admin, merchant_id, manager_invite.id)
        by_manager = await invites.reveal(conn, cipher, manager.actor(), merchant_id, cashier_invite.id,
                                          by_manager=manager)
        assert (by_staff.code, by_staff.role) == (manager_invite.code, "manager")
        assert by_manager == cashier_invite
        refused = [
            (admin, merchant_id, used.id, None), (admin, merchant_id, expired.id, None),
            (admin, merchant_id, 987654321, None), (admin, merchant_id, legacy.id, None),
            (admin, made["K02"][0], far.id, None),  # another unit's merchant
            (admin, made["K02"][0], cashier_invite.id, None),  # the path's merchant is not the invite's
            (far_admin, merchant_id, cashier_invite.id, None),  # out of the staff member's subtree
            (manager.actor(), merchant_id, manager_invite.id, manager),  # a manager invite: not theirs to make
            (manager.actor(), made["K02"][0], far.id, manager),  # another merchant's
        ]
        for actor, merchant, invite_id, as_manager in refused:
            with pytest.raises(NotFound) as no:
                await invites.reveal(conn, cipher, actor, merchant, invite_id, by_manager=as_manager)
            assert (no.value.code, no.value.message) == ("invite_invalid", "邀请不存在、已使用或已过期")
        reads = await audit_rows(conn, "merchant.invite_reveal")
        listed = await invites.list_open(conn, cipher, admin, merchant_id)
    assert reads == [("merchant_invite", str(manager_invite.id), {"merchant_id": merchant_id, "role": "manager",
                                                                  "via": "wxa_code"}),
                     ("merchant_invite", str(cashier_invite.id), {"merchant_id": merchant_id, "role": "cashier",
                                                                  "via": "wxa_code"})]
    # An invite made before codes were kept is still listed (its code works), without it.
    assert [(i["id"], i["code"]) for i in listed][0] == (legacy.id, None)


async def test_who_may_make_an_invite(engine, config):
    cipher, tree, admin, made, manager = await scene(engine, config)
    merchant_id, store_id = made["K01"]
    async with engine.begin() as conn:
        with pytest.raises(Forbidden) as not_manager:
            await invites.create(conn, cipher, manager.actor(), merchant_id, role="manager", store_id=None,
                                 by_manager=manager)
        assert not_manager.value.code == "not_manager"
        with pytest.raises(Forbidden) as other:
            await invites.create(conn, cipher, manager.actor(), made["K02"][0], role="cashier",
                                 store_id=made["K02"][1], by_manager=manager)
        assert other.value.code == "not_manager"
        with pytest.raises(Forbidden) as clerk:
            await invites.create(conn, cipher, staff_actor(tree["K01"], "station"), merchant_id, role="cashier",
                                 store_id=store_id)
        assert clerk.value.code == "role_forbidden"
        with pytest.raises(NotFound) as far:
            await invites.create(conn, cipher, staff_actor(tree["K02"], "admin"), merchant_id, role="cashier",
                                 store_id=store_id)
        assert far.value.code == "merchant_not_found"
        with pytest.raises(Forbidden):
            await invites.list_open(conn, cipher, staff_actor(tree["K01"], "station"), merchant_id)
        with pytest.raises(Forbidden):
            await invites.reveal(conn, cipher, staff_actor(tree["K01"], "station"), merchant_id, 1)
