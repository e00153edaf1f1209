"""The console's money and register scenes: merchants with last month's redemptions (one the union pays,
one whose refunds make the merchant owe the union, one in the other county), more finance clerks, income
lines and members for the difficult-worker register."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.core.clock import local_today
from models.counter.tables import redemptions, refunds
from models.identity import staff_accounts
from models.members import hardship, hardship_review
from models.members.tables import hardship_records, members
from models.partners import partnership
from server.passwords import ARGON2
from tests.console.scene import PASSWORD, Scene, actor_of
from tests.factories import id_number, import_rows


def month_of(day: date) -> str:
    return day.strftime("%Y-%m")


def last_month() -> str:
    return month_of(local_today().replace(day=1) - timedelta(days=1))


def month_before_last() -> str:
    return month_of((local_today().replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1))


@dataclass
class Money:
    """Merchants of the scene: ``pays`` (the union owes it 85.01), ``owes`` (refunds: it owes the union 50.00),
    ``elsewhere`` (in the other county); the month they are settled for."""

    pays: int
    owes: int
    elsewhere: int
    month: str


async def more_finance(engine: Any, *names: str) -> None:
    async with engine.begin() as conn:
        for name in names:
            await staff_accounts.create(conn, SYSTEM, hasher=ARGON2, username=name, password=PASSWORD,
                                        roles=["finance"], org_code="K01", display_name=f"{name}的名字")


async def money_scene(running: Any, engine: Any, scene: Scene) -> Money:
    await more_finance(engine, "finance2", "finance3")
    admin = actor_of(scene.staff["admin1"])
    month, before = last_month(), month_before_last()
    async with engine.begin() as conn:
        await import_rows(conn, running.settings["cipher"], scene.tree["G01"],
                          [("孙买药", id_number(81), "13800000081")])
        member_id = int((await conn.execute(sa.select(members.c.id).order_by(members.c.id.desc()).limit(1)))
                        .scalar_one())
        made = {}
        for key, name, org in (("pays", "老百姓大药房", "K01"), ("owes", "湘雅/便民超市", "K01"),
                               ("elsewhere", "天心书店", "K02")):
            m = await partnership.create(conn, admin, name=name, type="pharmacy", org_id=scene.tree[org].id,
                                         agreement_from=date(2020, 1, 1), agreement_to=date(2099, 12, 31))
            store = await partnership.add_store(conn, admin, m.id, name="东湖店", address="东湖路 1 号")
            made[key] = (m.id, store["id"])
        at = datetime.now(timezone.utc) - timedelta(days=40)
        await _redemption(conn, made["pays"], member_id, month, at, 10001, 8501, "s-pays")
        await _redemption(conn, made["elsewhere"], member_id, month, at, 2000, 1000, "s-else")
        earlier = await _redemption(conn, made["owes"], member_id, before, at - timedelta(days=30), 6000, 5000,
                                    "s-owes")
        await conn.execute(refunds.insert().values(redemption_id=earlier, amount=6000, discount=6000, union_share=5000,
                                                   merchant_share=1000, month=month, reason="退货",
                                                   created_by="cashier", created_at=at))
    return Money(made["pays"][0], made["owes"][0], made["elsewhere"][0], month)


async def _redemption(conn: Any, merchant: tuple[int, int], member_id: int, month: str, at: datetime, amount: int,
                      union: int, scan: str) -> int:
    result = await conn.execute(redemptions.insert().values(
        merchant_id=merchant[0], store_id=merchant[1], cashier_id=1, card_id=0, member_id=member_id, scan_id=scan,
        amount=amount, discount=amount, payable=0, union_share=union, merchant_share=amount - union,
        refunded_amount=0, refunded_discount=0, refunded_union=0, refunded_merchant=0, lines=json.dumps([]),
        status="done", month=month, created_at=at))
    return int(result.inserted_primary_key[0])


@dataclass
class Register:
    """Members of the register scene: ``fresh`` (no record), ``pending`` (entered by the station, waiting),
    ``due`` (active, ending in 10 days), ``expired`` (active, ended yesterday); the records' ids."""

    fresh: int
    pending_member: int
    due_member: int
    expired_member: int
    pending: int
    due: int
    expired: int


def person(income: int, name: str = "王大明", relation: str = "本人") -> list[hardship.HouseholdEntry]:
    return [hardship.HouseholdEntry(relation=relation, name=name, age=45, health="慢性病", work="下岗",
                                    monthly_income=income)]


async def register_scene(running: Any, engine: Any, scene: Scene) -> Register:
    cipher = running.settings["cipher"]
    station, reviewer = actor_of(scene.staff["station1"]), actor_of(scene.staff["reviewer1"])
    today = local_today()
    async with engine.begin() as conn:
        await hardship.set_income_lines(conn, actor_of(scene.staff["admin1"]), "C01", 50_000, 80_000)
        await import_rows(conn, cipher, scene.tree["G01"], [
            ("王大明", id_number(71), "13800000071"), ("李小红", id_number(72), "13800000072"),
            ("赵长生", id_number(73), "13800000073"), ("钱多多", id_number(74), "13800000074")])
        ids = list((await conn.execute(sa.select(members.c.id).order_by(members.c.id))).scalars())[-4:]

        def entry(income: int, **kw: Any) -> hardship.HardshipEntry:
            return hardship.HardshipEntry(household=person(income), causes=["illness"],
                                          verification_method="home_visit", visit_note="入户核查", **kw)

        pending = await hardship.enter(conn, cipher, station, ids[1], entry(30_000, category="relative",
                                                                           category_reason="子女上学开支大"))
        due = await hardship.enter(conn, cipher, station, ids[2], entry(40_000,
                                   valid_from=today - timedelta(days=355), valid_to=today + timedelta(days=10)))
        await hardship_review.confirm(conn, reviewer, due.id)
        expired = await hardship.enter(conn, cipher, station, ids[3], entry(45_000,
                                       valid_from=today - timedelta(days=300), valid_to=today + timedelta(days=5)))
        await hardship_review.confirm(conn, reviewer, expired.id)
        await conn.execute(hardship_records.update().where(hardship_records.c.id == expired.id)
                           .values(valid_to=today - timedelta(days=1)))
    return Register(ids[0], ids[1], ids[2], ids[3], pending.id, due.id, expired.id)
