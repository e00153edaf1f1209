"""The console's money pages over HTTP on both databases: fund sources and their ledger, the payment form (paid
once per form shown), four eyes, the XLSX payment file, the reversal asked once, the archive and its PDF."""
from __future__ import annotations

import io
import re
from datetime import date

import sqlalchemy as sa

from models.funds import sources
from models.members.tables import members
from models.relief.payments import BANK_ACCOUNT_PURPOSE
from models.relief.payment_tables import relief_payments
from tests.console.later import YEAR, app_row, later_scene
from tests.console.scene import PASSWORD, make_scene


def key_of(page) -> str:
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page.text).group(1)


async def test_fund_sources_are_listed_created_topped_up_and_their_ledger_paged(browser, engine, running):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    b = browser()
    await b.login("finance1", PASSWORD)
    listed = await b.get(f"/console/funds/?year={YEAR}")
    assert listed.status == 200 and listed.h1 == ["资金来源"] and listed.has("临时救助专项", "工会经费")
    assert "远处" not in listed.text and listed.text.count('href="/console/funds/') >= 2
    assert (await b.get("/console/funds/?year=1999")).status == 400
    assert "临时救助专项" not in (await b.get(f"/console/funds/?year={YEAR - 1}")).text
    form = await b.get("/console/funds/new")
    assert form.status == 200 and 'value="K01"' in form.text
    fields = [("org", "K01"), ("source", "donation"), ("name", "爱心企业助学捐赠"), ("year", str(YEAR)),
              ("budget", "12,345.6"), ("kinds", "temporary"), ("donor", "某爱心企业")]
    bad = await b.post("/console/funds/new", [(k, "12.345" if k == "budget" else v) for k, v in fields])
    assert bad.status == 400 and "最多两位小数" in (bad.field_error("budget") or "")
    assert 'value="爱心企业助学捐赠"' in bad.text and 'value="temporary" checked' in bad.text
    no_kind = await b.post("/console/funds/new", [f for f in fields if f[0] != "kinds"])
    assert no_kind.status == 400 and no_kind.field_error("kinds")
    far = await b.post("/console/funds/new", [("org", "K02") if f[0] == "org" else f for f in fields])
    assert far.status == 404 and far.field_error("org")
    done = await b.post("/console/funds/new", fields)
    assert done.status == 302 and "?done=created" in done.location
    fund_id = int(re.search(r"/console/funds/(\d+)", done.location).group(1))
    async with engine.connect() as conn:
        assert (await sources.get(conn, fund_id)).budget == 1_234_560
    page = await b.get(done.location)
    assert page.has("资金来源已建立", "12,345.60 元", "年度预算")
    taken = await b.post("/console/funds/new", fields)
    assert taken.status == 409 and taken.field_error("name")
    top = f"/console/funds/{fund_id}/top-ups"
    refused = await b.post(top, {"amount": "0", "note": "追加"})
    assert refused.status == 400 and refused.field_error("amount") and refused.has("12,345.60 元")
    assert (await b.post(top, {"amount": "100.5", "note": "年中追加"})).status == 302
    page = await b.get(f"/console/funds/{fund_id}?done=topped")
    assert page.has("追加已记入台账", "+100.50", "12,446.10 元")
    first = await b.get(f"/console/funds/{fund_id}?limit=1")
    assert first.has("年中追加") and "年度预算</td>" not in first.text
    nxt = re.search(r'<a href="([^"]+)" class="button secondary">下一页</a>', first.text).group(1)
    assert "年度预算</td>" in (await b.get(nxt.replace("&amp;", "&"))).text
    # the ledger of the scene's fund shows the reservations of the approvals, linked to their files
    scene_fund = await b.get(f"/console/funds/{later.fund}")
    assert scene_fund.has("审批预留", "−2,500.00", "可用于新审批 5,000.00 元")
    assert f'href="/console/relief/applications/{later.payment}"' in scene_fund.text
    approver = browser()
    await approver.login("approver1", PASSWORD)
    assert (await approver.get(f"/console/funds/{fund_id}")).status == 200 and "追加资金" not in \
        (await approver.get(f"/console/funds/{fund_id}")).text
    assert (await approver.get("/console/funds/new")).status == 403
    assert (await approver.post(top, {"amount": "1", "note": "追加"})).status == 403
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    assert (await outsider.get(f"/console/funds/{fund_id}")).status == 404
    assert (await outsider.get(f"/console/funds/{fund_id}")).h1 == ["找不到页面"]


async def test_a_payment_is_recorded_once_per_form_and_refusals_are_shown_by_field(browser, engine, running):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    b = browser()
    await b.login("finance1", PASSWORD)
    waiting = await b.get("/console/relief/payments")
    assert waiting.status == 200 and f"申请 {later.payment}" in waiting.text
    assert f"申请 {later.elsewhere['payment']}" not in waiting.text
    assert 'href="/console/relief/payments/export?format=xlsx"' in waiting.text
    url = f"/console/relief/applications/{later.payment}/payment"
    form = await b.get(url)
    assert form.status == 200 and 'value="2500.00"' in form.text and form.has("2,500.00 元")
    key = key_of(form)
    assert key != key_of(await b.get(url))  # a new key for each form shown
    typed = {"amount": "2500", "method": "bank_transfer", "voucher_no": "PZ-2026-001",
             "paid_on": date.today().isoformat(), "idempotency_key": key}
    no_last4 = await b.post(url, typed)
    assert no_last4.status == 400 and no_last4.field_error("account_last4")
    assert 'value="PZ-2026-001"' in no_last4.text and key_of(no_last4) != key
    wrong = await b.post(url, {**typed, "amount": "2400", "account_last4": "1234", "idempotency_key": key_of(no_last4)})
    assert wrong.status == 422 and "审批金额" in (wrong.field_error("amount") or "")
    future = await b.post(url, {**typed, "account_last4": "1234", "paid_on": "2999-01-01",
                                "idempotency_key": key_of(wrong)})
    assert future.status == 400 and future.field_error("paid_on")
    good = {**typed, "account_last4": "1234", "idempotency_key": key_of(future)}
    first = await b.post(url, good)
    assert first.status == 302 and first.location.endswith("?done=paid")
    twice = await b.post(url, good)  # the same form sent again: the first one's outcome, nothing paid
    assert twice.status == 302 and twice.location.endswith("?done=paid")
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(relief_payments).where(
            relief_payments.c.application_id == later.payment))).all()
        fund = await sources.get(conn, later.fund)
    assert len(rows) == 1 and fund.spent == 250_000
    shown = await b.get(first.location)
    assert shown.has("发放已登记", "已发放", "发放冲正", "办结归档")
    another = await b.post(url, {**good, "idempotency_key": "another-form-0001"})
    assert another.status == 409 and another.has("不在待发放环节")


async def test_four_eyes_the_wrong_role_and_another_county_are_refused_the_payment(browser, engine, running):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    both = browser()
    await both.login("both1", PASSWORD)
    url = f"/console/relief/applications/{later.both_paid}/payment"
    form = await both.get(url)
    refused = await both.post(url, {"amount": "2500", "method": "cash", "voucher_no": "PZ-9",
                                    "paid_on": date.today().isoformat(), "idempotency_key": key_of(form)})
    assert refused.status == 403 and refused.has("同一申请的不同环节须由不同人员办理") and refused.h1[0].startswith("登记发放")
    assert (await app_row(engine, later.both_paid)).status == "submitted"
    approver = browser()
    await approver.login("approver1", PASSWORD)
    page = await approver.get(url)
    assert page.status == 403 and page.h1 == ["没有权限"]
    assert (await approver.get("/console/relief/payments/export")).status == 403
    far = browser()
    await far.login("farfinance", PASSWORD)
    assert (await far.get(url)).status == 404
    assert (await far.post(url, {"amount": "2500", "method": "cash", "voucher_no": "PZ-9",
                                 "paid_on": date.today().isoformat(),
                                 "idempotency_key": "k" * 16})).status == 404
    assert (await app_row(engine, later.both_paid)).status == "submitted"


async def test_the_payment_file_downloads_as_xlsx(browser, engine, running):
    from openpyxl import load_workbook

    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    b = browser()
    await b.login("finance1", PASSWORD)
    got = await b.get("/console/relief/payments/export?format=xlsx")
    assert got.status == 200 and got.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in got.headers["Content-Disposition"] and got.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(got.body)).active
    text = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
    assert f"RA{later.payment:08d}" in text and f"RA{later.elsewhere['payment']:08d}" not in text
    default = await b.get("/console/relief/payments/export")
    assert default.headers["Content-Type"].startswith("application/vnd.openxmlformats")


async def test_a_reversal_asks_once_and_a_paid_file_is_archived_with_its_pdf(browser, engine, running):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    b = browser()
    await b.login("finance1", PASSWORD)
    url = f"/console/relief/applications/{later.payment}/payment"
    form = await b.get(url)
    await b.post(url, {"amount": "2500", "method": "cash", "voucher_no": "PZ-1", "paid_on": date.today().isoformat(),
                       "idempotency_key": key_of(form)})
    file_url = f"/console/relief/applications/{later.payment}"
    page = await b.get(file_url)
    assert "data-confirm=\"确定冲正" in page.text
    short = await b.post(file_url + "/payment/reverse", {"reason": "退", "confirmed": "1"})
    assert short.status == 400 and short.field_error("reason") and short.h1[0].startswith("申请")
    asked = await b.post(file_url + "/payment/reverse", {"reason": "银行退票：户名不符"})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("确认冲正")
    assert (await app_row(engine, later.payment)).status == "paid"
    done = await b.post(file_url + "/payment/reverse", {"reason": "银行退票：户名不符", "confirmed": "1"})
    assert done.status == 302 and done.location.endswith("?done=reversed")
    assert (await app_row(engine, later.payment)).step == "payment"
    form = await b.get(url)
    await b.post(url, {"amount": "2500", "method": "cash", "voucher_no": "PZ-2", "paid_on": date.today().isoformat(),
                       "idempotency_key": key_of(form)})
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    future = await reviewer.post(file_url + "/archive", {"completed_on": "2999-01-01", "note": "材料齐全"})
    assert future.status == 400 and "不能晚于今天" in (future.field_error("completed_on") or "")
    assert "材料齐全" in future.text
    archived = await reviewer.post(file_url + "/archive", {"completed_on": date.today().isoformat(), "note": "办结"})
    assert archived.status == 302 and archived.location.endswith("?done=archived")
    page = await reviewer.get(archived.location)
    assert page.has("已办结归档") and f'href="{file_url}/archive.pdf"' in page.text and "办结归档</h2>" not in page.text
    pdf = await reviewer.get(file_url + "/archive.pdf")
    assert pdf.status in (200, 503)
    if pdf.status == 200:
        assert pdf.body.startswith(b"%PDF") and pdf.headers["Content-Type"] == "application/pdf"
    again = await reviewer.post(file_url + "/archive", {"completed_on": date.today().isoformat()})
    assert again.status == 409 and again.has("只有已发放的申请才能办结归档")
    station = browser()
    await station.login("station1", PASSWORD)
    assert (await station.post(file_url + "/archive", {"completed_on": date.today().isoformat()})).status == 403
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    assert (await outsider.get(file_url + "/archive.pdf")).status == 404


async def test_a_bank_transfer_batch_pays_the_ticked_applications_once(browser, engine, running):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    b = browser()
    await b.login("finance1", PASSWORD)
    page = await b.get("/console/relief/payments")
    assert page.status == 200 and f'name="application_ids" value="{later.payment}"' in page.text
    none = await b.post("/console/relief/payments", {"voucher_no": "DF-2026-12", "paid_on": date.today().isoformat(),
                                                    "idempotency_key": key_of(page)})
    assert none.status == 400 and none.field_error("application_ids") and 'value="DF-2026-12"' in none.text
    good = {"application_ids": str(later.payment), "voucher_no": "DF-2026-12", "paid_on": date.today().isoformat(),
            "idempotency_key": key_of(none)}
    future = await b.post("/console/relief/payments", {**good, "paid_on": "2999-01-01"})
    assert future.status == 400 and future.has("发放日期不能晚于今天")
    assert f'value="{later.payment}" id="pick-{later.payment}" checked' in future.text  # the ticks are kept
    good["idempotency_key"] = key_of(future)
    no_account = await b.post("/console/relief/payments", good)  # all or none: each application needs an account
    assert no_account.status == 422 and no_account.has(f"申请 {later.payment}：该申请没有登记银行账号")
    member_id = (await app_row(engine, later.payment)).member_id
    async with engine.begin() as conn:
        await conn.execute(members.update().where(members.c.id == member_id).values(
            bank_account_enc=running.settings["cipher"].encrypt("6222020200112233", purpose=BANK_ACCOUNT_PURPOSE)))
    good["idempotency_key"] = key_of(no_account)
    first = await b.post("/console/relief/payments", good)
    assert first.status == 302 and first.location.endswith("?done=batch")
    twice = await b.post("/console/relief/payments", good)  # the same form again: nothing more is paid
    assert twice.status == 302
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(relief_payments).where(
            relief_payments.c.application_id == later.payment))).all()
    assert len(rows) == 1 and (await app_row(engine, later.payment)).status == "paid"
    assert (await b.get(first.location)).has("已按银行代发批次登记发放")
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    assert (await reviewer.post("/console/relief/payments", good)).status == 403
