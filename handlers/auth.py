"""Login and logout: workers through WeChat."""
from __future__ import annotations

from typing import Annotated

from handlers.base import APIHandler
from models.core.policy import PUBLIC, Access
from models.core.typed import Body, text
from models.identity import accounts as users
from models.identity import sessions as auth_tokens
from models.members import membership as members
from server.openapi import ERROR_REF, obj, op, ref
from server.wechat import WeChatGateway

Code = Annotated[str, text(128, min_len=1, pattern=r"^\S+$")]
"""A one-time code from the mini-program (wx.login, getPhoneNumber)."""


class CodeBody(Body):
    """A one-time WeChat code."""

    code: Code


class WeChatLoginHandler(APIHandler):
    """Exchange a wx.login code for a bearer token; a new person becomes a visitor."""

    access = {"post": PUBLIC}
    spec = {
        "post": op(
            "微信登录：用 wx.login 的 code 换取令牌",
            auth=False,
            tags=["workers"],
            body=CodeBody,
            responses={200: ref("LoginResult"), 400: ERROR_REF, 502: ERROR_REF},
            description="新用户以 visitor 角色登录，实名绑定会员后获得 member 角色。"
            "code 无效或已使用返回 400；微信不可用返回 502 并带 Retry-After。",
        )
    }

    async def post(self) -> None:
        """Log a worker in with a wx.login code: the token, its expiry and the user with any membership."""
        body = self.body(CodeBody)
        gateway: WeChatGateway = self.settings["gateway"]
        session = await gateway.code_to_session(body.code)
        async with self.engine.begin() as conn:
            user = await users.login_wechat(
                conn, self.cipher, openid=session.openid, unionid=session.unionid, session_key=session.session_key
            )
            issued = await auth_tokens.issue(conn, "user", user.id, ttl=self.config.token_ttl)
            member = await members.for_user(conn, user.id)
        self.write_json({"token": issued.token, "expires_at": issued.expires_at,
                         "user": user.view(member.view() if member else None)})


class LogoutHandler(APIHandler):
    """Revoke the token the request carries."""

    accepts = "none"
    access = {"post": Access("session.logout")}
    spec = {
        "post": op("退出登录：吊销当前令牌", tags=["workers"],
                   responses={200: obj({"revoked": {"type": "boolean"}}, ["revoked"])})
    }

    async def post(self) -> None:
        """Revoke the caller's bearer token and say whether it was still live."""
        token = self.bearer_token()
        assert token is not None
        async with self.engine.begin() as conn:
            revoked = await auth_tokens.revoke(conn, token)
        self.write_json({"revoked": revoked})


routes = [
    (r"/api/v1/auth/wechat", WeChatLoginHandler),
    (r"/api/v1/auth/logout", LogoutHandler),
]
