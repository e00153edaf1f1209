"""Staff API for the difficult-worker register: entry, history, exit, re-check list and income lines."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field

from handlers.staff_base import StaffHandler
from models.core.policy import Access, Target
from models.core.typed import Body, Keyset, PageQuery, Paging, paged, text
from models.members import hardship
from server.openapi import ERROR_REF, nullable, obj, op, page, string

MEMBER = Target("member", "member_id")

_DATE = string(format="date", pattern=r"^\d{4}-\d{2}-\d{2}$")


class HistoryQuery(PageQuery):
    """``full=1`` shows names, health and the visit note (audited)."""

    full: Annotated[Literal["0", "1"], Field(description="1：显示家庭成员姓名、健康状况与核查记录（审计）")] = "0"


class DueQuery(Paging):
    """How far ahead to look for records due for their yearly re-check; soonest first."""

    cursor: Annotated[tuple[Any, ...], Keyset(date, int)] | None = None
    within_days: Annotated[int, Field(ge=0, le=hardship.MAX_RECHECK_DAYS)] = 30


class ExitBody(Body):
    """Why the worker leaves the register."""

    reason: Annotated[str, text(500, min_len=1)]


class IncomeLinesBody(Body):
    """The two per-capita monthly income lines, in fen."""

    deep_line: Annotated[int, Field(ge=1, le=10**9)]
    relative_line: Annotated[int, Field(ge=1, le=10**9)]
_HOUSEHOLD_OUT = obj(
    {
        "relation": string(), "name_masked": string(), "age": {"type": "integer"}, "work": nullable(string()),
        "monthly_income": {"type": "integer"}, "name": string(), "health": nullable(string()),
    },
    ["relation", "name_masked", "age", "work", "monthly_income"],
)
RECORD = obj(
    {
        "id": {"type": "integer"},
        "member_id": {"type": "integer"},
        "org_id": {"type": "integer"},
        "category": {"enum": list(hardship.CATEGORIES)},
        "category_label": string(),
        "proposed_category": {"enum": [*hardship.CATEGORIES, hardship.ABOVE_LINE]},
        "causes": {"type": "array", "items": {"enum": list(hardship.CAUSES)}},
        "household_size": {"type": "integer"},
        "household_income": {"type": "integer"},
        "per_capita_income": {"type": "integer"},
        "valid_from": _DATE,
        "valid_to": _DATE,
        "status": {"enum": ["active", "exited"]},
        "verified_by": {"type": "integer"},
        "verification_method": {"enum": list(hardship.METHODS)},
        "exit_reason": nullable(string()),
        "exited_at": nullable(string(format="date-time")),
        "exited_by": nullable({"type": "integer"}),
        "created_at": string(format="date-time"),
        "household": {"type": "array", "items": _HOUSEHOLD_OUT},
        "visit_note": nullable(string()),
    },
    ["id", "member_id", "category", "proposed_category", "causes", "household_size", "household_income",
     "per_capita_income", "valid_from", "valid_to", "status", "verification_method", "household"],
)
RECORDS = page(RECORD)
LINES = obj({"org_code": string(), "deep_line": {"type": "integer"}, "relative_line": {"type": "integer"}},
            ["org_code", "deep_line", "relative_line"])


class MemberHardshipHandler(StaffHandler):
    """A member's register: enter a new record, or list every record (history)."""

    access = {"post": Access("hardship.manage", MEMBER), "get": Access("hardship.view", MEMBER)}
    spec = {
        "post": op(
            "建立困难职工档案（入档）",
            tags=["staff"],
            body=hardship.HardshipEntry,
            responses={201: RECORD, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
            description="金额单位为分。系统按所属单位（可继承上级）设置的困难标准，依家庭月人均收入建议类别："
            "≤ 深度困难线为 deep，≤ 相对困难线为 relative，高于标准但因灾/意外为 accident；"
            "高于标准且无灾害意外原因时返回 400 hardship_above_line，除非指定类别并填写 category_reason。"
            "所选类别与建议不同时须填写 category_reason。未设置标准返回 400 hardship_lines_unset；"
            "已有有效档案返回 409 hardship_active；会员不在本人范围内与不存在一样返回 404。",
        ),
        "get": op(
            "会员的困难职工档案历史",
            tags=["staff"],
            query=HistoryQuery,
            responses={200: RECORDS, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
            description="默认隐去家庭成员姓名，不显示健康状况和核查记录；full=1 需要查看完整信息的权限，且记入审计。",
        ),
    }

    async def post(self, member_id: str) -> None:
        """Enter a new hardship record for the member, category checked against the income lines (201)."""
        actor = await self.actor()
        entry = self.body(hardship.HardshipEntry)
        async with self.engine.begin() as conn:
            record = await hardship.enter(conn, self.cipher, actor, int(member_id), entry)
        self.write_json(record.view(), status=201)

    async def get(self, member_id: str) -> None:
        """List the member's hardship records, newest first, one cursor page; full=1 unmasks and is audited."""
        actor = await self.actor()
        query = self.query(HistoryQuery)
        full = query.full == "1"
        async with self.engine.begin() as conn:
            records, nxt = paged(await hardship.history(conn, self.cipher, actor, int(member_id), full=full,
                                                        before=query.cursor, page=query.limit),
                                 query.limit, lambda r: r.id)
        self.write_json({"items": [r.view(full=full) for r in records], "next": nxt})


class HardshipExitHandler(StaffHandler):
    """Staff close a hardship record: the member has left hardship, the record is kept as exited."""

    access = {"post": Access("hardship.manage", Target("hardship", "record_id"))}
    spec = {
        "post": op(
            "办理脱困",
            tags=["staff"],
            body=ExitBody,
            responses={200: RECORD, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
            description="档案保留（状态 exited）；已脱困的档案返回 409 hardship_not_active；"
            "档案不在本人范围内与不存在一样返回 404。",
        )
    }

    async def post(self, record_id: str) -> None:
        """Mark the hardship record exited with the given reason and answer the record."""
        actor = await self.actor()
        body = self.body(ExitBody)
        async with self.engine.begin() as conn:
            record = await hardship.exit(conn, actor, int(record_id), reason=body.reason)
        self.write_json(record.view())


class HardshipDueHandler(StaffHandler):
    """Staff list the active hardship records in their scope that are due for the yearly recheck."""

    access = {"get": Access("hardship.view")}
    spec = {
        "get": op(
            "待年度复核的困难职工档案",
            tags=["staff"],
            query=DueQuery,
            responses={200: RECORDS, 400: ERROR_REF, 403: ERROR_REF},
            description="本人范围内有效期在 within_days 天内（默认 30 天）到期或已过期的有效档案。",
        )
    }

    async def get(self) -> None:
        """List the caller's active records expiring within within_days (or expired), by due date, one page."""
        actor = await self.actor()
        query = self.query(DueQuery)
        async with self.reading() as conn:
            records, nxt = paged(await hardship.due_for_recheck(
                conn, actor, within_days=query.within_days, after=query.cursor,
                limit=query.limit + 1), query.limit, lambda r: (r.valid_to, r.id))
        self.write_json({"items": [r.view() for r in records], "next": nxt})


class IncomeLinesHandler(StaffHandler):
    """Admins set an organisation's hardship income lines (per-capita monthly income, in fen)."""

    access = {"put": Access("org.manage", Target("org_code", "org_code"))}
    spec = {
        "put": op(
            "设置困难职工认定标准（管理员）",
            tags=["staff"],
            body=IncomeLinesBody,
            responses={200: LINES, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
            description="家庭月人均收入标准，单位分；深度困难线须低于相对困难线。下级单位未自行设置时沿用。",
        )
    }

    async def put(self, org_code: str) -> None:
        """Set the organisation's deep and relative hardship lines and answer them."""
        actor = await self.actor()
        body = self.body(IncomeLinesBody)
        async with self.engine.begin() as conn:
            lines = await hardship.set_income_lines(conn, actor, org_code, body.deep_line, body.relative_line)
        self.write_json(lines)


routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/members/(?P<member_id>[0-9]+)/hardship", MemberHardshipHandler),
    (r"/api/v1/staff/hardship/due", HardshipDueHandler),
    (r"/api/v1/staff/hardship/(?P<record_id>[0-9]+)/exit", HardshipExitHandler),
    (r"/api/v1/staff/orgs/(?P<org_code>[A-Za-z0-9_-]+)/hardship-lines", IncomeLinesHandler),
]
