"""The money of relief over HTTP: fund routes, approval naming a fund, payment with its Idempotency-Key, the
bank payment file (CSV and XLSX), the batch, and staff of another subtree refused at every route."""
from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa

from models.core.clock import LOCAL_TZ, utcnow
from models.funds import ledger, sources
from models.members.tables import members
from tests.factories import org_tree
from tests.relief_helpers import FORM, at_approval, staff, token, worker

APPS = "/api/v1/staff/relief/applications"
FUNDS = "/api/v1/staff/funds"
YEAR = utcnow().astimezone(LOCAL_TZ).year


@pytest.fixture
async def scene(api, engine, running):
    cipher = running.settings["cipher"]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        s = {"cipher": cipher, "tree": tree}
        member_id, user_id = await worker(conn, cipher, tree["G01"], 71)
        other_member, other_user = await worker(conn, cipher, tree["G01"], 72, name="赵六")
        await conn.execute(members.update().where(members.c.id == other_member).values(
            bank_account_enc=cipher.encrypt("6222020000000000777", purpose="bank_account")))
        s["app"] = await at_approval(conn, cipher, member_id, user_id, tree["G01"],
                                     form={**FORM, "bank_account": "6222021234567890123"})
        s["other"] = await at_approval(conn, cipher, other_member, other_user, tree["G02"], proposed=200_000)
        for name, org, roles in (("finance", "K01", ["finance"]), ("finance2", "K01", ["finance"]),
                                 ("approver", "K01", ["approver"]), ("admin", "K01", ["admin"]),
                                 ("far", "K02", ["finance", "approver", "admin"])):
            actor = await staff(conn, f"{name}.pay", org, *roles)
            s[name] = await token(conn, actor)
    return s


def new_fund(**more):
    return {"org": "K01", "source": "union", "name": "临时救助专项", "year": YEAR, "budget": 1_000_000,
            "kinds": ["temporary"], **more}


async def approve_both(api, s, fund_id):
    for app, amount in ((s["app"], 300_000), (s["other"], 200_000)):
        done = await api.post(f"{APPS}/{app}/decision", {"step": "approval", "decision": "pass", "amount": amount,
                                                        "fund_id": fund_id}, token=s["approver"])
        assert (done.status, done.data) == (200, {"id": app, "status": "submitted", "step": "payment"}), done.data


def pay_body(**more):
    return {"amount": 300_000, "method": "bank_transfer", "account_last4": "0123", "voucher_no": "PZ-001",
            "paid_on": date.today().isoformat(), **more}


async def test_funds_are_created_by_finance_and_admin_and_read_with_their_ledger(api, engine, scene):
    s = scene
    assert (await api.post(FUNDS, new_fund(), token=s["approver"])).error_code == "role_forbidden"
    assert (await api.post(FUNDS, new_fund(org="K02"), token=s["finance"])).status == 404
    made = await api.post(FUNDS, new_fund(), token=s["finance"])
    assert made.status == 201 and made.data["balance"] == made.data["available"] == 1_000_000
    fund_id = made.data["id"]
    topped = await api.post(f"{FUNDS}/{fund_id}/top-ups", {"amount": 20_000, "note": "年中追加"}, token=s["admin"])
    assert topped.data["topped_up"] == 20_000
    listed = await api.get(f"{FUNDS}?year={YEAR}", token=s["approver"])
    assert [f["id"] for f in listed.data["items"]] == [fund_id]
    page1 = await api.get(f"{FUNDS}/{fund_id}/ledger?limit=1", token=s["approver"])
    assert [r["entry"] for r in page1.data["items"]] == ["top_up"] and page1.data["balance"] == 1_020_000
    page2 = await api.get(f"{FUNDS}/{fund_id}/ledger?limit=1&cursor={page1.data['next']}", token=s["approver"])
    assert [r["entry"] for r in page2.data["items"]] == ["budget"] and page2.data["next"] is None
    # Staff of another subtree: every fund route answers like a missing fund.
    for method, path, body in (("GET", f"{FUNDS}/{fund_id}", None), ("GET", f"{FUNDS}/{fund_id}/ledger", None),
                               ("POST", f"{FUNDS}/{fund_id}/top-ups", {"amount": 1, "note": "追加"})):
        far = await api.request(method, path, json_body=body, token=s["far"])
        assert (far.status, far.error_code) == (404, "fund_not_found")
    assert (await api.get(FUNDS, token=s["far"])).data["items"] == []


async def test_payment_is_idempotent_and_a_reversal_restores_the_reservation(api, engine, scene):
    s = scene
    fund_id = (await api.post(FUNDS, new_fund(), token=s["finance"])).data["id"]
    short = await api.post(f"{APPS}/{s['app']}/decision", {"step": "approval", "decision": "pass", "amount": 300_000,
                                                           "fund_id": fund_id + 1000}, token=s["approver"])
    assert short.error_code == "fund_not_found"
    await approve_both(api, s, fund_id)
    key = {"Idempotency-Key": "pay-app-0001"}
    first = await api.post(f"{APPS}/{s['app']}/payment", pay_body(), token=s["finance"], headers=key)
    assert (first.status, first.data) == (200, {"id": s["app"], "status": "paid", "step": "archived"})
    replay = await api.post(f"{APPS}/{s['app']}/payment", pay_body(), token=s["finance"], headers=key)
    assert (replay.status, replay.data, replay.headers.get("Idempotent-Replayed")) == (200, first.data, "true")
    other = await api.post(f"{APPS}/{s['app']}/payment", pay_body(voucher_no="PZ-002"), token=s["finance"],
                           headers=key)
    assert other.status == 422
    async with engine.begin() as conn:
        f = await sources.get(conn, fund_id)
        assert (f.reserved, f.spent) == (200_000, 300_000)  # paid once; the other still reserved
        assert await ledger.sums(conn, fund_id) == {"income": 1_000_000, "reserved": 200_000, "spent": 300_000}
    far = await api.post(f"{APPS}/{s['app']}/payment/reverse", {"reason": "退票"}, token=s["far"])
    assert (far.status, far.error_code) == (404, "application_not_found")
    back = await api.post(f"{APPS}/{s['app']}/payment/reverse", {"reason": "银行退票：户名不符"}, token=s["finance2"])
    assert back.data == {"id": s["app"], "status": "submitted", "step": "payment"}
    async with engine.begin() as conn:
        f = await sources.get(conn, fund_id)
        assert (f.reserved, f.spent) == (500_000, 0)
    far_pay = await api.post(f"{APPS}/{s['other']}/payment", pay_body(amount=200_000), token=s["far"],
                             headers={"Idempotency-Key": "pay-far-0001"})
    assert (far_pay.status, far_pay.error_code) == (404, "application_not_found")


async def test_the_bank_file_lists_the_waiting_applications_and_the_batch_pays_them_all_or_none(api, engine, scene):
    s = scene
    fund_id = (await api.post(FUNDS, new_fund(), token=s["finance"])).data["id"]
    await approve_both(api, s, fund_id)
    assert (await api.get("/api/v1/staff/relief/payments/export", token=s["approver"])).status == 403
    assert (await api.get("/api/v1/staff/relief/payments/export?org=K02", token=s["finance"])).status == 404
    far = await api.get("/api/v1/staff/relief/payments/export", token=s["far"])
    assert far.status == 200 and far.body.decode("utf-8-sig").count("\r\n") == 2  # header and totals only
    got = await api.get("/api/v1/staff/relief/payments/export?format=csv", token=s["finance"])
    assert got.status == 200 and got.headers["Cache-Control"] == "no-store"
    lines = got.body.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "户名,收款账号,金额（元）,业务参考号,所属单位,救助类别"
    assert lines[1] == f"王秀英,6222021234567890123,3000.00,RA{s['app']:08d},东湖社区工会,临时救助"
    assert lines[2] == f"赵六,6222020000000000777,2000.00,RA{s['other']:08d},湘绣厂工会,临时救助"
    assert lines[3].startswith("合计,2 笔,5000.00")
    xlsx = await api.get("/api/v1/staff/relief/payments/export?format=xlsx&org=G02", token=s["finance"])
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(xlsx.body)).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[1][:4] == ["户名", "收款账号", "金额（元）", "业务参考号"]
    assert values[2][:4] == ["赵六", "6222020000000000777", 2000, f"RA{s['other']:08d}"] and len(values) == 4
    async with engine.begin() as conn:
        exported = (await conn.execute(sa.text("SELECT COUNT(*) FROM audit_log WHERE action = "
                                               "'relief.export_payments'"))).scalar_one()
        assert exported == 3
    batch = {"application_ids": [s["app"], s["other"], 987654], "method": "bank_transfer", "voucher_no": "PL-01",
             "paid_on": date.today().isoformat()}
    refused = await api.post("/api/v1/staff/relief/payments/batch", batch, token=s["finance"],
                             headers={"Idempotency-Key": "batch-0000001"})
    assert refused.status == 404 and "987654" in refused.data["error"]["message"]
    async with engine.begin() as conn:  # nothing of the batch was recorded
        f = await sources.get(conn, fund_id)
        assert (f.reserved, f.spent) == (500_000, 0)
    batch["application_ids"] = [s["app"], s["other"]]
    done = await api.post("/api/v1/staff/relief/payments/batch", batch, token=s["finance"],
                          headers={"Idempotency-Key": "batch-0000002"})
    assert done.status == 200 and [a["status"] for a in done.data["paid"]] == ["paid", "paid"]
    async with engine.begin() as conn:
        f = await sources.get(conn, fund_id)
        assert (f.reserved, f.spent) == (0, 500_000)
        last4 = (await conn.execute(sa.text("SELECT account_last4 FROM relief_payments ORDER BY application_id")))\
            .scalars().all()
        assert last4 == ["0123", "0777"]
