"""Fund sources and their ledger, with the relief money on them: create, scope, insufficient, reserve at
approval, pay, reverse, reject at payment, totals equal to the rows, the rows proving the fund's sums."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import sqlalchemy as sa

from models.core.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from models.core.tables import audit_log, notifications
from models.funds import ledger, sources
from models.funds.tables import fund_ledger
from models.relief import payments, records, reviewing
from server.crypto import PiiCipher, load_keyring
from tests.factories import org_tree
from tests.relief_helpers import at_approval, fund, staff, worker

BUDGET = 1_000_000


def approve(fund_id: int | None, amount: int = 300_000, **more) -> reviewing.Decision:
    return reviewing.Decision.of({"step": "approval", "decision": "pass", "amount": amount,
                                  **({"fund_id": fund_id} if fund_id else {}), **more})


def payment(amount: int = 300_000, **more) -> payments.Payment:
    return payments.Payment.of({"amount": amount, "method": "cash", "voucher_no": "PZ-2026-001",
                                "paid_on": date.today().isoformat(), **more})


async def check_ledger(conn, fund_id: int) -> sources.Fund:
    """The fund's kept sums equal what its rows prove; the fund."""
    f = await sources.get(conn, fund_id)
    proved = await ledger.sums(conn, fund_id)
    assert proved == {"income": f.budget + f.topped_up, "reserved": f.reserved, "spent": f.spent}
    assert f.balance >= 0
    return f


@pytest.fixture
async def scene(engine, config):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        member_id, user_id = await worker(conn, cipher, tree["G01"], 51)
        people = {
            "finance": await staff(conn, "finance.k01", "K01", "finance"),
            "finance2": await staff(conn, "finance2.k01", "K01", "finance"),
            "admin": await staff(conn, "admin.k01", "K01", "admin"),
            "approver": await staff(conn, "approver.k01", "K01", "approver"),
            "far": await staff(conn, "finance.k02", "K02", "finance", "approver"),
        }
        app = await at_approval(conn, cipher, member_id, user_id, tree["G01"])
        city_fund = await fund(conn, await staff(conn, "finance.c01", "C01", "finance"), "C01", BUDGET)
        county_fund = await fund(conn, people["finance"], "K01", BUDGET, kinds=("medical",), name="医疗救助专项")
    return {"cipher": cipher, "tree": tree, "app": app, "member": member_id, "user": user_id,
            "city_fund": city_fund, "county_fund": county_fund, **people}


async def test_a_fund_is_created_by_finance_or_admin_within_their_subtree_with_its_budget_row(engine, scene):
    s = scene
    body = sources.NewFund.of({"org": "G01", "source": "donation", "name": "爱心企业捐赠", "year": 2026,
                               "budget": 50_000, "kinds": ["temporary", "medical"], "donor": "湘江集团"})
    async with engine.begin() as conn:
        made = await sources.create(conn, s["admin"], body)
        assert (made.source, made.donor, made.kinds, made.balance) == ("donation", "湘江集团",
                                                                        ["medical", "temporary"], 50_000)
        rows = await ledger.page(conn, made.id, before=None, limit=10)
        assert [(r.entry, r.amount) for r in rows] == [("budget", 50_000)]
        assert (await conn.execute(sa.select(audit_log.c.action).where(audit_log.c.action == "fund.create")
                                   .where(audit_log.c.target_id == str(made.id)))).first() is not None
    for who, code, error in (("approver", "G01", Forbidden), ("far", "G01", NotFound)):
        with pytest.raises(error):
            async with engine.begin() as conn:
                await sources.create(conn, s[who], body)
    with pytest.raises(Conflict) as taken:
        async with engine.begin() as conn:
            await sources.create(conn, s["finance"], body)
    assert taken.value.code == "fund_name_taken"
    with pytest.raises(Invalid) as donor:
        sources.NewFund.of({**body.model_dump(), "kinds": []})
    assert donor.value.code == "invalid_body"
    with pytest.raises(Invalid) as not_donation:
        async with engine.begin() as conn:
            await sources.create(conn, s["finance"], sources.NewFund.of({**body.model_dump(), "source": "union",
                                                                         "name": "别的"}))
    assert not_donation.value.code == "fund_donor"


async def test_top_up_and_listing_reach(engine, scene):
    s = scene
    async with engine.begin() as conn:
        f = await sources.top_up(conn, s["finance"], s["county_fund"], sources.TopUp.of({"amount": 5_000,
                                                                                        "note": "追加拨款"}))
        assert (f.topped_up, f.balance) == (5_000, BUDGET + 5_000)
        await check_ledger(conn, f.id)
        # K01 staff see their own county's fund and the city's (above them); K02 staff see only the city's.
        assert {x.id for x in await sources.listing(conn, s["approver"], org=None, year=None)} == {
            s["city_fund"], s["county_fund"]}
        assert {x.id for x in await sources.listing(conn, s["far"], org=None, year=None)} == {s["city_fund"]}
    with pytest.raises(NotFound):  # the city's fund is above the county: not theirs to top up
        async with engine.begin() as conn:
            await sources.top_up(conn, s["finance"], s["city_fund"], sources.TopUp.of({"amount": 1, "note": "追加"}))


async def test_approval_reserves_on_the_fund_and_refuses_scope_insufficient_and_over_proposed(engine, scene):
    s = scene
    refusals = [
        (approve(None), Invalid, "fund_required"),
        (approve(s["county_fund"]), Conflict, "fund_scope"),  # the county's fund pays medical aid only
        (approve(s["city_fund"], 350_000), Unprocessable, "amount_over_proposed"),
        (approve(s["city_fund"], 600_000, comment="病情加重"), Unprocessable, "amount_over_cap"),
    ]
    for body, error, code in refusals:
        with pytest.raises(error) as refused:
            async with engine.begin() as conn:
                await reviewing.decide(conn, s["cipher"], s["approver"], s["app"], body)
        assert refused.value.code == code, code
    async with engine.begin() as conn:  # a sibling county's fund: not on the application's path
        far_fund = await fund(conn, s["far"], "K02", BUDGET)
    with pytest.raises(Conflict) as far:
        async with engine.begin() as conn:
            await reviewing.decide(conn, s["cipher"], s["approver"], s["app"], approve(far_fund))
    assert far.value.code == "fund_scope"
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE funds SET budget = 200000 WHERE id = :f"), {"f": s["city_fund"]})
        await conn.execute(sa.text("UPDATE fund_ledger SET amount = 200000 WHERE fund_id = :f"),
                           {"f": s["city_fund"]})
    with pytest.raises(Conflict) as short:
        async with engine.begin() as conn:
            await reviewing.decide(conn, s["cipher"], s["approver"], s["app"], approve(s["city_fund"]))
    assert short.value.code == "fund_insufficient"
    assert "临时救助专项" in short.value.message and "2000.00" in short.value.message \
        and "3000.00" in short.value.message
    async with engine.begin() as conn:
        city_finance = await staff(conn, "fin.c01b", "C01", "finance")
        await sources.top_up(conn, city_finance, s["city_fund"], sources.TopUp.of({"amount": 150_000, "note": "追加"}))
        # Above the proposed amount with the reason given: allowed (within the cap).
        new = await reviewing.decide(conn, s["cipher"], s["approver"], s["app"],
                                     approve(s["city_fund"], 320_000, comment="复核后按实际损失提高"))
        assert (new.status, new.step, new.approved_amount, new.proposed_amount) == ("submitted", "payment",
                                                                                     320_000, 300_000)
        f = await check_ledger(conn, s["city_fund"])
        assert (f.reserved, f.balance) == (320_000, 350_000 - 320_000)
        assert await ledger.held(conn, s["app"]) == (s["city_fund"], 320_000)


async def _approved(engine, s, amount: int = 300_000):
    async with engine.begin() as conn:
        return await reviewing.decide(conn, s["cipher"], s["approver"], s["app"], approve(s["city_fund"], amount))


async def test_payment_turns_the_reservation_into_spending_and_a_reversal_restores_it(engine, scene):
    s = scene
    await _approved(engine, s)
    for body, error, code in ((payment(200_000), Unprocessable, "amount_mismatch"),
                              (payment(method="bank_transfer"), Invalid, "account_last4_required"),
                              (payment(paid_on="2999-01-01"), Invalid, "paid_on_future")):
        with pytest.raises(error) as refused:
            async with engine.begin() as conn:
                await payments.pay(conn, s["cipher"], s["finance"], s["app"], body)
        assert refused.value.code == code
    with pytest.raises(Forbidden) as four_eyes:  # the approver may not also pay
        async with engine.begin() as conn:
            approver_finance = replace(s["approver"], roles=frozenset({"approver", "finance"}))
            await payments.pay(conn, s["cipher"], approver_finance, s["app"], payment())
    assert four_eyes.value.code == "four_eyes"
    with pytest.raises(NotFound):
        async with engine.begin() as conn:
            await payments.pay(conn, s["cipher"], s["far"], s["app"], payment())
    async with engine.begin() as conn:
        paid = await payments.pay(conn, s["cipher"], s["finance"], s["app"], payment())
        assert (paid.status, paid.step) == ("paid", "archived")
        f = await check_ledger(conn, s["city_fund"])
        assert (f.reserved, f.spent, f.balance) == (0, 300_000, BUDGET - 300_000)
        notice = (await conn.execute(sa.select(notifications.c.kind, notifications.c.payload)
                                     .order_by(notifications.c.id.desc()))).first()
        assert notice.kind == "payment.paid" and '"amount": 300000' in notice.payload \
            and '"kind": "临时救助"' in notice.payload
        assert [e.action for e in await records.timeline(conn, s["app"])][-1] == "paid"
    with pytest.raises(Conflict):
        async with engine.begin() as conn:
            await payments.pay(conn, s["cipher"], s["finance"], s["app"], payment())
    async with engine.begin() as conn:
        back = await payments.reverse(conn, s["cipher"], s["finance2"], s["app"],
                                      payments.Reversal.of({"reason": "银行退票：账户已销户"}))
        assert (back.status, back.step) == ("submitted", "payment")
        f = await check_ledger(conn, s["city_fund"])
        assert (f.reserved, f.spent) == (300_000, 0)
        assert await ledger.held(conn, s["app"]) == (s["city_fund"], 300_000)
    with pytest.raises(Conflict) as twice:
        async with engine.begin() as conn:
            await payments.reverse(conn, s["cipher"], s["finance2"], s["app"], payments.Reversal.of({"reason": "再冲"}))
    assert twice.value.code == "not_paid"
    async with engine.begin() as conn:  # paid again after the reversal
        again = await payments.pay(conn, s["cipher"], s["finance"], s["app"], payment(voucher_no="PZ-2026-002"))
        assert again.status == "paid"
        f = await check_ledger(conn, s["city_fund"])
        assert (f.reserved, f.spent) == (0, 300_000)


async def test_a_reject_at_payment_releases_the_reservation(engine, scene):
    s = scene
    await _approved(engine, s)
    async with engine.begin() as conn:
        new = await reviewing.decide(conn, s["cipher"], s["finance"], s["app"], reviewing.Decision.of(
            {"step": "payment", "decision": "reject", "comment": "经核实已获其他渠道足额救助"}))
        assert new.status == "rejected"
        f = await check_ledger(conn, s["city_fund"])
        assert (f.reserved, f.spent, f.balance) == (0, 0, BUDGET)
        assert await ledger.held(conn, s["app"]) is None
        entries = (await conn.execute(sa.select(fund_ledger.c.entry).where(fund_ledger.c.application_id == s["app"])
                                      .order_by(fund_ledger.c.id))).scalars().all()
        assert entries == ["reserve", "release"]


async def test_totals_by_source_kind_org_and_month_equal_the_sum_of_the_rows(engine, scene):
    s = scene
    await _approved(engine, s)
    async with engine.begin() as conn:
        await payments.pay(conn, s["cipher"], s["finance"], s["app"], payment())
        g01 = await at_approval(conn, s["cipher"], s["member"], s["user"], s["tree"]["G02"], proposed=100_000)
        await reviewing.decide(conn, s["cipher"], s["approver"], g01, approve(s["city_fund"], 100_000))
        year = (await sources.get(conn, s["city_fund"])).year
        rows = (await conn.execute(sa.select(fund_ledger))).all()
        for group_by in (("source",), ("kind",), ("org",), ("month",), ("source", "kind", "org", "month")):
            got = await ledger.totals(conn, "/", year, group_by=group_by)
            assert sum(g["income"] for g in got) == 2 * BUDGET
            assert sum(g["spent"] for g in got) == 300_000
            assert sum(g["reserved"] for g in got) == 100_000
        by_org = {g["org"]: g for g in await ledger.totals(conn, "/", year, group_by=("org",))}
        assert by_org[s["tree"]["G01"].path]["spent"] == 300_000
        assert by_org[s["tree"]["G02"].path]["reserved"] == 100_000
        by_kind = {g["kind"]: g for g in await ledger.totals(conn, "/", year, group_by=("kind",))}
        assert by_kind["temporary"] == {"kind": "temporary", "income": 0, "reserved": 100_000, "spent": 300_000}
        # Each figure equals its rows summed by hand.
        pay = sum(r.amount for r in rows if r.entry == "pay") - sum(r.amount for r in rows if r.entry == "reverse")
        assert pay == 300_000
        # A subtree sees only its rows: K02 has none.
        assert await ledger.totals(conn, s["tree"]["K02"].path, year) == []
