"""Monthly settlement statements against a database connection: rows, totals, lifecycle, scope, exports."""
from __future__ import annotations

import csv
import io
import random
import re
import time
import types
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import openpyxl.packaging.core
import openpyxl.writer.excel
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from models.cards.tables import cards
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, local_today, utcnow
from models.core.errors import Conflict, Forbidden, Invalid, NotFound
from models.core.money import yuan
from models.core.tables import audit_log
from models.counter import settlement
from models.counter.tables import redemptions, refunds, statements
from models.members.tables import members
from models.partners.tables import merchants, stores
from tests.factories import org_tree, staff_actor
from tests.redeem_helpers import clear_of_midnight  # noqa: F401 - the fixture

UTC = timezone.utc


def local(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    """A Beijing wall-clock time, as the UTC moment stored in the database."""
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


def month_of(at: datetime) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m")


@dataclass
class Shop:
    merchant_id: int
    store_id: int
    card_id: int
    member_id: int


async def add_shop(conn, org_id: int, name: str, *, store: str = "东湖店", seq: int = 1) -> Shop:
    """A merchant signed at ``org_id`` with one store, and a member holding a card."""
    now = utcnow()
    merchant_id = (await conn.execute(merchants.insert().values(
        name=name, type="pharmacy", org_id=org_id, status="active", agreement_from=date(2020, 1, 1),
        agreement_to=date(2099, 12, 31), created_at=now, updated_at=now))).inserted_primary_key[0]
    store_id = (await conn.execute(stores.insert().values(
        merchant_id=merchant_id, name=store, address="东湖路 1 号", active=True, created_at=now))).inserted_primary_key[0]
    member_id = (await conn.execute(members.insert().values(
        name=f"会员{seq}", id_number_enc="x", id_number_bidx=uuid.uuid4().hex, id_last4="0000", gender="女",
        birth_date=date(1980, 1, 1), org_id=org_id, status="active", created_at=now,
        updated_at=now))).inserted_primary_key[0]
    card_id = (await conn.execute(cards.insert().values(
        card_no=f"80000000000{seq:01d}{1230 + seq:04d}"[-16:], member_id=member_id, live_member_id=member_id,
        org_id=org_id, version=1, status="active", issued_at=now, updated_at=now))).inserted_primary_key[0]
    return Shop(merchant_id, store_id, card_id, member_id)


async def add_redemption(conn, shop: Shop, at: datetime, amount: int, discount: int, union: int, *,
                         status: str = "done", store_id: int | None = None) -> int:
    """A redemption as the counter records it: settlement month from the Beijing date of ``at``."""
    return int((await conn.execute(redemptions.insert().values(
        merchant_id=shop.merchant_id, store_id=store_id or shop.store_id, cashier_id=1, card_id=shop.card_id,
        member_id=shop.member_id, scan_id=uuid.uuid4().hex, amount=amount, discount=discount,
        payable=amount - discount, union_share=union, merchant_share=discount - union, refunded_amount=0,
        refunded_discount=0, refunded_union=0, refunded_merchant=0, lines="[]", status=status,
        month=month_of(at), created_at=at, voided_at=at if status == "void" else None))).inserted_primary_key[0])


async def add_refund(conn, redemption_id: int, at: datetime, amount: int, discount: int, union: int) -> int:
    """A refund as the counter records it, and the redemption's refunded figures raised to match."""
    row = (await conn.execute(sa.select(redemptions).where(redemptions.c.id == redemption_id))).one()
    full = row.refunded_amount + amount == row.amount
    refund_id = (await conn.execute(refunds.insert().values(
        redemption_id=redemption_id, amount=amount, discount=discount, union_share=union,
        merchant_share=discount - union, month=month_of(at), reason="退货", created_by="merchant:1",
        created_at=at))).inserted_primary_key[0]
    await conn.execute(redemptions.update().where(redemptions.c.id == redemption_id).values(
        refunded_amount=row.refunded_amount + amount, refunded_discount=row.refunded_discount + discount,
        refunded_union=row.refunded_union + union, refunded_merchant=row.refunded_merchant + discount - union,
        status="refunded" if full else row.status))
    return int(refund_id)


def a_month_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the process's clock read a month later for whatever writes files (zip entries, openpyxl)."""
    shift = timedelta(days=31)

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return datetime.now(tz) + shift

    later = types.SimpleNamespace(datetime=Later, timezone=timezone)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + shift.total_seconds())
    monkeypatch.setattr(openpyxl.writer.excel, "datetime", later)
    monkeypatch.setattr(openpyxl.packaging.core, "datetime", later)


def checker(tree, *, staff_id: int = 2) -> Actor:
    """A second finance clerk at K01: confirms what the first (staff id 1) built."""
    return staff_actor(tree["K01"], "finance", staff_id=staff_id)


def table_of(lines: list[list[str]]) -> list[list[str]]:
    """The table of an exported CSV, below its header block (from the header line 时间, ... on)."""
    return lines[next(i for i, line in enumerate(lines) if line[:1] == ["时间"]):]


async def worked_example(engine, *, store: str = "东湖店"):
    """Merchant A at K01: October R1; November R2 (bought 01:30 Beijing on 1 Nov), a void, a partial refund of
    R2 and the full refund of R1. Merchant B at K01 and C at K02 have one November redemption each."""
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        a = await add_shop(conn, tree["K01"].id, "老百姓大药房", store=store, seq=1)
        b = await add_shop(conn, tree["K01"].id, "益丰大药房", seq=2)
        c = await add_shop(conn, tree["K02"].id, "天心药店", seq=3)
        r1 = await add_redemption(conn, a, local(2025, 10, 20), 10_000, 1_500, 1_275)
        r2 = await add_redemption(conn, a, datetime(2025, 10, 31, 17, 30, tzinfo=UTC), 20_000, 3_000, 2_550)
        await add_redemption(conn, a, local(2025, 11, 5), 5_000, 750, 638, status="void")
        f1 = await add_refund(conn, r2, local(2025, 11, 10), 5_000, 750, 638)
        f2 = await add_refund(conn, r1, local(2025, 11, 12), 10_000, 1_500, 1_275)
        await add_redemption(conn, b, local(2025, 11, 7), 8_000, 1_200, 1_020)
        await add_redemption(conn, c, local(2025, 11, 8), 9_000, 900, 765)
    return tree, a, b, c, (r1, r2, f1, f2)


async def test_worked_example(engine) -> None:
    tree, a, _, _, (r1, r2, f1, f2) = await worked_example(engine)
    finance = staff_actor(tree["K01"], "finance")
    async with engine.begin() as conn:
        rows = await settlement.statement_rows(conn, a.merchant_id, "2025-11")
        nov = await settlement.build(conn, finance, a.merchant_id, "2025-11")
        oct_ = await settlement.build(conn, finance, a.merchant_id, "2025-10")
    # Time order; the void is absent; the refund of October's R1 is in November, negative.
    assert [(r.kind, r.redemption_id, r.refund_id) for r in rows] == [
        ("redemption", r2, None), ("refund", r2, f1), ("refund", r1, f2)]
    assert [(r.amount, r.discount, r.union_share, r.merchant_share) for r in rows] == [
        (20_000, 3_000, 2_550, 450), (-5_000, -750, -638, -112), (-10_000, -1_500, -1_275, -225)]
    assert [r.status for r in rows] == ["done", "refund", "refund"]
    assert {(r.store, r.card_tail) for r in rows} == {("东湖店", "1231")}
    assert rows[0].created_at == datetime(2025, 10, 31, 17, 30, tzinfo=UTC)
    assert (nov.merchant_name, nov.month, nov.status) == ("老百姓大药房", "2025-11", "draft")
    figures = (nov.redemptions, nov.bills, nov.discounts, nov.union_owed, nov.merchant_conceded)
    assert figures == (1, 5_000, 750, 637, 113)
    # October keeps R1 as first recorded (now marked refunded): statements are never rewritten by later refunds.
    assert (oct_.redemptions, oct_.bills, oct_.union_owed, oct_.merchant_conceded) == (1, 10_000, 1_275, 225)
    view = nov.view()
    assert view["union_owed"] == 637 and view["status_label"] == "草稿" and view["merchant_id"] == a.merchant_id
    assert rows[1].view()["kind_label"] == "退款" and rows[1].view()["union_share"] == -638


async def test_invariant_on_random_data(engine) -> None:
    rng = random.Random(20251125)
    months = [(2025, 9), (2025, 10), (2025, 11), (2025, 12)]
    last = local(2026, 1, 31, 23, 0)  # refunds run into January, a month without redemptions
    expected: dict[tuple[int, str], list[int]] = {}

    def count(shop: Shop, at: datetime, n: int, *figures: int) -> None:
        cell = expected.setdefault((shop.merchant_id, month_of(at)), [0, 0, 0, 0, 0])
        for i, v in enumerate((n, *figures)):
            cell[i] += v

    async with engine.begin() as conn:
        tree = await org_tree(conn)
        shops = [await add_shop(conn, tree["K01"].id, f"商家{i}", seq=i) for i in (1, 2)]
        for _ in range(70):
            shop = rng.choice(shops)
            y, m = rng.choice(months)
            # Any minute of the month, the first and last hours of Beijing days included.
            at = local(y, m, rng.randint(1, 28), rng.choice([0, 1, 12, 23]), rng.randint(0, 59))
            amount = rng.randint(1, 500_000)
            discount = rng.randint(0, amount)
            union = rng.randint(0, discount)
            if rng.random() < 0.15:
                await add_redemption(conn, shop, at, amount, discount, union, status="void")
                continue
            rid = await add_redemption(conn, shop, at, amount, discount, union)
            count(shop, at, 1, amount, discount, union, discount - union)
            left = [amount, discount, union, discount - union]
            when = at
            for _ in range(rng.choice([0, 0, 1, 2])):
                when = when + timedelta(hours=rng.randint(1, 24 * 40))
                if when > last or left[0] == 0:
                    break
                a = rng.randint(1, left[0])
                if a == left[0]:
                    d, u = left[1], left[2]
                else:
                    d = rng.randint(0, left[1])
                    u = rng.randint(max(0, d - left[3]), min(d, left[2]))
                await add_refund(conn, rid, when, a, d, u)
                count(shop, when, 0, -a, -d, -u, -(d - u))
                left = [left[0] - a, left[1] - d, left[2] - u, left[3] - (d - u)]

    finance = staff_actor(tree["K01"], "finance")
    all_months = ["2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01"]
    assert any(k[1] == "2026-01" for k in expected)  # some refunds land in a month with no redemption
    async with engine.begin() as conn:
        for shop in shops:
            union_sum = bills_sum = 0
            for month in all_months:
                st = await settlement.build(conn, finance, shop.merchant_id, month)
                rows = await settlement.statement_rows(conn, shop.merchant_id, month)
                assert [st.redemptions, st.bills, st.discounts, st.union_owed, st.merchant_conceded] == \
                    expected.get((shop.merchant_id, month), [0, 0, 0, 0, 0]), (shop, month)
                assert st.union_owed == sum(r.union_share for r in rows)
                assert st.merchant_conceded == sum(r.merchant_share for r in rows)
                assert st.discounts == st.union_owed + st.merchant_conceded
                assert st.bills == sum(r.amount for r in rows)
                assert st.redemptions == sum(r.kind == "redemption" for r in rows)
                union_sum += st.union_owed
                bills_sum += st.bills
            net = (await conn.execute(sa.select(
                sa.func.sum(redemptions.c.union_share - redemptions.c.refunded_union),
                sa.func.sum(redemptions.c.amount - redemptions.c.refunded_amount)).where(
                redemptions.c.merchant_id == shop.merchant_id, redemptions.c.status != "void"))).one()
            assert (union_sum, bills_sum) == (int(net[0]), int(net[1]))


@pytest.mark.usefixtures("clear_of_midnight")  # this month, read here and by build(): not across its end
async def test_build_refuses_an_open_month_and_a_bad_month(engine) -> None:
    tree, a, *_ = await worked_example(engine)
    finance = staff_actor(tree["K01"], "finance")
    this_month = local_today().strftime("%Y-%m")
    for month, code in [(this_month, "month_not_closed"), ("2099-01", "month_not_closed"),
                        ("2025-13", "invalid_month"), ("2025-1", "invalid_month"), ("", "invalid_month")]:
        with pytest.raises(Invalid) as err:
            async with engine.begin() as conn:
                await settlement.build(conn, finance, a.merchant_id, month)
        assert err.value.code == code, month
    # The last day of the month is still open; the first day of the next closes it (Beijing dates).
    with pytest.raises(Invalid):
        async with engine.begin() as conn:
            await settlement.build(conn, finance, a.merchant_id, "2025-11", today=date(2025, 11, 30))
    async with engine.begin() as conn:
        st = await settlement.build(conn, finance, a.merchant_id, "2025-11", today=date(2025, 12, 1))
        assert st.union_owed == 637
        assert (await conn.execute(sa.select(sa.func.count()).select_from(statements))).scalar() == 1


async def test_build_recomputes_a_draft_and_refuses_a_locked_statement(engine) -> None:
    tree, a, *_ = await worked_example(engine)
    finance = staff_actor(tree["K01"], "finance")
    async with engine.begin() as conn:
        first = await settlement.build(conn, finance, a.merchant_id, "2025-11")
        await add_redemption(conn, a, local(2025, 11, 20), 1_000, 100, 85)  # entered late, before confirmation
        again = await settlement.build(conn, finance, a.merchant_id, "2025-11")
        assert again.id == first.id and again.status == "draft"
        assert (again.redemptions, again.bills, again.union_owed) == (2, 6_000, 722)
        await settlement.confirm(conn, checker(tree), first.id)
    with pytest.raises(Conflict) as err:
        async with engine.begin() as conn:
            await settlement.build(conn, finance, a.merchant_id, "2025-11")
    assert err.value.code == "statement_locked"
    async with engine.begin() as conn:
        actions = (await conn.execute(sa.select(audit_log.c.action, audit_log.c.target_id)
                                      .where(audit_log.c.action.like("settlement.%")).order_by(audit_log.c.id))).all()
    assert actions == [("settlement.build", str(first.id))] * 2 + [("settlement.confirm", str(first.id))]


async def test_confirm_refuses_changed_totals(engine) -> None:
    tree, a, _, _, (_, r2, _, _) = await worked_example(engine)
    finance, second = staff_actor(tree["K01"], "finance"), checker(tree)
    async with engine.begin() as conn:
        st = await settlement.build(conn, finance, a.merchant_id, "2025-11")
        # A refund of 30 November committed after the statement was built.
        await add_refund(conn, r2, local(2025, 11, 30, 23, 59), 1_000, 150, 128)
    with pytest.raises(Conflict) as err:
        async with engine.begin() as conn:
            await settlement.confirm(conn, second, st.id)
    assert err.value.code == "statement_changed"
    async with engine.begin() as conn:
        assert (await settlement.get_for_staff(conn, finance, st.id)).status == "draft"
        await settlement.build(conn, finance, a.merchant_id, "2025-11")
        done = await settlement.confirm(conn, second, st.id)
    assert (done.status, done.union_owed, done.bills) == ("confirmed", 637 - 128, 5_000 - 1_000)
    assert done.confirmed_at is not None and done.paid_at is None
    with pytest.raises(Conflict) as err:
        async with engine.begin() as conn:
            await settlement.confirm(conn, second, st.id)
    assert err.value.code == "statement_not_draft"
    # A refund made after confirmation belongs to a later month's statement.
    async with engine.begin() as conn:
        late = await add_refund(conn, r2, local(2025, 12, 3), 1_000, 150, 128)
        dec = await settlement.build(conn, finance, a.merchant_id, "2025-12")
        assert [r.refund_id for r in await settlement.statement_rows(conn, a.merchant_id, "2025-12")] == [late]
        assert (dec.redemptions, dec.union_owed) == (0, -128)
        assert (await settlement.confirm(conn, second, dec.id)).status == "confirmed"


async def test_mark_paid(engine) -> None:
    tree, a, *_ = await worked_example(engine)
    finance = staff_actor(tree["K01"], "finance", staff_id=7)  # builds and pays; a second clerk confirms
    async with engine.begin() as conn:
        st = await settlement.build(conn, finance, a.merchant_id, "2025-11")
    with pytest.raises(Conflict) as err:
        async with engine.begin() as conn:
            await settlement.mark_paid(conn, finance, st.id, payment_ref="HX20251205001")
    assert err.value.code == "statement_not_confirmed"
    async with engine.begin() as conn:
        await settlement.confirm(conn, checker(tree, staff_id=8), st.id)
    for ref in ["", "   ", "x" * 101]:
        with pytest.raises(Invalid) as err:
            async with engine.begin() as conn:
                await settlement.mark_paid(conn, finance, st.id, payment_ref=ref)
        assert err.value.code == "payment_ref_required"
    async with engine.begin() as conn:
        paid = await settlement.mark_paid(conn, finance, st.id, payment_ref=" HX20251205001 ")
        row = (await conn.execute(sa.select(statements).where(statements.c.id == st.id))).one()
        audit = (await conn.execute(sa.select(audit_log.c.summary, audit_log.c.actor_id, audit_log.c.org_path)
                                    .where(audit_log.c.action == "settlement.paid"))).one()
    assert (paid.status, paid.payment_ref) == ("paid", "HX20251205001") and paid.paid_at is not None
    assert (row.built_by, row.confirmed_by, row.paid_by) == (7, 8, 7)
    assert "HX20251205001" in audit.summary and audit.actor_id == 7 and audit.org_path == tree["K01"].path
    with pytest.raises(Conflict):
        async with engine.begin() as conn:
            await settlement.mark_paid(conn, finance, st.id, payment_ref="again")
    with pytest.raises(Conflict) as err:
        async with engine.begin() as conn:
            await settlement.build(conn, finance, a.merchant_id, "2025-11")
    assert err.value.code == "statement_locked"


async def test_scope_and_roles(engine) -> None:
    tree, a, b, c, _ = await worked_example(engine)
    finance = staff_actor(tree["K01"], "finance")
    async with engine.begin() as conn:
        st = await settlement.build(conn, finance, a.merchant_id, "2025-11")
        other = await settlement.build(conn, staff_actor(tree["K02"], "admin"), c.merchant_id, "2025-11")
    outsider = staff_actor(tree["K02"], "admin")
    far_finance = staff_actor(tree["K02"], "finance", staff_id=2)
    for call, code in [
        (lambda conn: settlement.build(conn, outsider, a.merchant_id, "2025-11"), "merchant_not_found"),
        (lambda conn: settlement.get_for_staff(conn, outsider, st.id), "statement_not_found"),
        (lambda conn: settlement.confirm(conn, far_finance, st.id), "statement_not_found"),
        (lambda conn: settlement.mark_paid(conn, far_finance, st.id, payment_ref="x"), "statement_not_found"),
        (lambda conn: settlement.mark_received(conn, far_finance, st.id, payment_ref="x"), "statement_not_found"),
    ]:
        with pytest.raises(NotFound) as err:
            async with engine.begin() as conn:
                await call(conn)
        assert err.value.code == code
    approver = staff_actor(tree["K01"], "approver")
    station = staff_actor(tree["K01"], "station")
    cashier = Actor(kind="merchant", id=1, roles=frozenset({"manager"}))
    for call in [
        lambda conn: settlement.build(conn, approver, a.merchant_id, "2025-11"),
        lambda conn: settlement.confirm(conn, approver, st.id),
        lambda conn: settlement.mark_paid(conn, approver, st.id, payment_ref="x"),
        # An admin builds, but confirming and recording money is finance's alone.
        lambda conn: settlement.confirm(conn, staff_actor(tree["K01"], "admin", staff_id=9), st.id),
        lambda conn: settlement.mark_paid(conn, staff_actor(tree["K01"], "admin", staff_id=9), st.id,
                                          payment_ref="x"),
        lambda conn: settlement.mark_received(conn, staff_actor(tree["K01"], "admin", staff_id=9), st.id,
                                              payment_ref="x"),
        lambda conn: settlement.build(conn, station, a.merchant_id, "2025-11"),
        lambda conn: settlement.get_for_staff(conn, station, st.id),
        lambda conn: settlement.list_for_staff(conn, station),
        lambda conn: settlement.build(conn, cashier, a.merchant_id, "2025-11"),
    ]:
        with pytest.raises(Forbidden):
            async with engine.begin() as conn:
                await call(conn)
    async with engine.begin() as conn:
        assert (await settlement.get_for_staff(conn, approver, st.id)).id == st.id
        assert [s.id for s in await settlement.list_for_staff(conn, outsider)] == [other.id]
        assert [s.id for s in await settlement.list_for_staff(conn, finance)] == [st.id]
        city = staff_actor(tree["C01"], "finance")
        assert {s.id for s in await settlement.list_for_staff(conn, city)} == {st.id, other.id}
        assert await settlement.list_for_staff(conn, city, month="2025-10") == []
        assert [s.id for s in await settlement.list_for_staff(conn, city, month="2025-11", merchant_id=c.merchant_id)
                ] == [other.id]
        assert await settlement.list_for_staff(conn, outsider, merchant_id=a.merchant_id) == []
        with pytest.raises(Invalid):
            await settlement.list_for_staff(conn, city, month="11/2025")
        assert (await settlement.get_for_staff(conn, city, other.id)).merchant_name == "天心药店"


async def test_merchant_sees_only_its_own_confirmed_statements(engine) -> None:
    tree, a, b, _, _ = await worked_example(engine)
    finance, second = staff_actor(tree["K01"], "finance"), checker(tree)
    async with engine.begin() as conn:
        a_oct = await settlement.confirm(conn, second, (await settlement.build(
            conn, finance, a.merchant_id, "2025-10")).id)
        a_nov = await settlement.build(conn, finance, a.merchant_id, "2025-11")  # draft: may still change
        b_nov = await settlement.confirm(conn, second, (await settlement.build(
            conn, finance, b.merchant_id, "2025-11")).id)
        assert [s.id for s in await settlement.list_for_merchant(conn, a.merchant_id)] == [a_oct.id]
        assert [s.id for s in await settlement.list_for_merchant(conn, b.merchant_id)] == [b_nov.id]
        assert (await settlement.get_for_merchant(conn, a.merchant_id, a_oct.id)).union_owed == 1_275
        for merchant_id, statement_id in [(a.merchant_id, b_nov.id), (b.merchant_id, a_oct.id),
                                          (a.merchant_id, a_nov.id), (a.merchant_id, 999_999)]:
            with pytest.raises(NotFound) as err:
                await settlement.get_for_merchant(conn, merchant_id, statement_id)
            assert err.value.code == "statement_not_found"


async def test_csv_export_parses_back(engine) -> None:
    tree, a, *_ = await worked_example(engine)
    finance = staff_actor(tree["K01"], "finance")
    async with engine.begin() as conn:
        st = await settlement.build(conn, finance, a.merchant_id, "2025-11")
        rows = await settlement.statement_rows(conn, a.merchant_id, "2025-11")
    data = settlement.export_csv(st, rows)
    assert data.startswith(b"\xef\xbb\xbf")
    table = table_of(list(csv.reader(io.StringIO(data[3:].decode("utf-8")))))
    assert table[0] == ["时间", "核销单号", "类型", "门店", "卡号尾号", "消费金额(元)", "优惠金额(元)", "工会承担(元)",
                        "商家让利(元)", "状态"]
    body, total = table[1:-1], table[-1]
    assert len(body) == 3
    assert body[0] == ["2025-11-01 01:30:00", str(rows[0].redemption_id), "核销", "东湖店", "1231", "200.00",
                       "30.00", "25.50", "4.50", "已核销"]
    assert body[1][2] == "退款" and body[1][5:9] == ["-50.00", "-7.50", "-6.38", "-1.12"]
    assert total[0] == "合计" and total[5:9] == ["50.00", "7.50", "6.37", "1.13"]
    for col in range(5, 9):
        assert sum(Decimal(r[col]) for r in body) == Decimal(total[col])
    assert Decimal(total[7]) * 100 == st.union_owed


async def test_xlsx_export_opens_with_totals(engine) -> None:
    tree, a, *_ = await worked_example(engine)
    finance = staff_actor(tree["K01"], "finance")
    async with engine.begin() as conn:
        st = await settlement.build(conn, finance, a.merchant_id, "2025-11")
        rows = await settlement.statement_rows(conn, a.merchant_id, "2025-11")
    ws = load_workbook(io.BytesIO(settlement.export_xlsx(st, rows))).active
    every = [list(r) for r in ws.iter_rows(values_only=True)]
    assert "老百姓大药房" in every[0][0] and "2025-11" in every[0][0]
    first = every.index(next(r for r in every if r[0] == "时间"))  # the table's header, below the header block
    values = [every[0], *every[first:]]  # the title, then the table as before the header block
    assert values[1][5] == "消费金额(元)" and len(values) == 2 + 3 + 1
    assert values[2][0] == datetime(2025, 11, 1, 1, 30)
    assert values[2][3:5] == ["东湖店", "1231"]
    total = values[-1]
    assert total[0] == "合计"
    assert [Decimal(str(v)) for v in total[5:9]] == [Decimal("50"), Decimal("7.5"), Decimal("6.37"), Decimal("1.13")]
    assert [Decimal(str(v)) for v in values[3][5:9]] == [Decimal("-50"), Decimal("-7.5"), Decimal("-6.38"),
                                                         Decimal("-1.12")]
    assert ws.cell(row=len(every), column=8).number_format == "0.00"
    assert ws.cell(row=first + 2, column=6).number_format == "0.00"
    assert isinstance(ws.cell(row=first + 2, column=6).value, (int, float))
    for col in range(5, 9):
        body = sum(Decimal(str(r[col])) for r in values[2:-1])
        assert body == Decimal(str(total[col]))
    assert Decimal(str(total[7])) * 100 == st.union_owed


def _statement(**kw) -> settlement.Statement:
    base = dict(id=1, merchant_id=1, merchant_name="=cmd|' /C calc'!A0", month="2025-11", redemptions=1,
                bills=12_345_678_901_234_567, discounts=3, union_owed=2, merchant_conceded=1, status="confirmed",
                created_at=utcnow(), confirmed_at=utcnow(), paid_at=None, payment_ref=None)
    base.update(kw)
    return settlement.Statement(**base)


def _row(store: str, **kw) -> settlement.StatementRow:
    base = dict(kind="redemption", redemption_id=5, refund_id=None, created_at=datetime(2025, 11, 3, tzinfo=UTC),
                store=store, card_tail="0042", amount=12_345_678_901_234_567, discount=3, union_share=2,
                merchant_share=1, status="done")
    base.update(kw)
    return settlement.StatementRow(**base)


def test_exports_guard_formula_injection() -> None:
    names = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "正常门店"]
    rows = [_row(name, redemption_id=i, amount=0, discount=0, union_share=0, merchant_share=0)
            for i, name in enumerate(names)] + [_row("总店")]
    st = _statement(redemptions=6)
    whole = list(csv.reader(io.StringIO(settlement.export_csv(st, rows).decode("utf-8-sig"))))
    assert whole[0] == ["商家", "'=cmd|' /C calc'!A0"]  # the header block is guarded too
    table = table_of(whole)
    assert [r[3] for r in table[1:6]] == ["'" + n for n in names[:4]] + ["正常门店"]
    assert table[6][5] == "123456789012345.67"  # amounts are left alone, and exact beyond a float's precision
    ws = load_workbook(io.BytesIO(settlement.export_xlsx(st, rows))).active
    first = next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=1).value == "时间")
    cells = [ws.cell(row=r, column=4) for r in range(first + 1, first + 6)]
    assert [c.value for c in cells] == names
    assert all(c.data_type == "s" for c in cells)
    assert ws.cell(row=1, column=1).data_type == "s" and ws.cell(row=1, column=1).value.startswith("=cmd")
    assert ws.cell(row=2, column=2).value.startswith("=cmd") and ws.cell(row=2, column=2).data_type == "s"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_xlsx_amounts_are_exact_decimals() -> None:
    # Summed as floats these yuan give 6550509.279999999; from integer fen, 6550509.28.
    fen = [100_780_964, 523_832_097, 30_437_867]
    rows = [_row("总店", amount=v, discount=v, union_share=v, merchant_share=0) for v in fen]
    st = _statement(redemptions=3, bills=sum(fen), discounts=sum(fen), union_owed=sum(fen), merchant_conceded=0)
    with zipfile.ZipFile(io.BytesIO(settlement.export_xlsx(st, rows))) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert re.findall(r"<v>([^<]*)</v>", sheet)[-4:] == ["6550509.28", "6550509.28", "6550509.28", "0"]
    assert "<v>1007809.64</v>" in sheet


def test_exports_refuse_rows_that_do_not_add_up() -> None:
    rows = [_row("总店")]
    for export in (settlement.export_csv, settlement.export_xlsx):
        with pytest.raises(Conflict):
            export(_statement(union_owed=3, merchant_conceded=0), rows)
        assert export(_statement(), rows)


def test_yuan_is_exact() -> None:
    assert [yuan(v) for v in (0, 5, -5, 100, -1234, 123456789012345678)] == [
        "0.00", "0.05", "-0.05", "1.00", "-12.34", "1234567890123456.78"]
