"""The public notice over HTTP: publishing, the public JSON and page showing only the masked name, unit, kind
and amount, objections without a login (throttled, contact encrypted), resolution, the calendar, and staff of
another subtree refused at every staff route."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from models.core.clock import utcnow

from models.core.tables import audit_log
from models.relief.tables import relief_notices, relief_objections
from tests.factories import id_number, org_tree
from tests.relief_helpers import staff, submitted, token, worker

STAFF = "/api/v1/staff/relief"
PUBLIC = "/api/v1/public/notices"
FORM = {"event": "illness", "event_date": "2026-01-05", "situation": "突发脑梗住院，家中无其他收入来源，秘密细节。"}


async def _scene(engine, running):
    cipher = running.settings["cipher"]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        member_id, user_id = await worker(conn, cipher, tree["G01"], 81, name="张三明")
        apps = [await submitted(conn, cipher, member_id, user_id, tree["G01"], step="notice", form=FORM)]
        other_member, other_user = await worker(conn, cipher, tree["G01"], 82, name="李四")
        apps.append(await submitted(conn, cipher, other_member, other_user, tree["G01"], step="notice"))
        await conn.execute(sa.text("UPDATE relief_applications SET proposed_amount = 150050"))
        s = {"apps": apps}
        for name, org, roles in (("reviewer", "K01", ["reviewer"]), ("station", "G01", ["station"]),
                                 ("admin", "C01", ["admin"]), ("far", "K02", ["reviewer", "approver", "admin"])):
            actor = await staff(conn, f"{name}.notice", org, *roles)
            s[name] = await token(conn, actor)
    return s


async def test_the_whole_notice_over_http(api, engine, running, wechat):
    s = await _scene(engine, running)
    refused = await api.post(f"{STAFF}/notices", {"application_ids": s["apps"]}, token=s["station"])
    assert (refused.status, refused.error_code) == (403, "role_forbidden")
    far = await api.post(f"{STAFF}/notices", {"application_ids": s["apps"]}, token=s["far"])
    assert (far.status, far.error_code) == (422, "notice_application")
    made = await api.post(f"{STAFF}/notices", {"application_ids": s["apps"], "days": 5}, token=s["reviewer"])
    assert made.status == 201, made.data
    batch = made.data
    again = await api.post(f"{STAFF}/notices", {"application_ids": s["apps"][:1]}, token=s["reviewer"])
    assert (again.status, again.error_code) == (409, "notice_already_published")

    # The public JSON: exactly the masked name, unit, kind and amount of each entry.
    public = await api.get(PUBLIC)
    assert public.status == 200
    [shown] = public.data["items"]
    assert set(shown) == {"id", "org", "starts_at", "ends_at", "entries"} and shown["org"] == "芙蓉区总工会"
    assert [set(e) for e in shown["entries"]] == [{"id", "name", "unit", "kind", "amount"}] * 2
    assert [(e["name"], e["unit"], e["kind"], e["amount"]) for e in shown["entries"]] == [
        ("张*明", "东湖社区工会", "临时救助", 150050), ("李*", "东湖社区工会", "临时救助", 150050)]
    # The page: the same, and nothing else about the person.
    page = await api.get("/notices", validate=False)
    html = page.body.decode("utf-8")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "style-src 'self'" in page.headers["Content-Security-Policy"] and page.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in html and "张*明" in html and "1500.50" in html and "东湖社区工会" in html
    for secret in ("张三明", "李四", id_number(81), id_number(82), "秘密细节", "脑梗"):
        assert secret not in html and secret not in public.body.decode("utf-8")

    # An objection without a login; the contact never comes back publicly.
    entry = shown["entries"][0]["id"]
    body = {"entry": entry, "reason": "申请人家里开着一家超市。", "contact": "13912345678"}
    short = await api.post(f"{PUBLIC}/{batch['id']}/objections", {**body, "reason": "太短"})
    assert (short.status, short.error_code) == (400, "invalid_body")
    raised = await api.post(f"{PUBLIC}/{batch['id']}/objections", body)
    assert raised.status == 201 and raised.data == {"id": raised.data["id"], "status": "open"}
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(relief_objections.c.contact_enc))).scalar_one()
    assert "13912345678" not in stored
    for path in (PUBLIC, "/notices"):
        text = (await api.get(path, validate=False)).body.decode("utf-8")
        assert "13912345678" not in text and "超市" not in text

    # Staff read the contact (audited); another county's staff see nothing of it.
    listed = await api.get(f"{STAFF}/objections?status=open", token=s["reviewer"])
    assert [(o["contact"], o["status"], o["overdue"]) for o in listed.data["items"]] == [("13912345678", "open", False)]
    assert (await api.get(f"{STAFF}/objections?overdue=1", token=s["reviewer"])).data["items"] == []
    async with engine.connect() as conn:
        viewed = (await conn.execute(sa.select(sa.func.count()).select_from(audit_log)
                                     .where(audit_log.c.action == "relief.objection_view"))).scalar_one()
    assert viewed == 1
    assert (await api.get(f"{STAFF}/objections", token=s["far"])).data["items"] == []
    objection = raised.data["id"]
    far_resolve = await api.post(f"{STAFF}/objections/{objection}/resolve", {"upheld": False, "finding": "越权处理"},
                                 token=s["far"])
    assert (far_resolve.status, far_resolve.error_code) == (404, "objection_not_found")
    assert (await api.get(f"{STAFF}/notices", token=s["far"])).data["items"] == []
    no_outcome = await api.post(f"{STAFF}/objections/{objection}/resolve", {"upheld": True, "finding": "成立"},
                                token=s["reviewer"])
    assert no_outcome.status == 400
    done = await api.post(f"{STAFF}/objections/{objection}/resolve",
                          {"upheld": True, "finding": "经核查家庭经营超市，收入超标。", "outcome": "rejected"},
                          token=s["reviewer"])
    assert done.status == 200 and (done.data["status"], done.data["upheld"]) == ("upheld", True)
    mine = await api.get(f"{STAFF}/notices", token=s["reviewer"])
    assert [i["state"] for i in mine.data["items"][0]["items"]] == ["withdrawn_by_objection", "in_notice"]


async def test_objections_are_throttled_by_address_and_refused_after_the_end(api, engine, running, wechat):
    s = await _scene(engine, running)
    batch = (await api.post(f"{STAFF}/notices", {"application_ids": s["apps"]}, token=s["reviewer"])).data
    entry = batch["items"][1]["id"]
    body = {"entry": entry, "reason": "我认为此人不符合条件。", "contact": "微信 abc123"}
    for _ in range(5):
        assert (await api.post(f"{PUBLIC}/{batch['id']}/objections", body)).status == 201
    sixth = await api.post(f"{PUBLIC}/{batch['id']}/objections", body)
    assert (sixth.status, sixth.error_code) == (429, "rate_limited") and int(sixth.headers["Retry-After"]) > 0
    async with engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM throttles"))
        await conn.execute(relief_notices.update().values(ends_at=utcnow() - timedelta(seconds=1)))
    ended = await api.post(f"{PUBLIC}/{batch['id']}/objections", body)
    assert (ended.status, ended.error_code) == (409, "notice_ended")
    missing = await api.post(f"{PUBLIC}/{batch['id']}/objections", {**body, "entry": 987654})
    assert (missing.status, missing.error_code) == (404, "notice_entry_not_found")


async def test_the_calendar_is_the_admins(api, engine, running, wechat):
    s = await _scene(engine, running)
    day = {"off": True, "name": "国庆节"}
    refused = await api.request("PUT", "/api/v1/staff/calendar/2026-10-01", json_body=day, token=s["reviewer"])
    assert (refused.status, refused.error_code) == (403, "role_forbidden")
    # "far" is an admin of a district (K02): the calendar counts every unit's days, so only a top unit's admin
    below = await api.request("PUT", "/api/v1/staff/calendar/2026-10-01", json_body=day, token=s["far"])
    assert (below.status, below.error_code) == (403, "calendar_top_only")
    put = await api.request("PUT", "/api/v1/staff/calendar/2026-10-01", json_body=day, token=s["admin"])
    assert put.status == 200 and put.data == {"date": "2026-10-01", **day}
    listed = await api.get("/api/v1/staff/calendar?year=2026", token=s["admin"])
    assert listed.data == {"items": [{"date": "2026-10-01", **day}]}
    bad = await api.request("PUT", "/api/v1/staff/calendar/2026-02-30", json_body=day, token=s["admin"])
    assert bad.status == 404
    kept = await api.request("DELETE", "/api/v1/staff/calendar/2026-10-01", token=s["far"])
    assert (kept.status, kept.error_code) == (403, "calendar_top_only")
    assert (await api.get("/api/v1/staff/calendar?year=2026", token=s["far"])).status == 200  # reading stays open
    gone = await api.request("DELETE", "/api/v1/staff/calendar/2026-10-01", token=s["admin"])
    assert gone.status == 204
    assert (await api.get("/api/v1/staff/calendar?year=2026", token=s["admin"])).data == {"items": []}
