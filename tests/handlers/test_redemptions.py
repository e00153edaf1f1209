"""Redemption at the counter over HTTP: the seeds' deals to the fen, idempotency, the scan session, quotas,
same-day voids and proportional refunds, and what the worker sees afterwards.

Every expected figure below is worked out by hand in the comments (half-up rounding to the fen), not by
calling the code under test.
"""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.cards import lifecycle as cards
from models.core.clock import utcnow
from models.counter.tables import redemption_usage, redemptions, refunds, scan_sessions
from models.partners import partnership as merchants
from models.partners import programmes as benefits
from models.partners.tables import quota_usage
from tests.factories import counter
from tests.redeem_helpers import (
    REDEEM,
    SCAN,
    add_program,
    add_worker,
    clear_of_midnight,  # noqa: F401 - the fixture, for pytestmark
    count_rows,
    items,
    join,
    local_today,
    make_difficult,
    month_key,
    new_key,
    notices,
    other_merchant,
    redeem,
    redeem_now,
    redemption_row,
    refund,
    refund_rows,
    refused,
    scan,
    usage_of,
    usage_rows,
    void,
    year_key,
)

# Every test here redeems and reads the Beijing calendar (periods, same-day voids, today's list).
pytestmark = pytest.mark.usefixtures("clear_of_midnight")

FIGURES = ("amount", "discount", "payable", "union_share", "merchant_share")


def figures(data: dict) -> tuple[int, ...]:
    return tuple(data[k] for k in FIGURES)


def line_view(line: dict) -> tuple:
    return (line["category"], line["amount"], line["discount"], line["payable"], line["union_share"],
            line["merchant_share"], line["reason"])


def balanced(data: dict) -> None:
    """The invariants of every answer: shares add up to the discount, lines add up to the totals."""
    assert data["union_share"] + data["merchant_share"] == data["discount"]
    assert data["amount"] - data["discount"] == data["payable"]
    for key in ("amount", "discount", "union_share", "merchant_share"):
        assert sum(ln[key] for ln in data["lines"]) == data[key], key


async def benefits_of(api, worker: str) -> dict[int, dict]:
    resp = await api.get("/api/v1/me/card", token=worker)
    assert resp.status == 200, resp.data
    return {b["program_id"]: b for b in resp.data["benefits"]}


async def user_id_of(api, token: str) -> int:
    return int((await api.get("/api/v1/me", token=token)).data["user"]["id"])


# -- the seeds' deals, to the fen ----------------------------------------------------------------------------

async def test_discount_pharmacy_ten_percent_off_conceded_by_the_pharmacy(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    scan_id = await scan(api, scene.worker, scene.cashier)
    resp = await redeem(api, scene.cashier, scan_id, items(("drug", 12345), ("other", 500)))
    assert resp.status == 200, resp.data
    d = resp.data
    # 10 % of 123.45 yuan = 12.345 -> 12.35 (half up); the pharmacy concedes all of it (union 0 %).
    assert figures(d) == (12845, 1235, 11610, 0, 1235)
    assert d["status"] == "done"
    assert [line_view(ln) for ln in d["lines"]] == [
        ("drug", 12345, 1235, 11110, 0, 1235, "药品 9 折"),
        ("other", 500, 0, 500, 0, 0, "不在优惠范围"),
    ]
    assert d["lines"][0]["program_id"] == pid and d["lines"][1]["program_id"] is None
    balanced(d)
    row = await redemption_row(engine, d["id"])
    assert (row.amount, row.discount, row.payable, row.union_share, row.merchant_share) == figures(d)
    assert (row.member_id, row.merchant_id, row.store_id, row.scan_id) == (
        scene.member_id, scene.merchant_id, scene.store_id, scan_id)
    assert row.month == month_key()
    # A monthly programme: the usage is kept under this month's key.
    assert await usage_of(engine, scene.member_id, pid, month_key()) == (1235, 1)


async def test_pharmacy_drug_card_union_85_pharmacy_15(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "pharmacy_drug_card")
    await make_difficult(engine, scene)
    scan_id = await scan(api, scene.worker, scene.cashier)
    resp = await redeem(api, scene.cashier, scan_id, items(("drug", 1001), ("drug", 2002), ("other", 999)))
    assert resp.status == 200, resp.data
    d = resp.data
    # The card pays all 30.03 yuan of drugs; the union's 85 % = 25.5255 -> 25.53, the pharmacy 4.50.
    assert figures(d) == (4002, 3003, 999, 2553, 450)
    # 2553 over 1001 : 2002 splits exactly 851 : 1702.
    assert [line_view(ln) for ln in d["lines"]] == [
        ("drug", 1001, 1001, 0, 851, 150, "药品卡内补贴 100%"),
        ("drug", 2002, 2002, 0, 1702, 300, "药品卡内补贴 100%"),
        ("other", 999, 0, 999, 0, 0, "不在优惠范围"),
    ]
    balanced(d)
    # A yearly money quota of 500 yuan: 469.97 left, one use counted.
    assert await usage_of(engine, scene.member_id, pid, year_key()) == (3003, 1)
    mine = (await benefits_of(api, scene.worker))[pid]
    assert mine["remaining"] == {"money": 50000 - 3003, "count": None}
    assert mine["quota"] == {"money": 50000, "count": None}


async def test_supermarket_card_union_88_and_tobacco_alcohol_excluded(api, engine, running):
    scene = await counter(api, engine, running, merchant_type="supermarket")
    await add_program(engine, scene, "supermarket_card")
    await make_difficult(engine, scene, category="relative")
    scan_id = await scan(api, scene.worker, scene.cashier)
    resp = await redeem(api, scene.cashier, scan_id,
                        items(("daily_goods", 2000), ("food", 1500), ("tobacco_alcohol", 3000)))
    assert resp.status == 200, resp.data
    d = resp.data
    # 35.00 yuan of necessities on the card: union 88 % = 30.80, the chain 12 % = 4.20; cigarettes pay in full.
    assert figures(d) == (6500, 3500, 3000, 3080, 420)
    assert [line_view(ln) for ln in d["lines"]] == [
        ("daily_goods", 2000, 2000, 0, 1760, 240, "日用品卡内补贴 100%"),
        ("food", 1500, 1500, 0, 1320, 180, "食品卡内补贴 100%"),
        ("tobacco_alcohol", 3000, 0, 3000, 0, 0, "该商家不可在此项目下销售此类商品"),
    ]
    balanced(d)
    # A bill of only excluded goods gets nothing: refused with the lines' reasons.
    only = await redeem(api, scene.cashier, await scan(api, scene.worker, scene.cashier),
                        items(("tobacco_alcohol", 5000)))
    refused(only, 422, "no_benefit")
    assert only.data["error"]["details"][0]["reason"] == "该商家不可在此项目下销售此类商品"


async def test_hospital_registration_waived_large_exam_threshold_inpatient_tiers(api, engine, running):
    scene = await counter(api, engine, running, merchant_type="hospital")
    reg = await add_program(engine, scene, "hospital_registration")
    exam = await add_program(engine, scene, "hospital_large_exam")
    inpatient = await add_program(engine, scene, "hospital_inpatient")
    await make_difficult(engine, scene, category="accident")
    bill = items(("registration", 1500), ("large_exam", 20000), ("bed", 500000), ("exam", 400000),
                 ("treatment", 300000), ("surgery", 100000), ("drug", 5000))
    resp = await redeem(api, scene.cashier, await scan(api, scene.worker, scene.cashier), bill)
    assert resp.status == 200, resp.data
    d = resp.data
    # Registration 15.00 waived; the 200-yuan exam is over 100: 15 % = 30.00; inpatient 12,000 yuan:
    # 10 % of the first 10,000 (1,000.00) + 15 % of the 2,000 above (300.00) = 1,300.00, split 5:4:3 by
    # largest remainder (541.666.. -> 541.67, 433.33, 325.00). Surgery and drugs are not covered.
    assert figures(d) == (1326500, 134500, 1192000, 0, 134500)
    tiers = "10000.00 元以内 9 折，超过 10000.00 元部分 85 折"
    assert [line_view(ln) for ln in d["lines"]] == [
        ("registration", 1500, 1500, 0, 0, 1500, "挂号费减免"),
        ("large_exam", 20000, 3000, 17000, 0, 3000, "大型设备检查超过 100.00 元 85 折"),
        ("bed", 500000, 54167, 445833, 0, 54167, f"床位费 {tiers}"),
        ("exam", 400000, 43333, 356667, 0, 43333, f"检查费 {tiers}"),
        ("treatment", 300000, 32500, 267500, 0, 32500, f"治疗费 {tiers}"),
        ("surgery", 100000, 0, 100000, 0, 0, "不在优惠范围"),
        ("drug", 5000, 0, 5000, 0, 0, "不在优惠范围"),
    ]
    balanced(d)
    assert [(u.program_id, u.money, u.count) for u in await usage_rows(engine, d["id"])] == sorted(
        [(reg, 1500, 1), (exam, 3000, 1), (inpatient, 130000, 1)])
    # A second visit: an exam of exactly 100 yuan is not over the threshold; nothing is taken from its quota.
    again = await redeem(api, scene.cashier, await scan(api, scene.worker, scene.cashier),
                         items(("registration", 800), ("large_exam", 10000)))
    assert again.status == 200, again.data
    assert figures(again.data) == (10800, 800, 10000, 0, 800)
    assert again.data["lines"][1]["reason"] == "大型设备检查未超过 100.00 元，不享受优惠"
    assert await usage_of(engine, scene.member_id, exam, month_key()) == (3000, 1)
    assert await usage_of(engine, scene.member_id, reg, month_key()) == (2300, 2)
    assert await usage_of(engine, scene.member_id, inpatient, year_key()) == (130000, 1)


async def test_school_union_80_school_20(api, engine, running):
    scene = await counter(api, engine, running, merchant_type="school")
    pid = await add_program(engine, scene, "school_tuition")
    await make_difficult(engine, scene)
    resp = await redeem_now(api, scene, items(("tuition", 123457)))
    assert resp.status == 200, resp.data
    # 1,234.57 yuan of fees; the union's 80 % = 987.656 -> 987.66, the school 246.91.
    assert figures(resp.data) == (123457, 123457, 0, 98766, 24691)
    assert resp.data["lines"][0]["reason"] == "学杂费卡内补贴 100%"
    balanced(resp.data)
    assert (await benefits_of(api, scene.worker))[pid]["remaining"]["money"] == 300000 - 123457


async def test_difficult_only_programme_needs_an_active_hardship_record(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "pharmacy_drug_card")
    only_accident = await add_program(engine, scene, "pharmacy_drug_card", name="意外致困购药卡", categories=["other"],
                                      hardship_categories=["accident"])

    async def offered() -> list[int]:
        qr = await api.get("/api/v1/me/card/qr", token=scene.worker)
        resp = await api.post("/api/v1/merchant/scan", {"qr": qr.data["token"]}, token=scene.cashier)
        assert resp.status == 200, resp.data
        card = await benefits_of(api, scene.worker)
        assert sorted(card) == sorted(b["program_id"] for b in resp.data["benefits"])
        return sorted(card)

    assert await offered() == []
    refused(await redeem_now(api, scene, items(("drug", 1000))), 422, "no_benefit")
    # An exited record, or one whose period is over, does not count.
    await make_difficult(engine, scene, status="exited")
    await make_difficult(engine, scene, valid_from=local_today() - timedelta(days=400),
                         valid_to=local_today() - timedelta(days=1))
    assert await offered() == []
    refused(await redeem_now(api, scene, items(("drug", 1000))), 422, "no_benefit")
    # A record in force: the card is offered; the accident-only programme is not (the record is "deep").
    await make_difficult(engine, scene, category="deep")
    assert await offered() == [pid]
    resp = await redeem_now(api, scene, items(("drug", 1000), ("other", 1000)))
    assert resp.status == 200 and figures(resp.data) == (2000, 1000, 1000, 850, 150), resp.data
    assert await usage_of(engine, scene.member_id, only_accident) == (0, 0)


# -- idempotency ---------------------------------------------------------------------------------------------

async def test_same_key_same_body_replays_the_first_answer_and_takes_quota_once(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    scan_id = await scan(api, scene.worker, scene.cashier)
    key, bill = new_key(), items(("drug", 10000))
    first = await redeem(api, scene.cashier, scan_id, bill, key=key)
    assert first.status == 200, first.data
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(2):
        again = await redeem(api, scene.cashier, scan_id, bill, key=key)
        assert again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
        assert again.data == first.data
    assert await count_rows(engine, redemptions) == 1
    assert await usage_of(engine, scene.member_id, pid) == (1000, 1)
    # The same key with another body is refused, and changes nothing.
    other = await redeem(api, scene.cashier, scan_id, items(("drug", 20000)), key=key)
    refused(other, 422, "idempotency_key_reused")
    assert await count_rows(engine, redemptions) == 1
    assert await usage_of(engine, scene.member_id, pid) == (1000, 1)


async def test_a_key_reused_for_another_scan_rolls_back_all_its_work(api, engine, running):
    # The key is claimed with the answer at the end: this request spends its scan, takes quota and writes
    # a redemption before its insert meets the first request's key; all of it must roll back.
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    key = new_key()
    first = await redeem(api, scene.cashier, await scan(api, scene.worker, scene.cashier), items(("drug", 10000)),
                         key=key)
    assert first.status == 200, first.data
    second_scan = await scan(api, scene.worker, scene.cashier)
    refused(await redeem(api, scene.cashier, second_scan, items(("drug", 20000)), key=key), 422,
            "idempotency_key_reused")
    assert await count_rows(engine, redemptions) == 1
    assert await usage_of(engine, scene.member_id, pid) == (1000, 1)
    async with engine.connect() as conn:
        used_at = (await conn.execute(sa.select(scan_sessions.c.used_at)
                                      .where(scan_sessions.c.id == second_scan))).scalar_one()
    assert used_at is None  # the scan is still unspent: it redeems under a fresh key
    done = await redeem(api, scene.cashier, second_scan, items(("drug", 20000)), key=new_key())
    assert done.status == 200 and done.data["discount"] == 2000, done.data


async def test_a_refusal_is_kept_and_replayed_too(api, engine, running):
    scene = await counter(api, engine, running)
    scan_id = await scan(api, scene.worker, scene.cashier)
    key = new_key()
    first = await redeem(api, scene.cashier, scan_id, items(("drug", 1000)), key=key)
    refused(first, 422, "no_benefit")
    # A programme appears meanwhile: the replay still answers what the first request got.
    await add_program(engine, scene, "discount_pharmacy")
    again = await redeem(api, scene.cashier, scan_id, items(("drug", 1000)), key=key)
    refused(again, 422, "no_benefit")
    assert again.headers.get("Idempotent-Replayed") == "true" and again.data == first.data
    assert await count_rows(engine, redemptions) == 0


async def test_keys_are_per_cashier(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    other = await join(api, engine, scene, "colleague.1")
    key = new_key()
    a = await redeem(api, scene.cashier, await scan(api, scene.worker, scene.cashier), items(("drug", 1000)),
                     key=key)
    b = await redeem(api, other, await scan(api, scene.worker, other), items(("drug", 3000)), key=key)
    assert (a.status, b.status) == (200, 200), (a.data, b.data)
    assert "Idempotent-Replayed" not in b.headers and b.data["id"] != a.data["id"] and b.data["discount"] == 300
    assert await count_rows(engine, redemptions) == 2


async def test_concurrent_duplicates_make_one_redemption(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    for n in range(4):
        scan_id = await scan(api, scene.worker, scene.cashier)
        key, bill = new_key(), items(("drug", 10000 + n))
        answers = await asyncio.gather(*[redeem(api, scene.cashier, scan_id, bill, key=key) for _ in range(3)])
        ok = [a for a in answers if a.status == 200]
        assert ok, [(a.status, a.data) for a in answers]
        assert len({a.data["id"] for a in ok}) == 1
        fresh = [a for a in ok if a.headers.get("Idempotent-Replayed") != "true"]
        assert len(fresh) == 1
        for a in answers:
            if a.status != 200:
                refused(a, 409, "request_in_progress")
        assert await count_rows(engine, redemptions) == n + 1
    # 10 % of 100.00 .. 100.03 yuan is 10.00 each time (half up).
    assert await usage_of(engine, scene.member_id, pid) == (4000, 4)


async def test_missing_or_malformed_key_is_400_and_leaves_the_scan_unspent(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    scan_id = await scan(api, scene.worker, scene.cashier)
    body = {"scan_id": scan_id, "items": items(("drug", 1000))}
    refused(await api.post(REDEEM, body, token=scene.cashier), 400, "idempotency_key_required")
    for bad in ("short", "x" * 65, "has space 123", "semi;colon;key"):
        refused(await api.post(REDEEM, body, token=scene.cashier, headers={"Idempotency-Key": bad}), 400,
                "idempotency_key_format")
    assert await count_rows(engine, redemptions) == 0
    resp = await redeem(api, scene.cashier, scan_id, body["items"])
    assert resp.status == 200, resp.data


# -- the scan session ----------------------------------------------------------------------------------------

async def test_a_scan_serves_one_redemption(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    scan_id = await scan(api, scene.worker, scene.cashier)
    assert (await redeem(api, scene.cashier, scan_id, items(("drug", 1000)))).status == 200
    refused(await redeem(api, scene.cashier, scan_id, items(("drug", 1000))), 409, "qr_used")
    assert await count_rows(engine, redemptions) == 1


async def test_a_refused_redemption_still_spends_the_code(api, engine, running):
    scene = await counter(api, engine, running)
    scan_id = await scan(api, scene.worker, scene.cashier)
    refused(await redeem(api, scene.cashier, scan_id, items(("drug", 1000))), 422, "no_benefit")
    await add_program(engine, scene, "discount_pharmacy")
    refused(await redeem(api, scene.cashier, scan_id, items(("drug", 1000))), 409, "qr_used")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(scan_sessions.c.used_at).where(scan_sessions.c.id == scan_id))
                ).scalar_one() is not None
    assert await count_rows(engine, redemptions) == 0


async def test_scan_of_another_cashier_is_not_found_and_stays_usable(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    colleague = await join(api, engine, scene, "colleague.1")
    _, stranger = await other_merchant(api, engine, scene, "stranger.1")
    scan_id = await scan(api, scene.worker, scene.cashier)
    refused(await redeem(api, colleague, scan_id, items(("drug", 1000))), 404, "scan_not_found")
    refused(await redeem(api, stranger, scan_id, items(("drug", 1000))), 404, "scan_not_found")
    refused(await redeem(api, scene.cashier, "x" * 24, items(("drug", 1000))), 404, "scan_not_found")
    assert (await redeem(api, scene.cashier, scan_id, items(("drug", 1000)))).status == 200


async def test_an_expired_scan_is_refused(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    scan_id = await scan(api, scene.worker, scene.cashier)
    async with engine.begin() as conn:
        await conn.execute(scan_sessions.update().where(scan_sessions.c.id == scan_id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
    refused(await redeem(api, scene.cashier, scan_id, items(("drug", 1000))), 422, "scan_expired")
    assert await count_rows(engine, redemptions) == 0


async def test_card_frozen_between_scan_and_redemption(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    scan_id = await scan(api, scene.worker, scene.cashier)
    async with engine.begin() as conn:
        await cards.freeze(conn, scene.admin, scene.card_id, reason="核查中")
    refused(await redeem(api, scene.cashier, scan_id, items(("drug", 1000))), 403, "card_frozen")
    assert await count_rows(engine, redemptions) == 0
    assert await usage_of(engine, scene.member_id, pid) == (0, 0)
    # Unfrozen again: the old scan is spent; a scan of a new code works.
    async with engine.begin() as conn:
        await cards.unfreeze(conn, scene.admin, scene.card_id)
    refused(await redeem(api, scene.cashier, scan_id, items(("drug", 1000))), 409, "qr_used")
    assert (await redeem_now(api, scene, items(("drug", 1000)))).status == 200


async def test_a_suspended_merchant_cannot_redeem(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    scan_id = await scan(api, scene.worker, scene.cashier)
    async with engine.begin() as conn:
        await merchants.set_status(conn, scene.admin, scene.merchant_id, status="suspended", reason="违规")
    refused(await redeem(api, scene.cashier, scan_id, items(("drug", 1000))), 403, "merchant_suspended")
    assert await count_rows(engine, redemptions) == 0
    assert await usage_of(engine, scene.member_id, pid) == (0, 0)


# -- quotas --------------------------------------------------------------------------------------------------

async def test_money_quota_caps_the_discount_then_refuses(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "pharmacy_drug_card")
    await make_difficult(engine, scene)
    resp = await redeem_now(api, scene, items(("drug", 60000)))
    assert resp.status == 200, resp.data
    # 600 yuan of drugs, 500 left on the card: 500 off; union 425.00, pharmacy 75.00; the worker pays 100.
    assert figures(resp.data) == (60000, 50000, 10000, 42500, 7500)
    assert resp.data["lines"][0]["reason"] == "药品卡内补贴 100%（受本期额度限制）"
    assert await usage_of(engine, scene.member_id, pid, year_key()) == (50000, 1)
    assert (await benefits_of(api, scene.worker))[pid]["remaining"]["money"] == 0
    more = await redeem_now(api, scene, items(("drug", 100)))
    refused(more, 422, "no_benefit")
    assert more.data["error"]["details"][0]["reason"] == "药品卡内补贴 100%（本期额度已用完）"
    assert await usage_of(engine, scene.member_id, pid) == (50000, 1)
    assert await count_rows(engine, redemptions) == 1


async def test_count_quota(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy", count_quota=2)
    for _ in range(2):
        assert (await redeem_now(api, scene, items(("drug", 1000)))).status == 200
    assert (await benefits_of(api, scene.worker))[pid]["remaining"] == {"money": None, "count": 0}
    third = await redeem_now(api, scene, items(("drug", 1000)))
    refused(third, 422, "no_benefit")
    assert third.data["error"]["details"][0]["reason"] == "药品 9 折（本期次数已用完）"
    assert await usage_of(engine, scene.member_id, pid, month_key()) == (200, 2)


async def test_per_transaction_cap(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy", per_txn_cap=500)
    resp = await redeem_now(api, scene, items(("drug", 4000), ("drug", 6000)))
    assert resp.status == 200, resp.data
    # 10 % of 100 yuan would be 10.00; at most 5.00 a transaction, spread 2:3 over the lines.
    assert figures(resp.data) == (10000, 500, 9500, 0, 500)
    assert [ln["discount"] for ln in resp.data["lines"]] == [200, 300]
    assert resp.data["lines"][0]["reason"] == "药品 9 折（单笔最多优惠 5.00 元）"
    small = await redeem_now(api, scene, items(("drug", 3000)))
    assert small.data["discount"] == 300 and small.data["lines"][0]["reason"] == "药品 9 折"
    assert await usage_of(engine, scene.member_id, pid) == (800, 2)


async def test_month_and_year_quotas_are_kept_per_period(api, engine, running):
    scene = await counter(api, engine, running)
    monthly = await add_program(engine, scene, "discount_pharmacy", categories=["other"], count_quota=1)
    yearly = await add_program(engine, scene, "pharmacy_drug_card", eligibility="all_members",
                               hardship_categories=[], money_quota=1000)
    bill = items(("drug", 1000), ("other", 1000))
    first = await redeem_now(api, scene, bill)
    assert first.status == 200 and first.data["discount"] == 1100, first.data
    keys = {u.program_id: u.period_key for u in await usage_rows(engine, first.data["id"])}
    assert keys == {monthly: month_key(), yearly: year_key()}
    refused(await redeem_now(api, scene, bill), 422, "no_benefit")
    # Last month's use does not count this month: move the monthly row back one month.
    first_of_month = local_today().replace(day=1)
    last_month = month_key(first_of_month - timedelta(days=1))
    async with engine.begin() as conn:
        await conn.execute(quota_usage.update().where(quota_usage.c.program_id == monthly)
                           .values(period_key=last_month))
        await conn.execute(redemption_usage.update().where(redemption_usage.c.program_id == monthly)
                           .values(period_key=last_month))
    assert (await benefits_of(api, scene.worker))[monthly]["remaining"]["count"] == 1
    assert (await benefits_of(api, scene.worker))[yearly]["remaining"]["money"] == 0
    second = await redeem_now(api, scene, bill)
    assert second.status == 200 and [ln["discount"] for ln in second.data["lines"]] == [0, 100], second.data
    # ... but the yearly quota is still spent until the year changes.
    async with engine.begin() as conn:
        await conn.execute(quota_usage.update().where(quota_usage.c.program_id == yearly)
                           .values(period_key=str(local_today().year - 1)))
    assert (await benefits_of(api, scene.worker))[yearly]["remaining"]["money"] == 1000
    third = await redeem_now(api, scene, bill)
    assert third.status == 200 and [ln["discount"] for ln in third.data["lines"]] == [1000, 0], third.data


async def test_my_redemptions_newest_first_with_cursor_paging(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    other = await add_worker(api, engine, running, scene, 22, "李建国", "li.1")
    theirs = await redeem_now(api, scene, items(("drug", 999)), worker=other.token)
    assert theirs.status == 200
    made = []
    for n in range(21):
        resp = await redeem_now(api, scene, items(("drug", 1000 + n)))
        assert resp.status == 200, resp.data
        made.append(resp.data["id"])
    voided = await void(api, scene.cashier, made[-1])
    assert voided.status == 200
    page = await api.get("/api/v1/me/redemptions", token=scene.worker)
    assert page.status == 200, page.data
    assert [i["id"] for i in page.data["items"]] == made[::-1][:20]
    # The cursor is opaque: not the id it stands for, and a cursor made up from an id is refused.
    assert isinstance(page.data["next"], str) and page.data["next"] != str(made[1])
    refused(await api.get(f"/api/v1/me/redemptions?cursor={made[1]}", token=scene.worker), 400, "invalid_query")
    top = page.data["items"][0]
    assert (top["status"], top["amount"], top["merchant"], top["store"]) == ("void", 1020, "老百姓大药房", "东湖店")
    assert page.data["items"][1]["discount"] == 102  # 10.19 yuan * 10 % = 1.019 -> 1.02
    rest = await api.get(f"/api/v1/me/redemptions?cursor={page.data['next']}", token=scene.worker)
    assert [i["id"] for i in rest.data["items"]] == [made[0]] and rest.data["next"] is None
    mine = await api.get("/api/v1/me/redemptions", token=other.token)
    assert [i["id"] for i in mine.data["items"]] == [theirs.data["id"]] and mine.data["next"] is None
    refused(await api.get("/api/v1/me/redemptions?cursor=abc", token=scene.worker), 400, "invalid_query")


async def test_a_manager_scans_only_for_a_store_and_the_redemption_shows_in_history(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    storeless = await join(api, engine, scene, "boss.1", role="manager")
    qr = await api.get("/api/v1/me/card/qr", token=scene.worker)
    refused(await api.post(SCAN, {"qr": qr.data["token"]}, token=storeless), 403, "store_required")
    manager = await join(api, engine, scene, "boss2.1", role="manager", store_id=scene.store_id)
    resp = await redeem_now(api, scene, items(("drug", 1000)), cashier=manager)
    assert resp.status == 200, resp.data
    page = await api.get("/api/v1/me/redemptions", token=scene.worker)
    assert page.status == 200, page.data
    assert [i["id"] for i in page.data["items"]] == [resp.data["id"]]


async def test_the_worker_is_notified(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    user_id = await user_id_of(api, scene.worker)
    before = len(await notices(engine, user_id))
    small = await redeem_now(api, scene, items(("drug", 1000)))
    assert small.status == 200
    rows = await notices(engine, user_id)
    assert len(rows) == before + 1
    assert rows[-1].kind == "redemption" and rows[-1].status == "pending"
    assert json.loads(rows[-1].payload)["body"] == "消费 10.00 元，优惠 1.00 元"
    # A big bill: the WeChat message carries the figures as amounts of their own (never a "thing" cut short).
    big = await redeem_now(api, scene, items(("drug", 1234500)))
    assert big.data["discount"] == 123450
    payload = json.loads((await notices(engine, user_id))[-1].payload)
    assert payload["values"] == {"merchant": "老百姓大药房", "amount": 1234500, "discount": 123450}
    data = running.settings["templates"].render("redemption", payload["values"], utcnow())
    assert (data["amount2"], data["amount3"]) == ({"value": "12345.00元"}, {"value": "1234.50元"})
    assert (await void(api, scene.cashier, big.data["id"])).status == 200
    rows = await notices(engine, user_id)
    assert len(rows) == before + 3 and rows[-1].kind == "redemption.change"
    assert "1234.50" in json.loads(rows[-1].payload)["body"]


# -- void ----------------------------------------------------------------------------------------------------

async def test_void_gives_quotas_back_exactly_and_keeps_the_record(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "pharmacy_drug_card", count_quota=5)
    await make_difficult(engine, scene)
    kept = await redeem_now(api, scene, items(("drug", 1234)))
    gone = await redeem_now(api, scene, items(("drug", 4321), ("other", 100)))
    assert (kept.status, gone.status) == (200, 200)
    assert await usage_of(engine, scene.member_id, pid) == (5555, 2)
    resp = await void(api, scene.cashier, gone.data["id"], "收银录错金额")
    assert resp.status == 200, resp.data
    assert resp.data["id"] == gone.data["id"] and resp.data["status"] == "void"
    assert resp.data["redemption"]["void_reason"] == "收银录错金额"
    assert figures(resp.data["redemption"]) == figures(gone.data)  # the figures stay as recorded
    assert await usage_of(engine, scene.member_id, pid) == (1234, 1)
    assert (await benefits_of(api, scene.worker))[pid]["remaining"] == {"money": 50000 - 1234, "count": 4}
    row = await redemption_row(engine, gone.data["id"])
    assert (row.status, row.void_reason) == ("void", "收银录错金额") and row.voided_at is not None
    assert [(u.money, u.money_returned, u.count, u.count_returned) for u in await usage_rows(engine, row.id)] == [
        (4321, 4321, 1, 1)]
    # Twice is harmless: the same answer, nothing given back again.
    again = await void(api, scene.cashier, gone.data["id"], "再撤一次")
    assert again.status == 200 and again.data["status"] == "void"
    assert again.data["redemption"]["void_reason"] == "收银录错金额"
    assert await usage_of(engine, scene.member_id, pid) == (1234, 1)
    default = await void(api, scene.cashier, kept.data["id"])
    assert default.data["redemption"]["void_reason"] == "收银撤销"
    assert await usage_of(engine, scene.member_id, pid) == (0, 0)


async def test_who_may_void(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    colleague = await join(api, engine, scene, "colleague.1")
    manager = await join(api, engine, scene, "boss.1", role="manager")
    _, stranger = await other_merchant(api, engine, scene, "stranger.1")
    _, their_manager = await other_merchant(api, engine, scene, "rival.1", role="manager", name="大参林")
    mine = await redeem_now(api, scene, items(("drug", 1000)))
    refused(await void(api, colleague, mine.data["id"]), 403, "not_manager")
    refused(await void(api, stranger, mine.data["id"]), 404, "redemption_not_found")
    refused(await void(api, their_manager, mine.data["id"]), 404, "redemption_not_found")
    refused(await void(api, scene.cashier, 999999), 404, "redemption_not_found")
    assert (await redemption_row(engine, mine.data["id"])).status == "done"
    assert (await void(api, manager, mine.data["id"])).data["status"] == "void"
    theirs = await redeem_now(api, scene, items(("drug", 1000)), cashier=colleague)
    assert (await void(api, colleague, theirs.data["id"])).data["status"] == "void"


async def test_void_only_on_the_day(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    resp = await redeem_now(api, scene, items(("drug", 1000)))
    async with engine.begin() as conn:
        await conn.execute(redemptions.update().where(redemptions.c.id == resp.data["id"])
                           .values(created_at=utcnow() - timedelta(days=1)))
    refused(await void(api, scene.cashier, resp.data["id"]), 409, "void_window_passed")
    assert (await redemption_row(engine, resp.data["id"])).status == "done"
    assert await usage_of(engine, scene.member_id, pid) == (100, 1)


# -- refunds -------------------------------------------------------------------------------------------------

async def test_partial_refunds_in_proportion_and_the_last_returns_exactly_what_is_left(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "pharmacy_drug_card")
    await make_difficult(engine, scene)
    manager = await join(api, engine, scene, "boss.1", role="manager")
    red = await redeem_now(api, scene, items(("drug", 6000), ("other", 4000)))
    # 60 yuan of drugs on the card: union 51.00, pharmacy 9.00.
    assert figures(red.data) == (10000, 6000, 4000, 5100, 900)
    rid = red.data["id"]

    first = await refund(api, manager, rid, 2500)
    assert first.status == 200, first.data
    # A quarter of the bill: a quarter of the discount 15.00, union 12.75, pharmacy 2.25.
    assert (first.data["amount"], first.data["discount"], first.data["union_share"],
            first.data["merchant_share"]) == (2500, 1500, 1275, 225)
    assert first.data["redemption"]["refunded"] == {"amount": 2500, "discount": 1500, "union_share": 1275,
                                                    "merchant_share": 225}
    assert await usage_of(engine, scene.member_id, pid) == (4500, 1)
    refused(await refund(api, manager, rid, 7501), 400, "refund_amount")
    # One fen of 75.00 left: 4500/7500 = 0.6 -> 0.01 of discount, 3825/7500 = 0.51 -> 0.01 union.
    second = await refund(api, manager, rid, 1)
    assert (second.data["discount"], second.data["union_share"], second.data["merchant_share"]) == (1, 1, 0)
    assert await usage_of(engine, scene.member_id, pid) == (4499, 1)
    last = await refund(api, manager, rid, 7499)
    assert (last.data["discount"], last.data["union_share"], last.data["merchant_share"]) == (4499, 3824, 675)
    assert last.data["redemption"]["status"] == "refunded"
    rows = await refund_rows(engine, rid)
    assert sum(r.discount for r in rows) == 6000 and sum(r.union_share for r in rows) == 5100
    assert sum(r.merchant_share for r in rows) == 900 and sum(r.amount for r in rows) == 10000
    # Everything came back, the use too.
    assert await usage_of(engine, scene.member_id, pid) == (0, 0)
    assert [(u.money, u.money_returned, u.count, u.count_returned) for u in await usage_rows(engine, rid)] == [
        (6000, 6000, 1, 1)]
    refused(await refund(api, manager, rid, 1), 400, "refund_amount")
    assert (await benefits_of(api, scene.worker))[pid]["remaining"]["money"] == 50000


async def test_refunds_of_a_union_85_bill_add_up(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "pharmacy_drug_card")
    await make_difficult(engine, scene)
    manager = await join(api, engine, scene, "boss.1", role="manager")
    red = await redeem_now(api, scene, items(("drug", 10000)))
    rid = red.data["id"]
    got = []
    for amount in (3333, 3333, 3334):
        resp = await refund(api, manager, rid, amount)
        assert resp.status == 200, resp.data
        got.append((resp.data["discount"], resp.data["union_share"], resp.data["merchant_share"]))
    # 8500 * 3333 / 10000 = 2833.05 -> 28.33; then 5667 * 3333 / 6667 = 2833.09 -> 28.33; the rest 28.34.
    assert got == [(3333, 2833, 500), (3333, 2833, 500), (3334, 2834, 500)]


async def test_refund_across_two_programmes_gives_each_quota_its_part(api, engine, running):
    scene = await counter(api, engine, running)
    card = await add_program(engine, scene, "pharmacy_drug_card")
    disc = await add_program(engine, scene, "discount_pharmacy", categories=["other"], count_quota=3)
    await make_difficult(engine, scene)
    manager = await join(api, engine, scene, "boss.1", role="manager")
    red = await redeem_now(api, scene, items(("drug", 5000), ("other", 5000)))
    # 50.00 on the card (union 42.50, pharmacy 7.50) + 10 % of 50.00 conceded by the pharmacy.
    assert figures(red.data) == (10000, 5500, 4500, 4250, 1250)
    half = await refund(api, manager, red.data["id"], 5000)
    assert (half.data["discount"], half.data["union_share"], half.data["merchant_share"]) == (2750, 2125, 625)
    # 27.50 given back 5000 : 500 over the two quotas.
    assert await usage_of(engine, scene.member_id, card) == (2500, 1)
    assert await usage_of(engine, scene.member_id, disc) == (250, 1)
    rest = await refund(api, manager, red.data["id"], 5000)
    assert (rest.data["discount"], rest.data["union_share"], rest.data["merchant_share"]) == (2750, 2125, 625)
    assert await usage_of(engine, scene.member_id, card) == (0, 0)
    assert await usage_of(engine, scene.member_id, disc) == (0, 0)


async def test_refund_rules(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    manager = await join(api, engine, scene, "boss.1", role="manager")
    _, their_manager = await other_merchant(api, engine, scene, "rival.1", role="manager")
    red = await redeem_now(api, scene, items(("drug", 10000)))
    rid = red.data["id"]
    refused(await refund(api, scene.cashier, rid, 100), 403, "not_manager")
    refused(await refund(api, their_manager, rid, 100), 404, "redemption_not_found")
    refused(await refund(api, manager, rid, 10001), 400, "refund_amount")
    refused(await api.post(f"{REDEEM}/{rid}/refunds", {"amount": 100, "reason": "x"}, token=manager), 400,
            "idempotency_key_required")
    assert await count_rows(engine, refunds) == 0
    # Idempotent: the same key and body once, another body refused.
    key = new_key()
    first = await refund(api, manager, rid, 4000, key=key)
    again = await refund(api, manager, rid, 4000, key=key)
    assert first.status == again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.data == first.data
    refused(await refund(api, manager, rid, 3000, key=key), 422, "idempotency_key_reused")
    assert await count_rows(engine, refunds) == 1
    assert await usage_of(engine, scene.member_id, pid) == (600, 1)
    # A redemption with a refund can no longer be voided.
    refused(await void(api, manager, rid), 409, "already_refunded")
    # A void one cannot be refunded.
    other = await redeem_now(api, scene, items(("drug", 10000)))
    assert (await void(api, scene.cashier, other.data["id"])).status == 200
    refused(await refund(api, manager, other.data["id"], 100), 409, "redemption_void")
    assert await count_rows(engine, refunds) == 1


async def test_refund_of_a_redemption_with_a_long_id(api, engine, running, backend):
    """The idempotency scope names the path; it must fit its column whatever the ids grow to."""
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    manager = await join(api, engine, scene, "boss.1", role="manager")
    if backend == "mysql":
        async with engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE redemptions AUTO_INCREMENT = 1000000000000"))
    try:
        red = await redeem_now(api, scene, items(("drug", 10000)))
        assert red.status == 200, red.data
        key = new_key()
        first = await refund(api, manager, red.data["id"], 5000, key=key)
        assert first.status == 200, first.data
        again = await refund(api, manager, red.data["id"], 5000, key=key)
        assert again.headers.get("Idempotent-Replayed") == "true" and again.data == first.data
        assert await count_rows(engine, refunds) == 1
    finally:
        if backend == "mysql":
            async with engine.begin() as conn:
                await conn.execute(refunds.delete())
                await conn.execute(redemption_usage.delete())
                await conn.execute(redemptions.delete())
                await conn.execute(sa.text("ALTER TABLE redemptions AUTO_INCREMENT = 1"))


async def test_todays_list_a_cashier_sees_their_own_a_manager_all(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    second = await join(api, engine, scene, "qian.1")
    manager = await join(api, engine, scene, "boss3.1", role="manager", store_id=scene.store_id)
    mine = await redeem_now(api, scene, items(("drug", 1000)))
    theirs = await redeem_now(api, scene, items(("drug", 2000)), cashier=second)
    assert mine.status == theirs.status == 200
    own = await api.get(REDEEM, token=scene.cashier)
    assert own.status == 200 and [i["id"] for i in own.data["items"]] == [mine.data["id"]]
    everything = await api.get(REDEEM, token=manager)
    assert [i["id"] for i in everything.data["items"]] == [theirs.data["id"], mine.data["id"]]
    async with engine.begin() as conn:  # yesterday's redemptions are not today's list
        await conn.execute(redemptions.update().where(redemptions.c.id == mine.data["id"])
                           .values(created_at=utcnow() - timedelta(days=1)))
    assert [i["id"] for i in (await api.get(REDEEM, token=manager)).data["items"]] == [theirs.data["id"]]


async def test_a_programme_serves_only_the_funding_unions_members(api, engine, running):
    from tests.factories import staff_actor
    from tests.redeem_helpers import FOREVER

    scene = await counter(api, engine, running)  # the worker belongs to G01, under county K01
    city = staff_actor(scene.tree["C01"], "admin")
    async with engine.begin() as conn:  # another county's programme, honoured at the same pharmacy
        other = await benefits.create(conn, city, scene.tree["K02"].id,
                                       benefits.ProgramDraft.of({**FOREVER, "preset": "discount_pharmacy"}))
        await benefits.set_merchants(conn, city, other.id, [scene.merchant_id])
    card = await api.get("/api/v1/me/card", token=scene.worker)
    assert card.data["benefits"] == []
    refused(await redeem_now(api, scene, items(("drug", 1000))), 422, "no_benefit")
    own = await add_program(engine, scene, "discount_pharmacy")
    card = await api.get("/api/v1/me/card", token=scene.worker)
    assert [b["program_id"] for b in card.data["benefits"]] == [own]


# -- another day's list (a manager's, for refunds) -------------------------------------------------------------

async def _move_to(engine, redemption_ids: list[int], days_back: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(redemptions.update().where(redemptions.c.id.in_(redemption_ids))
                           .values(created_at=utcnow() - timedelta(days=days_back)))


async def test_a_manager_lists_yesterdays_redemptions_page_by_page(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    manager = await join(api, engine, scene, "boss4.1", role="manager", store_id=scene.store_id)
    made = []
    for n in range(5):
        resp = await redeem_now(api, scene, items(("drug", 1000 + n)))
        assert resp.status == 200, resp.data
        made.append(resp.data["id"])
    await _move_to(engine, made[:4], 1)  # four yesterday's, the last one today's
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    first = await api.get(f"{REDEEM}?day={yesterday}&limit=3", token=manager)
    assert first.status == 200, first.data
    assert [i["id"] for i in first.data["items"]] == made[3::-1][:3] and isinstance(first.data["next"], str)
    rest = await api.get(f"{REDEEM}?day={yesterday}&limit=3&cursor={first.data['next']}", token=manager)
    assert rest.status == 200, rest.data
    assert [i["id"] for i in rest.data["items"]] == [made[0]] and rest.data["next"] is None
    # Today's list, by default or named, is unchanged; the day before yesterday is empty.
    for url in (REDEEM, f"{REDEEM}?day={local_today().isoformat()}"):
        today = await api.get(url, token=manager)
        assert [i["id"] for i in today.data["items"]] == [made[4]], url
    older = (local_today() - timedelta(days=2)).isoformat()
    assert (await api.get(f"{REDEEM}?day={older}", token=manager)).data == {"items": [], "next": None}
    # Yesterday's row is refunded from that list.
    assert (await refund(api, manager, first.data["items"][0]["id"], 500)).status == 200


async def test_a_cashier_lists_only_today(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    mine = await redeem_now(api, scene, items(("drug", 1000)))
    await _move_to(engine, [mine.data["id"]], 1)
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    resp = await api.get(f"{REDEEM}?day={yesterday}", token=scene.cashier)
    refused(resp, 403, "manager_only_day")
    assert resp.data["error"]["message"] == "只有商家管理员可以查看其他日期的核销记录"
    today = await api.get(f"{REDEEM}?day={local_today().isoformat()}", token=scene.cashier)
    assert today.status == 200 and today.data["items"] == []


async def test_a_day_in_the_future_or_too_long_ago_is_refused(api, engine, running):
    scene = await counter(api, engine, running)
    manager = await join(api, engine, scene, "boss5.1", role="manager", store_id=scene.store_id)
    today = local_today()
    oldest = (today - timedelta(days=366)).isoformat()
    assert (await api.get(f"{REDEEM}?day={oldest}", token=manager)).status == 200
    for day, reason in (((today + timedelta(days=1)).isoformat(), "day 不能晚于今天"),
                        ((today - timedelta(days=367)).isoformat(), "day 太早"),
                        ("2026-13-45", "day 格式不对"), ("yesterday", "day 格式不对")):
        resp = await api.get(f"{REDEEM}?day={day}", token=manager)
        refused(resp, 400, "invalid_query")
        assert resp.data["error"]["message"].startswith(reason), (day, resp.data)
        assert resp.data["error"]["details"][0]["field"] == "day"


# -- one redemption by its number (第 n 号) ---------------------------------------------------------------------

async def test_a_manager_looks_up_an_old_redemption_of_the_merchant_with_its_refunds(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    manager = await join(api, engine, scene, "boss6.1", role="manager", store_id=scene.store_id)
    red = await redeem_now(api, scene, items(("drug", 6000), ("other", 4000)))
    rid = red.data["id"]
    assert (await refund(api, manager, rid, 2500)).status == 200
    await _move_to(engine, [rid], 200)  # far beyond today, within the list's reach
    found = await api.get(f"{REDEEM}/{rid}", token=manager)
    assert found.status == 200, found.data
    # Exactly an item of that day's list: the refund page uses one as the other.
    day = (local_today() - timedelta(days=200)).isoformat()
    listed = await api.get(f"{REDEEM}?day={day}", token=manager)
    assert listed.data["items"] == [found.data]
    assert found.data["refunded"]["amount"] == 2500 and found.data["status"] == "done"
    assert [line["category"] for line in found.data["lines"]] == ["drug", "other"]
    # Older than the list reaches: still found by its number.
    await _move_to(engine, [rid], 400)
    again = await api.get(f"{REDEEM}/{rid}", token=manager)
    assert again.status == 200 and again.data["id"] == rid and again.data["refunded"]["amount"] == 2500


async def test_a_cashier_looks_up_only_their_own_of_today(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    colleague = await join(api, engine, scene, "colleague2.1")
    mine = await redeem_now(api, scene, items(("drug", 1000)))
    theirs = await redeem_now(api, scene, items(("drug", 2000)), cashier=colleague)
    older = await redeem_now(api, scene, items(("drug", 3000)))
    await _move_to(engine, [older.data["id"]], 1)
    found = await api.get(f"{REDEEM}/{mine.data['id']}", token=scene.cashier)
    assert found.status == 200, found.data
    assert (await api.get(REDEEM, token=scene.cashier)).data["items"] == [found.data]
    gone = await api.get(f"{REDEEM}/999999", token=scene.cashier)
    refused(gone, 404, "redemption_not_found")
    # A colleague's and yesterday's own answer exactly like a missing one.
    for rid in (theirs.data["id"], older.data["id"]):
        resp = await api.get(f"{REDEEM}/{rid}", token=scene.cashier)
        refused(resp, 404, "redemption_not_found")
        assert resp.data["error"]["message"] == gone.data["error"]["message"] == "找不到该核销记录"
    # The colleague sees theirs.
    assert (await api.get(f"{REDEEM}/{theirs.data['id']}", token=colleague)).status == 200


async def test_a_lookup_outside_the_merchant_or_by_a_worker_is_refused(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    _, their_manager = await other_merchant(api, engine, scene, "rival2.1", role="manager", name="大参林")
    mine = await redeem_now(api, scene, items(("drug", 1000)))
    far = await api.get(f"{REDEEM}/{mine.data['id']}", token=their_manager)
    gone = await api.get(f"{REDEEM}/987654321", token=their_manager)
    refused(far, 404, "redemption_not_found")
    refused(gone, 404, "redemption_not_found")
    assert far.data["error"]["message"] == gone.data["error"]["message"]
    # A worker is no cashier: refused as every counter route refuses them, before any lookup.
    refused(await api.get(f"{REDEEM}/{mine.data['id']}", token=scene.worker), 403, "not_cashier")
    refused(await api.get(f"{REDEEM}/{mine.data['id']}"), 401, "unauthorized")
    # Only digits name a redemption: anything else is no route at all.
    for path in ("abc", "12a", "-1", "1.0"):
        resp = await api.get(f"{REDEEM}/{path}", token=scene.cashier, validate=False)
        assert resp.status == 404, (path, resp.status)
