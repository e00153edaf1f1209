"""The register's second person, re-check and expiry against a database connection (issue 15).

Confirmation by another member of staff (four eyes), the list of what waits, the annual re-check that
renews a record, and a record whose validity has ended: shown expired, counting for nothing.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models.core.clock import local_today
from models.core.errors import Conflict, Forbidden, Invalid, NotFound
from models.core.tables import audit_log
from models.members import hardship, hardship_review, membership
from models.members.tables import hardship_records, members
from models.relief import kinds
from tests.models.members.test_hardship import (
    confirm,
    enter,
    enter_confirmed,
    household,
    reviewer,
    setup,
    staff_at,
)


async def recheck(engine, cipher, actor, record_id, **kw):
    kw.setdefault("household", household(200_000, 0, 0))  # 666.66 a head: relative now
    kw.setdefault("causes", ["illness"])
    kw.setdefault("verification_method", "home_visit")
    kw.setdefault("visit_note", "复核入户：配偶已就业")
    async with engine.begin() as conn:
        return await hardship.recheck(conn, cipher, actor, record_id, hardship.HardshipRecheck.of(kw))


async def expire(engine, record_id: int, *, days_ago: int = 1) -> None:
    """Time passes: the record's year ended ``days_ago`` days ago."""
    end = local_today() - timedelta(days=days_ago)
    async with engine.begin() as conn:
        await conn.execute(hardship_records.update().where(hardship_records.c.id == record_id)
                           .values(valid_from=end - timedelta(days=364), valid_to=end))


async def test_an_entry_waits_for_a_second_person(engine, config) -> None:
    cipher, tree, ids, clerk = await setup(engine, config)
    checker = await reviewer(engine, tree)
    rec = await enter(engine, cipher, clerk, ids["张三明"])
    assert rec.status == "pending" and rec.decided_by is None
    async with engine.begin() as conn:
        # Pending counts for nothing yet.
        assert await hardship.registered(conn, ids["张三明"]) is None
        # The one who entered it may not decide it, whatever roles they hold.
        both = replace(clerk, roles=frozenset({"station", "reviewer"}))
        for call in (lambda: hardship_review.confirm(conn, both, rec.id),
                     lambda: hardship_review.decline(conn, both, rec.id, reason="自己退回")):
            with pytest.raises(Conflict) as err:
                await call()
            assert err.value.code == "four_eyes" and err.value.status == 409
            assert err.value.message == "困难职工档案的录入（复核）和确认须由不同人员办理"
        # A station clerk may not confirm at all; a reviewer elsewhere does not find it.
        with pytest.raises(Forbidden):
            await hardship_review.confirm(conn, staff_at(tree["K01"], "station"), rec.id)
        with pytest.raises(NotFound):
            await hardship_review.confirm(conn, staff_at(tree["K02"], "reviewer"), rec.id)
    done = await confirm(engine, checker, rec.id)
    assert (done.status, done.decided_by, done.verified_by) == ("active", checker.id, clerk.id)
    assert done.decided_at is not None
    async with engine.begin() as conn:
        assert await hardship.registered(conn, ids["张三明"]) == "deep"
        with pytest.raises(Conflict) as err:
            await hardship_review.confirm(conn, checker, rec.id)
        assert err.value.code == "hardship_not_pending"
        actions = (await conn.execute(sa.select(audit_log.c.action))).scalars().all()
    assert actions.count("hardship.confirm") == 1


async def test_the_confirmer_sees_the_override_and_a_decline_keeps_the_record(engine, config) -> None:
    cipher, tree, ids, clerk = await setup(engine, config)
    checker = await reviewer(engine, tree)
    # Proposed relative (800 a head), chosen deep with a reason.
    over = await enter(engine, cipher, clerk, ids["李四"], household=household(100_000, 60_001), category="deep",
                       category_reason="长期大额医疗支出")
    plain = await enter(engine, cipher, clerk, ids["张三明"])
    async with engine.begin() as conn:
        waiting = await hardship_review.pending(conn, checker)
        assert [r.id for r in waiting] == [over.id, plain.id]  # oldest first
        assert [r.id for r in await hardship_review.pending(conn, checker, after=over.id)] == [plain.id]
        assert [r.id for r in await hardship_review.pending(conn, checker, limit=1)] == [over.id]
        assert await hardship_review.pending(conn, staff_at(tree["K02"], "reviewer")) == []
    view = waiting[0].view()
    assert (view["category"], view["proposed_category"], view["overridden"], view["category_reason"]) == (
        "deep", "relative", True, "长期大额医疗支出")
    assert (view["kind"], view["status"]) == ("entry", "pending")
    assert waiting[1].view()["overridden"] is False and waiting[1].view()["category_reason"] is None
    async with engine.begin() as conn:
        with pytest.raises(Invalid):
            await hardship_review.decline(conn, checker, over.id, reason="  ")
        declined = await hardship_review.decline(conn, checker, over.id, reason="医疗支出无票据，请补充材料")
    assert (declined.status, declined.decline_reason, declined.decided_by) == (
        "declined", "医疗支出无票据，请补充材料", checker.id)
    # Declined: not registered, not waiting; the member may be entered again, the declined one stays.
    again = await enter(engine, cipher, clerk, ids["李四"], household=household(100_000, 60_001))
    async with engine.begin() as conn:
        assert await hardship.registered(conn, ids["李四"]) is None
        assert [r.id for r in await hardship_review.pending(conn, checker)] == [plain.id, again.id]
        history = await hardship.history(conn, cipher, clerk, ids["李四"])
    assert [(r.id, r.status) for r in history] == [(again.id, "pending"), (over.id, "declined")]


async def test_a_recheck_renews_the_record_when_confirmed(engine, config) -> None:
    cipher, tree, ids, clerk = await setup(engine, config)
    first_checker = await reviewer(engine, tree)
    second_checker = await reviewer(engine, tree, "admin.k1", "K01", "admin")
    today = local_today()
    old = await enter_confirmed(engine, cipher, clerk, first_checker, ids["张三明"],
                                valid_from=today - timedelta(days=340), valid_to=today + timedelta(days=20))
    assert old.category == "deep"
    new = await recheck(engine, cipher, clerk, old.id)
    # The category is proposed again from the new figures: 200000 / 3 = 66666 a head, relative.
    assert (new.status, new.kind, new.supersedes_id, new.category, new.proposed_category) == (
        "pending", "recheck", old.id, "relative", "relative")
    assert (new.per_capita_income, new.valid_from, new.valid_to) == (66_666, today, hardship.one_year_from(today))
    async with engine.begin() as conn:
        # Until confirmed, the old record stays in force and the re-check waits; it is no longer due.
        assert await hardship.registered(conn, ids["张三明"]) == "deep"
        assert [r.id for r in await hardship_review.pending(conn, first_checker)] == [new.id]
        assert await hardship.due_for_recheck(conn, clerk) == []
        with pytest.raises(Conflict) as err:
            await hardship.recheck(conn, cipher, clerk, old.id, hardship.HardshipRecheck.of({
                "household": household(1), "causes": ["illness"], "verification_method": "document",
                "visit_note": "再次复核"}))
        assert err.value.code == "hardship_recheck_pending"
        with pytest.raises(Conflict) as err:  # a re-check is re-checked only once confirmed
            await hardship.recheck(conn, cipher, clerk, new.id, hardship.HardshipRecheck.of({
                "household": household(1), "causes": ["illness"], "verification_method": "document",
                "visit_note": "x"}))
        assert err.value.code == "hardship_not_active"
    done = await confirm(engine, second_checker, new.id)
    assert (done.status, done.decided_by) == ("active", second_checker.id)
    async with engine.begin() as conn:
        history = await hardship.history(conn, cipher, clerk, ids["张三明"])
        assert await hardship.registered(conn, ids["张三明"]) == "relative"
        summary = (await conn.execute(sa.select(audit_log.c.summary)
                                      .where(audit_log.c.action == "hardship.recheck"))).scalar_one()
    assert [(r.id, r.status, r.supersedes_id, r.superseded_by_id) for r in history] == [
        (new.id, "active", old.id, None), (old.id, "renewed", None, new.id)]
    assert "66666" in str(summary) and str(old.id) in str(summary)
    # The renewed record is history: it can be neither re-checked again nor exited.
    async with engine.begin() as conn:
        with pytest.raises(Conflict) as err:
            await hardship.exit(conn, clerk, old.id, reason="x")
        assert err.value.code == "hardship_not_active" and "复核" in err.value.message


async def test_a_declined_recheck_leaves_the_record_and_an_exit_declines_a_waiting_one(engine, config) -> None:
    cipher, tree, ids, clerk = await setup(engine, config)
    checker = await reviewer(engine, tree)
    old = await enter_confirmed(engine, cipher, clerk, checker, ids["张三明"])
    first = await recheck(engine, cipher, clerk, old.id)
    async with engine.begin() as conn:
        await hardship_review.decline(conn, checker, first.id, reason="收入证明不全")
        assert await hardship.registered(conn, ids["张三明"]) == "deep"
    second = await recheck(engine, cipher, clerk, old.id, household=household(30_000))
    async with engine.begin() as conn:
        exited = await hardship.exit(conn, clerk, old.id, reason="本人再就业")
        rows = dict((await conn.execute(sa.select(hardship_records.c.id, hardship_records.c.status))).all())
        with pytest.raises(Conflict) as err:
            await hardship_review.confirm(conn, checker, second.id)
        assert err.value.code == "hardship_not_pending"
        assert await hardship.registered(conn, ids["张三明"]) is None
    assert exited.status == "exited"
    assert rows == {old.id: "exited", first.id: "declined", second.id: "declined"}


async def test_a_recheck_asks_for_a_visit_and_a_validity_in_force(engine, config) -> None:
    cipher, tree, ids, clerk = await setup(engine, config)
    old = await enter_confirmed(engine, cipher, clerk, await reviewer(engine, tree), ids["张三明"])
    today = local_today()
    for kw, code in (({"visit_note": None}, None), ({"visit_note": "   "}, "hardship_field"),
                     ({"valid_from": today + timedelta(days=1)}, "hardship_recheck_start"),
                     ({"valid_from": today - timedelta(days=400), "valid_to": today - timedelta(days=1)},
                      "hardship_valid_ended"),
                     ({"household": household(900_000)}, "hardship_above_line"),
                     ({"category": "deep"}, "hardship_reason_required")):
        with pytest.raises(Invalid) as err:
            await recheck(engine, cipher, clerk, old.id, **kw)
        assert code is None or err.value.code == code, (kw, err.value.code)
    with pytest.raises(NotFound):
        await recheck(engine, cipher, staff_at(tree["K02"], "station"), old.id)
    with pytest.raises(Forbidden):
        await recheck(engine, cipher, staff_at(tree["K01"], "approver"), old.id)


async def test_an_entry_whose_validity_has_ended_is_refused(engine, config) -> None:
    cipher, _tree, ids, clerk = await setup(engine, config)
    today = local_today()
    with pytest.raises(Invalid) as err:
        await enter(engine, cipher, clerk, ids["张三明"], valid_from=today - timedelta(days=365),
                    valid_to=today - timedelta(days=1))
    assert err.value.code == "hardship_valid_ended" and "有效期" in err.value.message
    with pytest.raises(Invalid) as err:  # a one-year default from a start long ago has ended too
        await enter(engine, cipher, clerk, ids["张三明"], valid_from=date(2020, 1, 1))
    assert err.value.code == "hardship_valid_ended"
    # Ending today is still in force today.
    rec = await enter(engine, cipher, clerk, ids["张三明"], valid_from=today - timedelta(days=364), valid_to=today)
    assert rec.status == "pending"


async def test_an_expired_record_shows_expired_and_counts_for_nothing(engine, config) -> None:
    cipher, tree, ids, clerk = await setup(engine, config)
    checker = await reviewer(engine, tree)
    rec = await enter_confirmed(engine, cipher, clerk, checker, ids["张三明"])
    async with engine.begin() as conn:
        assert await hardship.registered(conn, ids["张三明"]) == "deep"
        assert (await kinds.member_context(conn, ids["张三明"])).registered is True
    await expire(engine, rec.id)
    async with engine.begin() as conn:
        assert await hardship.registered(conn, ids["张三明"]) is None
        assert (await kinds.member_context(conn, ids["张三明"])).registered is False
        history = await hardship.history(conn, cipher, clerk, ids["张三明"])
        due = await hardship.due_for_recheck(conn, clerk, within_days=0)
        with pytest.raises(Conflict) as err:  # still the member's record: re-check it (or exit)
            await hardship.enter(conn, cipher, clerk, ids["张三明"], hardship.HardshipEntry.of({
                "household": household(1), "causes": ["illness"], "verification_method": "document"}))
        assert err.value.code == "hardship_active" and "复核" in err.value.message
    assert [r.status for r in history] == ["expired"] and history[0].view()["status"] == "expired"
    assert [(r.id, r.status) for r in due] == [(rec.id, "expired")]
    # The re-check brings the member back once confirmed.
    new = await recheck(engine, cipher, clerk, rec.id, household=household(90_000, 0, 0))
    async with engine.begin() as conn:
        assert await hardship.registered(conn, ids["张三明"]) is None
    await confirm(engine, checker, new.id)
    async with engine.begin() as conn:
        assert await hardship.registered(conn, ids["张三明"]) == "deep"
        assert await hardship.due_for_recheck(conn, clerk, within_days=0) == []
        statuses = [r.status for r in await hardship.history(conn, cipher, clerk, ids["张三明"])]
    assert statuses == ["active", "renewed"]


async def test_an_entry_whose_validity_ends_while_it_waits_is_not_confirmed(engine, config) -> None:
    cipher, tree, ids, clerk = await setup(engine, config)
    checker = await reviewer(engine, tree)
    rec = await enter(engine, cipher, clerk, ids["张三明"])
    await expire(engine, rec.id, days_ago=2)
    async with engine.begin() as conn:
        with pytest.raises(Conflict) as err:
            await hardship_review.confirm(conn, checker, rec.id)
        assert err.value.code == "hardship_expired"
        # Pending whose period passed: still pending (never in force), never "expired".
        assert [r.status for r in await hardship.history(conn, cipher, clerk, ids["张三明"])] == ["pending"]


async def test_a_record_not_yet_in_force_counts_for_nothing(engine, config) -> None:
    cipher, tree, ids, clerk = await setup(engine, config)
    today = local_today()
    await enter_confirmed(engine, cipher, clerk, await reviewer(engine, tree), ids["张三明"],
                          valid_from=today + timedelta(days=10))
    async with engine.begin() as conn:
        assert await hardship.registered(conn, ids["张三明"]) is None
        assert await hardship.registered(conn, ids["张三明"], today=today + timedelta(days=10)) == "deep"


async def test_a_pending_record_moves_with_its_member(engine, config) -> None:
    cipher, tree, ids, clerk = await setup(engine, config)
    rec = await enter(engine, cipher, clerk, ids["张三明"])
    async with engine.begin() as conn:
        member = (await conn.execute(sa.select(members).where(members.c.id == ids["张三明"]))).one()
        await membership.move(conn, staff_at(tree["K01"], "station"), member, tree["G02"])
        org_id = (await conn.execute(sa.select(hardship_records.c.org_id)
                                     .where(hardship_records.c.id == rec.id))).scalar_one()
    assert org_id == tree["G02"].id

