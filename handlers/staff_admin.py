"""Staff administration: accounts created by an admin in their subtree, and the audit chain check."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from handlers.orgs import OrgCode
from handlers.staff_base import StaffHandler
from models.core import audit, policy
from models.core.policy import ROLES, Access
from models.core.typed import Body, one_of, text
from models.identity import password_policy as passwords
from models.identity import staff_accounts as staff
from server.openapi import ERROR_REF, nullable, obj, op, ref, string

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


class AuditVerifyHandler(StaffHandler):
    """Admins check the audit log's hash chain."""

    access = {"get": Access("audit.view")}
    spec = {
        "get": op(
            "校验审计日志哈希链（管理员）",
            tags=["staff"],
            responses={
                200: obj({"ok": {"type": "boolean"}, "checked": {"type": "integer"},
                          "first_bad_id": nullable({"type": "integer"}), "reason": string(),
                          "pending": {"type": "integer"}},
                         ["ok", "checked", "first_bad_id", "reason"]),
                403: ERROR_REF,
            },
        )
    }

    async def get(self) -> None:
        """Seal the pending audit entries, then verify the whole chain and answer the first break if any."""
        async with self.engine.begin() as conn:
            await audit.seal(conn)  # so that the check covers everything committed until now
        async with self.reading() as conn:
            result = await audit.verify(conn)
        self.write_json({"ok": result.ok, "checked": result.checked, "first_bad_id": result.first_bad_id,
                         "reason": result.reason, "pending": result.pending})


routes = [
    (r"/api/v1/staff/accounts", AccountsHandler),
    (r"/api/v1/staff/audit/verify", AuditVerifyHandler),
]
