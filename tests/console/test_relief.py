"""Relief review in the console over HTTP: the queue and its filters, the whole file with its proofs inline, and
the decisions of each step (what was typed kept on a refusal, shown by its field in Chinese)."""
from __future__ import annotations

import re

import sqlalchemy as sa

from models.core.tables import audit_log
from models.relief.tables import relief_applications, relief_flags
from tests.console.scene import PASSWORD, make_scene, relief_scene


def queue_ids(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/console/relief/applications/(\d+)">\d+</a></td>', text)]


async def app_row(engine, app_id):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(relief_applications).where(relief_applications.c.id == app_id))).one()


async def test_the_queue_filters_by_the_url_and_pages_with_a_cursor(browser, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get("/console/relief/queue")
    assert page.status == 200 and queue_ids(page.text) == sorted([r.fresh, r.overdue_flagged, r.resubmitted])
    assert r.elsewhere not in queue_ids(page.text) and r.county not in queue_ids(page.text)
    assert queue_ids((await b.get("/console/relief/queue?overdue=1")).text) == [r.overdue_flagged]
    assert queue_ids((await b.get("/console/relief/queue?flagged=1")).text) == [r.overdue_flagged]
    assert queue_ids((await b.get("/console/relief/queue?resubmitted=1")).text) == [r.resubmitted]
    assert queue_ids((await b.get("/console/relief/queue?step=county_review")).text) == [r.county]
    selected = await b.get("/console/relief/queue?overdue=1&step=verification")
    assert '<option value="1" selected>已超期</option>' in selected.text  # the filter shows what is applied
    first = await b.get("/console/relief/queue?limit=2")
    assert len(queue_ids(first.text)) == 2
    nxt = re.search(r'<a href="([^"]+)" class="button secondary">下一页</a>', first.text)
    assert nxt and "limit=2" in nxt.group(1) and "cursor=" in nxt.group(1)
    second = await b.get(nxt.group(1).replace("&amp;", "&"))
    assert queue_ids(second.text) == [r.resubmitted] and "下一页" not in second.text
    bad = await b.get("/console/relief/queue?step=nowhere")
    assert bad.status == 400 and bad.h1 == ["请求有误"]
    assert 'class="overdue"' in page.text and "¥" not in page.text and "3,000.00" in page.text


async def test_the_file_shows_fields_household_proofs_flags_visit_and_timeline(browser, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get(f"/console/relief/applications/{r.overdue_flagged}")
    assert page.status == 200 and page.h1 == [f"申请 {r.overdue_flagged} · 临时救助"]
    assert page.has("已超期", "突发脑梗住院", "待处理")
    assert f'<a href="/console/relief/applications/{r.fresh}">申请 {r.fresh}</a>' in page.text  # the flag's other
    assert 'aria-label="面包屑"' in page.text and '<a href="/console/relief/queue">救助审核</a>' in page.text
    fresh = await b.get(f"/console/relief/applications/{r.fresh}")
    proof_url = f"/console/relief/applications/{r.fresh}/attachments/{r.proof}"
    assert f'<img src="{proof_url}"' in fresh.text
    assert fresh.has("站长甲", "家中确有困难", "办理经过")
    assert "王*" in fresh.text or "王秀英" not in fresh.text  # the applicant masked by default
    image = await b.get(proof_url)
    assert image.status == 200 and image.headers["Content-Type"] == "image/jpeg" and image.body[:2] == b"\xff\xd8"
    assert "frame-ancestors 'self'" in image.headers["Content-Security-Policy"]
    async with engine.connect() as conn:
        actions = [a for (a,) in await conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id))]
    assert "relief.view" in actions and "relief.attachment_view" in actions
    full = await b.get(f"/console/relief/applications/{r.fresh}?full=1")
    assert full.status == 200 and "王秀英" in full.text


async def test_another_county_reads_the_file_as_missing(browser, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    b = browser()
    await b.login("outsider", PASSWORD)
    for path in (f"/console/relief/applications/{r.fresh}", f"/console/relief/applications/{r.fresh}/attachments/"
                 f"{r.proof}", "/console/relief/applications/987654321", "/console/relief/applications/99999999999999999"):
        page = await b.get(path)
        assert page.status == 404 and page.h1 == ["找不到页面"], path
    refused = await b.post(f"/console/relief/applications/{r.fresh}/decision", {"step": "verification",
                                                                                "decision": "pass"})
    assert refused.status == 404
    assert (await app_row(engine, r.fresh)).step == "verification"


async def test_a_decision_walks_the_steps_keeps_what_was_typed_and_shows_refusals_by_field(browser, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    station = browser()
    await station.login("station1", PASSWORD)
    passed = await station.post(f"/console/relief/applications/{r.fresh}/decision",
                                {"step": "verification", "decision": "pass"})
    assert passed.status == 302 and passed.location.endswith("?done=pass")
    assert (await station.get(passed.location)).has("已提交决定：通过")
    assert (await app_row(engine, r.fresh)).step == "county_review"

    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    page = await reviewer.get(f"/console/relief/applications/{r.fresh}")
    assert page.has("县级审核环节决定") and 'name="amount"' in page.text
    bad = await reviewer.post(f"/console/relief/applications/{r.fresh}/decision",
                              {"step": "county_review", "decision": "pass", "amount": "12.345", "comment": "核实无误"})
    assert bad.status == 400 and "最多两位小数" in (bad.field_error("amount") or "")
    assert 'value="12.345"' in bad.text and "核实无误" in bad.text  # kept as typed
    over = await reviewer.post(f"/console/relief/applications/{r.fresh}/decision",
                               {"step": "county_review", "decision": "pass", "amount": "5,000.01"})
    assert over.status == 422 and "超过该类别上限" in (over.field_error("amount") or "")
    ok = await reviewer.post(f"/console/relief/applications/{r.fresh}/decision",
                             {"step": "county_review", "decision": "pass", "amount": "1,200.50"})
    assert ok.status == 302
    row = await app_row(engine, r.fresh)
    assert (row.step, row.proposed_amount) == ("collective_review", 120050)
    assert "1,200.50" in (await reviewer.get(f"/console/relief/applications/{r.fresh}")).text

    # a flag blocks a pass until someone who may override says why
    flagged = await reviewer.post(f"/console/relief/applications/{r.county}/decision",
                                  {"step": "county_review", "decision": "pass", "amount": "800"})
    assert flagged.status == 422 and "须说明理由" in (flagged.field_error("override_reason") or "")
    assert 'value="800"' in flagged.text
    overridden = await reviewer.post(f"/console/relief/applications/{r.county}/decision",
                                     {"step": "county_review", "decision": "pass", "amount": "800",
                                      "override_reason": "两次申请事由不同，已核实"})
    assert overridden.status == 302
    async with engine.connect() as conn:
        status = (await conn.execute(sa.select(relief_flags.c.status)
                                     .where(relief_flags.c.application_id == r.county))).scalar_one()
    assert status == "overridden"


async def test_return_with_a_checklist_and_reject_after_asking_once(browser, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    url = f"/console/relief/applications/{r.resubmitted}/decision"
    empty = await b.post(url, {"step": "verification", "decision": "return", "comment": "请补充"})
    assert empty.status == 400 and empty.field_error("missing")
    back = await b.post(url, [("step", "verification"), ("decision", "return"), ("comment", "请补充收入证明"),
                              ("missing", "income_proof"), ("note_income_proof", "近三个月"), ("missing", "household")])
    assert back.status == 302
    row = await app_row(engine, r.resubmitted)
    assert row.status == "returned"

    reject = f"/console/relief/applications/{r.overdue_flagged}/decision"
    asked = await b.post(reject, {"step": "verification", "decision": "reject", "comment": "不符合条件"})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("不能撤回")
    assert (await app_row(engine, r.overdue_flagged)).status == "submitted"  # nothing happened yet
    assert 'name="comment" value="不符合条件"' in asked.text
    no_reason = await b.post(reject, {"step": "verification", "decision": "reject", "confirmed": "1"})
    assert no_reason.status == 400 and no_reason.field_error("comment")
    done = await b.post(reject, {"step": "verification", "decision": "reject", "comment": "不符合条件",
                                 "confirmed": "1"})
    assert done.status == 302
    assert (await app_row(engine, r.overdue_flagged)).status == "rejected"


async def test_a_decision_without_the_xsrf_token_changes_nothing(browser, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.post(f"/console/relief/applications/{r.fresh}/decision",
                        {"step": "verification", "decision": "pass"}, xsrf=False)
    assert page.status == 403
    assert (await app_row(engine, r.fresh)).step == "verification"


async def test_the_wrong_role_sees_no_decision_form_and_is_refused(browser, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    b = browser()
    await b.login("reviewer1", PASSWORD)
    page = await b.get(f"/console/relief/applications/{r.fresh}")
    assert page.status == 200 and "环节决定" not in page.text
    refused = await b.post(f"/console/relief/applications/{r.fresh}/decision",
                           {"step": "verification", "decision": "pass"})
    assert refused.status == 403 and refused.has("基层核实环节须由基层经办人员办理")
