"""Statistics in the console over HTTP: people helped and money by kind and by month, redemptions and discounts by
partner, cards issued, funds' income and spending, for a unit of my subtree and a period in the URL; each a chart
(its options in a JSON block) and a table with the same numbers; the XLSX export has the same numbers again."""
from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from html import unescape

import sqlalchemy as sa
from openpyxl import load_workbook

from models.cards import lifecycle
from models.core.clock import local_today, utcnow
from models.counter.tables import redemptions
from models.funds import sources
from models.partners import partnership
from models.relief import tallies
from models.relief.tables import relief_applications, relief_events
from tests.console.scene import PASSWORD, actor_of, make_scene
from tests.relief_helpers import submitted, worker

STATS = "/console/stats"


async def stats_scene(running, engine):
    scene = await make_scene(engine)
    cipher = running.settings["cipher"]
    admin = actor_of(scene.staff["admin1"])
    now = utcnow()
    async with engine.begin() as conn:
        tree = scene.tree
        m1, u1 = await worker(conn, cipher, tree["G01"], 71, name="王秀英")
        m2, u2 = await worker(conn, cipher, tree["G02"], 72, name="李建华")
        m3, u3 = await worker(conn, cipher, tree["K02"], 73, name="孙八")
        for member, user, org, amount in ((m1, u1, tree["G01"], 300_000), (m2, u2, tree["G02"], 150_050),
                                          (m3, u3, tree["K02"], 99_900)):
            app = await submitted(conn, cipher, member, user, org, status="paid", step="payment")
            await conn.execute(relief_applications.update().where(relief_applications.c.id == app)
                               .values(approved_amount=amount))
            await conn.execute(relief_events.insert(), [
                {"application_id": app, "step": "approval", "action": "passed", "at": now, "amount": amount},
                {"application_id": app, "step": "payment", "action": "paid", "at": now, "amount": amount}])
        await tallies.rebuild(conn)  # the timelines above were written directly: the statistics' summary of them
        for member in (m1, m2):
            await lifecycle.issue(conn, admin, member)
        shop = await partnership.create(conn, admin, name="仁和大药房", type="pharmacy", org_id=tree["K01"].id,
                                        agreement_from=local_today() - timedelta(days=30),
                                        agreement_to=local_today() + timedelta(days=300))
        far = await partnership.create(conn, admin, name="天心超市", type="supermarket", org_id=tree["K02"].id,
                                       agreement_from=local_today(), agreement_to=local_today() + timedelta(days=300))
        month = now.strftime("%Y-%m")
        base = {"store_id": 0, "cashier_id": 1, "card_id": 1, "member_id": m1, "payable": 0, "lines": "[]",
                "month": month, "created_at": now, "refunded_amount": 0, "refunded_discount": 0,
                "refunded_union": 0, "refunded_merchant": 0}
        await conn.execute(redemptions.insert(), [
            {**base, "merchant_id": shop.id, "scan_id": "s" * 20 + "1", "amount": 10_000, "discount": 1_500,
             "union_share": 1_275, "merchant_share": 225, "status": "done"},
            {**base, "merchant_id": shop.id, "scan_id": "s" * 20 + "2", "amount": 20_000, "discount": 3_000,
             "union_share": 2_550, "merchant_share": 450, "status": "refunded", "refunded_amount": 10_000,
             "refunded_discount": 1_500, "refunded_union": 1_275, "refunded_merchant": 225},
            {**base, "merchant_id": shop.id, "scan_id": "s" * 20 + "3", "amount": 50_000, "discount": 7_500,
             "union_share": 6_375, "merchant_share": 1_125, "status": "void"},
            {**base, "merchant_id": far.id, "scan_id": "s" * 20 + "4", "amount": 70_000, "discount": 700,
             "union_share": 0, "merchant_share": 700, "status": "done"}])
        await sources.create(conn, admin, sources.NewFund(org="K01", source="union", name="芙蓉区困难帮扶资金",
                                                          year=local_today().year, budget=5_000_000,
                                                          kinds=["temporary"]))
    return scene


def table(text: str, key: str) -> list[list[str]]:
    """The rows of a report's table as the page shows them (header cells, data cells, the total)."""
    found = re.search(rf'<table id="table-{key}">(.*?)</table>', text, re.S)
    assert found, key
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in rows]


async def test_the_reports_as_tables_and_charts_for_my_subtree(browser, engine, running):
    await stats_scene(running, engine)
    b = browser()
    await b.login("reviewer1", PASSWORD)  # 芙蓉区
    page = await b.get(STATS)
    assert page.status == 200 and page.h1 == ["统计"] and 'aria-label="面包屑"' in page.text
    year = local_today().year
    assert page.has(f"芙蓉区总工会及下级单位，{year}-01-01 至 {local_today().isoformat()}")
    kinds = table(page.text, "by_kind")
    assert kinds[0] == ["救助类别", "救助人次", "救助金额（元）"]
    assert kinds[1:] == [["临时救助", "2", "4,500.50"], ["合计", "2", "4,500.50"]]  # 天心区's not counted
    assert page.has("救助人数（不同职工）：2 人")
    assert table(page.text, "by_month")[1:] == [[local_today().strftime("%Y-%m"), "2", "4,500.50"],
                                                ["合计", "2", "4,500.50"]]
    partners = table(page.text, "partners")
    # voids left out, refunds taken off: 100 + (200 - 100) yuan; the other county's shop not counted
    assert partners[1:] == [["仁和大药房", "2", "200.00", "30.00", "25.50", "4.50"],
                            ["合计", "2", "200.00", "30.00", "25.50", "4.50"]]
    cards = table(page.text, "cards")
    assert cards[-1][0] == "合计" and int(cards[-1][1]) >= 2
    assert table(page.text, "funds")[1:] == [["工会经费", "50,000.00", "0.00", "0.00"],
                                              ["合计", "50,000.00", "0.00", "0.00"]]
    block = re.search(r'<script type="application/json" data-chart="chart-partners">(.*?)</script>', page.text, re.S)
    options = json.loads(block.group(1))
    assert options["xAxis"]["data"] == ["仁和大药房"] and options["series"][0]["data"] == [30.0]
    assert 'id="chart-partners" class="chart" role="img"' in page.text
    assert '<script src="/console/static/console/vendor/echarts.min.js' in page.text

    street = await b.get(STATS + "?org=G02&from=2020-01-01&to=" + local_today().isoformat())
    assert table(street.text, "by_kind")[1:] == [["临时救助", "1", "1,500.50"], ["合计", "1", "1,500.50"]]
    assert '<option value="G02" selected>' in street.text and 'value="2020-01-01"' in street.text
    before = await b.get(STATS + "?from=2001-01-01&to=2001-12-31")
    assert table(before.text, "by_kind")[1:] == [["本期间没有数据。"], ["合计", "0", "0.00"]]
    refused = await b.get(STATS + "?from=2026-05-01&to=2026-04-01")
    assert refused.status == 400 and refused.has("起始日期不能晚于截止日期")
    elsewhere = await b.get(STATS + "?org=K02")
    assert elsewhere.status == 404 and elsewhere.h1 == ["找不到页面"]


async def test_the_export_opens_with_the_same_numbers_as_the_tables(browser, engine, running):
    await stats_scene(running, engine)
    b = browser()
    await b.login("reviewer1", PASSWORD)
    query = "?from=2020-01-01&to=" + local_today().isoformat()
    page = await b.get(STATS + query)
    assert f'href="{STATS}/export.xlsx{query}"' in unescape(page.text)
    export = await b.get(STATS + "/export.xlsx" + query)
    assert export.status == 200 and export.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "attachment" in export.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(export.body), data_only=True)
    assert len(book.sheetnames) == 6
    for key, sheet in zip(("by_kind", "by_month", "applications", "partners", "cards", "funds"), book.worksheets):
        shown = table(page.text, key)
        cells = [[c for c in row] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert [str(c) for c in cells[0]] == shown[0], key
        for got, want in zip(cells[1:], [r for r in shown[1:] if len(r) > 1]):
            assert str(got[0]) == want[0]
            assert [f"{float(v):,.2f}" if "元" in h else str(int(v)) for v, h in zip(got[1:], shown[0][1:])] == want[1:], key
    partners = book.worksheets[3]
    assert partners.cell(row=3, column=1).value == "仁和大药房" and float(partners.cell(row=3, column=4).value) == 30.0


async def test_every_member_of_staff_may_read_statistics_but_not_out_of_reach(browser, engine, running):
    await stats_scene(running, engine)
    b = browser()
    await b.login("outsider", PASSWORD)  # 天心区
    page = await b.get(STATS)
    assert page.status == 200
    assert table(page.text, "partners")[1:] == [["天心超市", "1", "700.00", "7.00", "0.00", "7.00"],
                                                ["合计", "1", "700.00", "7.00", "0.00", "7.00"]]
    assert (await b.get(STATS + "/export.xlsx?org=K01")).status == 404
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(redemptions))).scalar_one() == 4
