"""Staff login: username and password for a bearer token (rate-limited, with lock-outs)."""
from __future__ import annotations

from typing import Annotated

from handlers.base import APIHandler
from models.identity import sessions as auth_tokens
from models.identity import staff_accounts as staff
from models.core.typed import Body, text
from server.openapi import ERROR_REF, op, ref


class StaffLogin(Body):
    """A username and password."""

    username: Annotated[str, text(64, min_len=1)]
    password: Annotated[str, text(256, min_len=1)]


class StaffLoginHandler(APIHandler):
    """Log a member of staff in."""

    spec = {
        "post": op(
            "工作人员登录：用户名和密码换取令牌",
            auth=False,
            tags=["staff"],
            body=StaffLogin,
            responses={200: ref("StaffLoginResult"), 400: ERROR_REF, 401: ERROR_REF, 429: ERROR_REF},
            description="用户名或密码错误返回 401 login_failed（不区分哪一项错）。同一用户名 15 分钟内失败 5 次"
            "锁定 15 分钟（429 account_locked），同一 IP 15 分钟内失败 30 次返回 429 rate_limited；"
            "均带 Retry-After。",
        )
    }

    async def post(self) -> None:
        body = self.body(StaffLogin)
        member = await staff.login(self.engine, body.username, body.password, self.request.remote_ip)
        async with self.engine.begin() as conn:
            issued = await auth_tokens.issue(conn, "staff", member.id, ttl=self.config.token_ttl)
        self.write_json({"token": issued.token, "expires_at": issued.expires_at, "staff": member.view()})


routes = [
    (r"/api/v1/auth/staff", StaffLoginHandler),
]
