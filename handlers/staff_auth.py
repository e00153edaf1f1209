"""Staff login: username and password for a bearer token (rate-limited, with lock-outs)."""
from __future__ import annotations

from typing import Annotated

from handlers.base import APIHandler
from models.core.policy import PUBLIC
from models.core.typed import Body, text
from models.identity import usecases as identity
from server.openapi import ERROR_REF, op, ref


class StaffLogin(Body):
    """A username and password."""

    username: Annotated[str, text(64, min_len=1)]
    password: Annotated[str, text(256, min_len=1)]


class StaffLoginHandler(APIHandler):
    """Log a member of staff in."""

    access = {"post": PUBLIC}
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
        """Log a member of staff in: the token, its expiry and the staff account (401 or 429 when refused)."""
        body = self.body(StaffLogin)
        done = await identity.staff_login(self.engine, body.username, body.password, self.request.remote_ip,
                                          hasher=self.settings["passwords"], token_ttl=self.config.token_ttl)
        self.write_json({"token": done.token.token, "expires_at": done.token.expires_at, "staff": done.staff.view()})


routes = [
    (r"/api/v1/auth/staff", StaffLoginHandler),
]
