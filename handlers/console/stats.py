"""Statistics in the console: the numbers the seeds' reports count, for a unit of my subtree and a period (both in
the URL), as charts (ECharts, options in a JSON block read by console.js) and as tables with the same numbers,
and the same tables as an XLSX workbook. The figures are the domain's (models/relief/statistics.py), as the
API's statistics routes answer them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handlers.console.base import ConsoleHandler, yuan
from handlers.console.partners import units
from models.core import spreadsheets
from models.core.policy import Access
from models.core.spreadsheets import Money
from models.relief import statistics

STATS_URL = "/console/stats"


@dataclass(frozen=True)
class Column:
    """A figure of a report: its field, its heading, whether it is money (fen, shown in yuan), and charted."""

    field: str
    label: str
    money: bool = False
    chart: bool = False


@dataclass(frozen=True)
class Report:
    """One table of the page (and one sheet of the workbook), with its chart."""

    key: str
    title: str
    group: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    note: str = ""
    kind: str = "bar"

    def cells(self, row: dict[str, Any]) -> list[Any]:
        """The row's figures as the workbook writes them (money exact in yuan, counts as numbers)."""
        return [Money(int(row.get(c.field, 0))) if c.money else int(row.get(c.field, 0)) for c in self.columns]

    def shown(self, row: dict[str, Any]) -> list[str]:
        """The row's figures as the page shows them ("1,234.50" for money)."""
        return [yuan(int(row.get(c.field, 0))) if c.money else str(int(row.get(c.field, 0))) for c in self.columns]

    def chart(self) -> str:
        """The ECharts options of the report's chart, as JSON safe inside a <script> block."""
        charted = [c for c in self.columns if c.chart]
        unit = "元" if charted and charted[0].money else "人次"
        options = {
            "aria": {"enabled": True}, "animation": False, "tooltip": {"trigger": "axis"},
            "legend": {"top": 0}, "grid": {"left": 60, "right": 20, "top": 40, "bottom": 60},
            "xAxis": {"type": "category", "data": [str(r["name"]) for r in self.rows],
                      "axisLabel": {"interval": 0, "rotate": 30 if len(self.rows) > 6 else 0}},
            "yAxis": {"type": "value", "name": unit},
            "series": [{"name": c.label, "type": self.kind,
                        "data": [round(int(r.get(c.field, 0)) / 100, 2) if c.money else int(r.get(c.field, 0))
                                 for r in self.rows]} for c in charted],
        }
        return json.dumps(options, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")

    def table(self, heading: str) -> spreadsheets.Table:
        """The report as a worksheet: the group's column, the figures, and the total row."""
        return spreadsheets.Table(
            sheet=self.title[:31], title=f"{self.title}（{heading}）", header=[self.group, *(self.label(c) for c in self.columns)],
            rows=[[str(r["name"]), *self.cells(r)] for r in self.rows],
            footer=["合计", *self.cells(self.total)], widths=[24, *([16] * len(self.columns))])

    @staticmethod
    def label(c: Column) -> str:
        """A column's heading, with its unit for money."""
        return f"{c.label}（元）" if c.money else c.label


async def reports(handler: ConsoleHandler, q: statistics.StatsQuery) -> tuple[dict[str, Any], list[Report]]:
    """The period and unit the page counts, and every report of it, read in one transaction."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        by_kind = await statistics.payments(conn, actor, q.model_copy(update={"by": "kind"}))
        by_month = await statistics.payments(conn, actor, q.model_copy(update={"by": "month"}))
        received = await statistics.applications(conn, actor, q.model_copy(update={"by": "month"}))
        partners = await statistics.redemptions(conn, actor, q)
        cards = await statistics.cards_issued(conn, actor, q)
        funds = await statistics.funds(conn, actor, q)
    helped = (Column("times", "救助人次", chart=True), Column("amount", "救助金额", money=True))
    out = [
        Report("by_kind", "救助发放（按类别）", "救助类别", helped, by_kind["rows"], by_kind["total"],
               note=f"救助人数（不同职工）：{by_kind['total']['people']} 人"),
        Report("by_month", "救助发放（按月份）", "月份", (Column("times", "救助人次"),
               Column("amount", "救助金额", money=True, chart=True)), by_month["rows"], by_month["total"], kind="line"),
        Report("applications", "救助申请（按月份）", "月份", (Column("received", "受理", chart=True),
               Column("approved", "审批通过", chart=True), Column("rejected", "不予通过", chart=True)),
               received["rows"], received["total"]),
        Report("partners", "合作商家核销（按商家）", "商家", (Column("times", "核销笔数"),
               Column("amount", "消费金额", money=True), Column("discount", "优惠金额", money=True, chart=True),
               Column("union_share", "工会承担", money=True, chart=True),
               Column("merchant_share", "商家让利", money=True, chart=True)), partners["rows"], partners["total"],
               note="不含已撤销的核销，已扣除退款。"),
        Report("cards", "服务卡发放（按月份）", "月份", (Column("issued", "新发", chart=True),
               Column("reissued", "补换", chart=True)), cards["rows"], cards["total"]),
        Report("funds", f"资金收支（{funds['year']} 年度，按来源）", "资金来源", (
            Column("income", "收入", money=True, chart=True), Column("reserved", "预留", money=True),
            Column("spent", "支出", money=True, chart=True)), funds["rows"], funds["total"],
               note="资金按年度安排：显示统计期间截止日期所在年度的全部收支。"),
    ]
    return by_kind, out


class StatsPage(ConsoleHandler):
    """The statistics of a unit of my subtree over a period: a chart and a table per report."""

    access = {"get": Access("relief.statistics")}

    async def get(self) -> None:
        """The page for the unit and period of the URL (default: my unit, this year to today)."""
        q = self.url_query(statistics.StatsQuery)
        head, found = await reports(self, q)
        self.page("stats.html", "统计", crumbs=[("统计", None)], head=head, reports=found, q=q, units=await units(self),
                  export_url=STATS_URL + "/export.xlsx" + (self.page_url()[len(STATS_URL):] or ""))


class StatsExport(ConsoleHandler):
    """The same reports as an XLSX workbook, a sheet each, with the same numbers as the page's tables."""

    accepts = "none"
    access = {"get": Access("relief.statistics")}

    async def get(self) -> None:
        """The workbook of the URL's unit and period."""
        q = self.url_query(statistics.StatsQuery)
        head, found = await reports(self, q)
        heading = f"{head['org_name']}，{head['from']} 至 {head['to']}"
        body = spreadsheets.write_xlsx_book([r.table(heading) for r in found])
        self.set_header("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        self.set_header("Content-Disposition",
                        f'attachment; filename="statistics-{head["org"]}-{head["from"]}-{head["to"]}.xlsx"')
        self.set_header("Cache-Control", "private, no-store")
        self.finish(body)


routes: list[tuple[str, Any]] = [
    (STATS_URL, StatsPage),
    (STATS_URL + "/export.xlsx", StatsExport),
]
