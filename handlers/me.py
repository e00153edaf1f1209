"""The logged-in worker: profile and phone number."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from handlers.auth import CodeBody
from handlers.base import APIHandler
from models.cards import usecases as card_flows
from models.core.policy import Access
from models.core.typed import Body, PageQuery, encode_cursor, text
from models.counter import redeeming as redemptions
from models.identity import accounts as users
from models.members import membership as members
from server.openapi import ERROR_REF, obj, op, page, ref, string


class BindBody(Body):
    """The name and ID number the roster record must match."""

    name: Annotated[str, text(50, min_len=1)]
    id_number: Annotated[str, text(20, min_len=15)]
from server.wechat import WeChatGateway


class MeHandler(APIHandler):
    """The logged-in worker's own profile and membership, sensitive fields masked."""

    access = {"get": Access("me.view")}
    spec = {"get": op("当前用户及其会员信息（敏感字段已脱敏）", tags=["workers"], responses={200: ref("Me")})}

    async def get(self) -> None:
        """Show the caller's profile and their member record (or null), masked."""
        user_id = self.user_id()
        async with self.reading() as conn:
            user = await users.get(conn, user_id, self.cipher)
            member = await members.for_user(conn, user_id)
        view = member.view() if member else None
        # The member is said once, at the top level (the login answer carries it in ``user``).
        profile = {k: v for k, v in user.view(view).items() if k != "member"}
        self.write_json({"user": profile, "member": view})


class PhoneHandler(APIHandler):
    """A worker binds their phone number through a getPhoneNumber code."""

    access = {"post": Access("me.phone")}
    spec = {
        "post": op(
            "用 getPhoneNumber 的 code 绑定手机号",
            tags=["workers"],
            body=CodeBody,
            responses={200: obj({"phone_masked": string(max_len=20), "phone_country": string(max_len=8)},
                                ["phone_masked"]), 400: ERROR_REF, 502: ERROR_REF},
            description="手机号加密保存，只返回脱敏形式（138****5678）。",
        )
    }

    async def post(self) -> None:
        """Fetch the phone number WeChat vouches for, store it encrypted and answer it masked."""
        user_id = self.user_id()
        body = self.body(CodeBody)
        gateway: WeChatGateway = self.settings["gateway"]
        info = await gateway.phone_number(body.code)
        async with self.engine.begin() as conn:
            user = await users.set_phone(conn, self.cipher, user_id, info.phone, info.country_code)
        self.write_json({"phone_masked": user.phone_masked, "phone_country": user.phone_country})


class BindHandler(APIHandler):
    """A worker claims their roster record by real name and ID number."""

    access = {"post": Access("me.bind")}
    spec = {
        "post": op(
            "实名绑定会员：用姓名和身份证号认领会员记录",
            tags=["workers"],
            body=BindBody,
            responses={200: obj({"member": ref("Member")}, ["member"]), 400: ERROR_REF, 404: ERROR_REF,
                       409: ERROR_REF, 429: ERROR_REF},
            description="姓名或身份证号不符时统一返回 member_not_found，不说明哪一项不符；"
            "一小时内失败 5 次锁定一小时（429 bind_locked）。已被其他微信账号绑定返回 409 already_bound。",
        )
    }

    async def post(self) -> None:
        """Bind the caller to the roster record matching the name and ID number, and answer the member."""
        body = self.body(BindBody)
        member = await card_flows.bind_member(self.engine, self.cipher, self.caller(), name=body.name,
                                              id_number=body.id_number)
        self.write_json({"member": member.view()})


class MyRedemptionsQuery(PageQuery):
    """A page of my redemptions, twenty by default."""

    limit: Annotated[int, Field(ge=1, le=100, description="每页条数（1–100）")] = 20


class MyRedemptionsHandler(APIHandler):
    """The worker's own redemptions at merchants."""

    access = {"get": Access("me.redemptions")}
    spec = {"get": op(
        "我的核销记录（新的在前），按 next 游标翻页", tags=["workers"],
        query=MyRedemptionsQuery,
        responses={200: page(obj(
            {"id": {"type": "integer"}, "merchant": string(), "store": string(), "amount": {"type": "integer"},
             "discount": {"type": "integer"}, "payable": {"type": "integer"}, "status": string(),
             "created_at": string(format="date-time")},
            ["id", "merchant", "amount", "discount", "payable", "status", "created_at"], extra=True)),
            400: ERROR_REF})}

    async def get(self) -> None:
        """List the caller's redemptions, newest first, one cursor page (empty if they are not a member)."""
        user_id = self.user_id()
        query = self.query(MyRedemptionsQuery)
        async with self.reading() as conn:
            member = await members.for_user(conn, user_id)
            items: list[dict[str, Any]] = []
            nxt = None
            if member is not None:
                items, nxt = await redemptions.for_member(conn, member.id, before=query.cursor, limit=query.limit)
        self.write_json({"items": items, "next": encode_cursor(nxt)})


routes = [
    (r"/api/v1/me", MeHandler),
    (r"/api/v1/me/phone", PhoneHandler),
    (r"/api/v1/me/bind", BindHandler),
    (r"/api/v1/me/redemptions", MyRedemptionsHandler),
]
