"""Closing a fund source at year end and reopening it: who may, the refusals (money still reserved, closed
already), the close's ledger row with the balance left (moving no sum), the audit, a closed source refusing
approvals, top-ups and reversals, and on MariaDB/MySQL an approval racing a close in either order."""
from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest
import sqlalchemy as sa

from models.core.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from models.core.tables import audit_log
from models.funds import ledger, sources
from models.relief import payments, reviewing
from server.crypto import PiiCipher, load_keyring
from tests.factories import org_tree
from tests.relief_helpers import at_approval, fund, staff, worker

BUDGET = 1_000_000
AMOUNT = 300_000


def approve(fund_id: int, amount: int = AMOUNT) -> reviewing.Decision:
    return reviewing.Decision.of({"step": "approval", "decision": "pass", "amount": amount, "fund_id": fund_id})


def payment() -> payments.Payment:
    return payments.Payment.of({"amount": AMOUNT, "method": "cash", "voucher_no": "PZ-2026-009",
                                "paid_on": date.today().isoformat()})


def reason(text: str = "2026 年度结束，结余按规定处理") -> sources.Closing:
    return sources.Closing.of({"reason": text})


async def proved(conn, fund_id: int) -> sources.Fund:
    """The fund, whose kept sums its movement rows prove."""
    f = await sources.get(conn, fund_id)
    assert await ledger.sums(conn, fund_id) == {"income": f.budget + f.topped_up, "reserved": f.reserved,
                                                "spent": f.spent}
    return f


async def audited(conn, action: str, fund_id: int) -> dict:
    row = (await conn.execute(sa.select(audit_log.c.summary).where(audit_log.c.action == action,
                                                                   audit_log.c.target_id == str(fund_id))
                              .order_by(audit_log.c.id.desc()))).first()
    assert row is not None, action
    return json.loads(row.summary)


@pytest.fixture
async def scene(engine, config):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        apps = []
        for seq in (61, 62):
            member_id, user_id = await worker(conn, cipher, tree["G01"], seq, name="王秀英" if seq == 61 else "李红梅")
            apps.append(await at_approval(conn, cipher, member_id, user_id, tree["G01"]))
        people = {
            "finance": await staff(conn, "finance.close", "K01", "finance"),
            "admin": await staff(conn, "admin.close", "K01", "admin"),
            "approver": await staff(conn, "approver.close", "K01", "approver"),
            "reviewer": await staff(conn, "reviewer.close", "K01", "reviewer"),
            "far": await staff(conn, "finance.far", "K02", "finance"),
            "far_admin": await staff(conn, "admin.far", "K02", "admin"),
        }
        fund_id = await fund(conn, people["finance"], "K01", BUDGET)
    return {"cipher": cipher, "tree": tree, "apps": apps, "fund": fund_id, **people}


async def test_a_fund_is_closed_once_nothing_is_reserved_with_its_balance_on_the_ledger(engine, scene):
    s = scene
    async with engine.begin() as conn:
        await reviewing.decide(conn, s["cipher"], s["approver"], s["apps"][0], approve(s["fund"]))
    with pytest.raises(Conflict) as reserved:
        async with engine.begin() as conn:
            await sources.close(conn, s["finance"], s["fund"], reason())
    assert reserved.value.code == "fund_has_reservations"
    assert "3000.00 元" in reserved.value.message and "发放或释放" in reserved.value.message
    async with engine.begin() as conn:
        await payments.pay(conn, s["cipher"], s["finance"], s["apps"][0], payment())
    for who, error in (("approver", Forbidden), ("reviewer", Forbidden), ("far", NotFound), ("far_admin", NotFound)):
        with pytest.raises(error):
            async with engine.begin() as conn:
                await sources.close(conn, s[who], s["fund"], reason())
    with pytest.raises(Invalid):
        sources.Closing.of({"reason": "关"})
    with pytest.raises(Invalid):
        sources.Closing.of({"reason": "关" * 201})
    async with engine.begin() as conn:
        done = await sources.close(conn, s["finance"], s["fund"], reason())
        assert (done.status, done.available, done.balance, done.close_reason, done.closed_by) == (
            "closed", 0, BUDGET - AMOUNT, "2026 年度结束，结余按规定处理", s["finance"].id)
        assert done.closed_at is not None and done.view()["closed_at"] == done.closed_at
        rows = await ledger.page(conn, s["fund"], before=None, limit=1)
        assert [(r.entry, r.amount, r.note, r.staff_id) for r in rows] == [
            ("close", BUDGET - AMOUNT, "2026 年度结束，结余按规定处理", s["finance"].id)]
        await proved(conn, s["fund"])  # the close row moves no sum
        summary = await audited(conn, "fund.close", s["fund"])
        assert (summary["reason"], summary["balance"], summary["spent"]) == (
            "2026 年度结束，结余按规定处理", BUDGET - AMOUNT, AMOUNT)
        # The accounts: the close row is no income, reservation or spending.
        got = await ledger.totals(conn, "/", done.year, group_by=("fund",))
        assert got == [{"fund": s["fund"], "income": BUDGET, "reserved": 0, "spent": AMOUNT}]
    refusals = [
        (lambda c: sources.close(c, s["admin"], s["fund"], reason()), "fund_closed"),
        (lambda c: sources.top_up(c, s["finance"], s["fund"], sources.TopUp.of({"amount": 100, "note": "追加"})),
         "fund_closed"),
        (lambda c: reviewing.decide(c, s["cipher"], s["approver"], s["apps"][1], approve(s["fund"])), "fund_scope"),
        # A bounced payment would turn spending back into a reservation of the closed fund.
        (lambda c: payments.reverse(c, s["cipher"], s["finance"], s["apps"][0],
                                    payments.Reversal.of({"reason": "银行退票"})), "fund_closed"),
    ]
    for call, code in refusals:
        with pytest.raises(Conflict) as refused:
            async with engine.begin() as conn:
                await call(conn)
        assert refused.value.code == code, code
    async with engine.begin() as conn:
        f = await proved(conn, s["fund"])
        assert (f.status, f.reserved, f.spent, f.topped_up) == ("closed", 0, AMOUNT, 0)


async def test_an_administrator_reopens_a_closed_fund(engine, scene):
    s = scene
    async with engine.begin() as conn:
        await sources.close(conn, s["finance"], s["fund"], reason())
    for who, error in (("finance", Forbidden), ("approver", Forbidden), ("far_admin", NotFound)):
        with pytest.raises(error):
            async with engine.begin() as conn:
                await sources.reopen(conn, s[who], s["fund"], reason("误关闭"))
    async with engine.begin() as conn:
        back = await sources.reopen(conn, s["admin"], s["fund"], reason("误关闭，尚有申请待审批"))
        assert (back.status, back.available, back.closed_at, back.closed_by, back.close_reason) == (
            "active", BUDGET, None, None, None)
        rows = await ledger.page(conn, s["fund"], before=None, limit=3)
        assert [(r.entry, r.amount) for r in rows] == [("reopen", BUDGET), ("close", BUDGET), ("budget", BUDGET)]
        summary = await audited(conn, "fund.reopen", s["fund"])
        assert (summary["reason"], summary["closed_reason"]) == ("误关闭，尚有申请待审批", "2026 年度结束，结余按规定处理")
        await proved(conn, s["fund"])
    with pytest.raises(Conflict) as twice:
        async with engine.begin() as conn:
            await sources.reopen(conn, s["admin"], s["fund"], reason("误关闭"))
    assert twice.value.code == "fund_not_closed"
    async with engine.begin() as conn:  # usable again
        await reviewing.decide(conn, s["cipher"], s["approver"], s["apps"][1], approve(s["fund"]))
        assert (await proved(conn, s["fund"])).reserved == AMOUNT


async def test_a_fund_with_nothing_left_closes_with_a_zero_row(engine, scene):
    s = scene
    async with engine.begin() as conn:
        empty = await fund(conn, s["finance"], "K01", 0, name="已用完的专项")
        closed = await sources.close(conn, s["admin"], empty, reason("资金已用完"))
        assert (closed.status, closed.balance) == ("closed", 0)
        assert [(r.entry, r.amount) for r in await ledger.page(conn, empty, before=None, limit=5)] == [("close", 0)]
        await proved(conn, empty)


# --- races (MariaDB/MySQL: SQLite runs one writer at a time) -------------------------------------------------

@pytest.fixture
def mysql_only(backend: str) -> None:
    if backend != "mysql":
        pytest.skip("row-lock races need MariaDB/MySQL: SQLite runs one writer at a time")


async def _outcome(coro) -> str:
    try:
        await coro
        return "done"
    except AppError as refused:
        return refused.code


async def test_an_approval_waiting_on_a_close_finds_the_fund_closed(engine, scene, mysql_only):
    s = scene
    async def approval() -> str:
        async def run() -> None:
            async with engine.begin() as conn:
                await reviewing.decide(conn, s["cipher"], s["approver"], s["apps"][0], approve(s["fund"]))
        return await _outcome(run())

    async with engine.begin() as conn:
        await sources.close(conn, s["finance"], s["fund"], reason())  # holds the fund's row until the commit
        racing = asyncio.create_task(approval())
        await asyncio.sleep(0.5)
        assert not racing.done(), "the approval should wait for the close's row lock"
    assert await racing == "fund_scope"
    async with engine.begin() as conn:
        f = await proved(conn, s["fund"])
        assert (f.status, f.reserved) == ("closed", 0)


async def test_a_close_waiting_on_an_approval_is_refused_for_its_reservation(engine, scene, mysql_only):
    s = scene
    reserved, go_on = asyncio.Event(), asyncio.Event()

    async def approval() -> None:
        async with engine.begin() as conn:
            await reviewing.decide(conn, s["cipher"], s["approver"], s["apps"][0], approve(s["fund"]))
            reserved.set()
            await go_on.wait()  # holds the fund's row until the commit

    async def close() -> None:
        async with engine.begin() as conn:
            await sources.close(conn, s["finance"], s["fund"], reason())

    approving = asyncio.create_task(approval())
    await reserved.wait()
    closing = asyncio.create_task(_outcome(close()))
    await asyncio.sleep(0.5)
    assert not closing.done(), "the close should wait for the approval's row lock"
    go_on.set()
    await approving
    assert await closing == "fund_has_reservations"
    async with engine.begin() as conn:
        f = await proved(conn, s["fund"])
        assert (f.status, f.reserved) == ("active", AMOUNT)


async def test_approvals_and_a_close_at_once_never_leave_money_reserved_in_a_closed_fund(engine, config, mysql_only):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        approver = await staff(conn, "approver.crowd", "K01", "approver")
        finance = await staff(conn, "finance.crowd", "K01", "finance")
        fund_id = await fund(conn, finance, "K01", BUDGET)
        apps = []
        for i, name in enumerate(("王伟明", "李芳明", "张娜明", "刘敏明", "陈静明", "杨伟明")):
            member_id, user_id = await worker(conn, cipher, tree["G01"], 300 + i, name=name)
            apps.append(await at_approval(conn, cipher, member_id, user_id, tree["G01"], proposed=10_000))

    async def approval(app_id: int) -> None:
        async with engine.begin() as conn:
            await reviewing.decide(conn, cipher, approver, app_id, approve(fund_id, 10_000))

    async def close() -> None:
        async with engine.begin() as conn:
            await sources.close(conn, finance, fund_id, reason())

    outcomes = await asyncio.gather(*(_outcome(approval(a)) for a in apps[:3]), _outcome(close()),
                                    *(_outcome(approval(a)) for a in apps[3:]))
    async with engine.begin() as conn:
        f = await proved(conn, fund_id)
        passed = sum(1 for o in outcomes if o == "done") - (1 if outcomes[3] == "done" else 0)
        assert f.reserved == passed * 10_000
        if f.status == "closed":
            assert outcomes[3] == "done" and f.reserved == 0
        else:
            assert outcomes[3] == "fund_has_reservations" and passed > 0
