"""The console's relief steps after the decisions, over HTTP on both databases: the home visit with photos, the
collective review meeting and its result, notice batches, objections and their resolution (asked once)."""
from __future__ import annotations

import re
import uuid

import sqlalchemy as sa

from handlers.console import notices as console_notices
from models.relief.tables import relief_attachments, relief_notice_entries, relief_objections
from tests import hostile_files
from tests.console.later import app_row, later_scene
from tests.console.scene import PASSWORD, make_scene, relief_scene


def multipart(fields: dict[str, str], file: tuple[str, bytes, str] | None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    if file is not None:
        filename, data, mime = file
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     f'Content-Type: {mime}\r\n\r\n'.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def upload(b, path, fields, file, headers=None):
    body, ctype = multipart(fields, file)
    return await b.request("POST", path, body=body, headers={"Content-Type": ctype, **(headers or {})})


async def photos(engine, app_id):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(relief_attachments).where(
            relief_attachments.c.application_id == app_id, relief_attachments.c.visit_id.is_not(None)))).scalar_one()


async def test_a_visit_is_recorded_with_photos_and_shown_on_the_file(browser, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    url = f"/console/relief/applications/{r.overdue_flagged}/visit"
    page = await b.get(url)
    assert page.status == 200 and page.h1 == [f"入户核查 · 申请 {r.overdue_flagged}"]
    assert 'aria-label="面包屑"' in page.text and "还没有入户核查记录" in page.text
    file_page = await b.get(f"/console/relief/applications/{r.overdue_flagged}")
    assert f'href="{url}"' in file_page.text  # the file links to it
    bad = await b.post(url, {"date": "2999-01-01", "visitors": "", "findings": "情况属实，家庭困难"})
    assert bad.status == 400 and bad.field_error("visitors") and "情况属实，家庭困难" in bad.text
    future = await b.post(url, {"date": "2999-01-01", "visitors": "张三、李四", "findings": "情况属实，家庭困难"})
    assert future.status == 400 and "不能晚于今天" in (future.field_error("date") or "")
    assert 'value="张三、李四"' in future.text
    done = await b.post(url, {"date": "2026-01-05", "visitors": "张三、李四", "findings": "情况属实，家庭困难"})
    assert done.status == 302 and done.location.endswith("?done=visit")
    page = await b.get(done.location)
    assert page.has("入户核查已登记", "张三、李四", "情况属实，家庭困难")
    visit_id = int(re.search(r'action="/console/relief/visits/(\d+)/photos"', page.text).group(1))
    photo_url = f"/console/relief/visits/{visit_id}/photos"
    # the XSRF token travels in the multipart body (a plain form) or in the header (a script)
    refused = await upload(b, photo_url, {}, ("a.jpg", hostile_files.jpeg(), "image/jpeg"))
    assert refused.status == 403 and refused.h1 == ["没有权限"]
    wrong = await upload(b, photo_url, {"_xsrf": "2|00|11|22"}, ("a.jpg", hostile_files.jpeg(), "image/jpeg"))
    assert wrong.status == 403
    assert await photos(engine, r.overdue_flagged) == 0
    not_image = await upload(b, photo_url, {"_xsrf": b.xsrf}, ("a.txt", b"hello, not a photo", "text/plain"))
    assert not_image.status in (415, 422) and not_image.field_error("file")
    ok = await upload(b, photo_url, {"_xsrf": b.xsrf}, ("a.jpg", hostile_files.jpeg(), "image/jpeg"))
    assert ok.status == 302 and ok.location.endswith("?done=photo")
    by_header = await upload(b, photo_url, {}, ("b.jpg", hostile_files.jpeg(), "image/jpeg"),
                             headers={"X-XSRFToken": b.xsrf})
    assert by_header.status == 302
    assert await photos(engine, r.overdue_flagged) == 2
    file_page = await b.get(f"/console/relief/applications/{r.overdue_flagged}")
    assert file_page.text.count('alt="入户核查照片') == 2 and file_page.has("张三、李四")
    img = re.search(r'<img src="(/console/relief/applications/\d+/attachments/\d+)" alt="入户核查照片', file_page.text)
    assert (await b.get(img.group(1))).headers["Content-Type"] == "image/jpeg"


async def test_a_visit_is_refused_to_the_wrong_role_and_out_of_the_subtree(browser, engine, running):
    scene = await make_scene(engine)
    r = await relief_scene(running, engine, scene)
    finance = browser()
    await finance.login("finance1", PASSWORD)
    page = await finance.get(f"/console/relief/applications/{r.fresh}/visit")
    assert page.status == 403 and page.h1 == ["没有权限"]
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    page = await outsider.get(f"/console/relief/applications/{r.fresh}/visit")
    assert page.status == 404 and page.h1 == ["找不到页面"]
    posted = await outsider.post(f"/console/relief/applications/{r.fresh}/visit",
                                 {"date": "2026-01-05", "visitors": "某人", "findings": "越权登记"})
    assert posted.status == 404
    station = browser()
    await station.login("station1", PASSWORD)
    visit_page = await station.get(f"/console/relief/applications/{r.fresh}/visit")
    visit_id = re.search(r'action="/console/relief/visits/(\d+)/photos"', visit_page.text).group(1)
    far = await upload(outsider, f"/console/relief/visits/{visit_id}/photos", {"_xsrf": outsider.xsrf},
                       ("a.jpg", hostile_files.jpeg(), "image/jpeg"))
    assert far.status == 404 and far.h1 == ["找不到页面"]


async def test_the_meeting_records_votes_and_shows_who_passed(browser, engine, running):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    a, flagged = later.meeting
    b = browser()
    await b.login("approver1", PASSWORD)
    form = await b.get("/console/relief/meetings/new")
    assert form.status == 200 and form.h1 == ["记录集体评议会议"]
    assert f'value="{a}"' in form.text and f'value="{flagged}"' in form.text
    assert f'value="{later.elsewhere["meeting"]}"' not in form.text  # another county's is not offered
    assert 'name="override_' + str(flagged) + '"' in form.text and "2,500.00" in form.text
    base = [("date", "2026-01-06"), ("members", "7"), ("present", "甲\n乙\n丙\n丁"), ("minutes", "逐件讨论后表决。")]
    votes = [("application", str(a)), (f"for_{a}", "4"), (f"against_{a}", "0"),
             ("application", str(flagged)), (f"for_{flagged}", "2"), (f"against_{flagged}", "2")]
    quorum = await b.post("/console/relief/meetings/new", base + votes)
    assert quorum.status == 422, re.findall(r"<p[^>]*>(.*?)</p>", quorum.text)[:4]
    assert "至少 5 人" in (quorum.field_error("present") or "")
    assert "逐件讨论后表决。" in quorum.text and f'id="for_{a}" name="for_{a}" type="number" min="0" class="count" value="4"' in quorum.text
    none = await b.post("/console/relief/meetings/new", base)
    assert none.status == 400 and none.field_error("application")
    present = [("present", "甲\n乙\n丙\n丁\n戊")]
    fields = [f for f in base if f[0] != "present"] + present
    too_many = await b.post("/console/relief/meetings/new", fields + [("application", str(a)), (f"for_{a}", "6"),
                                                                     (f"against_{a}", "0")])
    assert too_many.status == 422 and "超过出席人数" in (too_many.field_error("application") or "")
    far = await b.post("/console/relief/meetings/new", fields + [("application", str(later.elsewhere["meeting"])),
                                                                (f"for_{later.elsewhere['meeting']}", "5")])
    assert far.status == 422 and far.field_error("application")
    done = await b.post("/console/relief/meetings/new", fields + votes)
    assert done.status == 302 and re.match(r"/console/relief/meetings/\d+$", done.location)
    result = await b.get(done.location)
    assert result.status == 200 and result.has("通过 1 件", "未通过 1 件", "甲、乙、丙、丁、戊", "逐件讨论后表决。")
    assert (await app_row(engine, a)).step == "notice"
    assert (await app_row(engine, flagged)).status == "rejected"
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    assert (await outsider.get(done.location)).status == 404
    assert (await outsider.get("/console/relief/meetings/new")).status == 403  # not an approver
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    refused = await reviewer.post("/console/relief/meetings/new", fields + votes)
    assert refused.status == 403 and refused.h1 == ["没有权限"]


async def test_a_notice_batch_is_published_and_listed_with_its_period(browser, engine, running, monkeypatch):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    b = browser()
    await b.login("reviewer1", PASSWORD)
    form = await b.get("/console/relief/notices/new")
    assert form.status == 200 and f'value="{later.notice}"' in form.text
    assert f'value="{later.published}"' in form.text  # still at the notice step, but already in a batch
    assert f'value="{later.elsewhere["notice"]}"' not in form.text
    assert "还有申请等待公示" not in form.text
    monkeypatch.setattr(console_notices, "LISTED", 1)  # more wait than the form offers: it says so
    fewer = await b.get("/console/relief/notices/new")
    assert fewer.text.count('name="application"') == 1 and "这里先列出最早的 1 个" in fewer.text
    monkeypatch.undo()
    none = await b.post("/console/relief/notices/new", {"days": "7"})
    assert none.status == 400 and none.field_error("application")
    bad_days = await b.post("/console/relief/notices/new", [("application", str(later.notice)), ("days", "99")])
    assert bad_days.status == 400 and bad_days.field_error("days") and 'value="99"' in bad_days.text
    busy = await b.post("/console/relief/notices/new", [("application", str(later.published)), ("days", "7")])
    assert busy.status == 409 and "已在公示批次" in (busy.field_error("application") or "")
    done = await b.post("/console/relief/notices/new", [("application", str(later.notice)), ("days", "5")])
    assert done.status == 302 and "/console/relief/notices?done=" in done.location
    listed = await b.get(done.location)
    assert listed.status == 200 and listed.has("已发布", "5 个自然日", "郑*", "2,500.00", "有异议待处理")
    assert re.search(r"公示期：\d{4}-\d\d-\d\d \d\d:\d\d 至 \d{4}-\d\d-\d\d 23:59", listed.text)
    first = await b.get("/console/relief/notices?limit=1")
    nxt = re.search(r'<a href="([^"]+)" class="button secondary">下一页</a>', first.text)
    assert nxt and f"公示批次 {later.notice_id}" in (await b.get(nxt.group(1).replace("&amp;", "&"))).text
    station = browser()
    await station.login("station1", PASSWORD)
    assert (await station.get("/console/relief/notices")).status == 403


async def test_objections_are_listed_by_status_and_resolved_after_asking_once(browser, engine, running):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    b = browser()
    await b.login("reviewer1", PASSWORD)
    listed = await b.get("/console/relief/objections?status=open")
    assert listed.status == 200 and listed.has("申请人家中另有商铺出租收入", "13800001234")
    assert '<option value="open" selected>待处理</option>' in listed.text
    assert "异议 " + str(later.objection) in listed.text
    assert "申请人家中" not in (await b.get("/console/relief/objections?status=upheld")).text
    assert (await b.get("/console/relief/objections?status=nope")).status == 400
    url = f"/console/relief/objections/{later.objection}"
    page = await b.get(url)
    assert page.status == 200 and f'href="/console/relief/applications/{later.published}"' in page.text
    assert 'data-confirm-decision="dismiss rejected"' in page.text
    missing = await b.post(url + "/resolve", {"decision": "rejected"})
    assert missing.status == 400 and missing.field_error("finding")
    no_choice = await b.post(url + "/resolve", {"finding": "经核查属实"})
    assert no_choice.status == 400 and no_choice.field_error("decision") and "经核查属实" in no_choice.text
    asked = await b.post(url + "/resolve", {"decision": "rejected", "finding": "经核查属实，有出租收入"})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("不能撤回")
    assert (await app_row(engine, later.published)).status == "submitted"  # nothing happened yet
    done = await b.post(url + "/resolve", {"decision": "rejected", "finding": "经核查属实，有出租收入",
                                           "confirmed": "1"})
    assert done.status == 302
    page = await b.get(done.location)
    assert page.has("异议已处理：异议成立", "经核查属实，有出租收入") and "提交处理结果" not in page.text
    row = await app_row(engine, later.published)
    assert (row.status, row.reject_reason) == ("rejected", "经核查属实，有出租收入")
    again = await b.post(url + "/resolve", {"decision": "dismiss", "finding": "再次处理", "confirmed": "1"})
    assert again.status == 409 and again.has("该异议已处理")
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    assert (await outsider.get(url)).status == 404
    assert "申请人家中" not in (await outsider.get("/console/relief/objections")).text
    station = browser()
    await station.login("station1", PASSWORD)
    assert (await station.get(url)).status == 403


async def test_dismissing_an_objection_puts_the_entry_back_in_the_notice(browser, engine, running):
    scene = await make_scene(engine)
    later = await later_scene(running, engine, scene)
    b = browser()
    await b.login("reviewer1", PASSWORD)
    url = f"/console/relief/objections/{later.objection}/resolve"
    asked = await b.post(url, {"decision": "dismiss", "finding": "经核查不属实"})
    assert asked.h1 == ["请确认"] and 'name="decision" value="dismiss"' in asked.text
    done = await b.post(url, {"decision": "dismiss", "finding": "经核查不属实", "confirmed": "1"})
    assert done.status == 302
    async with engine.connect() as conn:
        state = (await conn.execute(sa.select(relief_notice_entries.c.state).where(
            relief_notice_entries.c.application_id == later.published))).scalar_one()
        status = (await conn.execute(sa.select(relief_objections.c.status).where(
            relief_objections.c.id == later.objection))).scalar_one()
    assert (state, status) == ("in_notice", "dismissed")
