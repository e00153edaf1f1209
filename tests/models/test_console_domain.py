"""The small domain functions the staff console added: a merchant's correction, an invite's revocation, the
accounts of a subtree (roles, lock), the audit search's reach, and a workbook of several sheets."""
from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from models.core import spreadsheets
from models.core.errors import Invalid, NotFound
from models.core.tables import audit_log
from models.identity import audit_trail, staff_accounts
from models.partners import invites
from models.partners import partnership as merchants
from server.crypto import PiiCipher, load_keyring
from server.passwords import ARGON2
from tests.factories import org_tree, staff_actor


async def test_a_correction_is_audited_with_what_changed_only(engine):
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        admin = staff_actor(tree["K01"], "admin")
        made = await merchants.create(conn, admin, name="药房", type="pharmacy", org_id=tree["K01"].id,
                                      agreement_from=date(2026, 1, 1), agreement_to=date(2026, 12, 31))
        same = await merchants.update(conn, admin, made.id, name="药房", type="pharmacy",
                                      agreement_from=date(2026, 1, 1), agreement_to=date(2026, 12, 31))
        changed = await merchants.update(conn, admin, made.id, name="大药房", type="pharmacy",
                                         agreement_from=date(2026, 1, 1), agreement_to=date(2027, 12, 31))
        with pytest.raises(Invalid):
            await merchants.update(conn, admin, made.id, name="大药房", type="pharmacy",
                                   agreement_from=date(2026, 1, 1), agreement_to=date(2025, 1, 1))
        with pytest.raises(NotFound):
            await merchants.update(conn, staff_actor(tree["K02"], "admin"), made.id, name="x", type="pharmacy",
                                   agreement_from=date(2026, 1, 1), agreement_to=date(2026, 12, 31))
        updates = (await conn.execute(sa.select(audit_log.c.summary).where(audit_log.c.action == "merchant.update"))).all()
    assert same.name == "药房" and changed.name == "大药房" and changed.agreement_to == date(2027, 12, 31)
    assert len(updates) == 1 and "大药房" in updates[0].summary and "2027-12-31" in updates[0].summary
    assert [m.name for m in await _listed(engine, admin, name="大")] == ["大药房"]


async def _listed(engine, actor, **filters):
    async with engine.connect() as conn:
        return await merchants.list_in_scope(conn, actor, **filters)


async def test_a_revoked_invite_binds_no_one(engine, config):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        admin = staff_actor(tree["K01"], "admin")
        made = await merchants.create(conn, admin, name="药房", type="pharmacy", org_id=tree["K01"].id,
                                      agreement_from=date(2026, 1, 1), agreement_to=date(2099, 12, 31))
        invite = await invites.create(conn, cipher, admin, made.id, role="manager", store_id=None)
        with pytest.raises(NotFound):
            await invites.revoke(conn, staff_actor(tree["K02"], "admin"), made.id, invite.id)
        await invites.revoke(conn, admin, made.id, invite.id)
        assert await invites.list_open(conn, cipher, admin, made.id) == []
        with pytest.raises(NotFound):
            await invites.revoke(conn, admin, made.id, invite.id)
        with pytest.raises(NotFound):
            await invites.reveal(conn, cipher, admin, made.id, invite.id)


async def test_accounts_of_a_subtree_roles_and_lock(engine):
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        admin = await staff_accounts.create(conn, staff_actor(tree["C01"]), hasher=ARGON2, username="k1admin",
                                            password="Console-Pass-2026!", roles=["admin"], org_code="K01")
        clerk = await staff_accounts.create(conn, staff_actor(tree["C01"]), hasher=ARGON2, username="clerk",
                                            password="Console-Pass-2026!", roles=["station"], org_code="S01")
        far = await staff_accounts.create(conn, staff_actor(tree["C01"]), hasher=ARGON2, username="far",
                                          password="Console-Pass-2026!", roles=["station"], org_code="K02")
        me = staff_actor(tree["K01"], "admin", staff_id=admin.id)
        listed = await staff_accounts.list_in_scope(conn, tree["K01"].path)
        assert [s.username for s in listed] == ["k1admin", "clerk"]
        assert [s.username for s in await staff_accounts.list_in_scope(conn, tree["K01"].path, username="cle")] == ["clerk"]
        changed = await staff_accounts.set_roles(conn, me, clerk.id, ["station", "reviewer"], within=tree["K01"].path)
        assert changed.roles == {"station", "reviewer"}
        with pytest.raises(Invalid):
            await staff_accounts.set_roles(conn, me, admin.id, ["station"], within=tree["K01"].path)
        with pytest.raises(NotFound):
            await staff_accounts.set_active(conn, me, far.id, False, within=tree["K01"].path)
        locked = await staff_accounts.set_active(conn, me, clerk.id, False, within=tree["K01"].path)
        assert not locked.active
        assert [s.username for s in await staff_accounts.list_in_scope(conn, tree["K01"].path, active=False)] == ["clerk"]
        with pytest.raises(Invalid):
            await staff_accounts.set_active(conn, me, admin.id, False, within=tree["K01"].path)
        assert await staff_accounts.usernames(conn, [clerk.id, far.id]) == {clerk.id: "clerk", far.id: "far"}
        assert await staff_accounts.id_of(conn, "far") == far.id and await staff_accounts.id_of(conn, "x") is None
        found = await audit_trail.search(conn, me, audit_trail.AuditQuery())
        actions = {r["action"] for r in found}
        assert {"staff.roles", "staff.lock"} <= actions
        assert all((r["target_kind"], r["target_id"]) != ("staff", str(far.id)) for r in found)  # another county's account not in reach
        only = await audit_trail.search(conn, me, audit_trail.AuditQuery(action="staff.lock"))
        assert [r["target_id"] for r in only] == [str(clerk.id)]


def test_a_workbook_of_several_sheets_keeps_counts_as_numbers_and_money_exact():
    tables = [spreadsheets.Table(sheet="甲", header=["类别", "人次", "金额（元）"],
                                 rows=[["临时救助", 2, spreadsheets.Money(450_050)]],
                                 footer=["合计", 2, spreadsheets.Money(450_050)]),
              spreadsheets.Table(sheet="乙", header=["月份", "新发"], rows=[["2026-05", 3]])]
    book = load_workbook(io.BytesIO(spreadsheets.write_xlsx_book(tables)))
    assert book.sheetnames == ["甲", "乙"]
    first = book["甲"]
    assert first.cell(row=2, column=2).value == 2 and float(first.cell(row=2, column=3).value) == 4500.5
    assert book["乙"].cell(row=2, column=2).value == 3
    assert spreadsheets.write_csv(tables[1]).decode("utf-8-sig").splitlines()[1] == "2026-05,3"
