"""Roster import into the member table: idempotent, strict, by row."""
from __future__ import annotations

import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.members import membership as members_model
from models.members.roster import parse_roster
from models.members.tables import members
from server.crypto import PiiCipher, load_keyring
from tests.factories import id_number, import_rows, org_tree


def _cipher(config) -> PiiCipher:
    return PiiCipher(load_keyring(config))


async def _count(conn) -> int:
    return (await conn.execute(sa.select(sa.func.count()).select_from(members))).scalar_one()


async def test_import_encrypts_and_is_idempotent(engine, config):
    cipher = _cipher(config)
    rows = [("张三", id_number(1), "13800000001"), ("李四", id_number(2), "13800000002")]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        first = await import_rows(conn, cipher, tree["G01"], rows)
    assert (first.created, first.unchanged, first.problems) == (2, 0, [])
    async with engine.begin() as conn:
        again = await import_rows(conn, cipher, tree["G01"], rows)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
        assert await _count(conn) == 2
        row = (await conn.execute(sa.select(members).where(members.c.name == "张三"))).one()
    assert id_number(1) not in row.id_number_enc and "13800000001" not in (row.phone_enc or "")
    assert cipher.decrypt(row.id_number_enc, purpose="id_number") == id_number(1)
    assert row.gender == "male" and str(row.birth_date) == "1980-01-01"


async def test_duplicate_across_files_updates_not_duplicates(engine, config):
    cipher = _cipher(config)
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("王五", id_number(3), "13800000003")])
        second = await import_rows(conn, cipher, tree["G01"], [("王五", id_number(3), "13900000003")])
        assert (second.created, second.updated) == (0, 1)
        mismatch = await import_rows(conn, cipher, tree["G01"], [("王六", id_number(3), "")])
        assert [p.code for p in mismatch.problems] == ["name_mismatch"]
        assert await _count(conn) == 1


async def test_strict_writes_nothing_when_any_row_is_bad(engine, config):
    cipher = _cipher(config)
    bad = id_number(4)[:-1] + ("0" if id_number(4)[-1] != "0" else "1")
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        report = await import_rows(conn, cipher, tree["G01"], [("赵七", id_number(5), ""), ("钱八", bad, "")],
                                   strict=True)
        assert not report.committed and await _count(conn) == 0
        assert [(p.line, p.code) for p in report.problems] == [(3, "id_number_checksum")]
        lenient = await import_rows(conn, cipher, tree["G01"], [("赵七", id_number(5), ""), ("钱八", bad, "")])
        assert lenient.committed and lenient.created == 1 and await _count(conn) == 1


async def test_org_column_must_lie_in_the_subtree(engine, config):
    cipher = _cipher(config)
    data = ("姓名,身份证号,所属工会\n孙九," + id_number(6) + ",G02\n周十," + id_number(7) + ",K02\n").encode()
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        report = await members_model.import_roster(conn, cipher, SYSTEM, parse_roster(data, "r.csv"), org=tree["S01"])
        assert report.created == 1
        assert [(p.line, p.code) for p in report.problems] == [(3, "org_not_found")]
        org_id = (await conn.execute(sa.select(members.c.org_id))).scalar_one()
    assert org_id == tree["G02"].id
