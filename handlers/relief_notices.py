"""Staff's side of the public notice: publish a batch, list the batches, list and resolve objections, and
the holiday calendar the working days count by."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import Field

from handlers.staff_base import StaffHandler
from models.core.errors import NotFound
from models.core.policy import Access, Target
from models.core.typed import Query, paged
from models.relief import calendar, notices, objections
from server.openapi import ERROR_REF, id_schema, integer, nullable, obj, op, page, string

_TS = {"type": "string"}
_ENTRY = obj({"id": id_schema(), "application_id": id_schema(), "name": string(), "unit": string(),
              "kind": string(), "amount": nullable(integer(0, 2**53 - 1)), "state": string()},
             ["id", "application_id", "name", "unit", "kind", "amount", "state"])
NOTICE = obj({"id": id_schema(), "org": string(), "org_name": string(), "starts_at": _TS, "ends_at": _TS,
              "visible_until": _TS, "working_days": {"type": "boolean"}, "days": integer(),
              "items": {"type": "array", "items": _ENTRY}},
             ["id", "org", "starts_at", "ends_at", "visible_until", "items"], extra=True)
OBJECTION = obj({"id": id_schema(), "notice_id": id_schema(), "entry": id_schema(), "application_id": id_schema(),
                 "reason": string(), "contact": string(), "content_status": nullable(string()), "status": string(),
                 "due_at": _TS, "overdue": {"type": "boolean"}, "upheld": nullable({"type": "boolean"}),
                 "outcome": nullable(string()), "finding": nullable(string())},
                ["id", "entry", "application_id", "status", "due_at", "overdue", "upheld", "finding"], extra=True)
DAY = obj({"date": string(), "off": {"type": "boolean"}, "name": string()}, ["date", "off", "name"])
# Any segment: a malformed day is refused (404) after the caller's access, like a missing one.
_DAY = r"(?P<day>[0-9-]{1,10})"


class CalendarQuery(Query):
    """The year whose calendar to list."""

    year: Annotated[int, Field(ge=2000, le=2100, description="年份")]


class NoticesHandler(StaffHandler):
    """Publish a batch of applications at the notice step; list the batches of the caller's subtree."""

    access = {"post": Access("relief.publish"), "get": Access("relief.publish")}
    spec = {
        "post": op("发布公示批次", tags=["staff"], body=notices.PublishBody,
                   responses={201: NOTICE, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF,
                              422: ERROR_REF},
                   description="每个申请须处于待公示环节（状态 submitted、环节 notice，否则 409 notice_not_ready），"
                   "在发布单位范围内（org 默认为本人单位，否则 422 notice_application），且不在其他在期公示中"
                   "（409 notice_already_published）。days 默认 7 个自然日；单位设置 relief.notice_working_days 为 true "
                   "时按工作日（节假日日历）计算。公示内容（脱敏姓名、基层单位、救助类别、拟救助金额）发布后不再改变。"),
        "get": op("本单位及下级单位的公示批次（新的在前）", tags=["staff"], query=notices.NoticesQuery,
                  responses={200: page(NOTICE), 400: ERROR_REF, 403: ERROR_REF}),
    }

    async def post(self) -> None:
        """Publish and answer the batch (201)."""
        actor = await self.actor()
        body = self.body(notices.PublishBody)
        async with self.writing() as conn:
            batch = await notices.publish(conn, self.cipher, actor, body,
                                          visible_days=self.config.relief_notice_visible_days)
        self.write_json(batch, status=201)

    async def get(self) -> None:
        """One page of batches, newest first."""
        actor = await self.actor()
        q = self.query(notices.NoticesQuery)
        async with self.reading() as conn:
            items = await notices.listing(conn, actor, q)
        shown, nxt = paged(items, q.limit, lambda i: int(i["id"]))
        self.write_json({"items": shown, "next": nxt})


class ObjectionsHandler(StaffHandler):
    """Objections to applications in the caller's subtree, with the objectors' contacts (the reading audited)."""

    access = {"get": Access("relief.objection_resolve")}
    spec = {"get": op("异议列表（含联系方式，查看记入审计）", tags=["staff"], query=objections.ObjectionsQuery,
                      responses={200: page(OBJECTION), 400: ERROR_REF, 403: ERROR_REF},
                      description="overdue=1：超过处理期限（配置的工作日数）仍未处理的异议。")}

    async def get(self) -> None:
        """One page of objections, oldest first."""
        actor = await self.actor()
        q = self.query(objections.ObjectionsQuery)
        async with self.writing() as conn:
            items = await objections.listing(conn, self.cipher, actor, q)
        shown, nxt = paged(items, q.limit, lambda i: int(i["id"]))
        self.write_json({"items": shown, "next": nxt})


class ResolveHandler(StaffHandler):
    """Resolve an open objection with a written finding."""

    access = {"post": Access("relief.objection_resolve", Target("objection", "objection_id"))}
    spec = {"post": op(
        "处理异议", tags=["staff"], body=objections.ResolveBody,
        responses={200: OBJECTION, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
        description="upheld=true（异议成立）须给出 outcome：county_review 退回县级审核，或 rejected 不予救助"
        "（finding 作为申请人可见的理由）；upheld=false（不成立）公示继续，公示期已满的由后台任务转入审批。"
        "已处理的异议 409 objection_resolved。")}

    async def post(self, objection_id: int) -> None:
        """Resolve and answer the objection."""
        actor = await self.actor()
        body = self.body(objections.ResolveBody)
        async with self.writing() as conn:
            self.write_json(await objections.resolve(conn, self.cipher, actor, int(objection_id), body))


class CalendarHandler(StaffHandler):
    """The holiday calendar of a year."""

    access = {"get": Access("calendar.manage")}
    spec = {"get": op("节假日与调休日历", tags=["staff"], query=CalendarQuery,
                      responses={200: obj({"items": {"type": "array", "items": DAY}}, ["items"]), 400: ERROR_REF,
                                 403: ERROR_REF})}

    async def get(self) -> None:
        """The year's days off and make-up working days."""
        await self.actor()
        q = self.query(CalendarQuery)
        async with self.reading() as conn:
            self.write_json({"items": await calendar.year(conn, q.year)})


class CalendarDayHandler(StaffHandler):
    """Set or clear one day of the holiday calendar (audited)."""

    access = {"put": Access("calendar.manage"), "delete": Access("calendar.manage")}
    spec = {
        "put": op("设置节假日或调休上班日", tags=["staff"], body=calendar.DayBody,
                  responses={200: DAY, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 422: ERROR_REF},
                  description="off=true：工作日放假（节假日）；off=false：周末调休上班。其他组合 422。"),
        "delete": op("取消某日的设置", tags=["staff"], responses={204: {"description": "已取消"}, 403: ERROR_REF,
                                                                404: ERROR_REF}),
    }

    def _day(self, day: str) -> date:
        try:
            return date.fromisoformat(day)
        except ValueError:
            raise NotFound("calendar_day_not_found", "日期不对") from None

    async def put(self, day: str) -> None:
        """Set the day."""
        actor = await self.actor()
        body = self.body(calendar.DayBody)
        async with self.writing() as conn:
            self.write_json(await calendar.put(conn, actor, self._day(day), body))

    async def delete(self, day: str) -> None:
        """Clear the day (204)."""
        actor = await self.actor()
        async with self.writing() as conn:
            await calendar.delete(conn, actor, self._day(day))
        self.set_status(204)
        self.finish()


routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/relief/notices", NoticesHandler),
    (r"/api/v1/staff/relief/objections", ObjectionsHandler),
    (r"/api/v1/staff/relief/objections/(?P<objection_id>[0-9]+)/resolve", ResolveHandler),
    (r"/api/v1/staff/calendar", CalendarHandler),
    (r"/api/v1/staff/calendar/" + _DAY, CalendarDayHandler),
]
