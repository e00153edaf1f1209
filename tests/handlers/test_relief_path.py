"""The whole path of relief over HTTP, as a worker and staff walk it.

Issue 13: self-test, kinds, a medical application with real proofs, consent and submission; the
station's home visit and pass; the county returns it with what is missing, the worker mends it and
resubmits, the county passes it with an amount; the collective review carries it to the public notice
step. The worker follows it on the phone (timeline without staff names, the notices inbox, WeChat
messages for the template allowed).

Issue 14: the notice is published and read by anyone (masked), an objection pauses it and is
dismissed, the job ends the period, the approver reserves the amount on an earmarked fund, finance
pays it (a retry replays), the file is archived and printed as one PDF, and the statistics count it."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta, timezone

from models.core.clock import utcnow
from models.identity import usecases as identity
from models.relief import notices as relief_notices
from tests.handlers.test_relief_apply import BASE, FORM, complete, multipart, scene, submit, upload
from tests.handlers.test_relief_kinds import set_lines
from tests.hostile_files import jpeg, pdf_plain
from tests.relief_helpers import staff, token

STAFF = "/api/v1/staff/relief"


async def test_from_self_test_to_the_notice_step(api, engine, running, wechat):
    await walk_to_notice(api, engine, running, wechat)


async def walk_to_notice(api, engine, running, wechat) -> tuple[int, str, dict[str, str]]:
    """Issue 13's path; the application at the notice step, the worker's token, the staff's tokens."""
    s = await scene(api, engine, running)
    async with engine.begin() as conn:
        people = {name: await token(conn, await staff(conn, f"{name}.path", org, role))
                  for name, org, role in (("admin", "C01", "admin"), ("station", "S01", "station"),
                                          ("reviewer", "K01", "reviewer"), ("approver", "K01", "approver"),
                                          ("approver2", "K01", "approver"), ("finance", "K01", "finance"))}
    await set_lines(api, people["admin"])
    worker = s["wang"]

    # The phone: the self-test, the kinds offered, the relief template allowed once per step to come.
    test = await api.post("/api/v1/relief/self-test", {"household_size": 3, "monthly_income": 300_000,
                                                       "monthly_rigid_expense": 200_000}, token=worker)
    assert test.status == 200, test.data
    assert test.data["per_capita"] == 33_333 and test.data["category"] is not None
    kinds = await api.get("/api/v1/relief/kinds", token=worker)
    assert "medical" in [k["code"] for k in kinds.data["items"]] and kinds.data["consent"]["version"]
    relief_template = running.settings["templates"].template_id("relief")
    for _ in range(5):
        await api.post("/api/v1/me/subscriptions", {"results": {relief_template: "accept"}}, token=worker)
    wechat.state.accept(wechat.state.openid_for("wang"), relief_template, times=5)

    # Apply: a draft with real proofs, then submit with consent.
    app_id = await complete(api, worker)
    submitted = await submit(api, worker, app_id)
    assert submitted.status == 200, submitted.data
    assert (submitted.data["status"], submitted.data["step"]) == ("submitted", "verification")

    # The station visits the home, with a photo, and passes the verification.
    visit = await api.post(f"{STAFF}/applications/{app_id}/visit",
                           {"date": "2026-01-06", "visitors": ["李站长", "张干事"], "findings": "家中确有困难，情况属实。"},
                           token=people["station"])
    assert visit.status == 201, visit.data
    body, headers = multipart({}, "home.jpg", jpeg())
    photo = await api.request("POST", f"{STAFF}/visits/{visit.data['id']}/photos", body=body, headers=headers,
                              token=people["station"])
    assert photo.status == 201, photo.data
    passed = await api.post(f"{STAFF}/applications/{app_id}/decision",
                            {"step": "verification", "decision": "pass", "comment": "核实无误"}, token=people["station"])
    assert passed.data == {"id": app_id, "status": "submitted", "step": "county_review"}, passed.data

    # The county returns it with everything missing at once; the worker sees it, mends it, resubmits.
    returned = await api.post(f"{STAFF}/applications/{app_id}/decision", {
        "step": "county_review", "decision": "return", "comment": "请补充材料",
        "missing": [{"item": "insurance_settlement", "note": "请补充医保结算单"},
                    {"item": "situation", "note": "请写明每月透析费用"}]}, token=people["reviewer"])
    assert returned.data["status"] == "returned", returned.data
    mine = await api.get(f"{BASE}/{app_id}", token=worker)
    assert [m["item"] for m in mine.data["missing"]] == ["insurance_settlement", "situation"]
    mended = await api.request("PATCH", f"{BASE}/{app_id}", json_body={"form": {
        "situation": FORM["situation"] + "每月透析自付约 3000 元。"}}, token=worker)
    assert mended.status == 200, mended.data
    extra = await upload(api, worker, app_id, "insurance_settlement", "settlement.pdf", pdf_plain())
    assert extra.status == 201, extra.data
    again = await submit(api, worker, app_id)
    assert (again.data["status"], again.data["step"]) == ("submitted", "county_review"), again.data

    # The same person may not decide a second step; the county passes it with an amount within the cap.
    four_eyes = await api.post(f"{STAFF}/applications/{app_id}/decision",
                               {"step": "county_review", "decision": "pass", "amount": 300_000},
                               token=people["station"])
    assert four_eyes.status == 403
    county = await api.post(f"{STAFF}/applications/{app_id}/decision",
                            {"step": "county_review", "decision": "pass", "amount": 300_000}, token=people["reviewer"])
    assert county.data["step"] == "collective_review", county.data

    # The collective review: 5 of 7 present, 4 in favour, carries it to the public notice step.
    meeting = await api.post(f"{STAFF}/meetings", {
        "org": "K01", "date": "2026-01-20", "members": 7, "present": ["甲", "乙", "丙", "丁", "戊"],
        "minutes": "逐一审议申请材料。", "votes": [{"application_id": app_id, "for": 4, "against": 1}]},
        token=people["approver"])
    assert meeting.status == 201, meeting.data
    assert meeting.data["results"][0]["step"] == "notice"

    # The phone follows it: the timeline names units, never staff; the inbox holds each step.
    final = await api.get(f"{BASE}/{app_id}", token=worker)
    assert (final.data["status"], final.data["step"]) == ("submitted", "notice")
    actions = [e["action"] for e in final.data["timeline"]]
    assert actions[:2] == ["created", "submitted"] and "returned" in actions and "resubmitted" in actions
    assert all("staff_id" not in e for e in final.data["timeline"])
    assert all(e["unit"] for e in final.data["timeline"] if e["action"] in ("passed", "returned", "meeting"))
    inbox = await api.get("/api/v1/me/notices", token=worker)
    relief = [n["kind"] for n in inbox.data["items"] if n["kind"].startswith("relief.")]
    assert relief[::-1] == ["relief.submitted", "relief.passed", "relief.returned", "relief.submitted",
                            "relief.passed", "relief.passed"]
    assert await identity.dispatch_notifications(engine, running.gateway, running.settings["templates"]) == 5
    sent = [m for m in wechat.state.sent_messages if m["template_id"] == relief_template]
    assert len(sent) == 5 and all(m["data"]["thing1"]["value"] == "医疗救助" for m in sent)
    return app_id, worker, people


async def test_from_the_notice_to_the_money_and_the_archive(api, engine, running, wechat):
    app_id, worker, people = await walk_to_notice(api, engine, running, wechat)
    cipher = running.settings["cipher"]

    # Publish; anyone reads the masked entry; an anonymous objection pauses it; the reviewer dismisses it.
    published = await api.post(f"{STAFF}/notices", {"application_ids": [app_id]}, token=people["reviewer"])
    assert published.status == 201, published.data
    public = await api.get("/api/v1/public/notices")
    [entry] = public.data["items"][0]["entries"]
    assert (entry["name"], entry["kind"], entry["amount"]) == ("王*英", "医疗救助", 300_000)
    objected = await api.post(f"/api/v1/public/notices/{published.data['id']}/objections",
                              {"entry": entry["id"], "reason": "听说申请人另有收入来源。", "contact": "13700001111"})
    assert objected.status == 201, objected.data
    assert await relief_notices.end_notice_periods(engine, cipher, utcnow() + timedelta(days=30)) == 0  # paused
    dismissed = await api.post(f"{STAFF}/objections/{objected.data['id']}/resolve",
                               {"upheld": False, "finding": "经入户核实，无其他收入来源。"}, token=people["reviewer"])
    assert dismissed.status == 200, dismissed.data
    # The period ends (the job, run as if a month later, twice at once: one move).
    moved = await asyncio.gather(*(relief_notices.end_notice_periods(engine, cipher, utcnow() + timedelta(days=30))
                                   for _ in range(2)))
    assert sorted(moved) == [0, 1]
    at_approval = await api.get(f"{BASE}/{app_id}", token=worker)
    assert at_approval.data["step"] == "approval"

    # An earmarked fund; the approver reserves on it (a fund for another kind is refused).
    year = utcnow().astimezone(timezone(timedelta(hours=8))).year
    wrong = await api.post("/api/v1/staff/funds", {"org": "K01", "source": "union", "name": "助学专项", "year": year,
                                                   "budget": 1_000_000, "kinds": ["school"]}, token=people["finance"])
    fund = await api.post("/api/v1/staff/funds", {"org": "K01", "source": "central", "name": "医疗救助专项",
                                                  "year": year, "budget": 1_000_000, "kinds": ["medical"]},
                          token=people["finance"])
    assert fund.status == 201, fund.data
    scope = await api.post(f"{STAFF}/applications/{app_id}/decision", {
        "step": "approval", "decision": "pass", "amount": 300_000, "fund_id": wrong.data["id"]},
        token=people["approver2"])
    assert (scope.status, scope.error_code) == (409, "fund_scope")
    approved = await api.post(f"{STAFF}/applications/{app_id}/decision", {
        "step": "approval", "decision": "pass", "amount": 300_000, "fund_id": fund.data["id"]},
        token=people["approver2"])
    assert approved.data == {"id": app_id, "status": "submitted", "step": "payment"}, approved.data

    # Finance pays in cash; the till's retry replays the first answer; the ledger proves it.
    pay = {"amount": 300_000, "method": "cash", "voucher_no": "PZ-2026-001", "paid_on": date.today().isoformat()}
    key = {"Idempotency-Key": "path-payment-0001"}
    paid = await api.post(f"{STAFF}/applications/{app_id}/payment", pay, token=people["finance"], headers=key)
    assert paid.data == {"id": app_id, "status": "paid", "step": "archived"}, paid.data
    again = await api.post(f"{STAFF}/applications/{app_id}/payment", pay, token=people["finance"], headers=key)
    assert again.data == paid.data and again.headers.get("Idempotent-Replayed") == "true"
    ledger_page = await api.get(f"/api/v1/staff/funds/{fund.data['id']}/ledger", token=people["finance"])
    assert [i["entry"] for i in ledger_page.data["items"]][::-1] == ["budget", "reserve", "release", "pay"]
    assert ledger_page.data["balance"] == 700_000

    # The archive: the completion record, the whole file as one PDF; the statistics count it.
    archived = await api.post(f"{STAFF}/applications/{app_id}/archive",
                              {"completed_on": date.today().isoformat(), "note": "款项已发放，材料归档。"},
                              token=people["reviewer"])
    assert archived.status == 200, archived.data
    pdf = await api.get(f"{STAFF}/applications/{app_id}/archive.pdf", token=people["reviewer"], validate=False)
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")
    stats = await api.get(f"{STAFF}/statistics/payments?org=K01", token=people["reviewer"])
    assert stats.data["total"]["amount"] == 300_000, stats.data
    final = await api.get(f"{BASE}/{app_id}", token=worker)
    assert final.data["status"] == "archived"
    names = [e["action_name"] for e in final.data["timeline"]]
    assert names == ["创建申请", "提交申请", "入户核查", "审核通过", "退回补充", "补充后重新提交", "审核通过", "集体评议通过",
                     "公示", "收到异议", "异议不成立", "公示期满", "审核通过", "发放", "办结归档"]
