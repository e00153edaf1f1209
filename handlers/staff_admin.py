"""Staff administration: accounts created by an admin in their subtree, the audit chain check and
the chain's signed checkpoints."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from handlers.orgs import OrgCode
from handlers.staff_base import StaffHandler
from models.core import audit, policy
from models.core.policy import ROLES, Access
from models.core.typed import Body, PageQuery, one_of, paged, text
from models.identity import password_policy as passwords
from models.identity import staff_accounts as staff
from handlers.schemas import DATETIME
from server.openapi import ERROR_REF, integer, nullable, obj, op, page, ref, string

Role = Annotated[str, one_of(ROLES)]


class NewStaff(Body):
    """A staff account to create in the caller's subtree."""

    username: Annotated[str, text(64, min_len=3, pattern=staff.USERNAME.pattern)]
    password: Annotated[str, text(passwords.MAX_LENGTH, min_len=passwords.MIN_LENGTH)]
    roles: Annotated[list[Role], Field(min_length=1, max_length=len(ROLES))]
    org_code: OrgCode
    display_name: Annotated[str, text(50, min_len=1)] | None = None


class AccountsHandler(StaffHandler):
    """Admins create staff accounts in their subtree."""

    access = {"post": Access("staff.manage")}
    spec = {
        "post": op(
            "新建工作人员账号（管理员）",
            tags=["staff"],
            body=NewStaff,
            responses={201: ref("Staff"), 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
            description="所属单位须在本人范围内；密码至少 10 位且不含用户名；用户名重复返回 409。"
            "新账号首次登录管理台 /console/ 须先修改密码。",
        )
    }

    async def post(self) -> None:
        """Create the staff account with its roles in a unit of the caller's subtree and answer it (201)."""
        actor = await self.actor()
        body = self.body(NewStaff)
        async with self.engine.begin() as conn:
            member = await staff.create(conn, actor, username=body.username, password=body.password,
                                        roles=list(body.roles), org_code=body.org_code,
                                        hasher=self.settings["passwords"],
                                        display_name=body.display_name, within=policy.scope(actor),
                                        must_change_password=True)
        self.write_json(member.view(), status=201)


CHECKPOINT = obj({
    "line": integer(1, description="检查点文件中的行号"), "seq": {"type": "integer", "minimum": 0, "description": "审计链的位置（行无法解析时为 0）"},
    "hash": string(description="该位置记录的哈希（SHA-256，十六进制）"), "at": nullable(DATETIME),
    "key_id": integer(maximum=255), "sig": string(description="Ed25519 签名，base64url"),
    "valid": {"type": "boolean"}, "problem": nullable(string(description="不可信的原因"))},
    ["line", "seq", "hash", "at", "key_id", "sig", "valid", "problem"])
PUBLIC_KEY = obj({"key_id": integer(1, 255), "alg": {"type": "string", "enum": ["Ed25519"]},
                  "public_key": string(description="32 字节 Ed25519 公钥，无填充 base64url"),
                  "current": {"type": "boolean"}}, ["key_id", "alg", "public_key", "current"])
VERIFICATION = obj({
    "ok": {"type": "boolean"}, "checked": {"type": "integer"}, "first_bad_id": nullable({"type": "integer"}),
    "reason": string(description="中文说明；完好时为空"),
    "code": nullable(string(description="record_missing、link_broken、content_changed、tail_removed、"
                                        "checkpoint_mismatch、head_behind_checkpoint、checkpoint_invalid")),
    "pending": {"type": "integer"}, "pending_since": nullable(DATETIME), "head": {"type": "integer"},
    "checkpoints": {"type": "integer"}, "newest_checkpoint": nullable(CHECKPOINT),
    "problems": {"type": "array", "items": string()}},
    ["ok", "checked", "first_bad_id", "reason", "code", "pending", "pending_since", "head", "checkpoints",
     "newest_checkpoint", "problems"])


class AuditVerifyHandler(StaffHandler):
    """Admins check the audit log's hash chain and the chain against every saved checkpoint."""

    access = {"get": Access("audit.view")}
    spec = {
        "get": op(
            "校验审计日志哈希链及其检查点（管理员）",
            tags=["staff"],
            responses={200: VERIFICATION, 403: ERROR_REF},
            description="重算整条哈希链，并与数据目录中每个已签名的检查点比对（签名、该位置记录的哈希、链头不落后于"
                        "最新检查点）。不封存任何记录：尚未封存的记录计入 pending，附最早一条的写入时间。",
        )
    }

    async def get(self) -> None:
        """Verify the whole chain against the checkpoints; answer the first break (in Chinese) if any."""
        checkpoints = await self.offload(self.settings["audit_checkpoints"].read)
        async with self.reading() as conn:
            result = await audit.verify(conn, checkpoints=checkpoints)
        self.write_json(result.view())


class AuditCheckpointsHandler(StaffHandler):
    """Admins read the signed checkpoints of the audit chain's head, newest first."""

    access = {"get": Access("audit.view")}
    spec = {
        "get": op(
            "审计链检查点（管理员）",
            tags=["staff"],
            query=PageQuery,
            responses={200: page(CHECKPOINT, keys={"type": "array", "items": PUBLIC_KEY}), 400: ERROR_REF,
                       403: ERROR_REF},
            description="数据目录中已签名的审计链头检查点，新的在前，每条附签名是否可信；keys 为验证签名的公钥。"
                        "签名覆盖 \"unionaid audit checkpoint v1\\n\" 加上 {at, hash, key_id, seq} 按键排序、无空格的 JSON。",
        )
    }

    async def get(self) -> None:
        """One page of checkpoints, newest first (the cursor is a line number), and the verifying keys."""
        query = self.query(PageQuery)
        log = self.settings["audit_checkpoints"]
        found = await self.offload(log.page, query.cursor, query.limit + 1)
        items, nxt = paged(found, query.limit, lambda cp: cp.line)
        self.write_json({"items": [cp.view() for cp in items], "next": nxt, "keys": log.public_keys()})


routes = [
    (r"/api/v1/staff/accounts", AccountsHandler),
    (r"/api/v1/staff/audit/verify", AuditVerifyHandler),
    (r"/api/v1/staff/audit/checkpoints", AuditCheckpointsHandler),
]
