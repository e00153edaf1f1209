"""Fifty approvals at once on one fund that covers only some of them, on MariaDB/MySQL: exactly as many
reserved as the balance allows, never overdrawn, the ledger proving the fund's sums.

SQLite serialises every writer (BEGIN IMMEDIATE), so the race can only be shown on a server with row locks.
"""
from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from models.core.errors import AppError
from models.funds import ledger, sources
from models.relief import reviewing
from server.crypto import PiiCipher, load_keyring
from tests.factories import org_tree
from tests.relief_helpers import at_approval, fund, staff, worker

APPLICATIONS = 50
AMOUNT = 100_000
BUDGET = 23 * AMOUNT + 50_000  # covers 23 of them, and half of another
NAMES = [a + b + "明" for a in "王李张刘陈杨赵黄周吴" for b in "伟芳娜敏静"]


@pytest.fixture
def mysql_only(backend: str) -> None:
    if backend != "mysql":
        pytest.skip("row-lock races need MariaDB/MySQL: SQLite runs one writer at a time")


async def test_fifty_concurrent_approvals_reserve_exactly_what_the_fund_holds(engine, config, mysql_only):
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        approver = await staff(conn, "approver.race", "K01", "approver")
        fund_id = await fund(conn, await staff(conn, "finance.race", "K01", "finance"), "K01", BUDGET)
        apps = []
        for i in range(APPLICATIONS):
            member_id, user_id = await worker(conn, cipher, tree["G01"], 200 + i, name=NAMES[i])
            apps.append(await at_approval(conn, cipher, member_id, user_id, tree["G01"], proposed=AMOUNT))
    body = reviewing.Decision.of({"step": "approval", "decision": "pass", "amount": AMOUNT, "fund_id": fund_id})

    async def approve(app_id: int) -> str:
        try:
            async with engine.begin() as conn:
                await reviewing.decide(conn, cipher, approver, app_id, body)
            return "passed"
        except AppError as refused:
            return refused.code

    outcomes = Counter(await asyncio.gather(*(approve(a) for a in apps)))
    assert outcomes == {"passed": 23, "fund_insufficient": APPLICATIONS - 23}, outcomes
    async with engine.begin() as conn:
        f = await sources.get(conn, fund_id)
        assert (f.reserved, f.spent, f.balance) == (23 * AMOUNT, 0, 50_000)
        assert await ledger.sums(conn, fund_id) == {"income": BUDGET, "reserved": 23 * AMOUNT, "spent": 0}
        held = [await ledger.held(conn, a) for a in apps]
        assert sum(1 for h in held if h is not None) == 23
