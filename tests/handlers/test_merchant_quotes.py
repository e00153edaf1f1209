"""The counter's quote (POST /merchant/quotes) and the cashier's own place (GET /merchant/me).

A quote is what the redemption that follows will answer, to the fen and line by line; it spends
nothing (no quota, no usage row, the scan stays open) and refuses what a redemption refuses.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.core.clock import utcnow
from models.counter.tables import redemptions, scan_sessions
from models.partners.tables import quota_usage
from tests.factories import counter
from tests.redeem_helpers import (
    add_program,
    clear_of_midnight,  # noqa: F401 - the fixture, for pytestmark
    count_rows,
    items,
    join,
    make_difficult,
    other_merchant,
    redeem,
    refused,
    scan,
    usage_of,
    year_key,
)

pytestmark = pytest.mark.usefixtures("clear_of_midnight")

QUOTES = "/api/v1/merchant/quotes"
ME = "/api/v1/merchant/me"
FIGURES = ("amount", "discount", "payable", "union_share", "merchant_share")


async def quote(api, cashier: str, scan_id: str, bill: list[dict], **kw):
    return await api.post(QUOTES, {"scan_id": scan_id, "items": bill}, token=cashier, **kw)


def same_figures(a: dict, b: dict) -> None:
    assert {k: a[k] for k in FIGURES} == {k: b[k] for k in FIGURES}
    assert a["lines"] == b["lines"]


async def scan_used(engine, scan_id: str) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(scan_sessions.c.used_at).where(
            scan_sessions.c.id == scan_id))).scalar_one() is not None


async def test_a_quote_is_the_redemption_that_follows_and_spends_nothing(api, engine, running):
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "pharmacy_drug_card")
    await make_difficult(engine, scene)
    scan_id = await scan(api, scene.worker, scene.cashier)
    bill = items(("drug", 1001), ("drug", 2002), ("other", 999))
    first = await quote(api, scene.cashier, scan_id, bill)
    assert first.status == 200, first.data
    # The union's 85 % of 30.03 yuan of drugs = 25.53, the pharmacy 4.50 (as the redemption tests work out).
    assert tuple(first.data[k] for k in FIGURES) == (4002, 3003, 999, 2553, 450)
    assert [ln["reason"] for ln in first.data["lines"]] == ["药品卡内补贴 100%", "药品卡内补贴 100%", "不在优惠范围"]
    # Nothing taken, nothing written, the scan still open: a second quote answers the same.
    assert await usage_of(engine, scene.member_id, pid) == (0, 0)
    assert await count_rows(engine, quota_usage) == 0
    assert await count_rows(engine, redemptions) == 0
    assert not await scan_used(engine, scan_id)
    second = await quote(api, scene.cashier, scan_id, bill)
    assert second.status == 200 and second.data == first.data
    done = await redeem(api, scene.cashier, scan_id, bill)
    assert done.status == 200, done.data
    same_figures(first.data, done.data)
    assert await usage_of(engine, scene.member_id, pid, year_key()) == (3003, 1)


async def test_a_quote_follows_the_quota_left(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "pharmacy_drug_card")  # 500 yuan a year
    await make_difficult(engine, scene)
    big = items(("drug", 45000))
    done = await redeem(api, scene.cashier, await scan(api, scene.worker, scene.cashier), big)
    assert done.status == 200 and done.data["discount"] == 45000, done.data
    scan_id = await scan(api, scene.worker, scene.cashier)
    # 50 yuan left of the year's quota: the quote says so, and the redemption gives exactly that.
    asked = await quote(api, scene.cashier, scan_id, big)
    assert asked.status == 200, asked.data
    assert asked.data["discount"] == 5000 and "受本期额度限制" in asked.data["lines"][0]["reason"]
    again = await redeem(api, scene.cashier, scan_id, big)
    assert again.status == 200, again.data
    same_figures(asked.data, again.data)


async def test_a_quote_refuses_what_a_redemption_refuses(api, engine, running):
    scene = await counter(api, engine, running)
    colleague = await join(api, engine, scene, "colleague.1")
    _, stranger = await other_merchant(api, engine, scene, "stranger.1")
    scan_id = await scan(api, scene.worker, scene.cashier)
    # No programme yet: nothing to give, with the lines' reasons; the scan is not spent by asking.
    nothing = await quote(api, scene.cashier, scan_id, items(("drug", 1000)))
    refused(nothing, 422, "no_benefit")
    assert nothing.data["error"]["details"][0]["reason"] == "不在优惠范围"
    assert not await scan_used(engine, scan_id)
    await add_program(engine, scene, "discount_pharmacy")
    # Only the cashier who scanned may use the scan.
    refused(await quote(api, colleague, scan_id, items(("drug", 1000))), 404, "scan_not_found")
    refused(await quote(api, stranger, scan_id, items(("drug", 1000))), 404, "scan_not_found")
    refused(await quote(api, scene.cashier, "x" * 24, items(("drug", 1000))), 404, "scan_not_found")
    # A bill the rules cannot price.
    refused(await quote(api, scene.cashier, scan_id, items(("caviar", 1000))), 400, "unknown_category")
    # A worker is no cashier.
    refused(await quote(api, scene.worker, scan_id, items(("drug", 1000))), 403, "not_cashier")
    # Once redeemed, the scan is spent for the quote too.
    assert (await redeem(api, scene.cashier, scan_id, items(("drug", 1000)))).status == 200
    refused(await quote(api, scene.cashier, scan_id, items(("drug", 1000))), 409, "qr_used")


async def test_an_expired_scan_cannot_be_quoted(api, engine, running):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "discount_pharmacy")
    scan_id = await scan(api, scene.worker, scene.cashier)
    async with engine.begin() as conn:
        await conn.execute(scan_sessions.update().where(scan_sessions.c.id == scan_id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
    refused(await quote(api, scene.cashier, scan_id, items(("drug", 1000))), 422, "scan_expired")
    refused(await redeem(api, scene.cashier, scan_id, items(("drug", 1000))), 422, "scan_expired")


async def test_me_says_who_the_caller_is_at_the_counter(api, engine, running):
    scene = await counter(api, engine, running)
    cashier = await api.get(ME, token=scene.cashier)
    assert cashier.status == 200, cashier.data
    assert cashier.data == {"merchant": {"id": scene.merchant_id, "name": "老百姓大药房"},
                            "store": {"id": scene.store_id, "name": "东湖店"}, "role": "cashier",
                            "stores": [{"id": scene.store_id, "name": "东湖店"}]}
    manager = await api.get(ME, token=await join(api, engine, scene, "manager.1", role="manager"))
    assert manager.status == 200, manager.data
    assert manager.data["role"] == "manager" and manager.data["store"] is None
    assert manager.data["stores"] == [{"id": scene.store_id, "name": "东湖店"}]
    refused(await api.get(ME, token=scene.worker), 403, "not_cashier")
    refused(await api.get(ME, token=await api.login("visitor.1")), 403, "not_cashier")
    assert (await api.get(ME)).status == 401
