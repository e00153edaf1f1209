"""Staff API for members: roster import and releasing a WeChat binding."""
from __future__ import annotations

from typing import Annotated, Any

from handlers.staff_base import StaffHandler
from models.cards import usecases as card_flows
from models.core import policy
from models.core.errors import Invalid
from models.core.policy import Access, Target
from models.core.typed import PageQuery, Query, one_of, paged, text
from models.members import membership as members
from models.members.roster import parse_roster
from models.network import tree as orgs
from server.openapi import ERROR_REF, obj, op, page, ref, string

MEMBER = Target("member", "member_id")

_PROBLEM = obj({"line": {"type": "integer"}, "field": {"type": ["string", "null"]}, "code": string(),
                "reason": string()}, ["line", "code", "reason"])
IMPORT_REPORT = obj(
    {
        "total": {"type": "integer"}, "created": {"type": "integer"}, "updated": {"type": "integer"},
        "unchanged": {"type": "integer"}, "moved": {"type": "integer"},
        "transfer_requested": {"type": "integer"}, "refused": {"type": "integer"},
        "committed": {"type": "boolean"}, "problems": {"type": "array", "items": _PROBLEM},
        "notices": {"type": "array", "items": _PROBLEM},
    },
    ["total", "created", "updated", "unchanged", "moved", "transfer_requested", "refused", "committed", "problems",
     "notices"],
)


class MemberSearch(PageQuery):
    """Find by exact ID number or phone, or list one unit's members."""

    id_number: Annotated[str, text(20)] = ""
    phone: Annotated[str, text(20)] = ""
    org: Annotated[str, text(32)] = ""


class RosterForm(Query):
    """The text fields of a roster upload: the unit's code, and whether one bad row stops the import."""

    org: Annotated[str, text(32, min_len=1)]
    strict: Annotated[str, one_of(("0", "1", "true", "false"))] = "0"


class MemberImportHandler(StaffHandler):
    """Import a roster file (CSV in UTF-8 or GBK, or XLSX) into a unit of the caller's subtree."""

    accepts = "multipart"
    access = {"post": Access("member.import")}
    spec = {
        "post": op(
            "导入会员名册（CSV/XLSX），先整体校验，逐行报告",
            tags=["staff"],
            form=RosterForm,
            files=["file"],
            responses={200: IMPORT_REPORT, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 413: ERROR_REF,
                       415: ERROR_REF},
            description="表头：姓名、身份证号、手机号、工作单位、所属工会。按身份证号幂等；"
            "strict=1 时只要有一行不合格就什么也不写入（committed=false）。"
            "problems 是未导入、需要修改的行；notices 是另行处理的行。"
            "身份证号已在本人范围内其他单位登记的会员：姓名一致时直接调整到名册所列单位（moved；"
            "已在该单位或其下级的不动），姓名不一致报 name_mismatch。"
            "身份证号已在本人范围以外登记会籍的人：不修改其记录，向其所属单位发起转入申请"
            "（notices 中 code=transfer_requested，计入 transfer_requested），无论姓名是否一致、"
            "重复导入几次，回答都相同，也不说明是哪个单位；申请进度见 /api/v1/staff/member-transfers。",
        )
    }

    async def post(self) -> None:
        """Import the uploaded roster into the named unit and answer the per-row report."""
        actor = await self.actor()
        _, uploads = await self.uploaded()
        files = uploads.get("file") or []
        if len(files) != 1:
            raise Invalid("file_required", "请上传一个名册文件（字段名 file）")
        form, _ = await self.form(RosterForm)
        upload = files[0]
        async with self.reading() as conn:
            org = await orgs.by_code(conn, form.org, within=policy.scope(actor))
        parsed = await self.offload(parse_roster, upload.file, upload.filename or "roster.csv",
                                    max_bytes=self.config.max_upload_bytes)
        async with self.writing() as conn:
            report = await card_flows.import_roster(conn, self.cipher, actor, parsed, org=org,
                                                    strict=form.strict in ("1", "true"), offload=self.offload)
        self.write_json(report.view())


class ReleaseBindingHandler(StaffHandler):
    """Staff release a member's binding to a WeChat account."""

    accepts = "none"
    access = {"post": Access("member.release_binding", MEMBER)}
    spec = {
        "post": op("解除会员与微信账号的绑定", tags=["staff"],
                   responses={200: obj({"member": ref("Member")}, ["member"]), 403: ERROR_REF, 404: ERROR_REF})
    }

    async def post(self, member_id: str) -> None:
        """Unbind the member (in the caller's scope) from their WeChat account and answer the member."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            member = await card_flows.release_binding(conn, actor, int(member_id), scope=policy.scope(actor))
        self.write_json({"member": member.view()})



class MemberListHandler(StaffHandler):
    """Find members in the caller's subtree, by exact ID number or phone, or list a unit's members."""

    access = {"get": Access("member.view")}
    spec = {
        "get": op(
            "查询会员（按身份证号、手机号精确查找，或按单位列出），结果脱敏",
            tags=["staff"],
            query=MemberSearch,
            responses={200: page(ref("Member")),
                       400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
        )
    }

    async def get(self) -> None:
        """Find members by ID number or phone, or list a unit's members, masked, one cursor page."""
        actor = await self.actor()
        query = self.query(MemberSearch)
        async with self.reading() as conn:
            org = await orgs.by_code(conn, query.org, within=policy.scope(actor)) if query.org else None
            found, nxt = paged(await members.search(conn, self.cipher, actor, id_number=query.id_number,
                                                    phone=query.phone, org=org, after=query.cursor or 0,
                                                    limit=query.limit + 1), query.limit, lambda m: m.id)
        self.write_json({"items": [m.view() for m in found], "next": nxt})


class MemberHandler(StaffHandler):
    """Staff change a member's details or end their membership."""

    access = {"patch": Access("member.manage", MEMBER)}
    spec = {
        "patch": op(
            "修改会员信息或终止会籍（手机号、工作单位、银行账号加密保存）",
            tags=["staff"],
            body=members.MemberChanges,
            responses={200: obj({"member": ref("Member")}, ["member"]), 400: ERROR_REF, 403: ERROR_REF,
                       404: ERROR_REF},
            description="终止会籍时同时解除微信绑定。",
        )
    }

    async def patch(self, member_id: str) -> None:
        """Apply the given changes to the member (ending membership also unbinds) and answer the member."""
        actor = await self.actor()
        body = self.body(members.MemberChanges)
        async with self.engine.begin() as conn:
            member = await card_flows.update_member(conn, self.cipher, actor, int(member_id), changes=body)
        self.write_json({"member": member.view()})


class MemberFullHandler(StaffHandler):
    """Staff view a member's full unmasked record, every view audited."""

    access = {"get": Access("member.view_full", MEMBER)}
    spec = {
        "get": op("查看会员完整信息（不脱敏；每次查看都记入审计日志）", tags=["staff"],
                  responses={200: {"type": "object"}, 403: ERROR_REF, 404: ERROR_REF})
    }

    async def get(self, member_id: str) -> None:
        """Answer the member's full record, decrypted, and write the view to the audit log."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            view = await members.full_view(conn, self.cipher, actor, int(member_id))
        self.write_json(view)


routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/members", MemberListHandler),
    (r"/api/v1/staff/members/import", MemberImportHandler),
    (r"/api/v1/staff/members/(?P<member_id>[0-9]+)/release-binding", ReleaseBindingHandler),
    (r"/api/v1/staff/members/(?P<member_id>[0-9]+)", MemberHandler),
    (r"/api/v1/staff/members/(?P<member_id>[0-9]+)/full", MemberFullHandler),
]
