"""The audit log in the console over HTTP (admins): filters by person, action, target and days in the URL, newest
first with a cursor; records of another subtree out of reach; the chain check in Chinese, a broken chain named."""
from __future__ import annotations

import re

import sqlalchemy as sa

from models.core import audit

from models.core.clock import local_today
from models.core.tables import audit_log
from models.partners.tables import merchants
from tests.console.scene import PASSWORD, make_scene

AUDIT = "/console/audit"


def ids(text: str) -> list[int]:
    return [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)", text)]


async def busy_admin(browser, engine):
    """admin1 (the city) and reviewer1's county admin make merchants; returns admin1's browser and the scene."""
    scene = await make_scene(engine)
    b = browser()
    await b.login("admin1", PASSWORD)
    for name, org in (("仁和大药房", "K01"), ("天心超市", "K02")):
        await b.post("/console/partners/merchants/new", {"name": name, "type": "pharmacy", "org": org,
                                                         "agreement_from": "2026-01-01", "agreement_to": "2026-12-31"})
    return scene, b


async def test_the_log_filters_by_person_action_target_and_days(browser, engine, running):
    scene, b = await busy_admin(browser, engine)
    page = await b.get(AUDIT)
    assert page.status == 200 and page.h1 == ["审计日志"] and page.has("新增商家", "admin1")
    listed = ids(page.text)
    assert listed == sorted(listed, reverse=True) and listed  # newest first
    mine = await b.get(AUDIT + "?person=admin1&action=merchant.create")
    assert len(ids(mine.text)) == 2 and 'value="admin1"' in mine.text and 'value="merchant.create"' in mine.text
    assert len(ids((await b.get(AUDIT + "?action=merchant.")).text)) == 2  # a prefix ending in "."
    assert ids((await b.get(AUDIT + "?person=nobody")).text) == []
    async with engine.connect() as conn:
        shop = (await conn.execute(sa.select(merchants.c.id).where(merchants.c.name == "仁和大药房"))).scalar_one()
    target = await b.get(f"{AUDIT}?target_kind=merchant&target_id={shop}")
    assert ids(target.text) and target.has("仁和大药房") and not target.has("天心超市")
    assert '<option value="merchant" selected>' in target.text
    today = local_today().isoformat()
    assert len(ids((await b.get(f"{AUDIT}?action=merchant.create&from={today}&to={today}")).text)) == 2
    assert ids((await b.get(f"{AUDIT}?action=merchant.create&from=2001-01-01&to=2001-12-31")).text) == []
    refused = await b.get(f"{AUDIT}?from=2026-05-02&to=2026-05-01")
    assert refused.status == 400 and refused.has("起始日期不能晚于截止日期")
    first = await b.get(AUDIT + "?limit=1&action=merchant.create")
    nxt = re.search(r'<a href="([^"]+)" class="button secondary">下一页</a>', first.text)
    assert nxt and "action=merchant.create" in nxt.group(1)
    second = await b.get(nxt.group(1).replace("&amp;", "&"))
    assert ids(second.text) and ids(second.text)[0] < ids(first.text)[0]


async def test_a_county_admin_sees_their_subtree_only_and_others_may_not_look(browser, engine, running, api):
    scene, b = await busy_admin(browser, engine)
    await b.post("/console/accounts/new", [("username", "k2admin"), ("password", "Another-Pass-2026!"),
                                           ("org_code", "K02"), ("roles", "admin")])
    county = browser()
    await county.login("k2admin", "Another-Pass-2026!")
    await county.post("/console/password", {"current": "Another-Pass-2026!", "new": "Changed-Pass-2026!",
                                            "confirm": "Changed-Pass-2026!"})
    page = await county.get(AUDIT + "?action=merchant.create")
    assert page.status == 200 and page.has("天心超市") and not page.has("仁和大药房")
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    for path in (AUDIT, AUDIT + "/verify"):
        refused = await reviewer.get(path)
        assert refused.status == 403 and refused.h1 == ["没有权限"]


async def test_the_chain_check_says_in_chinese_whether_it_holds(browser, engine, running):
    _, b = await busy_admin(browser, engine)
    async with engine.begin() as conn:
        await audit.seal(conn)  # the check seals nothing: the serving process's job would have, within 2 s
    good = await b.get(AUDIT + "/verify")
    assert good.status == 200 and good.h1 == ["审计日志校验"] and good.has("审计链完整", "条记录")
    async with engine.begin() as conn:
        first = (await conn.execute(sa.select(sa.func.min(audit_log.c.id)))).scalar_one()
        await conn.execute(audit_log.update().where(audit_log.c.id == first).values(summary='{"forged": true}'))
    bad = await b.get(AUDIT + "/verify")
    assert bad.status == 200 and bad.has("审计链校验未通过", "的内容被改动", f"第一条有问题的记录编号：{first}")
