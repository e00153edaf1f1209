"""Staff review of relief applications: the queue, the whole file and its attachments, decisions level by
level, home visits with photos, and the collective review meeting."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from handlers.staff_base import StaffHandler
from models.core.errors import Invalid
from models.core.policy import Access, Target
from models.core.typed import Query, paged
from models.relief import meetings, queue, reviewing, visits
from server.attachments import ATTACHMENT_TYPES
from server.openapi import ERROR_REF, binary, id_schema, integer, nullable, obj, op, page, string

APPLICATION = Target("application", "application_id")
VISIT = Target("relief_visit", "visit_id")
_ANY = {"type": "object"}
_TS = {"type": ["string", "null"]}
_ITEM = obj({"id": id_schema(), "kind": string(), "kind_name": string(), "status": string(),
             "step": nullable(string()), "step_name": nullable(string()), "applicant": string(), "unit": string(),
             "flagged": {"type": "boolean"}, "content_status": nullable(string()), "due_at": _TS,
             "waited": nullable(integer(0, 2**53 - 1)), "overdue": {"type": "boolean"}},
            ["id", "kind", "status", "step", "applicant", "flagged", "waited", "overdue", "due_at"], extra=True)
QUEUE = page(_ITEM)
FILE = obj({"id": id_schema(), "form": _ANY, "household": {"type": "array"}, "proofs": {"type": "array"},
            "flags": {"type": "array"}, "visits": {"type": "array"}, "votes": {"type": "array"},
            "timeline": {"type": "array"}, "step": nullable(string()), "waited": nullable(integer(0, 2**53 - 1)),
            "due_at": _TS, "overdue": {"type": "boolean"}, "content_status": nullable(string())},
           ["id", "form", "household", "proofs", "flags", "visits", "votes", "timeline", "step", "waited", "due_at",
            "overdue", "content_status"], extra=True)
ANSWER = obj({"id": id_schema(), "status": string(), "step": nullable(string())}, ["id", "status", "step"])
VISIT_VIEW = obj({"id": id_schema(), "application_id": id_schema(), "date": string(),
                  "visitors": {"type": "array", "items": string()}, "findings": string(),
                  "photos": {"type": "array"}}, ["id", "application_id", "date", "visitors", "findings", "photos"],
                 extra=True)
PHOTO = obj({"id": id_schema(), "kind": string(), "size": integer(), "mime": string()},
            ["id", "kind", "size", "mime"])
MEETING = obj({"id": id_schema(), "org": string(), "date": string(), "members": integer(), "quorum": integer(),
               "present": {"type": "array", "items": string()}, "results": {"type": "array", "items": obj(
                   {"id": id_schema(), "status": string(), "step": nullable(string()), "for": integer(),
                    "against": integer(), "carried": {"type": "boolean"}},
                   ["id", "status", "step", "for", "against", "carried"])}},
              ["id", "org", "date", "members", "quorum", "present", "results"])
_BINARY = binary("附件本身（inline）", ATTACHMENT_TYPES)


class FileQuery(Query):
    """``full=1`` unmasks the household's names and ID numbers (roles that may see them; audited)."""

    full: Annotated[Literal["0", "1"], Field(description="1：显示家庭成员姓名与完整身份证号（需相应权限）")] = "0"


class PhotoForm(Query):
    """A visit photo upload has no text fields."""


class QueueHandler(StaffHandler):
    """The applications waiting for the caller, within their subtree."""

    access = {"get": Access("relief.queue")}
    spec = {"get": op(
        "救助申请待办队列", tags=["staff"], query=queue.QueueQuery,
        responses={200: QUEUE, 400: ERROR_REF, 403: ERROR_REF},
        description="本人所属单位及下级单位的申请，按 id 升序（先到先办）。默认：状态 submitted，环节为本人角色办理的环节"
        "（管理员为全部环节）。waited 为在当前环节已等待的秒数；overdue 为超过该环节办理期限（工作日）。")}

    async def get(self) -> None:
        """One page of the caller's queue."""
        actor = await self.actor()
        q = self.query(queue.QueueQuery)
        async with self.reading_once() as conn:  # the page is one statement
            items, _ = await queue.listing(conn, self.cipher, actor, q)
        shown, nxt = paged(items, q.limit, lambda i: int(i["id"]))
        self.write_json({"items": shown, "next": nxt})


class FileHandler(StaffHandler):
    """The whole file of one application (every view audited)."""

    access = {"get": Access("relief.view", APPLICATION)}
    spec = {"get": op(
        "救助申请完整材料（每次查看记入审计）", tags=["staff"], query=FileQuery,
        responses={200: FILE, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
        description="含表单、家庭成员（身份证号默认脱敏，full=1 需要查看完整信息的权限）、证明材料（url 为查看地址）、"
        "重复或超限提示 flags、入户核查 visits、集体评议表决 votes、办理经过 timeline（含经办人员 staff_id）。")}

    async def get(self, application_id: int) -> None:
        """Answer the file and write the view to the audit log."""
        actor = await self.actor()
        full = self.query(FileQuery).full == "1"
        async with self.writing() as conn:
            view = await queue.file_view(conn, self.cipher, actor, int(application_id), full=full)
        self.write_json(view)


class AttachmentHandler(StaffHandler):
    """A proof or visit photo of an application in reach, served inline (audited)."""

    accepts = "none"
    access = {"get": Access("relief.view", APPLICATION)}
    spec = {"get": op("查看救助申请的证明材料或入户照片（记入审计）", tags=["staff"],
                      responses={200: _BINARY, 403: ERROR_REF, 404: ERROR_REF, 422: ERROR_REF})}

    async def get(self, application_id: int, attachment_id: int) -> None:
        """Decrypt the attachment off the loop and serve it inline."""
        actor = await self.actor()
        async with self.writing() as conn:
            key, mime, purpose = await queue.attachment(conn, self.cipher, actor, int(application_id),
                                                        int(attachment_id))
        await self.send_stored(key, purpose=purpose, mime=mime, name=f"relief-{attachment_id}")


class DecisionHandler(StaffHandler):
    """Pass, return or reject an application at the step the caller names."""

    access = {"post": Access("relief.decide", APPLICATION)}
    spec = {"post": op(
        "审核决定：通过、退回补充或不予通过", tags=["staff"], body=reviewing.Decision,
        responses={200: ANSWER, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF},
        description="step 须为申请当前环节（否则 409 step_mismatch；两人同时办理时后到者 409）。须持有该环节的角色"
        "（403 step_role；管理员不能代替），同一人不能办理同一申请的两个环节（403 four_eyes）。退回须填 comment 和 "
        "missing（一次性列明全部事项，item 为材料类型、表单字段、household 或 other），不予通过须填 comment（申请人可见）。"
        "通过：基层核实须先有入户核查记录（422 visit_required）；县级审核起须给出 amount（分），不超过该类别上限"
        "（422 amount_over_cap）；有未处理的重复或超限提示时须 override.reason（422 flagged；仅审核、审批人员或管理员）。"
        "集体评议环节的通过由会议记录决定；fund_id 仅在审批环节通过时使用。")}

    async def post(self, application_id: int) -> None:
        """Decide and answer the application's new status and step."""
        actor = await self.actor()
        body = self.body(reviewing.Decision)
        async with self.writing() as conn:
            app = await reviewing.decide(conn, self.cipher, actor, int(application_id), body)
        self.write_json(reviewing.answer(app))


class VisitHandler(StaffHandler):
    """Record a home visit to an application under review."""

    access = {"post": Access("relief.visit", APPLICATION)}
    spec = {"post": op(
        "登记入户核查记录", tags=["staff"], body=visits.VisitBody,
        responses={201: VISIT_VIEW, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 422: ERROR_REF},
        description="核查情况加密保存；照片另行上传到 /api/v1/staff/relief/visits/{visit_id}/photos。")}

    async def post(self, application_id: int) -> None:
        """Record the visit and answer it (201)."""
        actor = await self.actor()
        body = self.body(visits.VisitBody)
        async with self.writing() as conn:
            visit = await visits.record(conn, self.cipher, actor, int(application_id), body)
        self.write_json(visit.view(), status=201)


class VisitPhotoHandler(StaffHandler):
    """Upload a photo of a home visit (JPEG or PNG, re-encoded, encrypted at rest)."""

    accepts = "multipart"
    access = {"post": Access("relief.visit", VISIT)}
    spec = {"post": op(
        "上传入户核查照片", tags=["staff"], form=PhotoForm, files=["file"],
        responses={201: PHOTO, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 413: ERROR_REF, 415: ERROR_REF,
                   422: ERROR_REF},
        description="按内容识别 JPEG、PNG 或 PDF，图片重新编码去除 EXIF 与位置信息，加密保存。")}

    async def post(self, visit_id: int) -> None:
        """Check the visit, store the photo off the loop, keep it as the visit's attachment (201)."""
        actor = await self.actor()
        _, files = await self.uploaded()
        uploads = files.get("file") or []
        if len(uploads) != 1:
            raise Invalid("file_required", "请上传一个文件（字段名 file）")
        async with self.reading() as conn:
            await visits.check_photo_room(conn, actor, int(visit_id))
        store = self.settings["attachments"]
        stored = await self.offload(store.put, uploads[0].file, purpose=visits.PHOTO_PURPOSE)
        try:
            async with self.writing() as conn:
                photo = await visits.add_photo(conn, actor, int(visit_id), stored)
        except BaseException:
            await self.offload(store.delete, stored.key)
            raise
        self.write_json(photo, status=201)


class MeetingHandler(StaffHandler):
    """Record a collective review meeting; it decides every application it voted on."""

    access = {"post": Access("relief.meeting")}
    spec = {"post": op(
        "记录集体评议会议及表决结果", tags=["staff"], body=meetings.MeetingBody,
        responses={201: MEETING, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF},
        description="members 为评议组人数。出席不少于三分之二（向上取整）方可表决（否则 422 meeting_quorum，不保存）；"
        "每项赞成与反对之和不超过出席人数；赞成不少于出席人数的三分之二的申请进入公示环节（notice），否则不予通过"
        "（集体评议未通过）。votes 中每个申请须在 org 单位范围内、处于集体评议环节（否则 422 meeting_application，"
        "整个会议不保存）；记录人不能是办理过这些申请其他环节的人员（403 four_eyes）。")}

    async def post(self) -> None:
        """Record the meeting and answer it with each application's result (201)."""
        actor = await self.actor()
        body = self.body(meetings.MeetingBody)
        async with self.writing() as conn:
            meeting = await meetings.record(conn, self.cipher, actor, body)
        self.write_json(meeting.view(), status=201)


_APP = r"/api/v1/staff/relief/applications/(?P<application_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/relief/applications", QueueHandler),
    (_APP, FileHandler),
    (_APP + r"/attachments/(?P<attachment_id>[0-9]+)", AttachmentHandler),
    (_APP + r"/decision", DecisionHandler),
    (_APP + r"/visit", VisitHandler),
    (r"/api/v1/staff/relief/visits/(?P<visit_id>[0-9]+)/photos", VisitPhotoHandler),
    (r"/api/v1/staff/relief/meetings", MeetingHandler),
]
