"""A local fake of the WeChat API endpoints the service uses, for tests, the demo and development.

It answers like WeChat does (HTTP 200, JSON with ``errcode``/``errmsg`` on error) with
predictable results, and errors can be injected per endpoint.

Login codes (``/sns/jscode2session``): the part before the first ``.`` names the person,
so ``alice.1`` and ``alice.2`` give the same openid; a person whose name starts with ``u-``
also gets a unionid. Each full code works once (a second use answers 40163).

Phone codes (``/wxa/business/getuserphonenumber``): ``13812345678`` (optionally ``.suffix``)
gives that number; any other code gives a stable number derived from its part before the
first ``.``. Each full code works once; a reused one answers 40029 "invalid code", as real
WeChat does for phone codes.

Special code prefixes (both endpoints), for tests and curl:

* ``invalid…`` (or an empty code): 40029 invalid code
* ``busy…``: -1 system busy (the code is not consumed, so it stays busy)
* ``limit…``: 45011 rate limited
* ``slow…``: waits ``state.slow_seconds`` then answers normally
* ``garbage…``: HTTP 200 with an HTML body instead of JSON

Control endpoints: ``POST /__sandbox__/faults`` (body as :meth:`SandboxState.inject`),
``POST /__sandbox__/reset``, ``POST /__sandbox__/expire-tokens``, ``GET /__sandbox__/state``.
Session keys are random per login and never stored, printed or logged.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
import secrets
import signal
import time
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

import qrcode
import qrcode.constants
import tornado.httpserver
import tornado.netutil
import tornado.web
from qrcode.image.pil import PilImage
from tornado.log import app_log

DEFAULT_APPID = "wx_sandbox_appid"
DEFAULT_SECRET = "sandbox-secret"

ENDPOINTS = (
    "token",
    "jscode2session",
    "getuserphonenumber",
    "subscribe_send",
    "msg_sec_check",
    "getwxacodeunlimit",
)

ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40163: "code been used",
    40169: "invalid length for scene, or the data is not json string",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41030: "invalid page",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
    87014: "risky content",
}

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
_GARBAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    "<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class Fault:
    """One queued misbehaviour of an endpoint, applied to its next ``times`` calls."""

    endpoint: str
    errcode: int | None = None
    times: int = 1
    garbage: bool = False
    delay: float = 0.0
    http_status: int | None = None


class SandboxState:
    """Everything the sandbox remembers: credentials, codes, tokens, counters, messages, faults."""

    def __init__(
        self,
        appid: str = DEFAULT_APPID,
        secret: str = DEFAULT_SECRET,
        *,
        banned_words: set[str] | None = None,
        slow_seconds: float = 10.0,
        token_ttl: int = 7200,
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.banned_words: set[str] = set(banned_words) if banned_words is not None else {"赌博", "代开发票"}
        self.slow_seconds = slow_seconds
        self.token_ttl = token_ttl
        self.used_codes: set[str] = set()
        self.tokens: dict[str, float] = {}  # token -> monotonic expiry
        self.token_fetches = 0
        self.calls: Counter[str] = Counter()
        self.sent_messages: list[dict[str, Any]] = []
        self.faults: dict[str, deque[Fault]] = {}
        self._wake: asyncio.Event | None = None

    # -- faults -------------------------------------------------------------
    def inject(
        self,
        endpoint: str,
        errcode: int | None = None,
        *,
        times: int = 1,
        garbage: bool = False,
        delay: float = 0.0,
        http_status: int | None = None,
    ) -> Fault:
        """Queue a fault for the next ``times`` calls of ``endpoint`` (one of ENDPOINTS)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if delay < 0:
            raise ValueError("delay must not be negative")
        if http_status is not None and not 100 <= http_status <= 599:
            raise ValueError("http_status must be an HTTP status code")
        if errcode is None and not garbage and not delay and http_status is None:
            raise ValueError("a fault needs errcode, garbage, delay or http_status")
        fault = Fault(endpoint, errcode, times, garbage, float(delay), http_status)
        self.faults.setdefault(endpoint, deque()).append(fault)
        return fault

    def take_fault(self, endpoint: str) -> Fault | None:
        """The fault to apply to this call of ``endpoint``, if any (uses one of its times)."""
        queue = self.faults.get(endpoint)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    # -- tokens -------------------------------------------------------------
    def issue_token(self) -> str:
        """A new access token valid for ``token_ttl`` seconds."""
        token = "sandbox-" + secrets.token_hex(24)
        self.tokens[token] = time.monotonic() + self.token_ttl
        self.token_fetches += 1
        return token

    def token_valid(self, token: str) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        expiry = self.tokens.get(token)
        return expiry is not None and expiry > time.monotonic()

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far."""
        self.tokens.clear()

    # -- identities ---------------------------------------------------------
    def openid_for(self, user: str) -> str:
        """The stable openid of the person ``user`` for this appid."""
        return "o" + hashlib.sha256((self.appid + user).encode()).hexdigest()[:27]

    @staticmethod
    def unionid_for(user: str) -> str:
        """The stable unionid of ``user`` (the same across appids)."""
        return "oU" + hashlib.sha256(("unionid:" + user).encode()).hexdigest()[:26]

    def phone_for(self, code: str) -> str:
        """The phone number a phone code stands for."""
        base = code.split(".", 1)[0]
        if _PHONE.match(base):
            return base
        digest = int(hashlib.sha256(("phone:" + base).encode()).hexdigest(), 16)
        return "13" + f"{digest % 10**9:09d}"

    # -- bookkeeping --------------------------------------------------------
    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the sandbox stops meanwhile."""
        if self._wake is None:
            self._wake = asyncio.Event()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def wake_sleepers(self) -> None:
        """Wake every pending ``sleep`` at once (the sandbox is stopping)."""
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    def reset(self) -> None:
        """Forget codes, tokens, counters, messages and faults (credentials and settings stay)."""
        self.used_codes.clear()
        self.tokens.clear()
        self.token_fetches = 0
        self.calls.clear()
        self.sent_messages.clear()
        self.faults.clear()

    def snapshot(self) -> dict[str, Any]:
        """Counters, sent messages and pending faults, as JSON-ready data (no secrets)."""
        return {
            "appid": self.appid,
            "token_fetches": self.token_fetches,
            "active_tokens": sum(1 for t in self.tokens if self.token_valid(t)),
            "calls": dict(self.calls),
            "used_codes": len(self.used_codes),
            "sent_messages": list(self.sent_messages),
            "faults": {name: [asdict(f) for f in queue] for name, queue in self.faults.items() if queue},
            "slow_seconds": self.slow_seconds,
            "banned_words": sorted(self.banned_words),
        }


def render_qr_png(text: str, width: int = 430) -> bytes:
    """A PNG QR code of ``text`` about ``width`` pixels wide (drawn by qrcode with Pillow)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, image_factory=PilImage)
    qr.add_data(text)
    qr.make(fit=True)
    qr.box_size = max(1, width // (qr.modules_count + 2 * qr.border))
    out = io.BytesIO()
    qr.make_image().save(out)
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
        token = self.get_query_argument("access_token", "")
        if not token:
            self.reply_error(41001)
            return False
        if not self.state.token_valid(token):
            self.reply_error(40001)
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
    """The sandbox's cgi-bin/token: an access token for the right appid and secret."""

    endpoint = "token"

    def get(self) -> None:
        """Check grant_type, appid and secret as WeChat does; answer a new access token and its lifetime."""
        grant_type = self.get_query_argument("grant_type", "")
        appid = self.get_query_argument("appid", "")
        secret = self.get_query_argument("secret", "")
        if not appid:
            self.reply_error(41002)
            return
        if not secret:
            self.reply_error(41004)
            return
        if grant_type != "client_credential":
            self.reply_error(40002)
            return
        if appid != self.state.appid:
            self.reply_error(40013)
            return
        if secret != self.state.secret:
            self.reply_error(40125)
            return
        self.reply({"access_token": self.state.issue_token(), "expires_in": self.state.token_ttl})


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
        if await self.special_code(code):
            return
        if code in self.state.used_codes:
            self.reply_error(40163)
            return
        self.state.used_codes.add(code)
        user = code.split(".", 1)[0]
        answer = {
            "openid": self.state.openid_for(user),
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
            self.reply_error(47003)
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
                    "countryCode": "86",
                    "watermark": {"timestamp": int(time.time()), "appid": self.state.appid},
                },
            }
        )


class SubscribeSendHandler(_Handler):
    """The sandbox's subscribe-message send: records each message instead of sending it."""

    endpoint = "subscribe_send"

    def post(self) -> None:
        """Check the token and the message fields; keep the message and answer its msgid."""
        body = self.authorized_body()
        if body is None:
            return
        touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        page = body.get("page")
        if not (isinstance(touser, str) and touser and isinstance(template_id, str) and template_id):
            self.reply_error(47003)
            return
        if not isinstance(data, dict) or (page is not None and not isinstance(page, str)):
            self.reply_error(47003)
            return
        self.state.sent_messages.append(
            {"touser": touser, "template_id": template_id, "page": page, "data": data, "at": int(time.time())}
        )
        self.reply({"errcode": 0, "errmsg": "ok", "msgid": len(self.state.sent_messages)})


class MsgSecCheckHandler(_Handler):
    """The sandbox's msg_sec_check: content is risky when it holds a banned word."""

    endpoint = "msg_sec_check"

    def post(self) -> None:
        """Check the token and fields; answer pass, or risky when the content holds a banned word."""
        body = self.authorized_body()
        if body is None:
            return
        content = body.get("content")
        if not isinstance(content, str):
            self.reply_error(47003)
            return
        if body.get("version") == 2 and (
            not isinstance(body.get("openid"), str) or body.get("scene") not in (1, 2, 3, 4)
        ):
            self.reply_error(47003)
            return
        risky = any(word in content for word in self.state.banned_words)
        suggest, label = ("risky", 20001) if risky else ("pass", 100)
        self.reply(
            {
                "errcode": 0,
                "errmsg": "ok",
                "result": {"suggest": suggest, "label": label},
                "detail": [{"strategy": "keyword", "errcode": 0, "suggest": suggest, "label": label}],
                "trace_id": uuid.uuid4().hex,
            }
        )


class WxaCodeHandler(_Handler):
    """The sandbox's getwxacodeunlimit: a mini-program code image for a scene."""

    endpoint = "getwxacodeunlimit"

    async def post(self) -> None:
        """Check the token, scene, page and width; answer a PNG QR code of the scene."""
        body = self.authorized_body()
        if body is None:
            return
        scene = body.get("scene")
        if not isinstance(scene, str) or not _SCENE.match(scene):
            self.reply_error(40169)
            return
        page = body.get("page")
        if page is not None and (not isinstance(page, str) or page.startswith("/")):
            self.reply_error(41030)
            return
        width = body.get("width", 430)
        if not isinstance(width, int) or isinstance(width, bool):
            self.reply_error(47003)
            return
        width = min(max(width, 280), 1280)
        loop = asyncio.get_running_loop()
        image = await loop.run_in_executor(None, render_qr_png, scene, width)
        self.set_header("Content-Type", "image/png")
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


class ResetHandler(_Handler):
    """Sandbox control: forget codes, tokens, counters, messages and faults."""

    def post(self) -> None:
        """Reset the sandbox's state."""
        self.state.reset()
        self.reply({"errcode": 0, "errmsg": "ok"})


class ExpireTokensHandler(_Handler):
    """Sandbox control: expire every access token issued so far."""

    def post(self) -> None:
        """Invalidate every access token, so the next call needs a new one."""
        self.state.expire_tokens()
        self.reply({"errcode": 0, "errmsg": "ok"})


class StateHandler(_Handler):
    """Sandbox control: its counters, sent messages and pending faults."""

    def get(self) -> None:
        """Answer the state snapshot (no secrets)."""
        self.reply(self.state.snapshot())


def make_sandbox_app(state: SandboxState | None = None) -> tornado.web.Application:
    """The sandbox as a Tornado application answering on WeChat's paths."""
    return tornado.web.Application(
        [
            (r"/cgi-bin/token", TokenHandler),
            (r"/sns/jscode2session", CodeToSessionHandler),
            (r"/wxa/business/getuserphonenumber", PhoneNumberHandler),
            (r"/cgi-bin/message/subscribe/send", SubscribeSendHandler),
            (r"/wxa/msg_sec_check", MsgSecCheckHandler),
            (r"/wxa/getwxacodeunlimit", WxaCodeHandler),
            (r"/__sandbox__/faults", FaultsHandler),
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
