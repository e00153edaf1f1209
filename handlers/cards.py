"""The service card: the worker's card and rotating QR code, the public keys, staff card management."""
from __future__ import annotations

import functools
import logging
from typing import Annotated, Any, Callable, Literal

from handlers.base import APIHandler, BaseHandler
from handlers.staff_base import StaffHandler
from models.cards import codes as card_codes
from models.cards import lifecycle as cards
from models.core import policy
from models.core.actors import Actor
from models.core.clock import local_today
from models.core.errors import AppError, NotFound, Unavailable, Unprocessable
from models.core.masking import mask_name
from models.core.policy import PUBLIC, Access, Target
from models.core.typed import Body, Query, one_of, text
from models.members import membership as members
from models.partners import programmes as benefits
from server import card_images
from server.openapi import ERROR_REF, binary, obj, op, ref, string

MEMBER = Target("member", "member_id")
CARD_TARGET = Target("card", "card_id")
#: The worker's own card: found from their own roster record (none yet: member_not_bound).
OWN_CARD = Target("own_member")

IMAGE_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
# The printed card comes whole (PDF or PNG): no bare QR, which could be printed without the
# holder's name and card number that the cashier checks it against.
PRINT_FORMATS = ("pdf", "png")
Reason = Annotated[str, text(200)]


class ReasonBody(Body):
    """An optional reason, kept with the card's status."""

    reason: Reason | None = None


class ReasonRequired(Body):
    """The reason the action needs."""

    reason: Reason


class QrQuery(Query):
    """JSON by default; ``format`` asks for an image instead, of a code this request signs."""

    format: Literal["png", "svg"] | None = None


class PrintQuery(Query):
    """The printed card's file type (PDF by default)."""

    format: Annotated[str, one_of(PRINT_FORMATS)] = "pdf"
FONT_REFUSALS = (
    "服务器缺少可嵌入的中文字体时答 503 card_font_missing；卡上的字（持卡人或单位名称）在字体里没有字形时答 "
    "422 card_glyph_missing，message 列出这些字。两种情况都不会给出缺字或带方框的卡，也不作废已印的卡：请管理员安装"
    "文泉驿微米黑（apt-get install fonts-wqy-microhei），或把 UNIONAID_CARD_FONT 设为包含所需汉字的 TrueType 字体文件"
    "（.ttf/.ttc；PostScript 轮廓的 .otf 不能嵌入）并重启服务。"
)
log = logging.getLogger("unionaid.cards")


def _image_response(summary: str, kinds: tuple[str, ...]) -> dict[str, Any]:
    return binary(summary, (IMAGE_TYPES[k] for k in kinds))


def font_refusal(exc: card_images.CardFontMissing) -> AppError:
    """The answer for a card the fonts cannot draw in full (see FONT_REFUSALS)."""
    log.warning("printed card refused: %s", exc.detail)
    if exc.missing:
        return Unprocessable("card_glyph_missing", exc.message)
    return Unavailable("card_font_missing", exc.message)


class CardBase(APIHandler):
    """Shared by the card routes: the caller's own card, and images rendered off the loop."""

    async def send_image(self, fn: Callable[..., bytes], *args: Any, kind: str, filename: str | None = None) -> None:
        """Render an image off the event loop and send it, never cached."""
        data = await self.offload(fn, *args)
        self.set_header("Content-Type", IMAGE_TYPES[kind])
        if filename:
            self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(data)

    async def my_card(self) -> tuple[int, cards.Card, Any]:
        """The caller's live card (issued now if a bound member never had one), else their latest, and member."""
        user_id = self.user_id()
        async with self.reading() as conn:
            member = await members.for_user(conn, user_id)
            card = await cards.shown_card(conn, member.id) if member else None
        if member is None:
            raise NotFound("member_not_bound", "请先完成会员实名绑定")
        if card is None:
            async with self.engine.begin() as conn:
                card = await cards.issue(conn, self.caller(), member.id)
        return user_id, card, member


CARD = obj({"card_no": string(pattern="^8[0-9]{15}$"), "card_no_display": string(), "status": string(),
            "status_label": string(), "benefits": {"type": "array", "items": ref("Benefit")}},
           ["card_no", "status", "benefits"], extra=True)


class MyCardHandler(CardBase):
    """The worker's own service card: number, status, benefits and what remains of them."""

    access = {"get": Access("my_card.view", OWN_CARD)}
    spec = {"get": op("我的职工互助服务卡：卡号、状态、可享权益及剩余额度", tags=["workers"],
                      responses={200: CARD, 404: ERROR_REF})}

    async def get(self) -> None:
        """Show the caller's card (issued now if they have none) with the masked holder and their benefits."""
        _, card, member = await self.my_card()
        async with self.reading() as conn:
            offers = await benefits.for_member(conn, member.id, today=local_today())
        self.write_json({**card.view(), "holder": mask_name(member.name), "benefits": [b.view() for b in offers]})


class MyCardQrHandler(CardBase):
    """The worker's rotating card QR code, as JSON or as a PNG or SVG image."""

    access = {"get": Access("my_card.view", OWN_CARD)}
    spec = {"get": op(
        "服务卡动态二维码：短时有效、签名防伪、一次有效", tags=["workers"],
        query=QrQuery,
        responses={200: {"description": "JSON（token、expires_at、refresh_in）；format=png/svg 时为本次请求新签发的码的图片"
                                        "（每次请求都签发新码，与其他请求答的 token 不同；到期时间见响应头 X-QR-Expires-At）。"
                                        "SVG 为白底黑码，四周留 4 个模块的空白区，深色页面上也能扫",
                         "content": {"application/json": {"schema": obj(
                             {"token": string(min_len=100, max_len=200), "expires_at": string(format="date-time"),
                              "refresh_in": {"type": "integer"}}, ["token", "expires_at", "refresh_in"])},
                             **binary("", ("image/png", "image/svg+xml"))["content"]}},
                   400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
        description="token 为 Ed25519 签名的 base32 串（恰为 135 个字符，大写、无 = 填充，"
        "二维码字母数字模式，M 级纠错不超过 10 版）；扫码时须原样提交，不得改写大小写或加填充。"
        "有效期 qr_ttl 秒（默认 60），请在 refresh_in 秒后获取新码；一个码只能被一次扫码使用。")}

    async def get(self) -> None:
        """Sign a fresh short-lived code for the caller's card and send it as JSON, PNG or SVG."""
        member_id = self.caller().member_id  # the declaration (OWN_CARD) found the caller's own record
        assert member_id is not None
        # The live card came with the caller's query; else the latest (a dead card's refusal), or a first one.
        card: card_codes.Signable | None = self.current_caller.card if self.current_caller else None
        if card is None:
            async with self.reading() as conn:
                card = await cards.shown_card(conn, member_id)
        if card is None:  # a bound member who never had a card gets one now
            async with self.writing() as conn:
                card = await cards.issue(conn, self.caller(), member_id)
        fmt = self.query(QrQuery).format
        code = card_codes.phone_code(self.signer, card, ttl=self.config.qr_ttl)
        self.set_header("X-QR-Expires-At", code.expires_at.isoformat())
        if fmt == "png":
            await self.send_image(card_images.qr_png, code.token, kind="png")
        elif fmt == "svg":
            await self.send_image(card_images.qr_svg, code.token, kind="svg")
        else:
            self.write_json(code.view())


class ReportLostHandler(CardBase):
    """The worker reports their card lost: the old number dies and a new card is issued."""

    access = {"post": Access("my_card.report_lost", OWN_CARD)}
    spec = {"post": op("挂失服务卡：旧卡立即作废，补发新卡号", tags=["workers"], body=ReasonBody,
                       responses={200: obj({"card": ref("Card"), "previous_card_no": string()},
                                           ["card", "previous_card_no"]), 404: ERROR_REF, 409: ERROR_REF})}

    async def post(self) -> None:
        """Report the caller's card lost, with an optional reason; answer the new card and the old number."""
        _, card, _ = await self.my_card()
        body = self.body(ReasonBody)
        actor = self.caller()
        async with self.engine.begin() as conn:
            new = await cards.report_lost(conn, actor, card.id, reason=body.reason)
        self.write_json({"card": new.view(), "previous_card_no": card.card_no})


class PublicKeysHandler(CardBase):
    """The card-code public keys as a JWK Set (RFC 7517/8037), with the freshness rule, for offline checks."""

    TOKEN_LAYOUT = "unionaid-card-token-v1"
    _KID = string(pattern="^(?:[1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5])$",
                  description="令牌第 2 字节（密钥编号，1–255）的十进制写法，如字节 0x01 写作 \"1\"")
    _JWK = obj({
        "kty": {"const": "OKP"}, "crv": {"const": "Ed25519"}, "kid": _KID,
        "x": string(pattern="^[A-Za-z0-9_-]{43}$", description="32 字节 Ed25519 公钥，base64url，不带 = 填充"),
        "alg": {"const": "EdDSA"}, "use": {"const": "sig"},
        "current": {"type": "boolean", "description": "非 JWK 标准成员：此钥正在签新码。验证时名单中的每把钥都有效"},
    }, ["kty", "crv", "kid", "x", "alg", "use", "current"])
    _LEGACY = obj({"kid": {"type": "integer"}, "alg": {"const": "Ed25519"},
                   "public_key": string(description="base64url，带 = 填充"), "current": {"type": "boolean"}},
                  ["kid", "alg", "public_key", "current"])
    access = {"get": PUBLIC}
    spec = {"get": op(
        "服务卡二维码的验签公钥（JWK Set，商家可离线验证）", tags=["merchants"], auth=False,
        responses={200: obj({
            "keys": {"type": "array", "items": _JWK,
                     "description": "RFC 7517 JWK Set 的 keys：RFC 8037 的 Ed25519 公钥，最新的在前"},
            "qr_ttl": {"type": "integer", "description": "手机码自签发起的有效秒数"},
            "clock_skew": {"type": "integer", "description": "两端时钟允许相差的秒数，过期与签发时间在未来两头都适用"},
            "token_layout": {"const": TOKEN_LAYOUT,
                             "description": "令牌字节布局的版本名（docs/card-codes.md），不是令牌第 1 字节的格式"},
            "format": {"const": TOKEN_LAYOUT, "deprecated": True,
                       "description": "已弃用，同 token_layout；不是令牌第 1 字节的格式（1 手机码 / 2 实体卡码）"},
            "legacy_keys": {"type": "array", "items": _LEGACY, "deprecated": True,
                            "description": "已弃用：改用 JWK 之前的 keys 写法（kid 为整数，public_key 带填充），"
                            "同一批钥，供旧客户端过渡，将在下一 API 版本移除"},
        }, ["keys", "qr_ttl", "clock_skew", "token_layout", "format", "legacy_keys"])},
        description="回答是一个 JWK Set（RFC 7517 第 5 节），另加验证规则：可直接交给 JOSE 库或 "
        "Node 的 crypto.createPublicKey({key, format: \"jwk\"})。"
        "二维码内容只有一种写法：恰为 135 个字符的 RFC 4648 base32 大写文本（A-Z、2-7），"
        "不带 = 填充，前后和中间不含空白或换行；小写、带填充或有空白的文本不是同一个码，扫码接口一律答 qr_invalid。"
        "离线验证：把这段文本补一个 = 后按 base32 解码为 84 字节（135 个字符的最后 3 位须为 0）；"
        "前 20 字节为正文，大端序：格式(1，1=手机码，2=实体卡码) | 密钥编号(1) | 卡 id(4) | 卡版本(2) | "
        "签发时间 Unix 秒(4) | 随机数(8)；后 64 字节为对这 20 字节正文的 Ed25519 签名（RFC 8032，纯 Ed25519）。"
        "取 kid 等于密钥编号十进制写法的 JWK，用其 x（base64url 无填充的 32 字节公钥）验签；"
        "名单里没有该 kid 时重新取一次本接口（密钥会轮换，本回答可缓存 5 分钟）。"
        "手机码（格式 1）在 签发时间 - clock_skew ≤ 当前时间 ≤ 签发时间 + qr_ttl + clock_skew 时有效"
        "（qr_ttl、clock_skew 见本回答）：签发时间比当前时间晚 clock_skew 秒以上的码无效（扫码接口答 qr_invalid），"
        "过了上限的答 qr_expired。实体卡码（格式 2）不按时间过期，其签发时间为制卡时间。"
        "顶层的 token_layout（及已弃用的同值 format）是布局版本名，不是第 1 字节的格式。"
        "逐字节说明、测试向量与 Python/Node 验证示例见 docs/card-codes.md。"
        "离线验证只证明码是真的；码是否已被使用、卡是否被冻结或已补印，须以 POST /api/v1/merchant/scan 为准。")}

    async def get(self) -> None:
        """Publish the card-code public keys, the freshness rule and the legacy key list, cacheable 5 minutes."""
        self.set_header("Cache-Control", "public, max-age=300")
        # The freshness rule is part of what an offline check needs, so it is published with the keys;
        # legacy_keys and format keep clients of the pre-JWK answer working until the next API version.
        self.write_json({"keys": self.signer.jwks(), "qr_ttl": self.config.qr_ttl,
                         "clock_skew": self.config.qr_clock_skew, "token_layout": self.TOKEN_LAYOUT,
                         "format": self.TOKEN_LAYOUT, "legacy_keys": self.signer.public_keys()})


class StaffCardBase(StaffHandler, CardBase):
    """Staff card routes: the staff caller (StaffHandler) with the card helpers (CardBase)."""

    pass


class MemberCardHandler(StaffCardBase):
    """Staff view a member's card and card history, and issue the member a card."""

    accepts = "none"
    access = {"get": Access("card.view", MEMBER), "post": Access("card.manage", MEMBER)}
    spec = {
        "get": op("会员的服务卡及历史卡", tags=["staff"], responses={200: obj(
            {"card": {"oneOf": [ref("Card"), {"type": "null"}]},
             "history": {"type": "array", "items": ref("Card")}}, ["card", "history"]), 404: ERROR_REF}),
        "post": op("为会员发卡（已有有效卡时返回该卡）", tags=["staff"],
                   responses={200: obj({"card": ref("Card")}, ["card"]), 404: ERROR_REF, 409: ERROR_REF}),
    }

    async def get(self, member_id: str) -> None:
        """Show a member in the caller's scope: their live card (or null) and their past cards."""
        actor = await self.actor()
        async with self.reading() as conn:
            await members.get_in_scope(conn, int(member_id), policy.scope(actor))
            live = await cards.live_for_member(conn, int(member_id))
            past = await cards.history(conn, int(member_id))
        self.write_json({"card": live.view() if live else None, "history": [c.view() for c in past]})

    async def post(self, member_id: str) -> None:
        """Issue the member a card, or answer the live one they already have."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            card = await cards.issue(conn, actor, int(member_id))
        self.write_json({"card": card.view()})


def _card_action(summary: str, fn: Callable[..., Any], *, reason_required: bool) -> type[StaffCardBase]:
    """A staff action on one card that takes a reason: freeze, unfreeze, reissue, cancel."""

    model: type[ReasonBody] | type[ReasonRequired] = ReasonRequired if reason_required else ReasonBody

    class Handler(StaffCardBase):
        access = {"post": Access("card.manage", CARD_TARGET)}
        spec = {"post": op(summary, tags=["staff"], body=model,
                           responses={200: obj({"card": ref("Card")}, ["card"]), 400: ERROR_REF, 403: ERROR_REF,
                                      404: ERROR_REF, 409: ERROR_REF})}

        async def post(self, card_id: str) -> None:
            actor = await self.actor()
            body = self.body(model)
            async with self.engine.begin() as conn:
                card = await fn(conn, actor, int(card_id), reason=body.reason)
            self.write_json({"card": card.view()})

    Handler.__name__ = f"Card{fn.__name__.title().replace('_', '')}Handler"
    return Handler


async def check_fonts(handler: BaseHandler, holder_masked: str, org_name: str) -> None:
    """Refuse a card whose text the server's fonts cannot draw in full."""
    check = functools.partial(card_images.printable_face, holder_masked, org_name,
                              font_path=handler.config.card_font or None)
    try:
        await handler.offload(check)  # a font's first load parses the file
    except card_images.CardFontMissing as exc:
        raise font_refusal(exc) from None


async def make_print(handler: BaseHandler, actor: Actor, card_id: int) -> cards.Card:
    """A new printed code for the card (the old print dies), once the fonts can draw it (the API's and the
    console's 制作实体卡)."""
    async with handler.engine.begin() as conn:
        card = await cards.reprint(conn, actor, card_id)
        # In the same transaction: a refusal leaves the print in force untouched.
        _, member = await cards.for_staff(conn, actor, card.id, "card.print")
        await check_fonts(handler, mask_name(member.name), await cards.org_name(conn, card.org_id))
    return card


async def print_file(handler: BaseHandler, actor: Actor, card_id: int, fmt: str) -> tuple[bytes, str]:
    """The card's current print as PDF or PNG and its file name, the download audited; refused if the fonts
    cannot draw it (the API's download and the console's print, which opens it for the card printer)."""
    async with handler.engine.begin() as conn:
        card, member = await cards.for_staff(conn, actor, card_id, "card.print")
        token = card_codes.printed_code(handler.signer, card)
        assert card.printed_at is not None
        org_name = await cards.org_name(conn, card.org_id)
        printed = card_images.PrintedCard(card_no=card.card_no, holder_masked=mask_name(member.name),
                                          org_name=org_name, token=token, printed_on=local_today(card.printed_at))
        await check_fonts(handler, printed.holder_masked, printed.org_name)
        await cards.audit_print_download(conn, actor, card, member.path, fmt)
    render = card_images.printed_card_png if fmt == "png" else card_images.printed_card_pdf
    try:
        data = await handler.offload(functools.partial(render, font_path=handler.config.card_font or None), printed)
    except card_images.CardFontMissing as exc:  # the font changed since the check
        raise font_refusal(exc) from None
    return data, f"card-{card.card_no[-4:]}.{fmt}"


class CardPrintHandler(StaffCardBase):
    """Staff make a card's printed version and download it as PDF or PNG."""

    accepts = "none"
    access = {"post": Access("card.print", CARD_TARGET), "get": Access("card.print", CARD_TARGET)}
    spec = {
        "post": op("制作实体卡：生成新的长期有效卡码，旧的实体卡随即作废", tags=["staff"],
                   responses={200: obj({"card": ref("Card")}, ["card"]), 403: ERROR_REF, 404: ERROR_REF,
                                      409: ERROR_REF, 422: ERROR_REF, 503: ERROR_REF},
                   description="先确认服务器的字体能印出这张卡上的每个字，否则不制卡、旧卡照常可用。" + FONT_REFUSALS),
        "get": op("下载当前实体卡（PDF 供制卡机打印，或 PNG）", tags=["staff"],
                  query=PrintQuery,
                  responses={200: _image_response("实体卡文件：PDF 内嵌所用字体（子集），在没有中文字体的电脑上也能正确显示和打印",
                                                  PRINT_FORMATS),
                             403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF, 503: ERROR_REF},
                  description="每次下载记入审计日志（被拒绝的下载不记）。" + FONT_REFUSALS),
    }

    async def post(self, card_id: str) -> None:
        """Make a new printed code for the card (the old print dies), once the fonts can draw it."""
        card = await make_print(self, await self.actor(), int(card_id))
        self.write_json({"card": card.view()})

    async def get(self, card_id: str) -> None:
        """Download the card's current print as PDF or PNG, audited; refused if the fonts cannot draw it."""
        actor = await self.actor()
        fmt = self.query(PrintQuery).format
        data, filename = await print_file(self, actor, int(card_id), fmt)
        self.set_header("Content-Type", IMAGE_TYPES[fmt])
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(data)


routes: list[tuple[str, Any]] = [
    (r"/api/v1/me/card", MyCardHandler),
    (r"/api/v1/me/card/qr", MyCardQrHandler),
    (r"/api/v1/me/card/report-lost", ReportLostHandler),
    (r"/api/v1/cards/keys", PublicKeysHandler),
    (r"/api/v1/staff/members/(?P<member_id>[0-9]+)/card", MemberCardHandler),
    (r"/api/v1/staff/cards/(?P<card_id>[0-9]+)/freeze",
     _card_action("冻结服务卡（须填原因）", cards.freeze, reason_required=True)),
    (r"/api/v1/staff/cards/(?P<card_id>[0-9]+)/unfreeze",
     _card_action("解冻服务卡", cards.unfreeze, reason_required=False)),
    (r"/api/v1/staff/cards/(?P<card_id>[0-9]+)/reissue",
     _card_action("挂失补办：旧卡立即作废，发新卡号", cards.report_lost, reason_required=False)),
    (r"/api/v1/staff/cards/(?P<card_id>[0-9]+)/cancel",
     _card_action("注销服务卡（须填原因）", cards.cancel, reason_required=True)),
    (r"/api/v1/staff/cards/(?P<card_id>[0-9]+)/print", CardPrintHandler),
]
