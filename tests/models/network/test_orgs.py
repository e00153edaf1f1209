"""The union network: tree building, subtree queries, moves, deletion rules, inherited settings."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from models.cards.tables import cards
from models.catalog import metadata
from models.core.actors import SYSTEM
from models.core.clock import utcnow
from models.core.errors import Conflict, Invalid, NotFound
from models.identity.tables import staff as staff_table
from models.identity.tables import users
from models.members.tables import hardship_records, members
from models.network import tree as orgs
from models.network.tables import orgs as orgs_table
from models.partners.tables import merchants, programs
from models.relief.tables import (
    relief_applications,
    relief_events,
    relief_kinds,
    relief_meetings,
    relief_notices,
    relief_visits,
)


async def build_tree(conn):
    """province P; cities C1, C2 under it; county K under C1; grassroots G under K."""
    made = {}
    for code, type_, parent in (("P", "province", None), ("C1", "city", "P"), ("C2", "city", "P"),
                                ("K", "county", "C1"), ("G", "grassroots", "K")):
        made[code] = await orgs.create(conn, SYSTEM, code=code, name=f"单位{code}", type_=type_, parent_code=parent)
    return made


async def test_create_tree_and_paths(engine):
    async with engine.begin() as conn:
        t = await build_tree(conn)
    assert t["P"].path == f"/{t['P'].id}/" and t["P"].depth == 0
    assert t["G"].path == f"/{t['P'].id}/{t['C1'].id}/{t['K'].id}/{t['G'].id}/"
    assert t["G"].depth == 3 and t["G"].parent_id == t["K"].id


async def test_create_refusals(engine):
    async with engine.begin() as conn:
        t = await build_tree(conn)
        with pytest.raises(Conflict):
            await orgs.create(conn, SYSTEM, code="K", name="重复", type_="county", parent_code="C1")
        with pytest.raises(Invalid):
            await orgs.create(conn, SYSTEM, code="bad code", name="x", type_="county", parent_code="C1")
        with pytest.raises(Invalid):
            await orgs.create(conn, SYSTEM, code="X1", name="x", type_="planet", parent_code="C1")
        # Scoped creation: the parent must be in the subtree, and a root is refused.
        with pytest.raises(NotFound):
            await orgs.create(conn, SYSTEM, code="X2", name="x", type_="county", parent_code="C2",
                              within=t["C1"].path)
        with pytest.raises(Invalid):
            await orgs.create(conn, SYSTEM, code="X3", name="x", type_="county", parent_code=None,
                              within=t["C1"].path)


async def test_subtree_query(engine):
    async with engine.begin() as conn:
        t = await build_tree(conn)
        assert [o.code for o in await orgs.subtree(conn, t["C1"])] == ["C1", "K", "G"]
        assert {o.code for o in await orgs.subtree(conn, t["P"])} == {"P", "C1", "C2", "K", "G"}
        assert [o.code for o in await orgs.subtree(conn, t["C2"])] == ["C2"]
        assert (await orgs.get(conn, t["G"].id, within=t["C1"].path)).code == "G"
        with pytest.raises(NotFound):
            await orgs.get(conn, t["G"].id, within=t["C2"].path)


async def test_move_subtree_updates_paths_and_depths(engine):
    async with engine.begin() as conn:
        t = await build_tree(conn)
        moved = await orgs.move(conn, SYSTEM, t["K"], t["C2"])
        g = await orgs.get(conn, t["G"].id)
        assert moved.parent_id == t["C2"].id
        assert moved.path == f"{t['C2'].path}{t['K'].id}/" and moved.depth == 2
        assert g.path == f"{moved.path}{t['G'].id}/" and g.depth == 3
        assert [o.code for o in await orgs.subtree(conn, t["C1"])] == ["C1"]
        assert [o.code for o in await orgs.subtree(conn, t["C2"])] == ["C2", "K", "G"]
        # Up one level: depths shrink.
        up = await orgs.move(conn, SYSTEM, await orgs.get(conn, t["G"].id), t["P"])
        assert up.depth == 1 and up.path == f"{t['P'].path}{t['G'].id}/"


async def test_refuse_move_under_own_descendant(engine):
    async with engine.begin() as conn:
        t = await build_tree(conn)
        with pytest.raises(Invalid) as err:
            await orgs.move(conn, SYSTEM, t["C1"], t["G"])
        assert err.value.code == "org_move_cycle"
        with pytest.raises(Invalid):
            await orgs.move(conn, SYSTEM, t["C1"], t["C1"])
        with pytest.raises(Invalid):
            await orgs.move(conn, SYSTEM, t["P"], t["C2"])


async def test_delete_refused_with_children_or_members(engine):
    async with engine.begin() as conn:
        t = await build_tree(conn)
        with pytest.raises(Conflict) as err:
            await orgs.delete(conn, SYSTEM, t["K"])
        assert err.value.code == "org_not_empty"
        now = utcnow()
        await conn.execute(members.insert().values(
            name="张三", id_number_enc="x", id_number_bidx="b" * 64, id_last4="1234", gender="男",
            birth_date=date(1980, 1, 1), org_id=t["G"].id, status="active", created_at=now, updated_at=now))
        with pytest.raises(Conflict):
            await orgs.delete(conn, SYSTEM, t["G"])
        await orgs.delete(conn, SYSTEM, t["C2"])
        with pytest.raises(NotFound):
            await orgs.get(conn, t["C2"].id)


async def test_settings_are_inherited(engine):
    async with engine.begin() as conn:
        t = await build_tree(conn)
        assert await orgs.get_setting(conn, t["G"], "line.deep") is None
        await orgs.set_setting(conn, SYSTEM, t["P"], "line.deep", "80000")
        assert await orgs.get_setting(conn, t["G"], "line.deep") == "80000"
        await orgs.set_setting(conn, SYSTEM, t["C1"], "line.deep", "90000")
        assert await orgs.get_setting(conn, t["G"], "line.deep") == "90000"
        assert await orgs.get_setting(conn, t["C2"], "line.deep") == "80000"
        await orgs.set_setting(conn, SYSTEM, t["C1"], "line.deep", "95000")
        assert await orgs.get_setting(conn, t["K"], "line.deep") == "95000"


# -- what keeps a unit from being deleted ------------------------------------------


def _now():
    return utcnow()


async def _member_row(conn, org_id: int, seq: int) -> int:
    now = _now()
    result = await conn.execute(members.insert().values(
        name="李四", id_number_enc="x", id_number_bidx=f"{seq:064d}", id_last4="1234", gender="男",
        birth_date=date(1980, 1, 1), org_id=org_id, status="active", created_at=now, updated_at=now))
    return int(result.inserted_primary_key[0])


async def _staff_row(conn, org_id: int, seq: int) -> int:
    now = _now()
    result = await conn.execute(staff_table.insert().values(
        username=f"clerk{seq}", password_hash="x", roles="station", org_id=org_id, active=True, created_at=now,
        updated_at=now))
    return int(result.inserted_primary_key[0])


async def _card_row(conn, unit: int, home: int, seq: int) -> None:
    now = _now()
    await conn.execute(cards.insert().values(
        card_no=f"C{seq:015d}", member_id=await _member_row(conn, home, seq), org_id=unit, version=1,
        status="active", issued_at=now, updated_at=now))


async def _hardship_row(conn, unit: int, home: int, seq: int) -> None:
    await conn.execute(hardship_records.insert().values(
        member_id=await _member_row(conn, home, seq), org_id=unit, category="deep", proposed_category="deep",
        causes="illness", household_size=1, household_income=0, per_capita_income=0, valid_from=date(2024, 1, 1),
        valid_to=date(2099, 1, 1), status="active", verified_by=await _staff_row(conn, home, seq),
        verification_method="visit", created_at=_now()))


async def _merchant_row(conn, unit: int, home: int, seq: int) -> None:
    now = _now()
    await conn.execute(merchants.insert().values(
        name="药房", type="pharmacy", org_id=unit, status="active", agreement_from=date(2024, 1, 1),
        agreement_to=date(2099, 1, 1), created_at=now, updated_at=now))


async def _program_row(conn, unit: int, home: int, seq: int) -> None:
    now = _now()
    await conn.execute(programs.insert().values(
        name="药品优惠", org_id=unit, rule="{}", union_bp=0, categories="drug", excluded="", eligibility="all_members",
        hardship_categories="", period="month", fund="union_funds", priority=0, status="active",
        valid_from=date(2024, 1, 1), valid_to=date(2099, 1, 1), created_at=now, updated_at=now))


async def _transfer_row(conn, unit: int, home: int, seq: int) -> None:
    now = _now()
    await conn.execute(metadata.tables["member_transfers"].insert().values(
        member_id=await _member_row(conn, home, seq), from_org_id=unit, to_org_id=home,
        requested_by=await _staff_row(conn, home, seq), status="pending", name="李四", created_at=now,
        updated_at=now))


async def _child_row(conn, unit: int, home: int, seq: int) -> None:
    parent = await orgs.get(conn, unit)
    await orgs.create(conn, SYSTEM, code=f"CH{seq}", name="下级", type_="grassroots", parent_code=parent.code)


async def _relief_kind_row(conn, unit: int, home: int, seq: int) -> None:
    await conn.execute(relief_kinds.insert().values(org_id=unit, code="nursery", definition="{}",
                                                    updated_at=utcnow()))


async def _application_row(conn, unit: int, home: int, seq: int, *, org: int | None = None) -> int:
    now = utcnow()
    member = await _member_row(conn, home, seq)
    user = (await conn.execute(users.insert().values(openid=f"o-{seq}-{org}", created_at=now,
                                                     last_login_at=now))).inserted_primary_key[0]
    result = await conn.execute(relief_applications.insert().values(
        member_id=member, user_id=user, org_id=unit if org is None else org, org_path="/x/", kind="living",
        kind_definition="{}", status="draft", version=1, form_enc="", flagged=False, created_at=now, updated_at=now))
    return int(result.inserted_primary_key[0])


async def _visit_row(conn, unit: int, home: int, seq: int) -> None:
    app = await _application_row(conn, home, home, seq, org=home)
    await conn.execute(relief_visits.insert().values(
        application_id=app, visit_date=date(2026, 1, 1), visitors="[]", findings_enc="",
        staff_id=await _staff_row(conn, home, seq + 100), org_id=unit, created_at=utcnow()))


async def _event_row(conn, unit: int, home: int, seq: int) -> None:
    app = await _application_row(conn, home, home, seq, org=home)
    await conn.execute(relief_events.insert().values(application_id=app, action="passed", org_id=unit, at=utcnow()))


async def _meeting_row(conn, unit: int, home: int, seq: int) -> None:
    await conn.execute(relief_meetings.insert().values(
        org_id=unit, meeting_date=date(2026, 1, 1), members=5, present="[]", minutes="",
        recorded_by=await _staff_row(conn, home, seq), created_at=utcnow()))


async def _notice_row(conn, unit: int, home: int, seq: int) -> None:
    now = utcnow()
    await conn.execute(relief_notices.insert().values(
        org_id=unit, org_path="/x/", starts_at=now, ends_at=now, visible_until=now, working_days=False, days=7,
        published_by=await _staff_row(conn, home, seq), created_at=now))


async def _fund_row(conn, unit: int, home: int, seq: int) -> None:
    now = utcnow()
    await conn.execute(sa.text(
        "INSERT INTO funds (org_id, org_path, source, name, year, kinds, status, budget, topped_up, reserved, spent, "
        "created_at, updated_at) VALUES (:u, '/x/', 'union', :n, 2026, '[]', 'active', 0, 0, 0, 0, :t, :t)"),
        {"u": unit, "n": f"fund-{seq}", "t": now})


async def _setting_row(conn, unit: int, home: int, seq: int) -> None:
    await orgs.set_setting(conn, SYSTEM, await orgs.get(conn, unit), "line.deep", "80000")


# One row referencing the unit per table with a foreign key to orgs.id. A table added
# later without a builder here fails the test below by name.
REFERENCING_ROWS = {
    "orgs": _child_row,
    "members": lambda conn, unit, home, seq: _member_row(conn, unit, seq),
    "staff": lambda conn, unit, home, seq: _staff_row(conn, unit, seq),
    "cards": _card_row,
    "hardship_records": _hardship_row,
    "merchants": _merchant_row,
    "programs": _program_row,
    "member_transfers": _transfer_row,
    "org_settings": _setting_row,
    "relief_kinds": _relief_kind_row,
    "relief_applications": _application_row,
    "relief_visits": _visit_row,
    "relief_events": _event_row,
    "relief_meetings": _meeting_row,
    "relief_notices": _notice_row,
    "funds": _fund_row,
}


def _tables_referencing_orgs() -> set[str]:
    return {t.name for t in metadata.sorted_tables for fk in t.foreign_keys if fk.column is orgs_table.c.id}


async def _count_referencing(conn, table_name: str, unit_id: int) -> int:
    table = metadata.tables[table_name]
    columns = [fk.parent for fk in table.foreign_keys if fk.column is orgs_table.c.id]
    where = sa.or_(*(c == unit_id for c in columns))
    return (await conn.execute(sa.select(sa.func.count()).select_from(table).where(where))).scalar_one()


async def test_every_foreign_key_to_a_unit_blocks_its_deletion_with_a_409(engine):
    referencing = _tables_referencing_orgs()
    missing = referencing - set(REFERENCING_ROWS)
    assert not missing, f"no referencing-row builder for {sorted(missing)}: add one to REFERENCING_ROWS"
    assert set(REFERENCING_ROWS) <= referencing, "a builder for a table that no longer references orgs"
    async with engine.begin() as conn:
        t = await build_tree(conn)
        for seq, name in enumerate(sorted(referencing), start=1):
            unit = await orgs.create(conn, SYSTEM, code=f"U{seq}", name=f"待删{name}", type_="grassroots",
                                     parent_code="C2")
            await REFERENCING_ROWS[name](conn, unit.id, t["K"].id, seq)
            assert await _count_referencing(conn, name, unit.id) == 1
            if name in orgs.OWNED:  # the unit's own settings go with it
                await orgs.delete(conn, SYSTEM, unit)
                assert await _count_referencing(conn, name, unit.id) == 0
                continue
            with pytest.raises(Conflict) as err:
                await orgs.delete(conn, SYSTEM, unit)
            noun, measure = orgs.reference_label(metadata.tables[name])
            assert err.value.code == "org_not_empty" and err.value.status == 409, name
            assert f"1 {measure}{noun}" in err.value.message, (name, err.value.message)
            assert err.value.details == [{"kind": name, "label": noun, "count": 1, "reason": f"1 {measure}{noun}"}]
            assert (await orgs.get(conn, unit.id)).id == unit.id


async def test_the_refusal_names_each_kind_with_its_count(engine):
    async with engine.begin() as conn:
        t = await build_tree(conn)
        for seq in (1, 2):
            await _member_row(conn, t["K"].id, seq)
        await _merchant_row(conn, t["K"].id, t["K"].id, 3)
        with pytest.raises(Conflict) as err:
            await orgs.delete(conn, SYSTEM, t["K"])
    assert err.value.message == "该单位还有 1 个下级单位、2 名会员、1 家合作商家，不能删除"
    assert [(d["kind"], d["count"]) for d in err.value.details] == [("orgs", 1), ("members", 2), ("merchants", 1)]


def test_a_table_without_a_label_is_still_named_truthfully():
    table = sa.Table("relief_grants", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    noun, measure = orgs.reference_label(table)
    assert "relief_grants" in noun and measure
