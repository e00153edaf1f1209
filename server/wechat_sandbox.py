"""A local fake of the WeChat API endpoints the service uses, as strict as WeChat, for tests, the demo and development.

It answers like WeChat does (HTTP 200, JSON with ``errcode``/``errmsg`` on error) and refuses
what WeChat refuses, with WeChat's codes, so that what passes here passes there. Errors can
also be injected per endpoint. The documented answers it follows are kept, with their
sources, in ``tests/server/wechat_documented.py``; what it remembers is
``server/wechat_sandbox_state.py``.

Access tokens. ``POST /cgi-bin/stable_token`` (JSON only) hands out the one live stable token
with its remaining ``expires_in``; in its last 300 s a call issues a new one and the old stays
valid until its own expiry; ``force_refresh: true`` issues a new one and invalidates the old at
once (a second forced refresh within 30 s does not refresh; 20 a day, then 45009).
``GET /cgi-bin/token`` issues a new token at each call, and the previous ones stop working
``basic_grace`` seconds later (WeChat: 5 minutes). The two kinds are apart: neither touches the
other's tokens. Every API checks its token: missing 41001, expired 42001, unknown or replaced
40001. :meth:`SandboxState.advance` lets time pass (tokens age, logins grow old).

Login codes (``/sns/jscode2session``): the part before the first ``.`` names the person,
so ``alice.1`` and ``alice.2`` give the same openid; a person whose name starts with ``u-``
also gets a unionid. Each full code works once (a second use answers 40163). A login issues
the openid (other APIs answer 40003 for an openid never issued) and is remembered for the
content check, which wants the user seen within ``login_window`` seconds (else 61010).

Phone codes (``/wxa/business/getuserphonenumber``): ``13812345678`` (optionally ``.suffix``)
gives that number; any other code gives a stable number derived from its part before the
first ``.``. Each full code works once; a reused one answers 40029 "invalid code", as real
WeChat does for phone codes. ``countryCode`` is a number, as in WeChat's own example.

Special code prefixes (both endpoints), for tests and curl:

* ``invalid…`` (or an empty code): 40029 invalid code
* ``blocked…`` (login only): 40226, the user is held for high risk
* ``busy…``: -1 system busy (the code is not consumed, so it stays busy)
* ``limit…``: 45011 rate limited
* ``slow…``: waits ``state.slow_seconds`` then answers normally
* ``garbage…``: HTTP 200 with an HTML body instead of JSON

Subscribe messages: the sandbox knows the service's default templates
(``server/wechat_templates.py``) and any added by :meth:`SandboxState.add_template`; an unknown
template answers 40037. A message needs a one-time grant of its user for its template (the user
tapping "accept" in ``wx.requestSubscribeMessage``: :meth:`SandboxState.accept` or
``POST /__sandbox__/subscriptions``), else 43101; a send spends one. The data must hold exactly
the template's keywords, each value obeying its type's rule (47003); the page must be a released
page (``released_pages``) unless ``miniprogram_state`` is ``developer`` or ``trial`` (41030).

Mini-program codes (``/wxa/getwxacodeunlimit``): JPEG (PNG when ``is_hyaline``); with
``check_path`` (the default) the page must be released; a page with a leading ``/`` or a ``?``
answers 41030; an ``env_version`` other than release, trial or develop answers 40097.

Content check (``/wxa/msg_sec_check``, version 2): ``risky`` for a banned word, ``review`` for
a review word, else ``pass``.

Control endpoints: ``POST /__sandbox__/faults`` (body as :meth:`SandboxState.inject`),
``POST /__sandbox__/subscriptions`` (``{"openid" or "user", "template_id", "times"}``),
``POST /__sandbox__/advance`` (``{"seconds"}``), ``POST /__sandbox__/reset``,
``POST /__sandbox__/expire-tokens``, ``GET /__sandbox__/state``.
Session keys are random per login and never stored, printed or logged; the request URIs the
sandbox records for tests stay in memory and out of the state snapshot.
"""
from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import secrets
import signal
import time
import uuid
from dataclasses import asdict
from typing import Any

import qrcode
import qrcode.constants
import tornado.httpserver
import tornado.netutil
import tornado.web
from PIL import Image
from qrcode.image.pil import PilImage
from tornado.log import app_log

# The state and its names, re-exported: callers start the sandbox and read its state from here.
from server.wechat_sandbox_state import (
    DEFAULT_APPID as DEFAULT_APPID,
    DEFAULT_SECRET as DEFAULT_SECRET,
    ENDPOINTS as ENDPOINTS,
    FORCE_REFRESH_DAILY as FORCE_REFRESH_DAILY,
    RELEASED_PAGES as RELEASED_PAGES,
    Fault as Fault,
    SandboxState as SandboxState,
)
from server.wechat_templates import fits

ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40097: "invalid args",
    40125: "invalid appsecret",
    40129: "invalid scene",
    40163: "code been used",
    40169: "invalid length for scene, or the data is not json string",
    40226: "code blocked",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41030: "invalid page",
    42001: "access_token expired",
    43002: "require POST method",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
    61010: "user access log timeout",
}

_SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
_PAGE = re.compile(r"^[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-.]+)*$")
_MINIPROGRAM_STATES = ("developer", "trial", "formal")
_LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
_GARBAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    "<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


def _qr_image(text: str, width: int) -> Image.Image:
    """A black-on-white QR code of ``text`` about ``width`` pixels wide, as a Pillow image."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, image_factory=PilImage)
    qr.add_data(text)
    qr.make(fit=True)
    qr.box_size = max(1, width // (qr.modules_count + 2 * qr.border))
    return qr.make_image().get_image().convert("L")


def render_qr_png(text: str, width: int = 430, *, transparent: bool = False) -> bytes:
    """A PNG QR code of ``text`` about ``width`` pixels wide; ``transparent``: the white see-through."""
    image = _qr_image(text, width)
    if transparent:
        image = Image.merge("LA", (image, image.point(lambda v: 255 - v)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def render_qr_jpeg(text: str, width: int = 430) -> bytes:
    """A JPEG QR code of ``text`` about ``width`` pixels wide, as WeChat sends its mini-program codes."""
    out = io.BytesIO()
    _qr_image(text, width).save(out, format="JPEG", quality=90)
    return out.getvalue()


class _Handler(tornado.web.RequestHandler):
    """Shared helpers: WeChat-style JSON answers, fault injection, token checks."""

    endpoint: str | None = None

    @property
    def state(self) -> SandboxState:
        return self.settings["sandbox_state"]  # type: ignore[no-any-return]

    def check_xsrf_cookie(self) -> None:  # an API, not a browser form
        return

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Never log request bodies or arguments (they may carry codes); the type is enough.
        app_log.error("sandbox handler error: %s", getattr(typ, "__name__", typ))

    async def prepare(self) -> None:
        if self.endpoint is None:
            return
        self.state.calls[self.endpoint] += 1
        self.state.uris.append(f"{self.request.method} {self.request.uri}")
        fault = self.state.take_fault(self.endpoint)
        if fault is None:
            return
        if fault.delay:
            await self.state.sleep(fault.delay)
        if fault.http_status is not None:
            self.set_status(fault.http_status)
            if fault.errcode is not None:
                self.reply_error(fault.errcode)
            else:
                self.set_header("Content-Type", "text/html")
                self.finish(_GARBAGE)
        elif fault.garbage:
            self.reply_garbage()
        elif fault.errcode is not None:
            self.reply_error(fault.errcode)

    def reply(self, payload: dict[str, Any]) -> None:
        self.set_header("Content-Type", "application/json; encoding=utf-8")
        self.finish(json.dumps(payload, ensure_ascii=False))

    def reply_error(self, errcode: int) -> None:
        rid = uuid.uuid4().hex[:8] + "-" + uuid.uuid4().hex[:8]
        self.reply({"errcode": errcode, "errmsg": f"{ERRMSG.get(errcode, 'error')} rid: {rid}"})

    def reply_garbage(self) -> None:
        self.set_header("Content-Type", "text/html")
        self.finish(_GARBAGE)

    def require_token(self) -> bool:
        """True when the request carries a live access token; otherwise answers the error."""
        errcode = self.state.check_token(self.get_query_argument("access_token", ""))
        if errcode:
            self.reply_error(errcode)
            return False
        return True

    def json_body(self) -> dict[str, Any] | None:
        """The JSON object body, or None after answering 47001."""
        try:
            body = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.reply_error(47001)
            return None
        return body

    def authorized_body(self) -> dict[str, Any] | None:
        """The JSON body of a call that needs an access token, or None after answering the error."""
        return self.json_body() if self.require_token() else None

    def credentials_refused(self, grant_type: object, appid: object, secret: object) -> bool:
        """Check a token request's grant type, appid and secret as WeChat does; True after answering an error."""
        if not appid:
            self.reply_error(41002)
        elif not secret:
            self.reply_error(41004)
        elif grant_type != "client_credential":
            self.reply_error(40002)
        elif appid != self.state.appid:
            self.reply_error(40013)
        elif secret != self.state.secret:
            self.reply_error(40125)
        else:
            return False
        return True

    async def special_code(self, code: str) -> bool:
        """Apply the special code prefixes; True when an answer was already given."""
        if not code or code.startswith("invalid"):
            self.reply_error(40029)
        elif code.startswith("busy"):
            self.reply_error(-1)
        elif code.startswith("limit"):
            self.reply_error(45011)
        elif code.startswith("garbage"):
            self.reply_garbage()
        else:
            if code.startswith("slow"):
                await self.state.sleep(self.state.slow_seconds)
            return False
        return True


class TokenHandler(_Handler):
    """The sandbox's cgi-bin/token: a new access token at each call, the previous ones replaced."""

    endpoint = "token"

    def get(self) -> None:
        """Check grant_type, appid and secret as WeChat does; answer a new access token and its lifetime."""
        query = {name: self.get_query_argument(name, "") for name in ("grant_type", "appid", "secret")}
        if self.credentials_refused(query["grant_type"], query["appid"], query["secret"]):
            return
        self.state.token_fetches += 1
        self.reply({"access_token": self.state.issue_token(), "expires_in": self.state.token_ttl})


class StableTokenHandler(_Handler):
    """The sandbox's cgi-bin/stable_token: the one live stable token (POST JSON only)."""

    endpoint = "stable_token"

    def get(self) -> None:
        """WeChat takes this call as POST JSON only."""
        self.reply_error(43002)

    def post(self) -> None:
        """Check the credentials; answer the live stable token and its remaining lifetime (or a forced new one)."""
        body = self.json_body()
        if body is None:
            return
        if self.credentials_refused(body.get("grant_type"), body.get("appid"), body.get("secret")):
            return
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            self.reply_error(47001)
            return
        answer = self.state.stable_token(force)
        if answer is None:
            self.reply_error(45009)
            return
        self.state.token_fetches += 1
        self.reply({"access_token": answer[0], "expires_in": answer[1]})


class CodeToSessionHandler(_Handler):
    """The sandbox's jscode2session: a wx.login code for an openid and session key."""

    endpoint = "jscode2session"

    async def get(self) -> None:
        """Check the app's credentials and the code (once only); answer the openid, a session key, any unionid."""
        appid = self.get_query_argument("appid", "")
        secret = self.get_query_argument("secret", "")
        code = self.get_query_argument("js_code", "")
        if appid != self.state.appid:
            self.reply_error(40013)
            return
        if secret != self.state.secret:
            self.reply_error(40125)
            return
        if self.get_query_argument("grant_type", "") != "authorization_code":
            self.reply_error(40002)
            return
        if code.startswith("blocked"):
            self.reply_error(40226)
            return
        if await self.special_code(code):
            return
        if code in self.state.used_codes:
            self.reply_error(40163)
            return
        self.state.used_codes.add(code)
        user = code.split(".", 1)[0]
        answer = {
            "openid": self.state.login(user),
            "session_key": base64.b64encode(secrets.token_bytes(16)).decode(),
        }
        if user.startswith("u-"):
            answer["unionid"] = self.state.unionid_for(user)
        self.reply(answer)


class PhoneNumberHandler(_Handler):
    """The sandbox's getuserphonenumber: a phone code for the phone number it stands for."""

    endpoint = "getuserphonenumber"

    async def post(self) -> None:
        """Check the token and the code (once only); answer the phone number in WeChat's shape."""
        body = self.authorized_body()
        if body is None:
            return
        code = body.get("code")
        if not isinstance(code, str):
            self.reply_error(47001)
            return
        if await self.special_code(code):
            return
        key = "phone:" + code
        if key in self.state.used_codes:
            return self.reply_error(40029)  # what WeChat answers for a used phone code
        self.state.used_codes.add(key)
        phone = self.state.phone_for(code)
        self.reply(
            {
                "errcode": 0,
                "errmsg": "ok",
                "phone_info": {
                    "phoneNumber": phone,
                    "purePhoneNumber": phone,
                    "countryCode": self.state.country_code,
                    "watermark": {"timestamp": int(time.time()), "appid": self.state.appid},
                },
            }
        )


def _page_path(page: object) -> str | None:
    """The path of a subscribe message's page (its query dropped), or None when it is not well formed."""
    if not isinstance(page, str):
        return None
    path = page.partition("?")[0]
    return path if _PAGE.match(path) else None


class SubscribeSendHandler(_Handler):
    """The sandbox's subscribe-message send: as strict as WeChat, records each message instead of sending it."""

    endpoint = "subscribe_send"

    def post(self) -> None:
        """Check the token, user, template, data, page and the user's grant; keep the message and spend the grant."""
        body = self.authorized_body()
        if body is None:
            return
        touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        page, miniprogram_state = body.get("page"), body.get("miniprogram_state", "formal")
        if not self.state.known(touser):
            self.reply_error(40003)
            return
        if not isinstance(template_id, str) or template_id not in self.state.templates:
            self.reply_error(40037)
            return
        keywords = self.state.templates[template_id]
        if (miniprogram_state not in _MINIPROGRAM_STATES or body.get("lang", "zh_CN") not in _LANGS
                or not isinstance(data, dict) or set(data) != set(keywords)
                or not all(isinstance(v, dict) and set(v) == {"value"} and fits(keywords[k], v["value"])
                           for k, v in data.items())):
            self.reply_error(47003)
            return
        if page is not None:
            path = _page_path(page)
            if path is None or (miniprogram_state == "formal" and path not in self.state.released_pages):
                self.reply_error(41030)
                return
        assert isinstance(touser, str)
        if not self.state.spend_grant(touser, template_id):
            self.reply_error(43101)
            return
        self.state.sent_messages.append(
            {"touser": touser, "template_id": template_id, "page": page, "data": data,
             "miniprogram_state": miniprogram_state, "at": int(time.time())}
        )
        self.reply({"errcode": 0, "errmsg": "ok", "msgid": len(self.state.sent_messages)})


class MsgSecCheckHandler(_Handler):
    """The sandbox's msg_sec_check (version 2): risky for a banned word, review for a review word."""

    endpoint = "msg_sec_check"

    def post(self) -> None:
        """Check the token, version, scene and user (seen lately); answer the verdict in WeChat's shape."""
        body = self.authorized_body()
        if body is None:
            return
        content, scene, openid = body.get("content"), body.get("scene"), body.get("openid")
        if not isinstance(content, str) or body.get("version") != 2:
            self.reply_error(47001)
            return
        if not isinstance(scene, int) or isinstance(scene, bool) or scene not in (1, 2, 3, 4):
            self.reply_error(40129)
            return
        if not self.state.known(openid):
            self.reply_error(40003)
            return
        assert isinstance(openid, str)
        if not self.state.recently_seen(openid):
            self.reply_error(61010)
            return
        if not content:
            self.reply_error(44002)
            return
        if any(word in content for word in self.state.banned_words):
            suggest, label = "risky", 20001
        elif any(word in content for word in self.state.review_words):
            suggest, label = "review", 21000
        else:
            suggest, label = "pass", 100
        self.reply(
            {
                "errcode": 0,
                "errmsg": "ok",
                "result": {"suggest": suggest, "label": label},
                "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label}],
                "trace_id": uuid.uuid4().hex,
            }
        )


class WxaCodeHandler(_Handler):
    """The sandbox's getwxacodeunlimit: a mini-program code image for a scene (JPEG, like WeChat)."""

    endpoint = "getwxacodeunlimit"

    async def post(self) -> None:
        """Check the token, scene, page, version and width; answer a JPEG QR code of the scene (PNG if hyaline)."""
        body = self.authorized_body()
        if body is None:
            return
        scene = body.get("scene")
        if not isinstance(scene, str) or not _SCENE.match(scene):
            self.reply_error(40169)
            return
        check_path, hyaline = body.get("check_path", True), body.get("is_hyaline", False)
        width = body.get("width", 430)
        if (body.get("env_version", "release") not in ("release", "trial", "develop")
                or not isinstance(check_path, bool) or not isinstance(hyaline, bool)
                or not isinstance(width, int) or isinstance(width, bool)):
            self.reply_error(40097)
            return
        page = body.get("page")
        if page is not None and (not isinstance(page, str) or not _PAGE.match(page)
                                 or (check_path and page not in self.state.released_pages)):
            self.reply_error(41030)
            return
        width = min(max(width, 280), 1280)
        self.state.made_codes.append({"scene": scene, "page": page, "env_version": body.get("env_version", "release"),
                                      "check_path": check_path, "width": width})
        loop = asyncio.get_running_loop()
        if hyaline:
            image = await loop.run_in_executor(None, lambda: render_qr_png(scene, width, transparent=True))
            self.set_header("Content-Type", "image/png")
        else:
            image = await loop.run_in_executor(None, render_qr_jpeg, scene, width)
            self.set_header("Content-Type", "image/jpeg")
        self.finish(image)


class FaultsHandler(_Handler):
    """Sandbox control: queue a fault (an errcode, garbage, a delay) for an endpoint's next calls."""

    def post(self) -> None:
        """Queue the fault the body describes and answer it; 400 for unknown or bad fields."""
        body = self.json_body()
        if body is None:
            return
        allowed = {"endpoint", "errcode", "times", "garbage", "delay", "http_status"}
        unknown = set(body) - allowed
        try:
            if unknown:
                raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
            fault = self.state.inject(
                str(body.get("endpoint", "")),
                body.get("errcode"),
                times=int(body.get("times", 1)),
                garbage=bool(body.get("garbage", False)),
                delay=float(body.get("delay", 0.0)),
                http_status=body.get("http_status"),
            )
        except (ValueError, TypeError) as exc:
            self.set_status(400)
            self.reply({"errcode": 47003, "errmsg": str(exc)})
            return
        self.reply({"errcode": 0, "errmsg": "ok", "fault": asdict(fault)})


class SubscriptionsHandler(_Handler):
    """Sandbox control: a user accepts a template in the mini-program (one grant per time)."""

    def post(self) -> None:
        """Add the grants the body describes (``openid`` or ``user``, ``template_id``, ``times``); 400 if bad."""
        body = self.json_body()
        if body is None:
            return
        try:
            unknown = set(body) - {"openid", "user", "template_id", "times"}
            if unknown:
                raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
            openid, user = body.get("openid"), body.get("user")
            if isinstance(user, str) and user and openid is None:
                openid = self.state.openid_for(user)
            if not isinstance(openid, str) or not openid:
                raise ValueError("openid or user is required")
            times = body.get("times", 1)
            if not isinstance(times, int) or isinstance(times, bool):
                raise ValueError("times must be an integer")
            grants = self.state.accept(openid, str(body.get("template_id", "")), times)
        except ValueError as exc:
            self.set_status(400)
            self.reply({"errcode": 47003, "errmsg": str(exc)})
            return
        self.reply({"errcode": 0, "errmsg": "ok", "openid": openid, "grants": grants})


class AdvanceHandler(_Handler):
    """Sandbox control: let time pass (tokens age, logins grow old)."""

    def post(self) -> None:
        """Move the sandbox's clock on by ``seconds``; 400 if missing or negative."""
        body = self.json_body()
        if body is None:
            return
        seconds = body.get("seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            self.set_status(400)
            self.reply({"errcode": 47003, "errmsg": "seconds must be a non-negative number"})
            return
        self.state.advance(float(seconds))
        self.reply({"errcode": 0, "errmsg": "ok"})


class ResetHandler(_Handler):
    """Sandbox control: forget codes, tokens, users, grants, counters, messages and faults."""

    def post(self) -> None:
        """Reset the sandbox's state."""
        self.state.reset()
        self.reply({"errcode": 0, "errmsg": "ok"})


class ExpireTokensHandler(_Handler):
    """Sandbox control: expire every access token issued so far."""

    def post(self) -> None:
        """Let every access token expire, so the next call needs a new one."""
        self.state.expire_tokens()
        self.reply({"errcode": 0, "errmsg": "ok"})


class StateHandler(_Handler):
    """Sandbox control: its counters, sent messages, grants and pending faults."""

    def get(self) -> None:
        """Answer the state snapshot (no secrets)."""
        self.reply(self.state.snapshot())


def make_sandbox_app(state: SandboxState | None = None) -> tornado.web.Application:
    """The sandbox as a Tornado application answering on WeChat's paths."""
    return tornado.web.Application(
        [
            (r"/cgi-bin/token", TokenHandler),
            (r"/cgi-bin/stable_token", StableTokenHandler),
            (r"/sns/jscode2session", CodeToSessionHandler),
            (r"/wxa/business/getuserphonenumber", PhoneNumberHandler),
            (r"/cgi-bin/message/subscribe/send", SubscribeSendHandler),
            (r"/wxa/msg_sec_check", MsgSecCheckHandler),
            (r"/wxa/getwxacodeunlimit", WxaCodeHandler),
            (r"/__sandbox__/faults", FaultsHandler),
            (r"/__sandbox__/subscriptions", SubscriptionsHandler),
            (r"/__sandbox__/advance", AdvanceHandler),
            (r"/__sandbox__/reset", ResetHandler),
            (r"/__sandbox__/expire-tokens", ExpireTokensHandler),
            (r"/__sandbox__/state", StateHandler),
        ],
        sandbox_state=state or SandboxState(),
        log_function=lambda handler: None,  # query strings carry secrets and codes
        debug=False,
        serve_traceback=False,
    )


class Sandbox:
    """A running sandbox: its URL, port and state; ``await stop()`` ends it."""

    def __init__(self, server: tornado.httpserver.HTTPServer, host: str, port: int, state: SandboxState) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.state = state

    @property
    def url(self) -> str:
        """The sandbox's base URL, the host bracketed when it is IPv6."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop listening, wake slow answers and close open connections."""
        self.server.stop()
        self.state.wake_sleepers()
        await self.server.close_all_connections()


async def start_sandbox(port: int = 0, host: str = "127.0.0.1", state: SandboxState | None = None) -> Sandbox:
    """Start the sandbox on the running event loop; port 0 picks a free port."""
    state = state or SandboxState()
    sockets = tornado.netutil.bind_sockets(port, host)
    server = tornado.httpserver.HTTPServer(make_sandbox_app(state))
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()[1]
    return Sandbox(server, host, bound, state)


def run_sandbox_forever(port: int, host: str) -> None:
    """Run the sandbox until SIGINT or SIGTERM (the ``unionaid wechat-sandbox`` command)."""

    async def main() -> None:
        sandbox = await start_sandbox(port, host)
        print(
            f"WeChat sandbox listening on {sandbox.url} (appid {sandbox.state.appid}); "
            f"point UNIONAID_WECHAT_API_BASE at it",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await sandbox.stop()

    asyncio.run(main())
