"""The difficult-worker register against a database connection: proposal, entry, exit, re-check, views."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models.core.actors import SYSTEM, Actor
from models.core.clock import local_today
from models.core.errors import Conflict, Forbidden, Invalid, NotFound
from models.core.tables import audit_log
from models.members import hardship, hardship_review
from models.members.tables import hardship_records, household_members, members
from models.network import tree as orgs
from server.crypto import PiiCipher, load_keyring
from tests.factories import id_number, import_rows, org_tree

DEEP, RELATIVE = 50_000, 80_000  # 500 and 800 yuan per person per month


def staff_at(org: orgs.Org, *roles: str) -> Actor:
    return Actor(kind="staff", id=None, roles=frozenset(roles or ("station",)), org_id=org.id, org_path=org.path)


def admin_at(org: orgs.Org) -> Actor:
    return staff_at(org, "admin")


def household(*incomes: int, health: str | None = None) -> list[dict]:
    people = [{"relation": "本人", "name": "张三明", "age": 45, "health": health, "work": "下岗",
               "monthly_income": incomes[0]}]
    people += [{"relation": "子女", "name": f"张小{i}", "age": 10 + i, "monthly_income": v}
               for i, v in enumerate(incomes[1:])]
    return people


async def setup(engine, config, *, lines: bool = True):
    """The tree, two members at G01, income lines set at the city (inherited below), a clerk at S01."""
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("张三明", id_number(1), ""), ("李四", id_number(2), "")])
        ids = dict((await conn.execute(sa.select(members.c.name, members.c.id))).all())
        if lines:
            await hardship.set_income_lines(conn, admin_at(tree["C01"]), "C01", DEEP, RELATIVE)
        # The clerk's own staff row is needed for the verified_by foreign key.
        from models.identity import staff_accounts as staff
        from server.passwords import ARGON2
        clerk = await staff.create(conn, SYSTEM, hasher=ARGON2, username="clerk", password="Correct-Horse-42",
                                   roles=["station"], org_code="S01")
    actor = Actor(kind="staff", id=clerk.id, roles=frozenset({"station"}), org_id=tree["S01"].id,
                  org_path=tree["S01"].path)
    return cipher, tree, ids, actor


async def reviewer(engine, tree, username: str = "reviewer", org: str = "K01", *roles: str) -> Actor:
    """A second member of staff who may confirm entries (a real staff row: decided_by is a foreign key)."""
    from models.identity import staff_accounts as staff
    from server.passwords import ARGON2

    roles = roles or ("reviewer",)
    async with engine.begin() as conn:
        made = await staff.create(conn, SYSTEM, hasher=ARGON2, username=username, password="Correct-Horse-42",
                                  roles=list(roles), org_code=org)
    return Actor(kind="staff", id=made.id, roles=frozenset(roles), org_id=tree[org].id, org_path=tree[org].path)


async def confirm(engine, who, record_id):
    async with engine.begin() as conn:
        return await hardship_review.confirm(conn, who, record_id)


async def enter_confirmed(engine, cipher, actor, who, member_id, **kw):
    """Entered by ``actor`` and confirmed by ``who``: an active record."""
    return await confirm(engine, who, (await enter(engine, cipher, actor, member_id, **kw)).id)


async def enter(engine, cipher, actor, member_id, **kw):
    kw.setdefault("household", household(90_000, 0, 0))
    kw.setdefault("causes", ["illness"])
    kw.setdefault("verification_method", "home_visit")
    async with engine.begin() as conn:
        return await hardship.enter(conn, cipher, actor, member_id, hardship.HardshipEntry.of(kw))


def test_per_capita_rounds_down_and_proposal() -> None:
    assert hardship.per_capita(100_001, 3) == 33_333
    assert hardship.per_capita(2, 3) == 0
    lines = {"deep_line": DEEP, "relative_line": RELATIVE}
    assert hardship.propose(DEEP, ["illness"], **lines) == "deep"
    assert hardship.propose(DEEP + 1, ["illness"], **lines) == "relative"
    assert hardship.propose(RELATIVE, ["illness"], **lines) == "relative"
    assert hardship.propose(RELATIVE + 1, ["illness"], **lines) == hardship.ABOVE_LINE
    assert hardship.propose(RELATIVE + 1, ["disaster"], **lines) == "accident"
    assert hardship.propose(RELATIVE + 1, ["accident", "illness"], **lines) == "accident"
    assert hardship.one_year_from(date(2026, 3, 1)) == date(2027, 2, 28)
    assert hardship.one_year_from(date(2028, 2, 29)) == date(2029, 2, 28)


async def test_enter_inherits_lines_and_proposes(engine, config) -> None:
    cipher, tree, ids, actor = await setup(engine, config)
    # 900 + 0 + 0 yuan... plus one fen: 90001 / 3 = 30000.33 -> 30000 fen, deep.
    rec = await enter(engine, cipher, actor, ids["张三明"], household=household(90_001, 0, 0, health="糖尿病"),
                      visit_note="家中仅有一间平房", valid_from=date(2026, 1, 1))
    assert (rec.household_size, rec.household_income, rec.per_capita_income) == (3, 90_001, 30_000)
    assert (rec.category, rec.proposed_category, rec.status) == ("deep", "deep", "pending")
    assert (rec.valid_from, rec.valid_to) == (date(2026, 1, 1), date(2026, 12, 31))
    assert rec.verified_by == actor.id
    async with engine.connect() as conn:
        assert await hardship.income_lines(conn, tree["G01"]) == (DEEP, RELATIVE)
        h = (await conn.execute(sa.select(household_members).where(household_members.c.age == 45))).one()
        r = (await conn.execute(sa.select(hardship_records))).one()
        actions = (await conn.execute(sa.select(audit_log.c.action))).scalars().all()
    assert "糖尿病" not in h.health_enc and cipher.decrypt(h.health_enc, purpose=hardship.HEALTH) == "糖尿病"
    assert "平房" not in r.visit_note_enc
    assert "hardship.enter" in actions
    view = rec.view()
    assert view["household"][0]["name_masked"] == "张*明"
    assert "health" not in view["household"][0] and "name" not in view["household"][0]
    assert "visit_note" not in view


@pytest.mark.parametrize(("incomes", "causes", "expected"), [
    ((60_000, 40_001), ["illness"], "deep"),            # 100001 / 2 = 50000 after rounding down: deep
    ((100_000, 60_001), ["illness"], "relative"),       # 160001 / 2 = 80000 after rounding down: relative
    ((200_000, 0), ["accident"], "accident"),           # 100000 per head, above, accident
    ((200_000, 0), ["disaster", "illness"], "accident"),
])
async def test_each_category_is_proposed(engine, config, incomes, causes, expected) -> None:
    cipher, _tree, ids, actor = await setup(engine, config)
    rec = await enter(engine, cipher, actor, ids["李四"], household=household(*incomes), causes=causes)
    assert (rec.category, rec.proposed_category) == (expected, expected)


async def test_above_line_refused_unless_category_and_reason(engine, config) -> None:
    cipher, _tree, ids, actor = await setup(engine, config)
    with pytest.raises(Invalid) as err:
        await enter(engine, cipher, actor, ids["李四"], household=household(200_000, 0))
    assert err.value.code == "hardship_above_line"
    with pytest.raises(Invalid) as err:
        await enter(engine, cipher, actor, ids["李四"], household=household(200_000, 0), category="relative")
    assert err.value.code == "hardship_reason_required"
    rec = await enter(engine, cipher, actor, ids["李四"], household=household(200_000, 0), category="relative",
                      category_reason="大病支出远超收入")
    assert (rec.category, rec.proposed_category) == ("relative", hardship.ABOVE_LINE)


async def test_override_stored_beside_the_proposal(engine, config) -> None:
    cipher, _tree, ids, actor = await setup(engine, config)
    rec = await enter(engine, cipher, actor, ids["李四"], household=household(100_000, 60_001), category="deep",
                      category_reason="长期大额医疗支出")
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(hardship_records))).one()
        summary = (await conn.execute(sa.select(audit_log.c.summary)
                                      .where(audit_log.c.action == "hardship.enter"))).scalar_one()
    assert (rec.category, row.category, row.proposed_category) == ("deep", "deep", "relative")
    assert "长期大额医疗支出" in summary


async def test_lines_unset_and_bad_lines(engine, config) -> None:
    cipher, tree, ids, actor = await setup(engine, config, lines=False)
    with pytest.raises(Invalid) as err:
        await enter(engine, cipher, actor, ids["李四"])
    assert err.value.code == "hardship_lines_unset"
    async with engine.begin() as conn:
        for deep, relative in ((80_000, 80_000), (0, 10), (-1, 10), (90_000, 80_000)):
            with pytest.raises(Invalid):
                await hardship.set_income_lines(conn, admin_at(tree["C01"]), "C01", deep, relative)
        with pytest.raises(Forbidden):
            await hardship.set_income_lines(conn, actor, "S01", 1, 2)
        with pytest.raises(NotFound):
            await hardship.set_income_lines(conn, admin_at(tree["K02"]), "S01", 1, 2)
        # A lower unit overrides what it inherits.
        await hardship.set_income_lines(conn, admin_at(tree["C01"]), "C01", DEEP, RELATIVE)
        await hardship.set_income_lines(conn, admin_at(tree["S01"]), "G01", 10_000, 20_000)
        assert await hardship.income_lines(conn, tree["G01"]) == (10_000, 20_000)
        assert await hardship.income_lines(conn, tree["G02"]) == (DEEP, RELATIVE)


async def test_duplicate_exit_history_and_reentry(engine, config) -> None:
    cipher, tree, ids, actor = await setup(engine, config)
    checker = await reviewer(engine, tree)
    first = await enter(engine, cipher, actor, ids["张三明"])
    with pytest.raises(Conflict) as err:
        await enter(engine, cipher, actor, ids["张三明"])
    assert err.value.code == "hardship_pending"
    await confirm(engine, checker, first.id)
    with pytest.raises(Conflict) as err:
        await enter(engine, cipher, actor, ids["张三明"])
    assert err.value.code == "hardship_active" and "复核" in err.value.message
    async with engine.begin() as conn:
        exited = await hardship.exit(conn, actor, first.id, reason="子女就业，收入超过标准")
    assert (exited.status, exited.exit_reason, exited.exited_by) == ("exited", "子女就业，收入超过标准", actor.id)
    async with engine.begin() as conn:
        with pytest.raises(Conflict):
            await hardship.exit(conn, actor, first.id, reason="再次")
    second = await enter_confirmed(engine, cipher, actor, checker, ids["张三明"], causes=["unemployment"])
    async with engine.begin() as conn:
        items = await hardship.history(conn, cipher, actor, ids["张三明"])
        actions = (await conn.execute(sa.select(audit_log.c.action))).scalars().all()
    assert [(r.id, r.status) for r in items] == [(second.id, "active"), (first.id, "exited")]
    assert actions.count("hardship.enter") == 2 and actions.count("hardship.exit") == 1


async def test_scope_and_roles(engine, config) -> None:
    cipher, tree, ids, actor = await setup(engine, config)
    rec = await enter(engine, cipher, actor, ids["张三明"])
    outsider = staff_at(tree["K02"], "station", "admin")
    async with engine.begin() as conn:
        for call in (lambda: hardship.history(conn, cipher, outsider, ids["张三明"]),
                     lambda: hardship.history(conn, cipher, actor, 999_999),
                     lambda: hardship.exit(conn, outsider, rec.id, reason="x"),
                     lambda: hardship.exit(conn, actor, 999_999, reason="x")):
            with pytest.raises(NotFound):
                await call()
        assert await hardship.due_for_recheck(conn, outsider, within_days=366) == []
        finance = staff_at(tree["C01"], "finance")
        with pytest.raises(Forbidden):
            await hardship.history(conn, cipher, finance, ids["张三明"])
        with pytest.raises(Forbidden):
            await hardship.exit(conn, finance, rec.id, reason="x")
        approver = staff_at(tree["C01"], "approver")
        assert len(await hardship.history(conn, cipher, approver, ids["张三明"])) == 1
        with pytest.raises(Forbidden):
            await hardship.history(conn, cipher, approver, ids["张三明"], full=True)
        with pytest.raises(Forbidden):
            await hardship.enter(conn, cipher, approver, ids["李四"], hardship.HardshipEntry.of(
                {"household": household(1), "causes": ["illness"], "verification_method": "document"}))
    with pytest.raises(NotFound):
        await enter(engine, cipher, outsider, ids["李四"])


async def test_full_view_is_audited(engine, config) -> None:
    cipher, _tree, ids, actor = await setup(engine, config)
    await enter(engine, cipher, actor, ids["张三明"], household=household(30_000, health="高血压"), visit_note="入户")
    async with engine.begin() as conn:
        items = await hardship.history(conn, cipher, actor, ids["张三明"], full=True)
        actions = (await conn.execute(sa.select(audit_log.c.action))).scalars().all()
    view = items[0].view(full=True)
    assert view["household"][0]["health"] == "高血压" and view["household"][0]["name"] == "张三明"
    assert view["visit_note"] == "入户"
    assert "hardship.view_full" in actions


async def test_due_for_recheck(engine, config) -> None:
    cipher, tree, ids, actor = await setup(engine, config)
    checker = await reviewer(engine, tree)
    today = local_today()
    soon = await enter_confirmed(engine, cipher, actor, checker, ids["张三明"], valid_from=today - timedelta(days=350),
                                 valid_to=today + timedelta(days=10))
    later = await enter(engine, cipher, actor, ids["李四"], valid_from=today, valid_to=today + timedelta(days=200))
    async with engine.begin() as conn:
        # A pending entry is not due for a re-check: it is not in force yet.
        assert [r.id for r in await hardship.due_for_recheck(conn, actor, within_days=200)] == [soon.id]
    await confirm(engine, checker, later.id)
    async with engine.begin() as conn:
        assert [r.id for r in await hardship.due_for_recheck(conn, actor)] == [soon.id]
        assert [r.id for r in await hardship.due_for_recheck(conn, actor, within_days=5)] == []
        assert [r.id for r in await hardship.due_for_recheck(conn, actor, within_days=200)] == [soon.id, later.id]
        # Overdue records stay on the list.
        assert [r.id for r in await hardship.due_for_recheck(conn, actor, within_days=0,
                                                             on=today + timedelta(days=30))] == [soon.id]
        await hardship.exit(conn, actor, soon.id, reason="复核后收入超过标准")
        assert await hardship.due_for_recheck(conn, actor) == []
        with pytest.raises(Invalid):
            await hardship.due_for_recheck(conn, actor, within_days=-1)


async def test_bad_input_refused(engine, config) -> None:
    cipher, _tree, ids, actor = await setup(engine, config)
    for kw in ({"household": []}, {"causes": []}, {"causes": ["lazy"]}, {"verification_method": "phone"},
               {"category": "rich"}, {"household": [{"relation": "本人", "name": "", "age": 3, "monthly_income": 0}]},
               {"household": [{"relation": "本人", "name": "甲", "age": 3, "monthly_income": -1}]},
               {"household": [{"relation": "本人", "name": "甲", "age": 3, "monthly_income": 1.5}]},
               {"valid_from": date(2026, 5, 1), "valid_to": date(2026, 5, 1)}):
        with pytest.raises(Invalid):
            await enter(engine, cipher, actor, ids["张三明"], **kw)
    async with engine.begin() as conn:
        await conn.execute(members.update().where(members.c.id == ids["李四"]).values(status="ended"))
    with pytest.raises(Conflict) as err:
        await enter(engine, cipher, actor, ids["李四"])
    assert err.value.code == "member_not_active"


async def test_a_paged_full_view_audits_only_the_records_shown(engine, config) -> None:
    cipher, tree, ids, actor = await setup(engine, config)
    first = await enter_confirmed(engine, cipher, actor, await reviewer(engine, tree), ids["张三明"],
                                  household=household(30_000))
    async with engine.begin() as conn:
        await hardship.exit(conn, actor, first.id, reason="已就业")
    await enter(engine, cipher, actor, ids["张三明"], household=household(20_000))  # back in: a second record
    async with engine.begin() as conn:
        fetched = await hardship.history(conn, cipher, actor, ids["张三明"], full=True, page=1)
        summary = (await conn.execute(sa.select(audit_log.c.summary)
                                      .where(audit_log.c.action == "hardship.view_full"))).scalars().one()
    assert len(fetched) == 2  # the page and the one that says a next page exists
    shown = fetched[0].id
    assert (summary if isinstance(summary, dict) else json.loads(summary))["records"] == [shown]


async def test_lines_in_force_say_which_unit_sets_them(engine):
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        assert await hardship.lines_in_force(conn, tree["G01"]) is None
        await hardship.set_income_lines(conn, admin_at(tree["C01"]), "C01", DEEP, RELATIVE)
        deep, relative, source = await hardship.lines_in_force(conn, tree["G01"])
        assert (deep, relative, source.code) == (DEEP, RELATIVE, "C01")  # inherited from the city
        await hardship.set_income_lines(conn, admin_at(tree["C01"]), "S01", 60_000, 90_000)
        assert [(d, r, s.code) for d, r, s in [await hardship.lines_in_force(conn, tree[c]) for c in ("G01", "S01", "K02")]] \
            == [(60_000, 90_000, "S01"), (60_000, 90_000, "S01"), (DEEP, RELATIVE, "C01")]
        assert await orgs.setting_source(conn, tree["G02"], "no_such_setting") is None
