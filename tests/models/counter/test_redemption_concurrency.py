"""Redemptions, voids and refunds racing each other on MariaDB/MySQL, over real HTTP.

(a) fifty redemptions fired together at the last 100 yuan of one card's money quota take exactly 100 yuan;
(b) a bank-style check: random redemptions, voids and refunds on several cards in parallel, then every fen of
every quota is accounted for.

SQLite serialises every writer (BEGIN IMMEDIATE), so these races can only be shown on a server with row locks.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from models.counter.tables import redemption_usage, redemptions
from models.partners.tables import quota_usage
from tests.factories import counter
from tests.redeem_helpers import (
    add_program,
    add_worker,
    check_ledger,
    clear_of_midnight,  # noqa: F401 - the fixture, for pytestmark
    count_rows,
    items,
    join,
    redeem,
    refund,
    scan_signed,
    usage_of,
    void,
    year_key,
)

BUDGET = 30.0  # seconds, for the part that races
# The quota rows are keyed by this year, read here and by the service: not across New Year in Beijing.
pytestmark = pytest.mark.usefixtures("clear_of_midnight")


@pytest.fixture
def mysql_only(backend: str) -> None:
    if backend != "mysql":
        pytest.skip("row-lock races need MariaDB/MySQL: SQLite runs one writer at a time")


def statuses(answers) -> Counter:
    return Counter((a.status, a.error_code) for a in answers)


async def last_100_yuan(api, engine, running, *, used_before: int | None):
    """A card with a 500-yuan drug card; ``used_before`` fen of it already spent this year (None: no usage row)."""
    scene = await counter(api, engine, running)
    quota = 50000 if used_before is not None else 10000
    pid = await add_program(engine, scene, "pharmacy_drug_card", eligibility="all_members", hardship_categories=[],
                            money_quota=quota)
    if used_before is not None:
        async with engine.begin() as conn:
            await conn.execute(quota_usage.insert().values(program_id=pid, member_id=scene.member_id,
                                                           period_key=year_key(), money_used=used_before,
                                                           count_used=7))
    tills = [scene.cashier] + [await join(api, engine, scene, f"till{n}.1") for n in range(4)]
    scans = [(tills[n % len(tills)], await scan_signed(api, running, engine, scene.card_id, tills[n % len(tills)]))
             for n in range(50)]
    return scene, pid, quota, scans


@pytest.mark.parametrize("used_before", [40000, None], ids=["row-exists", "first-use"])
async def test_fifty_redemptions_race_for_the_last_100_yuan(api, engine, running, mysql_only, used_before):
    scene, pid, quota, scans = await last_100_yuan(api, engine, running, used_before=used_before)
    started = time.monotonic()
    answers = await asyncio.gather(*[redeem(api, till, scan_id, items(("drug", 300)))
                                     for till, scan_id in scans])
    assert time.monotonic() - started < BUDGET
    # 100 yuan / 3 yuan: 33 bills in full, one gets the last 1.00 yuan, the other 16 get nothing.
    assert statuses(answers) == Counter({(200, None): 34, (422, "no_benefit"): 16}), statuses(answers)
    discounts = sorted(a.data["discount"] for a in answers if a.status == 200)
    assert discounts == [100] + [300] * 33
    partial = next(a for a in answers if a.status == 200 and a.data["discount"] == 100)
    assert (partial.data["payable"], partial.data["union_share"], partial.data["merchant_share"]) == (200, 85, 15)
    assert partial.data["lines"][0]["reason"] == "药品卡内补贴 100%（受本期额度限制）"
    assert await usage_of(engine, scene.member_id, pid, year_key()) == (quota, (7 if used_before else 0) + 34)
    async with engine.connect() as conn:
        taken = (await conn.execute(sa.select(sa.func.sum(redemption_usage.c.money)))).scalar_one()
        total = (await conn.execute(sa.select(sa.func.sum(redemptions.c.discount)))).scalar_one()
    assert taken == total == 10000
    assert await count_rows(engine, redemptions) == 34
    # With no earlier use, the usage row is exactly what the redemptions hold (the seeded 400 yuan has none).
    await check_ledger(engine, {(scene.member_id, pid): quota} if used_before is None else {})


async def test_bank_check_random_redemptions_voids_and_refunds_in_parallel(api, engine, running, mysql_only):
    rng = random.Random(20261125)
    scene = await counter(api, engine, running)
    card = await add_program(engine, scene, "pharmacy_drug_card", eligibility="all_members", hardship_categories=[],
                             money_quota=20000)
    disc = await add_program(engine, scene, "discount_pharmacy", categories=["other"], count_quota=6,
                             per_txn_cap=300)
    workers = [(scene.member_id, scene.card_id)]
    for n, name in enumerate(["李建国", "赵淑芬", "刘德明"]):
        w = await add_worker(api, engine, running, scene, 30 + n, name, f"member{n}.1")
        workers.append((w.member_id, w.card_id))
    tills = [scene.cashier, await join(api, engine, scene, "till0.1"), await join(api, engine, scene, "till1.1")]
    manager = await join(api, engine, scene, "boss.1", role="manager")

    def bill():
        lines = [("drug", rng.randint(100, 4000))]
        if rng.random() < 0.6:
            lines.append(("other", rng.randint(100, 3000)))
        return items(*lines)

    # Seed: a few redemptions per card, one at a time, for the voids and refunds to work on.
    seeds: list[tuple[int, int, str]] = []  # (redemption id, amount, till)
    for member_id, card_id in workers:
        for _ in range(3):
            till = rng.choice(tills)
            resp = await redeem(api, till, await scan_signed(api, running, engine, card_id, till), bill())
            assert resp.status == 200, resp.data
            seeds.append((resp.data["id"], resp.data["amount"], till))
    # The race: 60 redemptions on fresh scans, 20 voids and 20 refunds of the seeds, shuffled together.
    ops = []
    for n in range(60):
        _, card_id = workers[n % len(workers)]
        till = rng.choice(tills)
        ops.append(("redeem", redeem(api, till, await scan_signed(api, running, engine, card_id, till), bill())))
    for _ in range(20):
        rid, _, till = rng.choice(seeds)
        ops.append(("void", void(api, rng.choice([till, manager]), rid, "并发撤销")))
    for _ in range(20):
        rid, amount, _ = rng.choice(seeds)
        ops.append(("refund", refund(api, manager, rid, rng.randint(1, max(1, amount // 2)))))
    rng.shuffle(ops)
    started = time.monotonic()
    answers = await asyncio.gather(*[coro for _, coro in ops])
    assert time.monotonic() - started < BUDGET
    allowed = {
        "redeem": {(200, None), (422, "no_benefit")},
        "void": {(200, None), (409, "already_refunded")},
        "refund": {(200, None), (409, "redemption_void"), (400, "refund_amount")},
    }
    seen: dict[str, Counter] = {}
    for (kind, _), answer in zip(ops, answers):
        seen.setdefault(kind, Counter())[(answer.status, answer.error_code)] += 1
        assert (answer.status, answer.error_code) in allowed[kind], (kind, answer.status, answer.data)
    assert all(seen[k][(200, None)] for k in allowed), seen  # each kind happened at least once
    made = [a.data["id"] for (kind, _), a in zip(ops, answers) if kind == "redeem" and a.status == 200]
    assert await count_rows(engine, redemptions) == len(seeds) + len(made)
    grants = {}
    counts = {}
    for member_id, _ in workers:
        grants[(member_id, card)] = 20000
        grants[(member_id, disc)] = None
        counts[(member_id, disc)] = 6
    await check_ledger(engine, grants, counts)
