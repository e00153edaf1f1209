"""Staff administration: accounts created by an admin in their subtree, and the audit chain check."""
from __future__ import annotations

from handlers.orgs import ORG_CODE
from handlers.staff_base import StaffHandler
from models.core import audit, policy
from models.core.policy import ROLES, Access
from models.identity import password_policy as passwords
from models.identity import staff_accounts as staff
from server.openapi import ERROR_REF, nullable, obj, op, ref, string


class AccountsHandler(StaffHandler):
    access = {"post": Access("staff.manage")}
    spec = {
        "post": op(
            "新建工作人员账号（管理员）",
            tags=["staff"],
            body=obj(
                {
                    "username": string(min_len=3, max_len=64, pattern=staff.USERNAME.pattern),
                    "password": string(min_len=passwords.MIN_LENGTH, max_len=passwords.MAX_LENGTH),
                    "roles": {"type": "array", "minItems": 1, "maxItems": len(ROLES),
                              "items": {"type": "string", "enum": list(ROLES)}},
                    "org_code": ORG_CODE,
                    "display_name": string(min_len=1, max_len=50),
                },
                ["username", "password", "roles", "org_code"],
            ),
            responses={201: ref("Staff"), 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
            description="所属单位须在本人范围内；密码至少 10 位且不含用户名；用户名重复返回 409。",
        )
    }

    async def post(self) -> None:
        actor = await self.actor()
        body = self.json_body()
        async with self.engine.begin() as conn:
            member = await staff.create(conn, actor, username=body["username"], password=body["password"],
                                        roles=body["roles"], org_code=body["org_code"],
                                        hasher=self.settings["passwords"],
                                        display_name=body.get("display_name"), within=policy.scope(actor))
        self.write_json(member.view(), status=201)


class AuditVerifyHandler(StaffHandler):
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
