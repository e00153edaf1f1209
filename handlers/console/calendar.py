"""The holiday calendar in the console (admins): a year's days off and make-up working days, add or change a day,
remove one (asked once); the API's ``/api/v1/staff/calendar`` access and ``models.relief.calendar`` calls."""
from __future__ import annotations

from datetime import date
from typing import Any

from handlers.console.base import ConsoleHandler, Refusal
from handlers.relief_notices import CalendarQuery
from models.core.clock import local_today
from models.core.errors import AppError, Invalid, NotFound
from models.core.policy import Access
from models.relief import calendar

CALENDAR_URL = "/console/calendar"
WEEKDAYS = "一二三四五六日"
DONE = {"put": "已保存，工作日期限即日起按新的日历计算。", "delete": "已取消这一天的设置。"}


def year_url(year: int) -> str:
    """The calendar page of a year."""
    return f"{CALENDAR_URL}?year={year}"


def typed_day(text: str, field: str = "date") -> date:
    """A day typed as YYYY-MM-DD; a refusal naming the field otherwise."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        reason = "请按 年-月-日 填写日期，例如 2026-10-08"
        raise Invalid("date_format", reason, details=[{"field": field, "reason": reason}]) from None


class CalendarPage(ConsoleHandler):
    """A year's calendar (``?year=``, this year when empty) and the form that sets a day."""

    access = {"get": Access("calendar.manage"), "post": Access("calendar.manage")}

    async def show(self, year: int, *, form: dict[str, str] | None = None, refusal: Refusal | None = None,
                   done: str | None = None) -> None:
        """The year's days and the form (again after a refusal, with what was typed); read-only below a top unit."""
        actor = await self.actor()
        async with self.reading() as conn:
            days = await calendar.year(conn, year)
        for day in days:
            day["weekday"] = "星期" + WEEKDAYS[date.fromisoformat(day["date"]).weekday()]
        self.page("calendar.html", f"{year} 年节假日日历", crumbs=[("工会组织", "/console/orgs/"), ("节假日日历", None)],
                  status=refusal.status if refusal else 200, refusal=refusal, year=year, days=days,
                  form=form or {}, errors=refusal.fields if refusal else {}, done=DONE.get(done or ""),
                  year_url=year_url, editable=calendar.editable(actor))

    async def get(self) -> None:
        """The year's page."""
        year = self.url_query(CalendarQuery).year if self.get_query_argument("year", "") else local_today().year
        await self.show(year, done=self.get_query_argument("done", "") or None)

    async def post(self) -> None:
        """Set a day as the API's ``PUT /api/v1/staff/calendar/{day}`` does; to that day's year."""
        actor = await self.actor()
        values = self.form_values()
        try:
            day = typed_day(values.get("date", ""))
            off = {"true": True, "false": False}.get(values.get("off", ""))
            body = self.form_model(calendar.DayBody, values, extra={"off": off} if off is not None else {})
            async with self.writing() as conn:
                await calendar.put(conn, actor, day, body)
        except AppError as exc:
            refusal = self.refused(exc)
            if not values.get("date"):
                refusal.fields["date"] = "请填写日期"
            if exc.code.startswith("calendar_"):
                refusal.fields.setdefault("off", refusal.message)
            if not values.get("name"):
                refusal.fields["name"] = "请填写名称，例如 国庆节"
            shown = values.get("date", "")[:4]
            await self.show(int(shown) if shown.isdigit() and 2000 <= int(shown) <= 2100 else local_today().year,
                            form=values, refusal=refusal)
            return
        self.redirect(year_url(day.year) + "&done=put")


class CalendarDayRemove(ConsoleHandler):
    """Make a day ordinary again (asked once), as the API's ``DELETE /api/v1/staff/calendar/{day}``."""

    access = {"post": Access("calendar.manage")}

    async def post(self, day: str) -> None:
        """Ask once, then remove; back to the year's page."""
        actor = await self.actor()
        try:
            which = date.fromisoformat(day)
        except ValueError:
            raise NotFound("calendar_day_not_found", "日期不对") from None
        if self.form_values().get("confirmed") != "1":
            self.ask_once(f"确定取消 {which.isoformat()} 的设置吗？这一天将恢复为普通的{'周末' if which.weekday() >= 5 else '工作日'}。",
                          "确认取消", back=year_url(which.year))
            return
        async with self.writing() as conn:
            await calendar.delete(conn, actor, which)
        self.redirect(year_url(which.year) + "&done=delete")


routes: list[tuple[str, Any]] = [
    (CALENDAR_URL, CalendarPage),
    (CALENDAR_URL + r"/(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})/remove", CalendarDayRemove),
]
