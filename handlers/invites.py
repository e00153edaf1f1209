"""Merchant invites: staff invite a merchant's managers (or cashiers), a manager the cashiers of a store;
each lists the open invites it may make and has an open invite's mini-program code fetched again.

The invite is committed before WeChat is asked for its image, so a WeChat failure never loses it: the
answer carries the code as text, and the image can be fetched again while the invite is open.
"""
from __future__ import annotations

import base64
import logging
from typing import Any, Literal

from handlers.merchant import MerchantHandler
from handlers.staff_base import StaffHandler
from models.core.errors import AppError
from models.core.policy import Access, Target
from models.core.typed import Body, Id, PageQuery, paged
from models.partners import invites
from server.openapi import ERROR_REF, binary, nullable, obj, op, page, string
from server.wechat import WeChatGateway

log = logging.getLogger("unionaid.invites")

#: The mini-program page a code opens, with the invite code as its ``scene``.
BIND_PAGE = "pages/merchant/bind"
MERCHANT_TARGET = Target("merchant", "merchant_id")
INVITE_TARGET = Target("invite", "invite_id")

_ROLE = {"enum": ["manager", "cashier"]}
_FIELDS = {"id": {"type": "integer"}, "merchant_id": {"type": "integer"}, "store_id": {"type": ["integer", "null"]},
           "role": _ROLE, "expires_at": string(format="date-time")}
INVITE = obj({**_FIELDS, "code": string(min_len=6)}, ["id", "code", "role", "store_id", "expires_at"])
OPEN_INVITE = obj({**_FIELDS, "code": {"type": ["string", "null"]}, "created_at": string(format="date-time")},
                  ["id", "code", "role", "store_id", "created_at", "expires_at"])
CREATED = obj({
    "invite": INVITE,
    "wxa_code": {"type": ["string", "null"], "contentEncoding": "base64",
                 "description": "小程序码图片（base64），图片类型见 wxa_code_type；微信出错时为 null"},
    "wxa_code_type": {"type": ["string", "null"], "description": "图片的 MIME 类型，即微信所给（微信为 image/jpeg）"},
    "wxa_code_error": nullable(obj({"code": string(), "message": string()}, ["code", "message"])),
}, ["invite", "wxa_code", "wxa_code_type", "wxa_code_error"])
_CREATED_ABOUT = (
    "邀请提交后才向微信获取小程序码：微信出错时邀请照样有效，wxa_code 与 wxa_code_type 为 null，"
    "wxa_code_error 给出微信的错误（code、中文 message），可先把邀请码 invite.code 念给对方，"
    "稍后用 GET …/invites/{invite_id}/wxa-code 重新获取图片。wxa_code 为微信给的图片（base64，微信给的是 JPEG，"
    "类型以 wxa_code_type 为准），扫码打开绑定页 pages/merchant/bind，scene 即邀请码。邀请码一次有效，7 天内使用。")
_LIST_ABOUT = (
    "未使用、未过期的邀请，新的在前；含邀请码本身（能查看的人本来也能再发一个邀请），每次查看都记入审计日志。"
    "本次升级前发出的邀请 code 为 null。")
WXA_CODE = binary("邀请的小程序码图片，原样为微信所给的类型（微信给的是 JPEG，image/jpeg），不缓存", ("image/jpeg", "image/png"))
_WXA_ABOUT = (
    "重新获取未使用、未过期邀请的小程序码（每次获取都记入审计日志：码中即邀请码）。已使用、已过期、不存在或"
    "无权查看的邀请一律答 404 invite_invalid。微信出错时答 502（或 503），带 Retry-After，稍后重试。")
_UPSTREAM = {502: ERROR_REF, 503: ERROR_REF}


class NewInvite(Body):
    """Invite a manager, or a cashier of one store."""

    role: Literal["manager", "cashier"]
    store_id: Id | None = None


class InviteBody(Body):
    """The store the new cashier will work at."""

    store_id: Id


async def with_wxa_code(gateway: WeChatGateway, invite: invites.Invite) -> dict[str, Any]:
    """The committed invite with its mini-program code, or, when WeChat fails, with WeChat's error instead."""
    try:
        image = await gateway.wxa_code(invite.code, page=BIND_PAGE)
    except AppError as exc:
        log.warning("invite %s: no mini-program code (%s); the code is answered as text", invite.id, exc.code)
        return {"invite": invite.view(), "wxa_code": None, "wxa_code_type": None,
                "wxa_code_error": {"code": exc.code, "message": exc.message}}
    return {"invite": invite.view(), "wxa_code": base64.b64encode(image.image).decode(), "wxa_code_type": image.mime,
            "wxa_code_error": None}


class WxaCodeSender:
    """Fetch an invite's mini-program code from WeChat and send it as it came, never cached."""

    async def send_wxa_code(self: Any, invite: invites.Invite) -> None:
        """Send the image WeChat makes for the invite (its errors answer as they are: 502/503, Retry-After)."""
        gateway: WeChatGateway = self.settings["gateway"]
        image = await gateway.wxa_code(invite.code, page=BIND_PAGE)
        self.set_header("Content-Type", image.mime)
        self.set_header("Cache-Control", "no-store")
        self.finish(image.image)


class StaffInvitesHandler(StaffHandler):
    """Staff list a merchant's open invites, and invite its manager or a cashier of one of its stores."""

    access = {"get": Access("merchant.manage", MERCHANT_TARGET), "post": Access("merchant.manage", MERCHANT_TARGET)}
    spec = {
        "get": op("商家未使用的邀请（管理员）", tags=["staff"], query=PageQuery,
                  responses={200: page(OPEN_INVITE), 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
                  description=_LIST_ABOUT),
        "post": op("邀请商家管理员（或指定门店的收银员）：一次性邀请码，及小程序码（微信出错时稍后重取）",
                   tags=["staff"], body=NewInvite,
                   responses={201: CREATED, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
                   description=_CREATED_ABOUT),
    }

    async def get(self, merchant_id: str) -> None:
        """List the merchant's open invites with their codes, newest first, one cursor page (audited)."""
        actor = await self.actor()
        query = self.query(PageQuery)
        async with self.engine.begin() as conn:
            found = await invites.list_open(conn, self.cipher, actor, int(merchant_id), before=query.cursor,
                                            page=query.limit)
        items, nxt = paged(found, query.limit, lambda i: int(i["id"]))
        self.write_json({"items": items, "next": nxt})

    async def post(self, merchant_id: str) -> None:
        """Create a one-time invite for the role; answer it (201) with its mini-program code when WeChat gives one."""
        actor = await self.actor()
        body = self.body(NewInvite)
        async with self.engine.begin() as conn:
            invite = await invites.create(conn, self.cipher, actor, int(merchant_id), role=body.role,
                                          store_id=body.store_id)
        self.write_json(await with_wxa_code(self.settings["gateway"], invite), status=201)


class StaffInviteCodeHandler(WxaCodeSender, StaffHandler):
    """Staff fetch an open invite's mini-program code again."""

    accepts = "none"
    access = {"get": Access("merchant.manage", INVITE_TARGET)}
    spec = {"get": op("重新获取邀请的小程序码（管理员）", tags=["staff"],
                      responses={200: WXA_CODE, 403: ERROR_REF, 404: ERROR_REF, **_UPSTREAM}, description=_WXA_ABOUT)}

    async def get(self, merchant_id: str, invite_id: str) -> None:
        """Send the open invite's mini-program code, the reading of its code audited."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            invite = await invites.reveal(conn, self.cipher, actor, int(merchant_id), int(invite_id))
        await self.send_wxa_code(invite)


class InvitesHandler(MerchantHandler):
    """A merchant manager lists the open cashier invites, and invites a cashier to one of the merchant's stores."""

    access = {"get": Access("merchant.invite"), "post": Access("merchant.invite")}
    spec = {
        "get": op("商家管理员查看未使用的收银员邀请", tags=["merchants"], query=PageQuery,
                  responses={200: page(OPEN_INVITE), 400: ERROR_REF, 403: ERROR_REF}, description=_LIST_ABOUT),
        "post": op("商家管理员为门店邀请收银员：一次性邀请码，及小程序码（微信出错时稍后重取）", tags=["merchants"],
                   body=InviteBody,
                   responses={200: CREATED, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
                   description=_CREATED_ABOUT),
    }

    async def get(self) -> None:
        """List the merchant's open cashier invites with their codes, newest first, one cursor page (audited)."""
        async with self.engine.begin() as conn:
            manager = await self.cashier(conn)
            query = self.query(PageQuery)
            found = await invites.list_open(conn, self.cipher, manager.actor(), manager.merchant_id,
                                            by_manager=manager, before=query.cursor, page=query.limit)
        items, nxt = paged(found, query.limit, lambda i: int(i["id"]))
        self.write_json({"items": items, "next": nxt})

    async def post(self) -> None:
        """Create a one-time cashier invite for the store; answer it with its mini-program code if WeChat gives one."""
        async with self.engine.begin() as conn:
            manager = await self.cashier(conn)
            body = self.body(InviteBody)
            invite = await invites.create(conn, self.cipher, manager.actor(), manager.merchant_id, role="cashier",
                                          store_id=body.store_id, by_manager=manager)
        self.write_json(await with_wxa_code(self.settings["gateway"], invite))


class InviteCodeHandler(WxaCodeSender, MerchantHandler):
    """A merchant manager fetches an open cashier invite's mini-program code again."""

    accepts = "none"
    access = {"get": Access("merchant.invite", INVITE_TARGET)}
    spec = {"get": op("商家管理员重新获取收银员邀请的小程序码", tags=["merchants"],
                      responses={200: WXA_CODE, 403: ERROR_REF, 404: ERROR_REF, **_UPSTREAM}, description=_WXA_ABOUT)}

    async def get(self, invite_id: str) -> None:
        """Send the open cashier invite's mini-program code, the reading of its code audited."""
        async with self.engine.begin() as conn:
            manager = await self.cashier(conn)
            invite = await invites.reveal(conn, self.cipher, manager.actor(), manager.merchant_id, int(invite_id),
                                          by_manager=manager)
        await self.send_wxa_code(invite)


routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/merchants/(?P<merchant_id>[0-9]+)/invites", StaffInvitesHandler),
    (r"/api/v1/staff/merchants/(?P<merchant_id>[0-9]+)/invites/(?P<invite_id>[0-9]+)/wxa-code",
     StaffInviteCodeHandler),
    (r"/api/v1/merchant/invites", InvitesHandler),
    (r"/api/v1/merchant/invites/(?P<invite_id>[0-9]+)/wxa-code", InviteCodeHandler),
]
