"""Statements that stay true (issue 15): frozen lines, which way the money goes, four eyes, exports that say
what they are and never change once confirmed."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from models.cards.tables import cards
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Forbidden
from models.core.tables import audit_log
from models.counter import settlement
from models.counter.tables import redemptions, statement_lines, statements
from models.identity.tables import staff
from models.partners.tables import merchants, stores
from tests.factories import staff_actor
from tests.models.counter.test_settlement import a_month_later, add_redemption, add_refund, local, worked_example

UTC = timezone.utc


async def clerk(conn, org, username: str, *roles: str) -> Actor:
    """A member of staff with an account row (the confirmer's username goes into the header block)."""
    now = utcnow()
    staff_id = (await conn.execute(staff.insert().values(
        username=username, password_hash="x", roles=",".join(roles or ("finance",)), org_id=org.id, active=True,
        created_at=now, updated_at=now))).inserted_primary_key[0]
    return staff_actor(org, *(roles or ("finance",)), staff_id=int(staff_id))


async def clerks(engine, tree):
    """Three finance clerks at K01: one builds, one confirms, one records the money; and an admin."""
    async with engine.begin() as conn:
        return (await clerk(conn, tree["K01"], "cw.zhang"), await clerk(conn, tree["K01"], "cw.li"),
                await clerk(conn, tree["K01"], "cw.wang"), await clerk(conn, tree["K01"], "gl.zhao", "admin"))


def csv_lines(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def header_block(lines: list[list[str]]) -> dict[str, str]:
    """The (label, value) lines above the first empty line of an exported CSV."""
    return {line[0]: line[1] for line in lines[:lines.index([])]}


# --- 1. frozen lines -----------------------------------------------------------------------------

async def test_a_confirmed_statement_keeps_its_lines_whatever_happens_later(engine) -> None:
    tree, a, _, _, (r1, _, _, f2) = await worked_example(engine)
    builder, confirmer, payer, _ = await clerks(engine, tree)
    async with engine.begin() as conn:
        oct_ = await settlement.build(conn, builder, a.merchant_id, "2025-10")
        # R1 (October) was refunded in full in November: in October's statement it stays a plain redemption.
        assert [(r.redemption_id, r.status) for r in await settlement.rows_of(conn, oct_)] == [(r1, "done")]
        oct_ = await settlement.confirm(conn, confirmer, oct_.id)
        oct_ = await settlement.mark_paid(conn, payer, oct_.id, payment_ref="HX-10")
        frozen = await settlement.rows_of(conn, oct_)
        kept = (await conn.execute(sa.select(statement_lines).where(statement_lines.c.statement_id == oct_.id)
                                   )).all()
    assert [(k.kind, k.redemption_id, k.status, k.amount, k.union_share, k.card_tail, k.store) for k in kept] == [
        ("redemption", r1, "done", 10_000, 1_275, "1231", "东湖店")]
    # Later: the card is reissued under a new number, the store renamed, the redemption's record edited
    # (what a recomputation would read), and the merchant renamed.
    async with engine.begin() as conn:
        await conn.execute(cards.update().where(cards.c.id == a.card_id).values(card_no="8000000000009999"))
        await conn.execute(stores.update().where(stores.c.id == a.store_id).values(name="东湖旗舰店"))
        await conn.execute(redemptions.update().where(redemptions.c.id == r1).values(amount=1, union_share=1))
        await conn.execute(merchants.update().where(merchants.c.id == a.merchant_id).values(name="老百姓药房（新）"))
        again = await settlement.get_for_staff(conn, builder, oct_.id)
        assert await settlement.rows_of(conn, again) == frozen
        assert again.merchant_name == "老百姓大药房"  # as it was at confirmation
        for merchant_view in await settlement.list_for_merchant(conn, a.merchant_id):
            assert merchant_view.merchant_name == "老百姓大药房"
        # The exports read the frozen lines: they still add up (the recomputed rows no longer would).
        assert settlement.export_csv(again, await settlement.rows_of(conn, again))
        with pytest.raises(Conflict):
            settlement.export_csv(again, await settlement.statement_rows(conn, a.merchant_id, "2025-10"))
        # A draft is still computed from the records as they are now.
        nov = await settlement.build(conn, builder, a.merchant_id, "2025-11")
        assert "东湖旗舰店" in {r.store for r in await settlement.rows_of(conn, nov)}
        assert f2 in {r.refund_id for r in await settlement.rows_of(conn, nov)}


async def test_a_redemption_refunded_within_its_month_is_frozen_as_refunded(engine) -> None:
    tree, a, *_ = await worked_example(engine)
    builder, confirmer, *_ = await clerks(engine, tree)
    async with engine.begin() as conn:
        r = await add_redemption(conn, a, local(2025, 9, 3), 4_000, 600, 510)
        await add_refund(conn, r, local(2025, 9, 20), 4_000, 600, 510)
        sep = await settlement.build(conn, builder, a.merchant_id, "2025-09")
        sep = await settlement.confirm(conn, confirmer, sep.id)
        rows = await settlement.rows_of(conn, sep)
    assert [(x.kind, x.status) for x in rows] == [("redemption", "refunded"), ("refund", "refund")]
    assert sep.status == "settled" and sep.union_owed == 0  # nothing left to pay either way


# --- 2. which way the money goes ---------------------------------------------------------------------

async def test_a_statement_the_merchant_owes_is_received_not_paid(engine) -> None:
    tree, a, _, _, (_, r2, _, _) = await worked_example(engine)
    builder, confirmer, payer, _ = await clerks(engine, tree)
    async with engine.begin() as conn:
        await add_refund(conn, r2, local(2025, 12, 3), 1_000, 150, 128)  # a December refund, no sale
        dec = await settlement.build(conn, builder, a.merchant_id, "2025-12")
        dec = await settlement.confirm(conn, confirmer, dec.id)
    assert (dec.status, dec.union_owed, dec.direction) == ("confirmed", -128, "merchant_pays")
    assert dec.view()["direction_label"] == "商家付给工会" and dec.view()["amount_due"] == 128
    with pytest.raises(Conflict) as err:
        async with engine.begin() as conn:
            await settlement.mark_paid(conn, payer, dec.id, payment_ref="HX-12")
    assert err.value.code == "wrong_direction" and "收款" in err.value.message
    async with engine.begin() as conn:
        got = await settlement.mark_received(conn, payer, dec.id, payment_ref=" 商家转账 2026-0107 ")
        frozen = await settlement.rows_of(conn, got)
        action = (await conn.execute(sa.select(audit_log.c.action).where(audit_log.c.target_id == str(dec.id))
                                     .order_by(audit_log.c.id.desc()).limit(1))).scalar()
    view = got.view()
    assert (got.status, view["status_label"], got.payment_ref) == ("received", "已收款", "商家转账 2026-0107")
    assert view["received_at"] is not None and view["received_by"] == payer.id
    assert view["paid_at"] is None and view["paid_by"] is None
    assert action == "settlement.received"
    with pytest.raises(Conflict) as err:
        async with engine.begin() as conn:
            await settlement.mark_received(conn, payer, dec.id, payment_ref="again")
    assert err.value.code == "statement_closed"
    lines = csv_lines(settlement.export_csv(got, frozen))
    block = header_block(lines)
    assert (block["状态"], block["收付方向"], block["商家应付工会(元)"]) == ("已收款", "商家付给工会", "1.28")
    assert block["收款凭证号"] == "商家转账 2026-0107" and block["工会承担合计(元)"] == "-1.28"


async def test_the_union_pays_what_it_owes_and_nothing_moves_on_zero(engine) -> None:
    tree, a, *_ = await worked_example(engine)
    builder, confirmer, payer, _ = await clerks(engine, tree)
    async with engine.begin() as conn:
        nov = await settlement.confirm(conn, confirmer, (await settlement.build(
            conn, builder, a.merchant_id, "2025-11")).id)
        empty = await settlement.confirm(conn, confirmer, (await settlement.build(
            conn, builder, a.merchant_id, "2025-08")).id)
    assert (nov.direction, nov.status) == ("union_pays", "confirmed")
    with pytest.raises(Conflict) as err:
        async with engine.begin() as conn:
            await settlement.mark_received(conn, payer, nov.id, payment_ref="X")
    assert err.value.code == "wrong_direction"
    # Nothing owed either way: settled at confirmation, and no money to record.
    assert (empty.direction, empty.status, empty.view()["status_label"]) == ("none", "settled", "已结清")
    for record in (settlement.mark_paid, settlement.mark_received):
        with pytest.raises(Conflict) as err:
            async with engine.begin() as conn:
                await record(conn, payer, empty.id, payment_ref="X")
        assert err.value.code == "statement_settled"
    async with engine.begin() as conn:
        paid = await settlement.mark_paid(conn, payer, nov.id, payment_ref="HX-11")
        assert [s.id for s in await settlement.list_for_merchant(conn, a.merchant_id)] == [paid.id, empty.id]
    assert (paid.status, paid.view()["status_label"], paid.view()["received_at"]) == ("paid", "已付款", None)


# --- 3. four eyes and roles ------------------------------------------------------------------------

async def test_build_confirm_and_pay_take_two_people_with_the_right_roles(engine) -> None:
    tree, a, *_ = await worked_example(engine)
    builder, confirmer, payer, admin = await clerks(engine, tree)
    async with engine.begin() as conn:
        st = await settlement.build(conn, admin, a.merchant_id, "2025-11")  # an admin may build
    assert st.built_by == admin.id
    with pytest.raises(Forbidden):
        async with engine.begin() as conn:
            await settlement.confirm(conn, admin, st.id)  # but not confirm
    # Whoever rebuilt the draft last is its builder: they may not confirm it.
    async with engine.begin() as conn:
        await settlement.build(conn, builder, a.merchant_id, "2025-11")
    with pytest.raises(Conflict) as err:
        async with engine.begin() as conn:
            await settlement.confirm(conn, builder, st.id)
    assert (err.value.code, err.value.status) == ("four_eyes", 409)
    assert err.value.message == "对账单的生成、确认和收付款须由不同人员办理"
    async with engine.begin() as conn:
        done = await settlement.confirm(conn, confirmer, st.id)
    assert (done.built_by, done.confirmed_by, done.confirmed_by_name) == (builder.id, confirmer.id, "cw.li")
    for who, refusal in [(confirmer, Conflict), (admin, Forbidden)]:
        with pytest.raises(refusal) as err:
            async with engine.begin() as conn:
                await settlement.mark_paid(conn, who, st.id, payment_ref="HX-1")
        assert refusal is Forbidden or err.value.code == "four_eyes"
    async with engine.begin() as conn:
        paid = await settlement.mark_paid(conn, builder, st.id, payment_ref="HX-1")  # the builder may pay
        row = (await conn.execute(sa.select(statements).where(statements.c.id == st.id))).one()
    assert paid.status == "paid" and (row.built_by, row.confirmed_by, row.paid_by) == (
        builder.id, confirmer.id, builder.id)
    assert payer.id not in (row.built_by, row.confirmed_by, row.paid_by)


# --- 4. exports that say what they are, and never change --------------------------------------------

async def test_exports_open_with_a_header_block(engine) -> None:
    tree, a, *_ = await worked_example(engine)
    builder, confirmer, payer, _ = await clerks(engine, tree)
    async with engine.begin() as conn:
        st = await settlement.confirm(conn, confirmer, (await settlement.build(
            conn, builder, a.merchant_id, "2025-11")).id)
        st = await settlement.mark_paid(conn, payer, st.id, payment_ref="工行转账 2025-1205")
        rows = await settlement.rows_of(conn, st)
    lines = csv_lines(settlement.export_csv(st, rows))
    block = header_block(lines)
    local_confirmed = st.confirmed_at.astimezone(settlement.LOCAL_TZ)
    assert block == {
        "商家": "老百姓大药房", "门店": "东湖店", "结算月份": "2025-11", "对账单编号": str(st.id), "状态": "已付款",
        "收付方向": "工会付给商家", "核销笔数": "1", "消费金额合计(元)": "50.00", "优惠金额合计(元)": "7.50",
        "工会承担合计(元)": "6.37", "商家让利合计(元)": "1.13", "工会应付商家(元)": "6.37",
        "付款凭证号": "工行转账 2025-1205", "付款日期": st.paid_at.astimezone(settlement.LOCAL_TZ).strftime("%Y-%m-%d"),
        "确认人": "cw.li", "确认时间": local_confirmed.strftime("%Y-%m-%d %H:%M:%S")}
    assert lines[len(block) + 1][0] == "时间"  # then the table
    ws = load_workbook(io.BytesIO(settlement.export_xlsx(st, rows))).active
    cells = {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2).value for r in range(2, 2 + len(block))}
    assert cells["商家"] == "老百姓大药房" and cells["付款凭证号"] == "工行转账 2025-1205"
    assert cells["确认人"] == "cw.li" and cells["收付方向"] == "工会付给商家" and cells["结算月份"] == "2025-11"
    assert float(cells["工会应付商家(元)"]) == 6.37
    assert cells["确认时间"] == local_confirmed.replace(tzinfo=None, microsecond=0)
    assert ws.cell(row=2 + len(block) + 1, column=1).value == "时间"


def test_a_control_character_in_a_name_does_not_break_the_workbook() -> None:
    st = settlement.Statement(id=1, merchant_id=1, merchant_name="老百姓\x07大药房\x1b", month="2025-11", redemptions=0,
                              bills=0, discounts=0, union_owed=0, merchant_conceded=0, status="draft",
                              created_at=datetime(2025, 12, 1, tzinfo=UTC), confirmed_at=None, paid_at=None,
                              payment_ref=None)
    ws = load_workbook(io.BytesIO(settlement.export_xlsx(st, []))).active
    assert ws.cell(row=2, column=2).value == "老百姓\ufffd大药房\ufffd"


async def test_a_confirmed_statement_exports_the_same_bytes_a_month_later(engine, monkeypatch) -> None:
    tree, a, _, _, (r1, r2, _, _) = await worked_example(engine)
    builder, confirmer, payer, _ = await clerks(engine, tree)
    async with engine.begin() as conn:
        nov = await settlement.confirm(conn, confirmer, (await settlement.build(
            conn, builder, a.merchant_id, "2025-11")).id)
        oct_ = await settlement.confirm(conn, confirmer, (await settlement.build(
            conn, builder, a.merchant_id, "2025-10")).id)
        oct_ = await settlement.mark_paid(conn, payer, oct_.id, payment_ref="HX-10")
    before = {}
    async with engine.connect() as conn:
        for st in (nov, oct_):
            st = await settlement.get_for_staff(conn, builder, st.id)
            rows = await settlement.rows_of(conn, st)
            before[st.id] = (settlement.export_csv(st, rows), settlement.export_xlsx(st, rows))
    # A month on: the rest of R2 refunded in December, December built and confirmed, the card reissued.
    async with engine.begin() as conn:
        await add_refund(conn, r2, local(2025, 12, 20), 15_000, 2_250, 1_912)
        dec = await settlement.build(conn, builder, a.merchant_id, "2025-12")
        await settlement.confirm(conn, confirmer, dec.id)
        await conn.execute(cards.update().where(cards.c.id == a.card_id).values(card_no="8000000000001111"))
    a_month_later(monkeypatch)
    async with engine.connect() as conn:
        for st in (nov, oct_):
            st = await settlement.get_for_staff(conn, builder, st.id)
            rows = await settlement.rows_of(conn, st)
            assert settlement.export_csv(st, rows) == before[st.id][0], st.month
            assert settlement.export_xlsx(st, rows) == before[st.id][1], st.month
    # The workbook carries the confirmation's moment, not the export's.
    with zipfile.ZipFile(io.BytesIO(before[nov.id][1])) as z:
        core = z.read("docProps/core.xml").decode()
        stamps = {info.date_time for info in z.infolist()}
    stamp = nov.confirmed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert core.count(stamp) == 2, core
    local_stamp = nov.confirmed_at.astimezone(settlement.LOCAL_TZ)
    assert stamps == {(local_stamp.year, local_stamp.month, local_stamp.day, local_stamp.hour, local_stamp.minute,
                       local_stamp.second - local_stamp.second % 2)}
    assert r1  # R1 is October's line: still "已核销" in October's file although refunded in November
    assert "已全额退款" not in before[oct_.id][0].decode("utf-8-sig")


# --- the migration freezes what was confirmed before it ---------------------------------------------

async def test_the_migration_freezes_statements_confirmed_before_it(engine) -> None:
    from models.db import schema

    tree, a, _, _, (r1, r2, f1, f2) = await worked_example(engine)
    await schema.downgrade(engine, "0013")
    try:
        async with engine.begin() as conn:
            confirmer = await clerk(conn, tree["K01"], "cw.old")
            now = utcnow()
            old = {"redemptions": 1, "bills": 10_000, "discounts": 1_500, "union_owed": 1_275,
                   "merchant_conceded": 225, "created_at": now}
            oct_id = (await conn.execute(sa.text(
                "INSERT INTO statements (merchant_id, month, redemptions, bills, discounts, union_owed, "
                "merchant_conceded, status, created_at, confirmed_at, confirmed_by, paid_at, paid_by, payment_ref) "
                "VALUES (:m, '2025-10', :redemptions, :bills, :discounts, :union_owed, :merchant_conceded, 'paid', "
                ":created_at, :created_at, :who, :created_at, 1, 'HX-OLD')"),
                {"m": a.merchant_id, "who": confirmer.id, **old})).lastrowid
            draft_id = (await conn.execute(sa.text(
                "INSERT INTO statements (merchant_id, month, redemptions, bills, discounts, union_owed, "
                "merchant_conceded, status, created_at) VALUES (:m, '2025-11', 1, 5000, 750, 637, 113, 'draft', "
                ":created_at)"), {"m": a.merchant_id, "created_at": now})).lastrowid
            for builder in (5, 6):  # built twice: the last builder counts
                await conn.execute(audit_log.insert().values(
                    created_at=now, actor_kind="staff", actor_id=builder, actor_role="finance",
                    action="settlement.build", target_kind="statement", target_id=str(draft_id), summary="{}"))
    finally:
        await schema.upgrade(engine)
    async with engine.begin() as conn:
        oct_ = await settlement.get_for_staff(conn, staff_actor(tree["K01"], "finance"), oct_id)
        draft = await settlement.get_for_staff(conn, staff_actor(tree["K01"], "finance"), draft_id)
        rows = await settlement.rows_of(conn, oct_)
    assert (oct_.status, oct_.merchant_name, oct_.confirmed_by_name, draft.built_by) == (
        "paid", "老百姓大药房", "cw.old", 6)
    # R1 was refunded in full in November: October's frozen line is a plain redemption still.
    assert [(r.kind, r.redemption_id, r.status, r.amount, r.card_tail) for r in rows] == [
        ("redemption", r1, "done", 10_000, "1231")]
    assert settlement.export_csv(oct_, rows)  # the lines add up to the statement's figures
    async with engine.begin() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(statement_lines).where(
            statement_lines.c.statement_id == draft_id))).scalar() == 0  # a draft's lines are not kept
