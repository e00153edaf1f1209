"""Staff API for the difficult-worker register: entry, confirmation by a second person, re-check (复核),
history, exit, the lists of what waits and what is due, and the income lines."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field

from handlers.staff_base import StaffHandler
from models.core.policy import Access, Target
from models.core.typed import Body, Keyset, PageQuery, Paging, paged, text
from models.members import hardship, hardship_review
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


class ConfirmBody(Body):
    """A confirmation, with an optional note (kept in the audit log)."""

    note: Annotated[str, text(500)] | None = None


class DeclineBody(Body):
    """Why the entry or re-check is declined."""

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
        "kind": {"enum": ["entry", "recheck"]},
        "overridden": {"type": "boolean"},
        "category_reason": nullable(string()),
        "status": {"enum": list(hardship.SHOWN_STATES)},
        "verified_by": {"type": "integer"},
        "verification_method": {"enum": list(hardship.METHODS)},
        "decided_by": nullable({"type": "integer"}),
        "decided_at": nullable(string(format="date-time")),
        "decline_reason": nullable(string()),
        "supersedes_id": nullable({"type": "integer"}),
        "superseded_by_id": nullable({"type": "integer"}),
        "exit_reason": nullable(string()),
        "exited_at": nullable(string(format="date-time")),
        "exited_by": nullable({"type": "integer"}),
        "created_at": string(format="date-time"),
        "household": {"type": "array", "items": _HOUSEHOLD_OUT},
        "visit_note": nullable(string()),
    },
    ["id", "member_id", "kind", "category", "proposed_category", "overridden", "category_reason", "causes",
     "household_size", "household_income", "per_capita_income", "valid_from", "valid_to", "status",
     "verified_by", "verification_method", "decided_by", "decline_reason", "supersedes_id", "superseded_by_id",
     "household"],
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
            "所选类别与建议不同时须填写 category_reason（确认人可见建议类别、所选类别和理由）。"
            "新档案为待确认（pending），须由另一名有确认权限的工作人员（审核、管理员）确认后生效。"
            "有效期默认自今天起一年；结束日期早于今天返回 400 hardship_valid_ended。未设置标准返回 400 "
            "hardship_lines_unset；已有有效（含已过期）档案返回 409 hardship_active（请办理复核），已有待确认档案返回 "
            "409 hardship_pending；会员不在本人范围内与不存在一样返回 404。",
        ),
        "get": op(
            "会员的困难职工档案历史",
            tags=["staff"],
            query=HistoryQuery,
            responses={200: RECORDS, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
            description="默认隐去家庭成员姓名，不显示健康状况和核查记录；full=1 需要查看完整信息的权限，且记入审计。"
            "status：pending 待确认、active 有效、expired 已过期（有效期已结束，不再享受帮扶，待复核）、declined 已退回、"
            "renewed 已复核更新（superseded_by_id 为更新后的档案）、exited 已脱困。",
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
            description="有效或已过期的档案可办理脱困，档案保留（状态 exited），尚待确认的复核随之退回；"
            "其他状态返回 409 hardship_not_active；档案不在本人范围内与不存在一样返回 404。",
        )
    }

    async def post(self, record_id: str) -> None:
        """Mark the hardship record exited with the given reason and answer the record."""
        actor = await self.actor()
        body = self.body(ExitBody)
        async with self.engine.begin() as conn:
            record = await hardship.exit(conn, actor, int(record_id), reason=body.reason)
        self.write_json(record.view())


RECORD_TARGET = Target("hardship", "record_id")


class HardshipRecheckHandler(StaffHandler):
    """Staff re-check (复核) a record: new figures and a visit give a pending record that renews it."""

    access = {"post": Access("hardship.manage", RECORD_TARGET)}
    spec = {
        "post": op(
            "年度复核困难职工档案",
            tags=["staff"],
            body=hardship.HardshipRecheck,
            responses={201: RECORD, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
            description="对有效或已过期的档案复核：填写家庭成员及收入（单位分）、核查方式和核查记录、困难原因、"
            "新的有效期（默认自今天起一年；开始日期不能晚于今天，结束日期不能早于今天，否则 400 "
            "hardship_recheck_start / hardship_valid_ended）。类别按收入重新建议，规则同入档。"
            "返回待确认（pending）的新档案（kind 为 recheck，supersedes_id 为原档案）；由另一名审核人员确认后"
            "新档案生效，原档案变为 renewed。原档案不是有效档案返回 409 hardship_not_active，已有待确认的复核返回 "
            "409 hardship_recheck_pending；档案不在本人范围内与不存在一样返回 404。",
        )
    }

    async def post(self, record_id: str) -> None:
        """Re-check the record: answer the pending re-check record (201)."""
        actor = await self.actor()
        body = self.body(hardship.HardshipRecheck)
        async with self.engine.begin() as conn:
            record = await hardship.recheck(conn, self.cipher, actor, int(record_id), body)
        self.write_json(record.view(), status=201)


class HardshipConfirmHandler(StaffHandler):
    """A second member of staff confirms a pending entry or re-check."""

    access = {"post": Access("hardship.confirm", RECORD_TARGET)}
    spec = {
        "post": op(
            "确认困难职工档案（入档或复核）",
            tags=["staff"],
            body=ConfirmBody,
            responses={200: RECORD, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
            description="审核、管理员确认待确认的档案：档案生效（active）；复核的档案生效时原档案变为 renewed。"
            "录入（复核）人不能确认自己录入的档案：409 four_eyes。不在待确认状态返回 409 hardship_not_pending；"
            "有效期已结束返回 409 hardship_expired（请退回）；会员已不在册返回 409 member_not_active；"
            "原档案已脱困返回 409 hardship_not_active；档案不在本人范围内与不存在一样返回 404。",
        )
    }

    async def post(self, record_id: str) -> None:
        """Confirm the pending record and answer it, now active."""
        actor = await self.actor()
        body = self.body(ConfirmBody)
        async with self.engine.begin() as conn:
            record = await hardship_review.confirm(conn, actor, int(record_id), note=body.note)
        self.write_json(record.view())


class HardshipDeclineHandler(StaffHandler):
    """A second member of staff declines a pending entry or re-check, with a reason."""

    access = {"post": Access("hardship.confirm", RECORD_TARGET)}
    spec = {
        "post": op(
            "退回困难职工档案（入档或复核）",
            tags=["staff"],
            body=DeclineBody,
            responses={200: RECORD, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
            description="审核、管理员退回待确认的档案并说明原因（状态 declined，保留在历史中）；复核被退回时原档案不变。"
            "录入（复核）人不能退回自己录入的档案：409 four_eyes；不在待确认状态返回 409 hardship_not_pending。",
        )
    }

    async def post(self, record_id: str) -> None:
        """Decline the pending record with the reason and answer it."""
        actor = await self.actor()
        body = self.body(DeclineBody)
        async with self.engine.begin() as conn:
            record = await hardship_review.decline(conn, actor, int(record_id), reason=body.reason)
        self.write_json(record.view())


class HardshipPendingHandler(StaffHandler):
    """Staff list the entries and re-checks in their scope that wait for a second person's confirmation."""

    access = {"get": Access("hardship.view")}
    spec = {
        "get": op(
            "待确认的困难职工档案",
            tags=["staff"],
            query=PageQuery,
            responses={200: RECORDS, 400: ERROR_REF, 403: ERROR_REF},
            description="本人范围内待确认（pending）的入档和复核，先录入的在前；每条可见建议类别（proposed_category）、"
            "所选类别（category）、是否调整（overridden）和调整理由（category_reason），复核的 supersedes_id 为原档案。",
        )
    }

    async def get(self) -> None:
        """List the caller's pending records, oldest first, one page."""
        actor = await self.actor()
        query = self.query(PageQuery)
        async with self.reading() as conn:
            records, nxt = paged(await hardship_review.pending(conn, actor, after=query.cursor,
                                                              limit=query.limit + 1), query.limit, lambda r: r.id)
        self.write_json({"items": [r.view() for r in records], "next": nxt})


class HardshipDueHandler(StaffHandler):
    """Staff list the active hardship records in their scope that are due for the yearly recheck."""

    access = {"get": Access("hardship.view")}
    spec = {
        "get": op(
            "待年度复核的困难职工档案",
            tags=["staff"],
            query=DueQuery,
            responses={200: RECORDS, 400: ERROR_REF, 403: ERROR_REF},
            description="本人范围内有效期在 within_days 天内（默认 30 天）到期或已过期（status 为 expired）的档案，"
            "到期早的在前；已提交复核、正等待确认的档案不在其中。",
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
    (r"/api/v1/staff/hardship/pending", HardshipPendingHandler),
    (r"/api/v1/staff/hardship/(?P<record_id>[0-9]+)/exit", HardshipExitHandler),
    (r"/api/v1/staff/hardship/(?P<record_id>[0-9]+)/recheck", HardshipRecheckHandler),
    (r"/api/v1/staff/hardship/(?P<record_id>[0-9]+)/confirm", HardshipConfirmHandler),
    (r"/api/v1/staff/hardship/(?P<record_id>[0-9]+)/decline", HardshipDeclineHandler),
    (r"/api/v1/staff/orgs/(?P<org_code>[A-Za-z0-9_-]+)/hardship-lines", IncomeLinesHandler),
]
