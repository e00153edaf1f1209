"""Monthly statements in the console over HTTP: the list and its filters, building a draft, the statement's
header facts and lines, confirmation by a second finance clerk (four eyes refused in Chinese), the money paid
or received by a third with the reference of its direction, and the exports."""
from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from models.core.actors import Actor
from models.core.clock import local_today
from models.counter import settlement
from models.counter.tables import statements
from tests.console.money import money_scene
from tests.console.scene import PASSWORD, actor_of, make_scene
from tests.redeem_helpers import clear_of_midnight  # noqa: F401 - the fixture, for pytestmark

pytestmark = pytest.mark.usefixtures("clear_of_midnight")


def listed(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/console/statements/(\d+)">\d+</a></td>', text)]


async def statement_row(engine, statement_id):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(statements).where(statements.c.id == statement_id))).one()


async def build(client, merchant_id, month) -> int:
    page = await client.post("/console/statements", {"merchant_id": str(merchant_id), "month": month})
    assert page.status == 302, page.text
    return int(re.search(r"/console/statements/(\d+)\?done=built", page.location).group(1))


async def test_build_confirm_and_pay_a_month_with_four_eyes(browser, engine, running):
    scene = await make_scene(engine)
    m = await money_scene(running, engine, scene)
    builder, checker, payer = browser(), browser(), browser()
    for client, name in ((builder, "finance1"), (checker, "finance2"), (payer, "finance3")):
        assert (await client.login(name, PASSWORD)).status == 302
    page = await builder.get("/console/statements")
    assert page.status == 200 and page.h1 == ["商家月结单"] and page.has("生成月结单草稿", "老百姓大药房（编号")
    assert f'value="{m.month}"' in page.text  # last month offered
    sid = await build(builder, m.pays, m.month)
    shown = await builder.get(f"/console/statements/{sid}?done=built")
    assert shown.status == 200 and shown.h1 == [f"老百姓大药房 {m.month} 月结单"]
    assert shown.has("草稿已生成", "工会付给商家", "85.01 元", "100.01", "finance1的名字", "尚未确认", "东湖店")
    assert "确认月结单" in shown.text  # finance1 may confirm in general: the route refuses the builder
    # The builder confirms: asked once, then refused by the four eyes rule, in Chinese, on the statement.
    asked = await builder.post(f"/console/statements/{sid}/confirm", {})
    assert asked.status == 200 and asked.h1 == ["请确认"] and asked.has("明细冻结")
    alone = await builder.post(f"/console/statements/{sid}/confirm", {"confirmed": "1"})
    assert alone.status == 409 and alone.has("对账单的生成、确认和收付款须由不同人员办理")
    assert alone.h1 == [f"老百姓大药房 {m.month} 月结单"] and (await statement_row(engine, sid)).status == "draft"
    ok = await checker.post(f"/console/statements/{sid}/confirm", {"confirmed": "1"})
    assert ok.status == 302 and ok.location.endswith("?done=confirmed")
    confirmed = await checker.get(ok.location)
    assert confirmed.has("对账单已确认", "已确认", "finance2的名字", "明细（确认时冻结）", "登记付款")
    # The confirmer may not record the money; an empty reference is refused next to the field.
    self_pay = await checker.post(f"/console/statements/{sid}/paid", {"payment_ref": "工行 001"})
    assert self_pay.status == 409 and self_pay.has("须由不同人员办理") and 'value="工行 001"' in self_pay.text
    empty = await payer.post(f"/console/statements/{sid}/paid", {"payment_ref": ""})
    assert empty.status == 400 and empty.field_error("payment_ref")
    wrong = await payer.post(f"/console/statements/{sid}/received", {"payment_ref": "X"})
    assert wrong.status == 409 and wrong.has("请登记付款而非收款")
    paid = await payer.post(f"/console/statements/{sid}/paid", {"payment_ref": "工行 2026-001"})
    assert paid.status == 302
    done = await payer.get(paid.location)
    assert done.has("已登记付款", "已付款", "凭证号 工行 2026-001", "finance3的名字")
    row = await statement_row(engine, sid)
    assert row.status == "paid" and len({row.built_by, row.confirmed_by, row.paid_by}) == 3
    assert row.built_by == scene.staff["finance1"].id
    # The exports are the API's: the header block, the reference.
    exported = await payer.get(f"/console/statements/{sid}/export?format=csv")
    assert exported.status == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in exported.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(exported.body.decode("utf-8-sig"))))
    block = {line[0]: line[1] for line in lines[:lines.index([])]}
    assert (block["商家"], block["状态"], block["付款凭证号"], block["工会应付商家(元)"]) == (
        "老百姓大药房", "已付款", "工行 2026-001", "85.01")
    async with engine.connect() as conn:
        st = await settlement.get_for_staff(conn, actor_of(scene.staff["finance1"]), sid)
        assert exported.body == settlement.export_csv(st, await settlement.rows_of(conn, st))
    xlsx = await payer.get(f"/console/statements/{sid}/export?format=xlsx")
    assert xlsx.status == 200 and xlsx.body[:2] == b"PK"
    bad = await payer.get(f"/console/statements/{sid}/export?format=pdf")
    assert bad.status == 400 and bad.h1 == ["请求有误"] and "Content-Disposition" not in bad.headers


async def test_a_merchant_that_owes_the_union_is_received_not_paid(browser, engine, running):
    scene = await make_scene(engine)
    m = await money_scene(running, engine, scene)
    builder, checker, payer = browser(), browser(), browser()
    for client, name in ((builder, "finance1"), (checker, "finance2"), (payer, "finance3")):
        await client.login(name, PASSWORD)
    sid = await build(builder, m.owes, m.month)
    assert (await checker.post(f"/console/statements/{sid}/confirm", {"confirmed": "1"})).status == 302
    page = await payer.get(f"/console/statements/{sid}")
    assert page.has("商家付给工会", "50.00 元", "登记收款", "收款凭证号") and "登记付款" not in page.text
    wrong = await payer.post(f"/console/statements/{sid}/paid", {"payment_ref": "X"})
    assert wrong.status == 409 and wrong.has("请登记收款")
    got = await payer.post(f"/console/statements/{sid}/received", {"payment_ref": "到账 778"})
    assert got.status == 302 and (await payer.get(got.location)).has("已登记收款", "已收款", "凭证号 到账 778")
    exported = await payer.get(f"/console/statements/{sid}/export")
    name = exported.headers["Content-Disposition"]
    assert "%2F" not in name and "湘雅" not in name.split("filename=")[1].split(";")[0]  # the / is made safe
    assert "收款凭证号,到账 778" in exported.body.decode("utf-8-sig")


async def test_the_list_filters_by_the_url_and_pages(browser, engine, running):
    scene = await make_scene(engine)
    m = await money_scene(running, engine, scene)
    b = browser()
    await b.login("finance1", PASSWORD)
    first, second = await build(b, m.pays, m.month), await build(b, m.owes, m.month)
    checker = browser()
    await checker.login("finance2", PASSWORD)
    await checker.post(f"/console/statements/{first}/confirm", {"confirmed": "1"})
    assert listed((await b.get("/console/statements")).text) == [first, second]
    drafts = await b.get("/console/statements?status=draft")
    assert listed(drafts.text) == [second] and '<option value="draft" selected>草稿</option>' in drafts.text
    assert listed((await b.get("/console/statements?status=confirmed")).text) == [first]
    assert listed((await b.get(f"/console/statements?merchant_id={m.owes}")).text) == [second]
    assert listed((await b.get("/console/statements?month=2001-01")).text) == []
    page1 = await b.get("/console/statements?limit=1")
    nxt = re.search(r'<a href="([^"]+)" class="button secondary">下一页</a>', page1.text)
    assert listed(page1.text) == [first] and nxt
    assert listed((await b.get(nxt.group(1).replace("&amp;", "&"))).text) == [second]
    bad = await b.get("/console/statements?status=lost")
    assert bad.status == 400 and bad.h1 == ["请求有误"]
    # A refused build keeps what was typed, the refusal next to the month.
    now = await b.post("/console/statements", {"merchant_id": str(m.pays), "month": local_today().strftime("%Y-%m")})
    assert now.status == 400 and "月底之后" in (now.field_error("month") or "")
    assert f'<option value="{m.pays}" selected>' in now.text
    typo = await b.post("/console/statements", {"merchant_id": str(m.pays), "month": "2026-13"})
    assert typo.status == 400 and typo.field_error("month") and 'value="2026-13"' in typo.text
    locked = await b.post("/console/statements", {"merchant_id": str(m.pays), "month": m.month})
    assert locked.status == 409 and "不能重新生成" in (locked.field_error("merchant_id") or "")


async def test_roles_and_subtrees(browser, engine, running):
    scene = await make_scene(engine)
    m = await money_scene(running, engine, scene)
    finance = browser()
    await finance.login("finance1", PASSWORD)
    sid = await build(finance, m.pays, m.month)
    station = browser()
    await station.login("station1", PASSWORD)
    for path in ("/console/statements", f"/console/statements/{sid}", f"/console/statements/{sid}/export"):
        page = await station.get(path)
        assert page.status == 403 and page.h1 == ["没有权限"], path
    assert (await station.post(f"/console/statements/{sid}/confirm", {"confirmed": "1"})).status == 403
    approver = browser()  # may read statements, not build, confirm or pay them
    await approver.login("approver1", PASSWORD)
    page = await approver.get(f"/console/statements/{sid}")
    assert page.status == 200 and "确认月结单" not in page.text and "生成月结单草稿" not in (
        await approver.get("/console/statements")).text
    assert (await approver.post("/console/statements", {"merchant_id": str(m.pays), "month": m.month})).status == 403
    admin = browser()  # builds, but does not confirm money
    await admin.login("admin1", PASSWORD)
    refused = await admin.post(f"/console/statements/{sid}/confirm", {"confirmed": "1"})
    assert refused.status == 403 and refused.h1 == ["没有权限"]
    # Another county's statement is not found; its merchant cannot be built from here either.
    async with engine.begin() as conn:
        other = await settlement.build(conn, Actor(kind="staff", id=scene.staff["admin1"].id,
                                                   roles=frozenset({"admin"}), org_id=scene.tree["C01"].id,
                                                   org_path=scene.tree["C01"].path), m.elsewhere, m.month)
    for path in (f"/console/statements/{other.id}", f"/console/statements/{other.id}/export",
                 "/console/statements/99999999999999999"):
        page = await finance.get(path)
        assert page.status == 404 and page.h1 == ["找不到页面"], path
    assert other.id not in listed((await finance.get("/console/statements")).text)
    assert (await finance.post(f"/console/statements/{other.id}/confirm", {"confirmed": "1"})).status == 404
    far = await finance.post("/console/statements", {"merchant_id": str(m.elsewhere), "month": m.month})
    assert far.status == 404 and far.field_error("merchant_id")
    assert (await finance.post(f"/console/statements/{sid}/confirm", {"confirmed": "1"}, xsrf=False)).status == 403


async def test_the_home_page_counts_statements_exactly_and_links_to_them(browser, engine, running):
    from tests.console.test_home import tasks

    scene = await make_scene(engine)
    m = await money_scene(running, engine, scene)
    b, checker = browser(), browser()
    await b.login("finance1", PASSWORD)
    await checker.login("finance2", PASSWORD)
    first, _ = await build(b, m.pays, m.month), await build(b, m.owes, m.month)
    await checker.post(f"/console/statements/{first}/confirm", {"confirmed": "1"})
    found = tasks((await b.get("/console/")).text)
    assert found[("其他待办", "待确认的商家月结单")] == (1, "/console/statements?status=draft")
    assert found[("其他待办", "已确认待登记收付款的月结单")] == (1, "/console/statements?status=confirmed")
    assert len(listed((await b.get("/console/statements?status=draft")).text)) == 1
    # The domain's count: exact, by status, within the subtree (the other county's draft is not counted).
    async with engine.begin() as conn:
        admin = actor_of(scene.staff["admin1"])
        await settlement.build(conn, admin, m.elsewhere, m.month)
        county = actor_of(scene.staff["finance1"])
        assert await settlement.count_for_staff(conn, county, status="draft") == 1
        assert await settlement.count_for_staff(conn, admin, status="draft") == 2
        assert await settlement.count_for_staff(conn, county, status="paid") == 0
        assert [s.id for s in await settlement.list_for_staff(conn, county, status="confirmed")] == [first]
    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    assert not any(label == "待确认的商家月结单" for _, label in tasks((await outsider.get("/console/")).text))


async def test_the_api_list_filters_by_status_too(api, browser, engine, running):
    scene = await make_scene(engine)
    m = await money_scene(running, engine, scene)
    b = browser()
    await b.login("finance1", PASSWORD)
    sid = await build(b, m.pays, m.month)
    token = (await api.post("/api/v1/auth/staff", {"username": "finance2", "password": PASSWORD})).data["token"]
    drafts = await api.get("/api/v1/staff/statements?status=draft", token=token)
    assert drafts.status == 200 and [s["id"] for s in drafts.data["items"]] == [sid]
    assert (await api.get("/api/v1/staff/statements?status=paid", token=token)).data["items"] == []
    bad = await api.get("/api/v1/staff/statements?status=lost", token=token)
    assert (bad.status, bad.error_code) == (400, "invalid_query")
