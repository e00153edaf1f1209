"""Settlement over HTTP: staff build, confirm, pay and export a month; the merchant's manager reads its own."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from models.core.actors import SYSTEM
from models.core.clock import local_today
from models.counter.tables import redemptions
from models.identity import staff_accounts as staff
from models.partners import invites
from models.partners import programmes as benefits
from server.passwords import ARGON2
from tests.factories import counter
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


async def test_a_month_from_draft_to_paid(api, engine, running):
    c, month, finance, manager, done = await _last_month_redemption(api, engine, running)
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
    confirmed = await api.post(f"/api/v1/staff/statements/{st['id']}/confirm", token=finance)
    assert confirmed.data["status"] == "confirmed"
    rebuilt = await api.post("/api/v1/staff/statements", {"merchant_id": c.merchant_id, "month": month},
                             token=finance)
    assert (rebuilt.status, rebuilt.error_code) == (409, "statement_locked")
    paid = await api.post(f"/api/v1/staff/statements/{st['id']}/paid", {"payment_ref": "工行转账 2026-001"},
                          token=finance)
    assert paid.data["status"] == "paid" and paid.data["payment_ref"] == "工行转账 2026-001"
    exported = await api.get(f"/api/v1/staff/statements/{st['id']}/export?format=csv", token=finance)
    assert exported.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.body.decode("utf-8-sig"))))
    assert any("85.01" in cell for row in table for cell in row)
    mine = await api.get("/api/v1/merchant/statements", token=manager)
    assert [s["id"] for s in mine.data["items"]] == [st["id"]]
    sheet = await api.get(f"/api/v1/merchant/statements/{st['id']}/export?format=xlsx", token=manager)
    book = load_workbook(io.BytesIO(sheet.body))
    values = [cell for row in book.active.iter_rows(values_only=True) for cell in row if cell is not None]
    assert any(str(v) in ("85.01", "85.010") for v in values)
    cashier_refused = await api.get("/api/v1/merchant/statements", token=c.cashier)
    assert (cashier_refused.status, cashier_refused.error_code) == (403, "not_manager")


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
