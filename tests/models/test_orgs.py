"""The union network: tree building, subtree queries, moves, deletion rules, inherited settings."""
from __future__ import annotations

from datetime import date

import pytest

from models import orgs
from models.actors import SYSTEM
from models.errors import Conflict, Invalid, NotFound
from models.tables import members
from models.types import utcnow


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
