"""The logged-in worker: profile and phone number."""
from __future__ import annotations

from handlers.auth import CODE
from handlers.base import APIHandler
from models import users
from server.openapi import ERROR_REF, obj, op, ref, string
from server.wechat import WeChatGateway


class MeHandler(APIHandler):
    spec = {"get": op("当前用户及其会员信息（敏感字段已脱敏）", tags=["workers"], responses={200: ref("Me")})}

    async def get(self) -> None:
        user_id = self.require("user")
        async with self.engine.connect() as conn:
            user = await users.get(conn, user_id, self.cipher)
        self.write_json({"user": user.view(), "member": None})


class PhoneHandler(APIHandler):
    spec = {
        "post": op(
            "用 getPhoneNumber 的 code 绑定手机号",
            tags=["workers"],
            body=obj({"code": CODE}, ["code"]),
            responses={200: obj({"phone_masked": string(max_len=20)}, ["phone_masked"]), 400: ERROR_REF,
                       502: ERROR_REF},
            description="手机号加密保存，只返回脱敏形式（138****5678）。",
        )
    }

    async def post(self) -> None:
        user_id = self.require("user")
        body = self.json_body()
        gateway: WeChatGateway = self.settings["gateway"]
        info = await gateway.phone_number(body["code"])
        async with self.engine.begin() as conn:
            user = await users.set_phone(conn, self.cipher, user_id, info.phone)
        self.write_json({"phone_masked": user.phone_masked})


routes = [
    (r"/api/v1/me", MeHandler),
    (r"/api/v1/me/phone", PhoneHandler),
]
