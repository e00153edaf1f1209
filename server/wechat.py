"""The one gateway to the WeChat API: wechatpy underneath, run off the event loop.

Every call runs in the gateway's own thread pool under ``asyncio.wait_for`` (and requests'
own timeout); every failure becomes an :class:`~models.core.errors.AppError` subclass, mapped
from WeChat's errcode by the table :data:`ERRCODES`. Nothing else in the project imports wechatpy.

Final or retryable: an error the gateway raises carries a ``Retry-After`` header (seconds)
exactly when trying again later may succeed (WeChat busy, a rate or daily limit, a timeout, no
connection, an unreadable answer, a refused token, an errcode the table does not know). An error
without ``Retry-After`` is final: a bad or used code, a blocked login, a user who has not
accepted the template, a bad template id, page, field value or openid. The outbox retries only
the retryable ones, by this rule alone.

The access token comes from ``cgi-bin/stable_token`` (POST JSON, the secret never in a URL): in
normal mode WeChat hands every caller the same live token, so another user of the AppID (a
staging copy, an operations script) no longer knocks this service's token out, as a
``cgi-bin/token`` call would. It lives in the :class:`~server.shared_cache.SharedCache`,
encrypted with the service's PII keys, refreshed by one process at a time under a lease. When
WeChat refuses a token that a normal refetch hands back again, the gateway forces a new one
(``force_refresh``, which WeChat allows 20 times a day), logged, at most once per refused token
and once an hour across processes.

The content check (:meth:`WeChatGateway.check_text`) never raises: when WeChat cannot judge a
text (the user has not opened the mini-program for two hours, a transport failure, ...) it says
``unchecked`` and the caller holds the text for staff instead of blocking the user.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import requests
from wechatpy import WeChatClient  # type: ignore[import-untyped]
from wechatpy.exceptions import WeChatClientException  # type: ignore[import-untyped]

from models.core.errors import AppError, Forbidden, Invalid, Upstream
from server.config import Config, check_wechat_ready
from server.crypto import PiiCipher, load_keyring
from server.shared_cache import SharedCache

log = logging.getLogger("unionaid.wechat")

T = TypeVar("T")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
BUSY_RETRY_DELAY = 0.2
TOKEN_POLL_INTERVAL = 0.05
TOKEN_EARLY_REFRESH = 300
#: At most one forced token refresh in this many seconds, across processes (WeChat allows 20 a day).
FORCE_REFRESH_PAUSE = 3600
#: WeChat checks at most this many characters of a text at once (msg_sec_check v2).
TEXT_CHECK_LIMIT = 2500
#: ``wechat_env_version`` -> a subscribe message's ``miniprogram_state``.
MINIPROGRAM_STATES = {"release": "formal", "trial": "trial", "develop": "developer"}

_SHANGHAI = ZoneInfo("Asia/Shanghai")
_LOGIN_INVALID = "微信登录凭证无效，请重新进入小程序"
_LOGIN_USED = "微信登录凭证已使用，请重新进入小程序"
_PHONE_INVALID = "手机号授权凭证无效或已使用，请重新授权"
_UNAVAILABLE = "暂时无法连接微信服务，请稍后重试"
#: A Refusal's retry_after meaning "when WeChat's daily quotas reset: the next Beijing midnight".
UNTIL_MIDNIGHT = -1


@dataclass(frozen=True)
class Refusal:
    """What one WeChat errcode means for the caller: the error, its message, and when (if ever) to retry."""

    error: type[AppError]
    code: str
    message: str
    retry_after: int | None  # seconds, UNTIL_MIDNIGHT, or None: final, retrying cannot help
    level: int = logging.WARNING  # how loudly to log it: ERROR for our own configuration's mistakes


#: WeChat's errcodes the gateway knows, and what each becomes. Any other errcode is ``wechat_error``,
#: retryable. The token errors (40001, 40014, 42001) are retried once with a fresh token first.
ERRCODES: dict[int, Refusal] = {
    -1: Refusal(Upstream, "wechat_busy", "微信系统繁忙，请稍后重试", 3),
    40001: Refusal(Upstream, "wechat_token_invalid", "微信服务暂时不可用，请稍后重试", 5, logging.ERROR),
    40014: Refusal(Upstream, "wechat_token_invalid", "微信服务暂时不可用，请稍后重试", 5, logging.ERROR),
    42001: Refusal(Upstream, "wechat_token_invalid", "微信服务暂时不可用，请稍后重试", 5, logging.ERROR),
    40003: Refusal(Upstream, "wechat_openid_invalid", "微信用户标识无效", None),
    40029: Refusal(Invalid, "wechat_code_invalid", _LOGIN_INVALID, None, logging.INFO),
    40037: Refusal(Upstream, "wechat_template_invalid", "消息模板配置有误，请联系管理员", None, logging.ERROR),
    40097: Refusal(Upstream, "wechat_args_invalid", "微信接口参数有误，请联系管理员", None, logging.ERROR),
    40129: Refusal(Upstream, "wechat_scene_invalid", "内容检查场景有误", None, logging.ERROR),
    40163: Refusal(Invalid, "wechat_code_used", _LOGIN_USED, None, logging.INFO),
    40169: Refusal(Upstream, "wechat_args_invalid", "微信接口参数有误，请联系管理员", None, logging.ERROR),
    40226: Refusal(Forbidden, "wechat_login_blocked",
                   "微信判定该账号存在安全风险，暂时无法登录小程序，请携带身份证到工会服务大厅办理", None),
    41030: Refusal(Upstream, "wechat_page_invalid", "小程序页面配置有误，请联系管理员", None, logging.ERROR),
    43101: Refusal(Invalid, "wechat_not_subscribed", "用户未订阅该消息", None, logging.INFO),
    45009: Refusal(Upstream, "wechat_daily_limit", "微信接口今日调用次数已达上限，请明日再试", UNTIL_MIDNIGHT,
                   logging.ERROR),
    45011: Refusal(Upstream, "wechat_rate_limited", "微信接口调用过于频繁，请稍后重试", 5),
    47003: Refusal(Upstream, "wechat_field_invalid", "消息内容不符合微信的格式要求", None, logging.ERROR),
    61010: Refusal(Upstream, "wechat_user_inactive", "用户近期未打开小程序，暂时无法检查内容", None, logging.INFO),
}


def seconds_to_beijing_midnight(now: datetime | None = None) -> int:
    """Seconds until the next midnight in Beijing, when WeChat's daily quotas start again (at least 1)."""
    local = (now or datetime.now(timezone.utc)).astimezone(_SHANGHAI)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), _SHANGHAI)
    return max(1, int((midnight - local).total_seconds() + 0.999))


def refusal_error(refusal: Refusal, message: str | None = None) -> AppError:
    """The AppError a refusal stands for, with ``Retry-After`` exactly when it is retryable."""
    if refusal.retry_after is None:
        return refusal.error(refusal.code, message or refusal.message)
    seconds = seconds_to_beijing_midnight() if refusal.retry_after == UNTIL_MIDNIGHT else refusal.retry_after
    return refusal.error(refusal.code, message or refusal.message, headers={"Retry-After": str(seconds)})


@dataclass(frozen=True)
class WeChatSession:
    """What ``jscode2session`` tells about a login; ``session_key`` stays out of repr."""

    openid: str
    unionid: str | None
    session_key: str = field(repr=False)


@dataclass(frozen=True)
class WxaCode:
    """A mini-program code image as WeChat sent it: the bytes and their type (JPEG from WeChat)."""

    image: bytes
    mime: str


@dataclass(frozen=True)
class ContentCheck:
    """WeChat's verdict on a user's text: ``pass``, ``review`` (held for staff), ``risky`` (refused),
    or ``unchecked`` (WeChat could not check it: held for staff, never blocking the user).

    ``reason`` says why a text is unchecked, as a stable code: ``wechat_user_inactive`` (61010,
    the user has not opened the mini-program in two hours), ``wechat_openid_invalid`` (40003),
    ``wechat_scene_invalid`` (40129, our bug), or the failure's code (``wechat_timeout``,
    ``wechat_busy``, ``wechat_unavailable``...). ``label`` and ``trace_id`` are WeChat's, for staff.
    """

    verdict: str
    reason: str | None = None
    label: int | None = None
    trace_id: str | None = None


@dataclass(frozen=True)
class PhoneInfo:
    """A phone number WeChat vouches for: national number and country code (digits, as a string)."""

    phone: str
    country_code: str


def _upstream(code: str, message: str, retry_after: int) -> Upstream:
    return Upstream(code, message, headers={"Retry-After": str(retry_after)})


def _bad_response(what: str) -> Upstream:
    log.warning("wechat %s: unexpected response shape", what)
    return _upstream("wechat_bad_response", "微信服务返回异常，请稍后重试", 5)


def _country_code(value: object) -> str | None:
    """WeChat's ``countryCode`` (a number or a string, by the documentation's own example) as digits."""
    if isinstance(value, bool):
        return None
    text = str(value) if isinstance(value, int) else value if isinstance(value, str) else ""
    return text if text.isascii() and text.isdigit() and 1 <= len(text) <= 4 else None


class _Client(WeChatClient):  # type: ignore[misc]
    """wechatpy's client pointed at ``api_base``; the access token comes from the calling thread."""

    def __init__(self, appid: str, secret: str, api_base: str, timeout: float) -> None:
        self._local = threading.local()
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.api_base = api_base
        self.API_BASE_URL = f"{api_base}/cgi-bin/"
        self.wxa.API_BASE_URL = f"{api_base}/"

    @property
    def access_token(self) -> str | None:
        # Set per call by the gateway; None leaves access_token out of the query string.
        local = getattr(self, "_local", None)
        return getattr(local, "token", None) if local is not None else None

    def fetch_access_token(self) -> Any:
        """Never used: the gateway asks ``cgi-bin/stable_token`` (see :meth:`fetch_stable_token`)."""
        raise NotImplementedError("the access token comes from cgi-bin/stable_token")

    def fetch_stable_token(self, force_refresh: bool) -> Any:
        """POST ``{api_base}/cgi-bin/stable_token`` (JSON, the secret in the body); the parsed answer."""
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
                "force_refresh": force_refresh}
        res = self._http.post(
            f"{self.api_base}/cgi-bin/stable_token",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            timeout=self.timeout,
        )
        try:
            res.raise_for_status()
        except requests.RequestException:
            raise WeChatClientException(None, None, client=self, request=res.request, response=res) from None
        return self._handle_result(res)


class WeChatGateway:
    """Async access to the WeChat API for the whole service."""

    def __init__(
        self, config: Config, cache: SharedCache, *, max_workers: int = 16, cipher: PiiCipher | None = None
    ) -> None:
        check_wechat_ready(config)  # no sandbox credentials or placeholder templates against WeChat itself
        self.config = config
        if cache.cipher is None:
            # The token is a secret: a cache given without keys seals with the service's own.
            cache.use_cipher(cipher or PiiCipher(load_keyring(config)))
        self.cache = cache
        self.timeout = config.wechat_timeout
        self.api_base = config.wechat_api_base.rstrip("/")
        self._client = _Client(config.wechat_appid, config.wechat_secret, self.api_base, config.wechat_timeout)
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="wechat")
        self._token_lock = asyncio.Lock()
        self._closed = False

    @property
    def token_key(self) -> str:
        """The shared-cache name of this app's WeChat access token."""
        return f"wechat:access_token:{self.config.wechat_appid}"

    @property
    def forced_key(self) -> str:
        """The shared-cache name of the mark a forced refresh leaves for an hour (a hash of the refused token)."""
        return f"wechat:forced_refresh:{self.config.wechat_appid}"

    # -- public API ---------------------------------------------------------
    async def code_to_session(self, code: str) -> WeChatSession:
        """Exchange a ``wx.login`` code for the user's openid (and unionid, session key)."""
        if not code:
            raise Invalid("wechat_code_invalid", _LOGIN_INVALID)
        result = await self._call(
            "jscode2session",
            lambda c: c.wxa.code_to_session(code),
            needs_token=False,
            messages={40029: _LOGIN_INVALID, 40163: _LOGIN_USED},
        )
        if not isinstance(result, dict):
            raise _bad_response("jscode2session")
        openid, session_key, unionid = result.get("openid"), result.get("session_key"), result.get("unionid")
        if not (isinstance(openid, str) and openid and isinstance(session_key, str) and session_key):
            raise _bad_response("jscode2session")
        if unionid is not None and not isinstance(unionid, str):
            raise _bad_response("jscode2session")
        return WeChatSession(openid=openid, unionid=unionid or None, session_key=session_key)

    async def phone_number(self, code: str) -> PhoneInfo:
        """The phone number behind a ``getPhoneNumber`` code."""
        if not code:
            raise Invalid("wechat_code_invalid", _PHONE_INVALID)
        result = await self._call(
            "getuserphonenumber",
            lambda c: c.post("wxa/business/getuserphonenumber", api_base_url=f"{self.api_base}/", data={"code": code}),
            messages={40029: _PHONE_INVALID, 40163: _PHONE_INVALID},
        )
        info = result.get("phone_info") if isinstance(result, dict) else None
        if not isinstance(info, dict):
            raise _bad_response("getuserphonenumber")
        phone, country = info.get("purePhoneNumber"), _country_code(info.get("countryCode"))
        if not (isinstance(phone, str) and phone.isascii() and phone.isdigit() and country):
            raise _bad_response("getuserphonenumber")
        return PhoneInfo(phone=phone, country_code=country)

    async def send_subscribe_message(
        self, openid: str, template_id: str, data: dict[str, Any], page: str | None = None
    ) -> None:
        """Send a subscribe message; ``data`` as WeChat wants it (``{"thing1": {"value": …}}``).

        It opens the build of ``wechat_env_version``; WeChat refuses it (43101, final) unless the
        user accepted the template, and each acceptance allows one message.
        """
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": data,
            "miniprogram_state": MINIPROGRAM_STATES[self.config.wechat_env_version],
            "lang": "zh_CN",
        }
        if page is not None:
            payload["page"] = page
        result = await self._call(
            "subscribe_send",
            lambda c: c.post("cgi-bin/message/subscribe/send", api_base_url=f"{self.api_base}/", data=payload),
        )
        if not isinstance(result, dict):
            raise _bad_response("subscribe_send")

    async def check_text(self, text: str, openid: str, *, scene: int = 2) -> ContentCheck:
        """WeChat's verdict on a user's text (msg_sec_check v2); never raises (see :class:`ContentCheck`).

        ``scene``: 1 profile, 2 comment, 3 forum, 4 social log. A text longer than WeChat checks at
        once is checked in parts, and the worst verdict stands.
        """
        if not text.strip():
            return ContentCheck("pass")  # nothing to publish, nothing to check
        rank = {"pass": 0, "unchecked": 1, "review": 2, "risky": 3}
        worst: ContentCheck | None = None
        for start in range(0, len(text), TEXT_CHECK_LIMIT):
            verdict = await self._check_part(text[start:start + TEXT_CHECK_LIMIT], openid, scene)
            if worst is None or rank[verdict.verdict] > rank[worst.verdict]:
                worst = verdict
        assert worst is not None
        return worst

    async def _check_part(self, text: str, openid: str, scene: int) -> ContentCheck:
        payload = {"content": text, "version": 2, "scene": scene, "openid": openid}
        try:
            result = await self._call(
                "msg_sec_check",
                lambda c: c.post("wxa/msg_sec_check", api_base_url=f"{self.api_base}/", data=payload),
            )
            verdict = result.get("result") if isinstance(result, dict) else None
            suggest = verdict.get("suggest") if isinstance(verdict, dict) else None
            if suggest not in ("pass", "review", "risky"):
                raise _bad_response("msg_sec_check")
        except AppError as exc:
            log.info("wechat msg_sec_check: text unchecked (%s); held for staff", exc.code)
            return ContentCheck("unchecked", reason=exc.code)
        assert isinstance(verdict, dict) and isinstance(result, dict)
        label, trace_id = verdict.get("label"), result.get("trace_id")
        return ContentCheck(str(suggest), label=label if isinstance(label, int) else None,
                            trace_id=trace_id if isinstance(trace_id, str) else None)

    async def wxa_code(self, scene: str, page: str | None = None, width: int = 430) -> WxaCode:
        """The mini-program code image that opens ``page`` with ``scene``: JPEG, as WeChat sends it.

        It opens the build of ``wechat_env_version``; only for ``release`` does WeChat check that
        the page exists in the released version (a trial or develop build's pages are not there).
        """
        env_version = self.config.wechat_env_version
        payload: dict[str, Any] = {"scene": scene, "width": width, "env_version": env_version,
                                   "check_path": env_version == "release"}
        if page is not None:
            payload["page"] = page
        result = await self._call(
            "getwxacodeunlimit",
            lambda c: c.post("wxa/getwxacodeunlimit", api_base_url=f"{self.api_base}/", data=payload),
        )
        # wechatpy hands back the raw response when the body is not JSON (an image).
        if not isinstance(result, requests.Response):
            raise _bad_response("getwxacodeunlimit")
        mime = result.headers.get("Content-Type", "").split(";")[0].strip()
        if mime not in ("image/jpeg", "image/png") or not result.content:
            raise _bad_response("getwxacodeunlimit")
        return WxaCode(result.content, mime)

    async def access_token(self) -> str:
        """A live access token, from the shared cache or freshly fetched (one process at a time)."""
        token = await self.cache.get(self.token_key)
        if token:
            return token
        return await self._obtain_token(stale=None)

    def close(self) -> None:
        """Stop the worker threads and the HTTP session."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client._http.close()

    # -- access token -------------------------------------------------------
    async def _obtain_token(self, stale: str | None) -> str:
        """Take the token from the cache, or refresh it under the shared lease (``stale``: WeChat refused it)."""
        async with self._token_lock:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.timeout
            while True:
                token = await self.cache.get(self.token_key)
                if token and token != stale:
                    return token
                holder = await self.cache.acquire(self.token_key, self.timeout * 2 + 1)
                if holder is not None:
                    try:
                        token = await self.cache.get(self.token_key)
                        if token and token != stale:
                            return token
                        return await self._fetch_token(refused=stale)
                    finally:
                        await self.cache.release(self.token_key, holder)
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(TOKEN_POLL_INTERVAL)
            # The lease holder did not deliver in time: fetch it ourselves.
            log.warning("wechat token refresh by another process timed out; fetching here")
            return await self._fetch_token(refused=stale)

    async def _fetch_token(self, refused: str | None = None) -> str:
        """The live stable token, cached; forced anew when WeChat hands back the very token it just refused.

        A forced refresh invalidates the token for every process, and WeChat allows 20 a day: it is
        spent at most once per refused token and once an hour (a mark in the shared cache).
        """
        token, expires_in = await self._stable_token(force=False)
        if refused is not None and token == refused:
            if await self.cache.get(self.forced_key) is not None:
                log.error("wechat refuses the access token it keeps handing out, and a forced refresh was "
                          "spent within the hour: not forcing again")
            else:
                await self.cache.set(self.forced_key, hashlib.sha256(refused.encode()).hexdigest(),
                                     FORCE_REFRESH_PAUSE)
                log.warning("wechat refused the access token it still hands out: forcing a new one "
                            "(force_refresh, which WeChat allows 20 times a day)")
                token, expires_in = await self._stable_token(force=True)
        ttl = expires_in - TOKEN_EARLY_REFRESH if expires_in > 2 * TOKEN_EARLY_REFRESH else expires_in / 2
        await self.cache.set(self.token_key, token, ttl)
        log.info("wechat access token refreshed (valid %ss)", expires_in)
        return token

    async def _stable_token(self, *, force: bool) -> tuple[str, int]:
        """One ``cgi-bin/stable_token`` call: the token and its remaining lifetime in seconds."""
        result = await self._call("stable_token", lambda c: c.fetch_stable_token(force), needs_token=False)
        token = result.get("access_token") if isinstance(result, dict) else None
        expires_in = result.get("expires_in", 7200) if isinstance(result, dict) else None
        if (not isinstance(token, str) or not token or not isinstance(expires_in, int) or isinstance(expires_in, bool)
                or expires_in <= 0):
            raise _bad_response("stable_token")
        return token, expires_in

    async def _drop_token(self, token: str | None) -> None:
        """Forget the cached token if it is still the one WeChat refused."""
        if token is not None and await self.cache.get(self.token_key) == token:
            await self.cache.delete(self.token_key)

    # -- calls --------------------------------------------------------------
    async def _call(
        self,
        name: str,
        fn: Callable[[_Client], T],
        *,
        needs_token: bool = True,
        messages: Mapping[int, str] | None = None,
    ) -> T:
        """Run ``fn`` off the loop; retry once on a refused token and once on -1; map errors.

        ``messages`` overrides the Chinese message of some errcodes for this call (a phone code is
        not a login code).
        """
        token_retried = busy_retried = False
        while True:
            token = await self.access_token() if needs_token else None
            try:
                return await self._run(name, fn, token)
            except WeChatClientException as exc:
                errcode = exc.errcode
                if errcode in TOKEN_ERRORS and needs_token and not token_retried:
                    log.info("wechat %s: access token refused (errcode %s); refreshing", name, errcode)
                    token_retried = True
                    await self._drop_token(token)
                    await self._obtain_token(stale=token)
                    continue
                if errcode == -1 and not busy_retried:
                    log.info("wechat %s: system busy; retrying once", name)
                    busy_retried = True
                    await asyncio.sleep(BUSY_RETRY_DELAY)
                    continue
                self._raise_mapped(name, exc, messages or {})

    async def _run(self, name: str, fn: Callable[[_Client], T], token: str | None) -> T:
        """One blocking wechatpy call in the gateway's threads, under the configured timeout."""
        if self._closed:
            raise _upstream("wechat_unavailable", _UNAVAILABLE, 10)
        loop = asyncio.get_running_loop()
        client = self._client

        def work() -> T:
            client._local.token = token
            try:
                return fn(client)
            finally:
                client._local.token = None

        try:
            return await asyncio.wait_for(loop.run_in_executor(self._executor, work), self.timeout)
        except (asyncio.TimeoutError, requests.Timeout):
            log.warning("wechat %s: no answer within %ss", name, self.timeout)
            raise _upstream("wechat_timeout", "微信服务响应超时，请稍后重试", 3) from None
        except requests.exceptions.InvalidJSONError:
            log.warning("wechat %s: unreadable answer", name)
            raise _bad_response(name) from None
        except requests.RequestException as exc:
            log.warning("wechat %s: connection failed (%s)", name, type(exc).__name__)
            raise _upstream("wechat_unavailable", _UNAVAILABLE, 10) from None
        except WeChatClientException:
            raise
        except (ValueError, KeyError) as exc:
            log.warning("wechat %s: unreadable answer (%s)", name, type(exc).__name__)
            raise _bad_response(name) from None
        except RuntimeError as exc:  # the executor was shut down under us
            log.warning("wechat %s: gateway closed (%s)", name, type(exc).__name__)
            raise _upstream("wechat_unavailable", _UNAVAILABLE, 10) from None

    @staticmethod
    def _raise_mapped(name: str, exc: WeChatClientException, messages: Mapping[int, str]) -> NoReturn:
        """Turn a wechatpy error into the AppError the caller sees (the table :data:`ERRCODES`)."""
        errcode = exc.errcode
        error: AppError
        if errcode is None:
            status = getattr(exc.response, "status_code", None)
            log.warning("wechat %s: HTTP status %s", name, status)
            error = _upstream("wechat_unavailable", _UNAVAILABLE, 10)
        elif errcode in ERRCODES:
            refusal = ERRCODES[errcode]
            log.log(refusal.level, "wechat %s: errcode %s (%s) -> %s%s", name, errcode, exc.errmsg, refusal.code,
                    "" if refusal.retry_after is not None else ", final")
            error = refusal_error(refusal, messages.get(errcode))
        else:
            log.error("wechat %s: errcode %s (%s)", name, errcode, exc.errmsg)
            error = _upstream("wechat_error", "微信服务出错，请稍后重试", 5)
        raise error from None
