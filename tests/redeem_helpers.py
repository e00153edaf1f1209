"""Builders for redemption tests: programmes from the presets, difficult workers, more cashiers and
workers, scans and redemptions over HTTP, and the ledger read back from the database."""
from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from models.cards.tables import cards
from models.core.actors import SYSTEM
from models.core.clock import utcnow
from models.core.tables import notifications
from models.counter.tables import redemption_usage, redemptions, refunds
from models.members.tables import hardship_records
from models.partners import invites
from models.partners import partnership as merchants
from models.partners import programmes as benefits
from models.partners.tables import quota_usage
from tests.factories import Counter, id_number, import_rows

REDEEM = "/api/v1/merchant/redemptions"
SCAN = "/api/v1/merchant/scan"
SHANGHAI = ZoneInfo("Asia/Shanghai")
FOREVER = {"valid_from": "2020-01-01", "valid_to": "2099-12-31"}


def local_today() -> date:
    """Today in Asia/Shanghai, worked out here rather than by the code under test."""
    return datetime.now(SHANGHAI).date()


#: How long before midnight in Beijing a test reading the calendar waits for the new day instead.
MIDNIGHT_MARGIN = 60.0


@pytest.fixture
async def clear_of_midnight() -> None:
    """Start the test well inside one Beijing day.

    The service reads the calendar (period keys, the settlement month, a cashier's same-day void,
    today's list) when a request arrives; the test reads it too, a moment earlier or later. Across
    midnight in Beijing (16:00 UTC) and above all at a month's end, the two would name different
    days: so a test starting in the last ``MIDNIGHT_MARGIN`` seconds of a day waits for the next.
    """
    now = datetime.now(SHANGHAI)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), SHANGHAI)
    left = (midnight - now).total_seconds()
    if left < MIDNIGHT_MARGIN:
        await asyncio.sleep(left + 1)


def month_key(day: date | None = None) -> str:
    day = day or local_today()
    return f"{day.year:04d}-{day.month:02d}"


def year_key(day: date | None = None) -> str:
    return f"{(day or local_today()).year:04d}"


def new_key() -> str:
    return "k-" + uuid.uuid4().hex


def refused(resp: Any, status: int, code: str) -> None:
    assert (resp.status, resp.error_code) == (status, code), (resp.status, resp.data)
    assert resp.data["error"]["message"] and resp.data["error"]["request_id"]


async def add_program(engine: Any, scene: Counter, preset: str | None, *, merchant_ids: list[int] | None = None,
                      **overrides: Any) -> int:
    """A programme of the county union (from a preset, with overrides), honoured by the scene's merchant."""
    data: dict[str, Any] = {**FOREVER, **overrides}
    if preset:
        data["preset"] = preset
    async with engine.begin() as conn:
        program = await benefits.create(conn, scene.admin, scene.tree["K01"].id, benefits.ProgramDraft.of(data))
        await benefits.set_merchants(conn, scene.admin, program.id, merchant_ids or [scene.merchant_id])
    return program.id


_STAFF_SEQ = iter(range(1, 10_000))


async def make_difficult(engine: Any, scene: Counter, member_id: int | None = None, *, category: str = "deep",
                         status: str = "active", valid_from: date | None = None,
                         valid_to: date | None = None) -> int:
    """A hardship record for the member, inserted directly (its verifier is a real staff row)."""
    from models.identity import staff_accounts as staff
    from server.passwords import ARGON2

    async with engine.begin() as conn:
        verifier = (await conn.execute(sa.text("SELECT id FROM staff ORDER BY id LIMIT 1"))).scalar()
        if verifier is None:
            verifier = (await staff.create(conn, SYSTEM, hasher=ARGON2, username=f"clerk{next(_STAFF_SEQ)}",
                                           password="Correct-Horse-42", roles=["station"], org_code="S01")).id
        today = local_today()
        result = await conn.execute(hardship_records.insert().values(
            member_id=member_id or scene.member_id, org_id=scene.tree["G01"].id, category=category,
            proposed_category=category, causes="illness", household_size=3, household_income=90_000,
            per_capita_income=30_000, valid_from=valid_from or today - timedelta(days=30),
            valid_to=valid_to or today + timedelta(days=300), status=status, verified_by=verifier,
            verification_method="home_visit", created_at=utcnow()))
        return int(result.inserted_primary_key[0])


async def join(api: Any, engine: Any, scene: Counter, code: str, *, role: str = "cashier",
               merchant_id: int | None = None, store_id: int | None = None) -> str:
    """Another WeChat user bound to a merchant (the scene's by default) through an invite over HTTP."""
    merchant_id = merchant_id or scene.merchant_id
    if role == "cashier" and store_id is None:
        store_id = scene.store_id
    async with engine.begin() as conn:
        invite = await invites.create(conn, scene.cipher, scene.admin, merchant_id, role=role, store_id=store_id)
    token = await api.login(code)
    joined = await api.post("/api/v1/merchant/bind", {"invite_code": invite.code}, token=token)
    assert joined.status == 200, joined.data
    return str(token)


async def other_merchant(api: Any, engine: Any, scene: Counter, code: str, *, role: str = "cashier",
                         name: str = "益丰大药房") -> tuple[int, str]:
    """A second partner merchant with one store, and a user bound to it."""
    async with engine.begin() as conn:
        m = await merchants.create(conn, scene.admin, name=name, type="pharmacy", org_id=scene.tree["K01"].id,
                                   agreement_from=date(2020, 1, 1), agreement_to=date(2099, 12, 31))
        store = await merchants.add_store(conn, scene.admin, m.id, name="西湖店", address="西湖路 2 号")
    return m.id, await join(api, engine, scene, code, role=role, merchant_id=m.id, store_id=store["id"])


@dataclass
class Worker:
    token: str
    member_id: int
    card_id: int
    user_id: int


async def add_worker(api: Any, engine: Any, running: Any, scene: Counter, seq: int, name: str, code: str) -> Worker:
    """One more member of the grassroots union, bound on the phone, with a card."""
    async with engine.begin() as conn:
        await import_rows(conn, running.settings["cipher"], scene.tree["G01"], [(name, id_number(seq), "")])
    token = await api.login(code)
    bound = await api.post("/api/v1/me/bind", {"name": name, "id_number": id_number(seq)}, token=token)
    assert bound.status == 200, bound.data
    card = await api.get("/api/v1/me/card", token=token)
    assert card.status == 200, card.data
    me = await api.get("/api/v1/me", token=token)
    return Worker(token, bound.data["member"]["id"], card.data["id"], me.data["user"]["id"])


async def scan(api: Any, worker: str, cashier: str) -> str:
    """The worker shows a fresh code, the cashier scans it: the scan id."""
    qr = await api.get("/api/v1/me/card/qr", token=worker)
    assert qr.status == 200, qr.data
    resp = await api.post(SCAN, {"qr": qr.data["token"]}, token=cashier)
    assert resp.status == 200, resp.data
    return str(resp.data["scan_id"])


async def scan_signed(api: Any, running: Any, engine: Any, card_id: int, cashier: str) -> str:
    """A scan of a code signed here (as the phone would get it), without a round trip to the phone."""
    async with engine.connect() as conn:
        version = (await conn.execute(sa.select(cards.c.version).where(cards.c.id == card_id))).scalar_one()
    token = running.settings["signer"].sign(card_id, version, int(time.time()))
    resp = await api.post(SCAN, {"qr": token}, token=cashier)
    assert resp.status == 200, resp.data
    return str(resp.data["scan_id"])


def items(*lines: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"category": c, "amount": a} for c, a in lines]


async def redeem(api: Any, cashier: str, scan_id: str, bill: list[dict[str, Any]], *, key: str | None = None,
                 validate: bool = True) -> Any:
    return await api.post(REDEEM, {"scan_id": scan_id, "items": bill}, token=cashier,
                          headers={"Idempotency-Key": key or new_key()}, validate=validate)


async def redeem_now(api: Any, scene: Counter, bill: list[dict[str, Any]], *, cashier: str | None = None,
                     worker: str | None = None) -> Any:
    """Show, scan and redeem in one go."""
    cashier = cashier or scene.cashier
    return await redeem(api, cashier, await scan(api, worker or scene.worker, cashier), bill)


async def void(api: Any, token: str, redemption_id: int, reason: str | None = None, **kw: Any) -> Any:
    body = {"reason": reason} if reason is not None else {}
    return await api.post(f"{REDEEM}/{redemption_id}/void", body, token=token, **kw)


async def refund(api: Any, token: str, redemption_id: int, amount: int, *, key: str | None = None,
                 reason: str = "退货", **kw: Any) -> Any:
    return await api.post(f"{REDEEM}/{redemption_id}/refunds", {"amount": amount, "reason": reason}, token=token,
                          headers={"Idempotency-Key": key or new_key()}, **kw)


# -- the ledger, read straight from the database ----------------------------------


async def usage_of(engine: Any, member_id: int, program_id: int, key: str | None = None) -> tuple[int, int]:
    """(money_used, count_used) of a programme for a member in a period (all periods summed when None)."""
    query = sa.select(sa.func.coalesce(sa.func.sum(quota_usage.c.money_used), 0),
                      sa.func.coalesce(sa.func.sum(quota_usage.c.count_used), 0)).where(
        quota_usage.c.member_id == member_id, quota_usage.c.program_id == program_id)
    if key is not None:
        query = query.where(quota_usage.c.period_key == key)
    async with engine.connect() as conn:
        money, count = (await conn.execute(query)).one()
    return int(money), int(count)


async def count_rows(engine: Any, table: Any, *where: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))).scalar_one())


async def redemption_row(engine: Any, redemption_id: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(redemptions).where(redemptions.c.id == redemption_id))).one()


async def usage_rows(engine: Any, redemption_id: int) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(redemption_usage).where(
            redemption_usage.c.redemption_id == redemption_id).order_by(redemption_usage.c.program_id))).all())


async def refund_rows(engine: Any, redemption_id: int) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(refunds).where(refunds.c.redemption_id == redemption_id)
                                        .order_by(refunds.c.id))).all())


async def notices(engine: Any, user_id: int) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(notifications).where(notifications.c.user_id == user_id)
                                        .order_by(notifications.c.id))).all())


async def check_ledger(engine: Any, grants: dict[tuple[int, int], int | None],
                       counts: dict[tuple[int, int], int | None] | None = None) -> None:
    """For every (member, programme): what is left plus what stays spent is the grant; the usage row is the sum of
    what its redemptions still hold; and every redemption's figures add up. Nothing negative anywhere."""
    async with engine.connect() as conn:
        usage = (await conn.execute(sa.select(quota_usage))).all()
        ru = (await conn.execute(sa.select(redemption_usage, redemptions.c.member_id, redemptions.c.status)
                                 .join(redemptions, redemptions.c.id == redemption_usage.c.redemption_id))).all()
        reds = (await conn.execute(sa.select(redemptions))).all()
        refs = (await conn.execute(sa.select(refunds))).all()
    for row in usage:
        assert row.money_used >= 0 and row.count_used >= 0, row
    for row in ru:
        assert 0 <= row.money_returned <= row.money and 0 <= row.count_returned <= row.count, row
        if row.status == "void":
            assert (row.money_returned, row.count_returned) == (row.money, row.count), row
    for (member_id, program_id), grant in grants.items():
        mine = [r for r in ru if r.member_id == member_id and r.program_id == program_id]
        held = sum(r.money - r.money_returned for r in mine if r.status != "void")
        held_count = sum(r.count - r.count_returned for r in mine if r.status != "void")
        rows = [u for u in usage if u.member_id == member_id and u.program_id == program_id]
        used = sum(u.money_used for u in rows)
        used_count = sum(u.count_used for u in rows)
        assert used == sum(r.money - r.money_returned for r in mine), (member_id, program_id)
        assert used_count == sum(r.count - r.count_returned for r in mine), (member_id, program_id)
        assert used == held and used_count == held_count, (member_id, program_id)
        if grant is not None:
            assert 0 <= used <= grant and (grant - used) + held == grant, (member_id, program_id, used, grant)
        cap = (counts or {}).get((member_id, program_id))
        if cap is not None:
            assert 0 <= used_count <= cap, (member_id, program_id, used_count, cap)
    by_red: dict[int, list[Any]] = {}
    for f in refs:
        by_red.setdefault(f.redemption_id, []).append(f)
    for r in reds:
        assert r.union_share + r.merchant_share == r.discount and r.amount - r.discount == r.payable, r
        assert min(r.amount, r.discount, r.payable, r.union_share, r.merchant_share) >= 0, r
        mine_refs = by_red.get(r.id, [])
        assert r.refunded_amount == sum(f.amount for f in mine_refs), r
        assert r.refunded_discount == sum(f.discount for f in mine_refs), r
        assert r.refunded_union == sum(f.union_share for f in mine_refs), r
        assert r.refunded_merchant == sum(f.merchant_share for f in mine_refs), r
        for f in mine_refs:
            assert f.union_share + f.merchant_share == f.discount and min(f.discount, f.union_share,
                                                                          f.merchant_share) >= 0, f
        assert r.refunded_amount <= r.amount and r.refunded_discount <= r.discount, r
        assert r.refunded_union <= r.union_share and r.refunded_merchant <= r.merchant_share, r
        held = sum(x.money - x.money_returned for x in ru if x.redemption_id == r.id)
        if r.status == "void":
            assert not mine_refs and held == 0, r
        else:
            assert held == r.discount - r.refunded_discount, (r.id, held, r.discount, r.refunded_discount)
        if r.status == "refunded":
            assert (r.refunded_amount, r.refunded_discount, r.refunded_union) == (
                r.amount, r.discount, r.union_share), r
