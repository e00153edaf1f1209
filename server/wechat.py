"""The one gateway to the WeChat API: wechatpy underneath, run off the event loop.

Every call runs in the gateway's own thread pool under ``asyncio.wait_for`` (and requests'
own timeout); every failure becomes an :class:`~models.errors.AppError` subclass. The access
token lives in the :class:`~server.shared_cache.SharedCache`, encrypted with the service's PII
keys, refreshed by one process at a time under a lease. Nothing else in the project imports wechatpy.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, NoReturn, TypeVar

import requests
from wechatpy import WeChatClient  # type: ignore[import-untyped]
from wechatpy.exceptions import WeChatClientException  # type: ignore[import-untyped]

from models.core.errors import AppError, Invalid, Upstream
from server.config import Config
from server.crypto import PiiCipher, load_keyring
from server.shared_cache import SharedCache

log = logging.getLogger("unionaid.wechat")

T = TypeVar("T")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
BUSY_RETRY_DELAY = 0.2
TOKEN_POLL_INTERVAL = 0.05
TOKEN_EARLY_REFRESH = 300

_LOGIN_INVALID = "微信登录凭证无效，请重新进入小程序"
_LOGIN_USED = "微信登录凭证已使用，请重新进入小程序"
_PHONE_INVALID = "手机号授权凭证无效或已使用，请重新授权"


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
    or ``unchecked`` (WeChat could not check it, e.g. 61010: held for staff, never blocking the user)."""

    verdict: str
    reason: str | None = None


@dataclass(frozen=True)
class PhoneInfo:
    """A phone number WeChat vouches for: national number and country code."""

    phone: str
    country_code: str


def _upstream(code: str, message: str, retry_after: int) -> Upstream:
    return Upstream(code, message, headers={"Retry-After": str(retry_after)})


def _bad_response(what: str) -> Upstream:
    log.warning("wechat %s: unexpected response shape", what)
    return _upstream("wechat_bad_response", "微信服务返回异常，请稍后重试", 5)


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
        """GET ``{api_base}/cgi-bin/token``; the parsed answer (the gateway caches it)."""
        res = self._http.get(
            f"{self.api_base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
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

    # -- public API ---------------------------------------------------------
    async def code_to_session(self, code: str) -> WeChatSession:
        """Exchange a ``wx.login`` code for the user's openid (and unionid, session key)."""
        if not code:
            raise Invalid("wechat_code_invalid", _LOGIN_INVALID)
        result = await self._call(
            "jscode2session",
            lambda c: c.wxa.code_to_session(code),
            needs_token=False,
            invalid_message=_LOGIN_INVALID,
            used_message=_LOGIN_USED,
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
            invalid_message=_PHONE_INVALID,
            used_message=_PHONE_INVALID,
        )
        info = result.get("phone_info") if isinstance(result, dict) else None
        if not isinstance(info, dict):
            raise _bad_response("getuserphonenumber")
        phone, country = info.get("purePhoneNumber"), info.get("countryCode")
        if not (isinstance(phone, str) and phone.isdigit() and isinstance(country, str) and country):
            raise _bad_response("getuserphonenumber")
        return PhoneInfo(phone=phone, country_code=country)

    async def send_subscribe_message(
        self, openid: str, template_id: str, data: dict[str, Any], page: str | None = None
    ) -> None:
        """Send a subscribe message; ``data`` as WeChat wants it (``{"thing1": {"value": …}}``)."""
        result = await self._call(
            "subscribe_send",
            lambda c: c.wxa.send_subscribe_message(openid, template_id, data, page=page),
        )
        if not isinstance(result, dict):
            raise _bad_response("subscribe_send")

    async def check_text(self, text: str, openid: str, *, scene: int = 2) -> bool:
        """True when WeChat's content check (msg_sec_check v2) says the text may be published."""
        payload = {"content": text, "version": 2, "scene": scene, "openid": openid}
        result = await self._call(
            "msg_sec_check",
            lambda c: c.post("wxa/msg_sec_check", api_base_url=f"{self.api_base}/", data=payload),
        )
        verdict = result.get("result") if isinstance(result, dict) else None
        suggest = verdict.get("suggest") if isinstance(verdict, dict) else None
        if suggest not in ("pass", "review", "risky"):
            raise _bad_response("msg_sec_check")
        return bool(suggest == "pass")

    async def wxa_code(self, scene: str, page: str | None = None, width: int = 430) -> WxaCode:
        """The mini-program code image that opens ``page`` with ``scene``."""
        result = await self._call(
            "getwxacodeunlimit",
            lambda c: c.wxa.get_wxa_code_unlimited(scene, width=width, page=page),
        )
        # wechatpy hands back the raw response when the body is not JSON (an image).
        if not isinstance(result, requests.Response):
            raise _bad_response("getwxacodeunlimit")
        mime = result.headers.get("Content-Type", "").split(";")[0].strip()
        if not mime.startswith("image/") or not result.content:
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
        """Take the token from the cache, or refresh it under the shared lease."""
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
                        return await self._fetch_token()
                    finally:
                        await self.cache.release(self.token_key, holder)
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(TOKEN_POLL_INTERVAL)
            # The lease holder did not deliver in time: fetch it ourselves.
            log.warning("wechat token refresh by another process timed out; fetching here")
            return await self._fetch_token()

    async def _fetch_token(self) -> str:
        result = await self._call("token", lambda c: c.fetch_access_token(), needs_token=False)
        token = result.get("access_token") if isinstance(result, dict) else None
        expires_in = result.get("expires_in", 7200) if isinstance(result, dict) else None
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            raise _bad_response("token")
        ttl = expires_in - TOKEN_EARLY_REFRESH if expires_in > 2 * TOKEN_EARLY_REFRESH else expires_in / 2
        await self.cache.set(self.token_key, token, ttl)
        log.info("wechat access token refreshed (valid %ss)", expires_in)
        return token

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
        invalid_message: str = _LOGIN_INVALID,
        used_message: str = _LOGIN_USED,
    ) -> T:
        """Run ``fn`` off the loop; retry once on a stale token and once on -1; map errors."""
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
                self._raise_mapped(name, exc, invalid_message, used_message)

    async def _run(self, name: str, fn: Callable[[_Client], T], token: str | None) -> T:
        """One blocking wechatpy call in the gateway's threads, under the configured timeout."""
        if self._closed:
            raise _upstream("wechat_unavailable", "暂时无法连接微信服务，请稍后重试", 10)
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
            raise _upstream("wechat_unavailable", "暂时无法连接微信服务，请稍后重试", 10) from None
        except WeChatClientException:
            raise
        except (ValueError, KeyError) as exc:
            log.warning("wechat %s: unreadable answer (%s)", name, type(exc).__name__)
            raise _bad_response(name) from None
        except RuntimeError as exc:  # the executor was shut down under us
            log.warning("wechat %s: gateway closed (%s)", name, type(exc).__name__)
            raise _upstream("wechat_unavailable", "暂时无法连接微信服务，请稍后重试", 10) from None

    @staticmethod
    def _raise_mapped(name: str, exc: WeChatClientException, invalid_message: str, used_message: str) -> NoReturn:
        """Turn a wechatpy error into the AppError the caller sees."""
        errcode = exc.errcode
        error: AppError
        if errcode is None:
            status = getattr(exc.response, "status_code", None)
            log.warning("wechat %s: HTTP status %s", name, status)
            error = _upstream("wechat_unavailable", "暂时无法连接微信服务，请稍后重试", 10)
        elif errcode == 40029:
            log.info("wechat %s: invalid code (40029)", name)
            error = Invalid("wechat_code_invalid", invalid_message)
        elif errcode == 40163:
            log.info("wechat %s: code already used (40163)", name)
            error = Invalid("wechat_code_used", used_message)
        elif errcode == 43101:
            log.info("wechat %s: the user has not subscribed (43101)", name)
            error = Invalid("wechat_not_subscribed", "用户未订阅该消息")
        elif errcode == 45011:
            log.warning("wechat %s: rate limited (45011)", name)
            error = _upstream("wechat_rate_limited", "微信接口调用过于频繁，请稍后重试", 5)
        elif errcode == -1:
            log.warning("wechat %s: system busy (-1) after a retry", name)
            error = _upstream("wechat_busy", "微信系统繁忙，请稍后重试", 3)
        else:
            log.error("wechat %s: errcode %s (%s)", name, errcode, exc.errmsg)
            error = _upstream("wechat_error", "微信服务出错，请稍后重试", 5)
        raise error from None
