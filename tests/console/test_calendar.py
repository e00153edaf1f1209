"""The holiday calendar in the console over HTTP (admins): a year's days, setting a day with the API's refusals
shown next to the field, removing one asked once; any other role gets the 403 page."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.core.clock import utcnow
from models.core.tables import audit_log
from models.identity import staff_accounts
from server.passwords import ARGON2
from models.relief.tables import relief_calendar
from tests.console.scene import PASSWORD, make_scene


async def days(engine) -> dict[str, tuple[bool, str]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(relief_calendar))).all()
    return {r.day.isoformat(): (bool(r.off), r.name) for r in rows}


async def test_an_admin_lists_sets_and_removes_days(browser, engine, running):
    await make_scene(engine)
    b = browser()
    await b.login("admin1", PASSWORD)
    page = await b.get("/console/calendar?year=2026")
    assert page.status == 200 and page.h1 == ["2026 年节假日日历"] and page.has("2026 年还没有设置")
    assert '<a href="/console/calendar?year=2027">2027 年</a>' in page.text and 'aria-label="面包屑"' in page.text
    assert (await b.get("/console/calendar")).status == 200  # this year
    assert (await b.get("/console/calendar?year=1999")).status == 400
    # refusals next to their field, what was typed kept
    blank = await b.post("/console/calendar", {"date": "", "off": "true", "name": ""})
    assert blank.status == 400 and blank.field_error("date") == "请填写日期" and blank.field_error("name")
    badly = await b.post("/console/calendar", {"date": "2026/10/08", "off": "true", "name": "国庆节"})
    assert badly.status == 400 and "年-月-日" in badly.field_error("date") and 'value="国庆节"' in badly.text
    weekend = await b.post("/console/calendar", {"date": "2026-10-03", "off": "true", "name": "国庆节"})
    assert weekend.status == 422 and weekend.field_error("off") == "周末本就不是工作日，无需设为节假日"
    assert 'value="2026-10-03"' in weekend.text
    weekday = await b.post("/console/calendar", {"date": "2026-10-08", "off": "false", "name": "调休"})
    assert weekday.status == 422 and "只有周末才能设为调休上班日" in weekday.field_error("off")
    assert '<input type="radio" name="off" value="false" checked>' in weekday.text
    done = await b.post("/console/calendar", {"date": "2026-10-08", "off": "true", "name": "国庆节"})
    assert done.status == 302 and done.location == "/console/calendar?year=2026&done=put"
    made = await b.post("/console/calendar", {"date": "2026-10-10", "off": "false", "name": "国庆调休"})
    assert made.status == 302
    assert await days(engine) == {"2026-10-08": (True, "国庆节"), "2026-10-10": (False, "国庆调休")}
    listed = await b.get(done.location)
    assert listed.has("已保存", "2026-10-08", "星期四", "放假", "国庆节", "星期六", "调休上班")
    # remove: asked once, then done
    asked = await b.post("/console/calendar/2026-10-08/remove", {})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("恢复为普通的工作日")
    assert "2026-10-08" in await days(engine)
    removed = await b.post("/console/calendar/2026-10-08/remove", {"confirmed": "1"})
    assert removed.status == 302 and removed.location == "/console/calendar?year=2026&done=delete"
    assert list(await days(engine)) == ["2026-10-10"]
    again = await b.post("/console/calendar/2026-10-08/remove", {"confirmed": "1"})
    assert again.status == 404 and again.has("日历中没有这一天的设置")
    assert (await b.post("/console/calendar/2026-13-45/remove", {"confirmed": "1"})).status == 404
    async with engine.connect() as conn:
        logged = [a for (a,) in await conn.execute(sa.select(audit_log.c.action))]
    assert logged.count("calendar.put") == 2 and logged.count("calendar.delete") == 1


async def test_other_roles_get_the_403_page(browser, engine, running):
    await make_scene(engine)
    b = browser()
    await b.login("reviewer1", PASSWORD)
    for page in (await b.get("/console/calendar?year=2026"),
                 await b.post("/console/calendar", {"date": "2026-10-08", "off": "true", "name": "国庆节"}),
                 await b.post("/console/calendar/2026-10-08/remove", {"confirmed": "1"})):
        assert page.status == 403 and page.h1 == ["没有权限"]
    assert await days(engine) == {}


async def test_an_admin_below_the_top_unit_sees_the_calendar_and_changes_nothing(browser, engine, running):
    await make_scene(engine)
    async with engine.begin() as conn:
        await conn.execute(relief_calendar.insert().values(day=date(2026, 10, 8), off=True, name="国庆节",
                                                           updated_at=utcnow()))
        await staff_accounts.create(conn, SYSTEM, hasher=ARGON2, username="county_admin", password=PASSWORD,
                                    roles=["admin"], org_code="K01")
    b = browser()
    await b.login("county_admin", PASSWORD)
    page = await b.get("/console/calendar?year=2026")
    assert page.status == 200 and page.has("2026-10-08", "国庆节", "由最上级工会的管理员维护")
    assert "取消设置" not in page.text and 'action="/console/calendar"' not in page.text  # no form, no remove
    refused = await b.post("/console/calendar", {"date": "2026-10-09", "off": "true", "name": "国庆节"})
    assert refused.status == 403 and refused.has("只能由最上级工会的管理员修改")
    kept = await b.post("/console/calendar/2026-10-08/remove", {"confirmed": "1"})
    assert kept.status == 403
    assert await days(engine) == {"2026-10-08": (True, "国庆节")}
