"""Settlement over HTTP: staff build, confirm (a second person), pay or receive and export a month; the merchant's
manager reads its own."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from datetime import timedelta
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from handlers import settlement as settlement_handlers
from models.core.actors import SYSTEM
from models.core.clock import local_today, utcnow
from models.counter.tables import redemptions, refunds
from models.identity import staff_accounts as staff
from models.partners import invites
from models.partners import programmes as benefits
from models.partners.tables import merchants
from server.passwords import ARGON2
from tests.factories import counter
from tests.models.counter.test_settlement import a_month_later
from tests.redeem_helpers import clear_of_midnight  # noqa: F401 - the fixture, for pytestmark

# "Last month" and "this month" are read here and by the service: not across a month's end.
pytestmark = pytest.mark.usefixtures("clear_of_midnight")

PASSWORD = "Correct-Horse-42"


async def _last_month_redemption(api, engine, running):
    c = await counter(api, engine, running)
    async with engine.begin() as conn:
        program = await benefits.create(conn, c.admin, c.tree["K01"].id, benefits.ProgramDraft.of({
            "preset": "pharmacy_drug_card", "eligibility": "all_members", "hardship_categories": [],
            "valid_from": "2020-01-01", "valid_to": "2099-12-31"}))
        await benefits.set_merchants(conn, c.admin, program.id, [c.merchant_id])
        await staff.create(conn, SYSTEM, hasher=ARGON2,
                           username="finance1", password=PASSWORD, roles=["finance"], org_code="K01")
        invite = await invites.create(conn, c.cipher, c.admin, c.merchant_id, role="manager", store_id=None)
    qr = await api.get("/api/v1/me/card/qr", token=c.worker)
    scan = await api.post("/api/v1/merchant/scan", {"qr": qr.data["token"]}, token=c.cashier)
    done = await api.post("/api/v1/merchant/redemptions", {"scan_id": scan.data["scan_id"],
                                                           "items": [{"category": "drug", "amount": 10001}]},
                          token=c.cashier, headers={"Idempotency-Key": "settle-0001"})
    assert done.status == 200, done.data
    # Move it into last month, which is closed.
    moment = local_today().replace(day=1) - timedelta(days=1)
    month = moment.strftime("%Y-%m")
    async with engine.begin() as conn:
        await conn.execute(redemptions.update().values(month=month))
    manager = await api.login("boss.1")
    assert (await api.post("/api/v1/merchant/bind", {"invite_code": invite.code}, token=manager)).status == 200
    login = await api.post("/api/v1/auth/staff", {"username": "finance1", "password": PASSWORD})
    return c, month, login.data["token"], manager, done.data


async def _staff_token(api, engine, username: str, *roles: str) -> str:
    """A member of staff at K01 with these roles (finance by default), logged in."""
    async with engine.begin() as conn:
        await staff.create(conn, SYSTEM, hasher=ARGON2, username=username, password=PASSWORD,
                           roles=list(roles or ("finance",)), org_code="K01")
    login = await api.post("/api/v1/auth/staff", {"username": username, "password": PASSWORD})
    return str(login.data["token"])


def _csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _block(lines: list[list[str]]) -> dict[str, str]:
    """The export's header block: the (label, value) lines above the first empty line."""
    return {line[0]: line[1] for line in lines[:lines.index([])]} if [] in lines else {}


async def test_a_month_from_draft_to_paid(api, engine, running):
    c, month, finance, manager, done = await _last_month_redemption(api, engine, running)
    checker = await _staff_token(api, engine, "finance2")
    admin = await _staff_token(api, engine, "admin1", "admin")
    built = await api.post("/api/v1/staff/statements", {"merchant_id": c.merchant_id, "month": month}, token=finance)
    assert built.status == 200, built.data
    st = built.data["statement"]
    # The drug card pays all of 100.01 yuan: the union 85 %, the pharmacy 15 %.
    assert (st["bills"], st["discounts"], st["union_owed"], st["merchant_conceded"]) == (10001, 10001, 8501, 1500)
    assert st["union_owed"] == sum(r["union_share"] for r in built.data["rows"]) == done["union_share"]
    hidden = await api.get("/api/v1/merchant/statements", token=manager)
    assert hidden.data["items"] == []  # a draft may still change: the merchant sees it once confirmed
    unpaid = await api.post(f"/api/v1/staff/statements/{st['id']}/paid", {"payment_ref": "X"}, token=finance)
    assert (unpaid.status, unpaid.error_code) == (409, "statement_not_confirmed")
    # Four eyes: the builder does not confirm, an admin may not, a second finance clerk does.
    alone = await api.post(f"/api/v1/staff/statements/{st['id']}/confirm", token=finance)
    assert (alone.status, alone.error_code) == (409, "four_eyes")
    assert alone.data["error"]["message"] == "对账单的生成、确认和收付款须由不同人员办理"
    by_admin = await api.post(f"/api/v1/staff/statements/{st['id']}/confirm", token=admin)
    assert (by_admin.status, by_admin.error_code) == (403, "role_forbidden")
    confirmed = await api.post(f"/api/v1/staff/statements/{st['id']}/confirm", token=checker)
    assert confirmed.data["status"] == "confirmed" and confirmed.data["confirmed_by_name"] == "finance2"
    assert (confirmed.data["direction"], confirmed.data["amount_due"]) == ("union_pays", 8501)
    rebuilt = await api.post("/api/v1/staff/statements", {"merchant_id": c.merchant_id, "month": month},
                             token=finance)
    assert (rebuilt.status, rebuilt.error_code) == (409, "statement_locked")
    wrong_way = await api.post(f"/api/v1/staff/statements/{st['id']}/received", {"payment_ref": "X"}, token=finance)
    assert (wrong_way.status, wrong_way.error_code) == (409, "wrong_direction")
    for token, (status, code) in [(checker, (409, "four_eyes")), (admin, (403, "role_forbidden"))]:
        refused = await api.post(f"/api/v1/staff/statements/{st['id']}/paid", {"payment_ref": "X"}, token=token)
        assert (refused.status, refused.error_code) == (status, code)
    paid = await api.post(f"/api/v1/staff/statements/{st['id']}/paid", {"payment_ref": "工行转账 2026-001"},
                          token=finance)
    assert paid.data["status"] == "paid" and paid.data["payment_ref"] == "工行转账 2026-001"
    exported = await api.get(f"/api/v1/staff/statements/{st['id']}/export?format=csv", token=finance)
    assert exported.headers["Content-Type"].startswith("text/csv")
    table = _csv(exported.body)
    assert any("85.01" in cell for row in table for cell in row)
    block = _block(table)
    assert (block["商家"], block["门店"], block["结算月份"], block["状态"]) == ("老百姓大药房", "东湖店", month, "已付款")
    assert (block["收付方向"], block["工会应付商家(元)"], block["付款凭证号"]) == ("工会付给商家", "85.01",
                                                                               "工行转账 2026-001")
    assert block["确认人"] == "finance2" and block["付款日期"] == local_today().isoformat()
    mine = await api.get("/api/v1/merchant/statements", token=manager)
    assert [s["id"] for s in mine.data["items"]] == [st["id"]]
    sheet = await api.get(f"/api/v1/merchant/statements/{st['id']}/export?format=xlsx", token=manager)
    book = load_workbook(io.BytesIO(sheet.body))
    values = [cell for row in book.active.iter_rows(values_only=True) for cell in row if cell is not None]
    assert any(str(v) in ("85.01", "85.010") for v in values)
    assert {"商家", "老百姓大药房", "付款凭证号", "工行转账 2026-001", "确认人", "finance2"} <= set(values)
    cashier_refused = await api.get("/api/v1/merchant/statements", token=c.cashier)
    assert (cashier_refused.status, cashier_refused.error_code) == (403, "not_manager")


async def test_a_month_the_merchant_owes_is_received(api, engine, running):
    c, month, finance, manager, done = await _last_month_redemption(api, engine, running)
    checker = await _staff_token(api, engine, "finance2")
    # The sale two months ago, its refund of 40.00 last month: last month the pharmacy owes the union.
    earlier = (local_today().replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)
    async with engine.begin() as conn:
        await conn.execute(redemptions.update().values(month=earlier.strftime("%Y-%m")))
        await conn.execute(refunds.insert().values(
            redemption_id=done["id"], amount=4000, discount=4000, union_share=3400, merchant_share=600, month=month,
            reason="退货", created_by="merchant:1", created_at=utcnow()))
    built = await api.post("/api/v1/staff/statements", {"merchant_id": c.merchant_id, "month": month}, token=finance)
    st = built.data["statement"]
    assert (st["union_owed"], st["direction"], st["direction_label"], st["amount_due"]) == (
        -3400, "merchant_pays", "商家付给工会", 3400)
    confirmed = await api.post(f"/api/v1/staff/statements/{st['id']}/confirm", token=checker)
    assert confirmed.data["status"] == "confirmed", confirmed.data
    paid = await api.post(f"/api/v1/staff/statements/{st['id']}/paid", {"payment_ref": "X"}, token=finance)
    assert (paid.status, paid.error_code) == (409, "wrong_direction")
    assert "收款" in paid.data["error"]["message"]
    same = await api.post(f"/api/v1/staff/statements/{st['id']}/received", {"payment_ref": "X"}, token=checker)
    assert (same.status, same.error_code) == (409, "four_eyes")
    received = await api.post(f"/api/v1/staff/statements/{st['id']}/received",
                              {"payment_ref": "商家转账 0107"}, token=finance)
    assert received.status == 200, received.data
    assert (received.data["status"], received.data["status_label"]) == ("received", "已收款")
    assert received.data["received_at"] is not None and received.data["paid_at"] is None
    exported = await api.get(f"/api/v1/merchant/statements/{st['id']}/export?format=csv", token=manager)
    block = _block(_csv(exported.body))
    assert (block["收付方向"], block["商家应付工会(元)"], block["收款凭证号"], block["状态"]) == (
        "商家付给工会", "34.00", "商家转账 0107", "已收款")


async def test_a_confirmed_statement_exports_the_same_after_a_later_refund(api, engine, running, monkeypatch):
    c, month, finance, manager, done = await _last_month_redemption(api, engine, running)
    checker = await _staff_token(api, engine, "finance2")
    built = await api.post("/api/v1/staff/statements", {"merchant_id": c.merchant_id, "month": month}, token=finance)
    st = built.data["statement"]
    assert (await api.post(f"/api/v1/staff/statements/{st['id']}/confirm", token=checker)).status == 200
    paths = [f"/api/v1/staff/statements/{st['id']}/export?format={f}" for f in ("csv", "xlsx")]
    before = [(await api.get(p, token=finance)).body for p in paths]
    rows_before = (await api.get(f"/api/v1/staff/statements/{st['id']}", token=finance)).data["rows"]
    # This month the manager refunds the whole bill; a month passes.
    refund = await api.post(f"/api/v1/merchant/redemptions/{done['id']}/refunds", {"amount": 10001, "reason": "退货"},
                            token=manager, headers={"Idempotency-Key": "settle-refund-1"})
    assert refund.status == 200, refund.data
    a_month_later(monkeypatch)
    after = [(await api.get(p, token=finance)).body for p in paths]
    assert after == before
    rows_after = (await api.get(f"/api/v1/staff/statements/{st['id']}", token=finance)).data["rows"]
    assert rows_after == rows_before and [r["status_label"] for r in rows_after] == ["已核销"]
    assert "已全额退款" not in after[0].decode("utf-8-sig")


async def test_download_names_are_safe(api, engine, running):
    c, month, finance, manager, _ = await _last_month_redemption(api, engine, running)
    hostile = '../药房/A\\B:C*D?"E"<F>|G\x07\u202eH\r\nX-Evil: 1'
    async with engine.begin() as conn:
        await conn.execute(merchants.update().where(merchants.c.id == c.merchant_id).values(name=hostile))
    built = await api.post("/api/v1/staff/statements", {"merchant_id": c.merchant_id, "month": month}, token=finance)
    for fmt in ("csv", "xlsx"):
        got = await api.get(f"/api/v1/staff/statements/{built.data['statement']['id']}/export?format={fmt}",
                            token=finance)
        assert got.status == 200
        header = got.headers["Content-Disposition"]
        assert "X-Evil" not in got.headers and "\r" not in header and "\n" not in header
        fallback = re.search(r'filename="([^"]*)"', header).group(1)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", fallback) and fallback.endswith(f".{fmt}")
        name = unquote(re.search(r"filename\*=UTF-8''(\S+)", header).group(1))
        assert not set('/\\:*?"<>|') & set(name), name
        assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name), name
        assert name.startswith("对账单-") and name.endswith(f"-{month}.{fmt}") and "药房" in name


def test_safe_filename():
    assert settlement_handlers.safe_filename("对账单-老百姓/大药房-2025-11.csv") == "对账单-老百姓_大药房-2025-11.csv"
    assert settlement_handlers.safe_filename(" ..\x00.. ") == "_"
    assert settlement_handlers.safe_filename("...") == "download"
    assert settlement_handlers.safe_filename("a\u3000b") == "a\u3000b"  # an ideographic space is a fine name


async def test_open_month_and_roles(api, engine, running):
    c, month, finance, manager, _ = await _last_month_redemption(api, engine, running)
    this_month = local_today().strftime("%Y-%m")
    still_open = await api.post("/api/v1/staff/statements", {"merchant_id": c.merchant_id, "month": this_month},
                                token=finance)
    assert (still_open.status, still_open.error_code) == (400, "month_not_closed")
    async with engine.begin() as conn:
        await staff.create(conn, SYSTEM, hasher=ARGON2,
                           username="clerk9", password=PASSWORD, roles=["station"], org_code="K01")
    clerk = (await api.post("/api/v1/auth/staff", {"username": "clerk9", "password": PASSWORD})).data["token"]
    refused = await api.post("/api/v1/staff/statements", {"merchant_id": c.merchant_id, "month": month}, token=clerk)
    assert (refused.status, refused.error_code) == (403, "role_forbidden")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(redemptions))).scalar() == 1
