"""Relief statistics for staff: applications received, approved and rejected, and people helped with the
money paid, per unit subtree and period, grouped by kind, month or sub-unit."""
from __future__ import annotations

from typing import Any

from handlers.staff_base import StaffHandler
from models.core.policy import Access
from models.relief import statistics
from server.openapi import ERROR_REF, integer, obj, op, string

_COUNT = integer(0, 2**53 - 1)


def _report(fields: dict[str, Any], total_extra: dict[str, Any]) -> dict[str, Any]:
    row = obj({"key": string(), "name": string(), **fields}, ["key", "name", *fields])
    return obj({"org": string(), "org_name": string(), "from": string(), "to": string(), "by": string(),
                "rows": {"type": "array", "items": row},
                "total": obj({**fields, **total_extra}, [*fields, *total_extra])},
               ["org", "org_name", "from", "to", "by", "rows", "total"])


APPLICATIONS = _report({"received": _COUNT, "approved": _COUNT, "rejected": _COUNT}, {})
PAYMENTS = _report({"times": _COUNT, "amount": _COUNT}, {"people": _COUNT})
_PERIOD = ("org 为本人所属单位或其下级单位的代码（默认本人所属单位；范围外答 404 org_not_found），from、to 为北京时间日期"
           "（含两端，默认今年 1 月 1 日至今天），by 为分组：kind 类别、month 月份、org 直属下级单位（申请直接属于该单位时"
           "归入该单位本身）。total 为各行之和。")


class ApplicationStatsHandler(StaffHandler):
    """Applications received, approved and rejected."""

    access = {"get": Access("relief.statistics")}
    spec = {"get": op(
        "救助申请统计：受理、审批通过、不予通过", tags=["staff"], query=statistics.StatsQuery,
        responses={200: APPLICATIONS, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
        description="received：期间内提交的申请；approved：期间内审批环节通过；rejected：期间内任一环节不予通过。" + _PERIOD)}

    async def get(self) -> None:
        """The report."""
        actor = await self.actor()
        q = self.query(statistics.StatsQuery)
        async with self.reading() as conn:
            report = await statistics.applications(conn, actor, q)
        self.write_json(report)


class PaymentStatsHandler(StaffHandler):
    """People helped and money paid."""

    access = {"get": Access("relief.statistics")}
    spec = {"get": op(
        "救助发放统计：救助人次、人数与金额", tags=["staff"], query=statistics.StatsQuery,
        responses={200: PAYMENTS, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
        description="期间内发放的申请（状态为已发放或已办结，按最近一次发放时间）：times 救助人次，amount 批准金额（分）；"
        "total.people 为救助人数（不同职工，不是各行之和）。" + _PERIOD)}

    async def get(self) -> None:
        """The report."""
        actor = await self.actor()
        q = self.query(statistics.StatsQuery)
        async with self.reading() as conn:
            report = await statistics.payments(conn, actor, q)
        self.write_json(report)


routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/relief/statistics/applications", ApplicationStatsHandler),
    (r"/api/v1/staff/relief/statistics/payments", PaymentStatsHandler),
]
