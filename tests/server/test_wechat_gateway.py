"""The WeChat gateway against the sandbox over real HTTP: results, error mapping, tokens, leases."""
from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from typing import Any, AsyncIterator, Callable

import pytest

from models.core.errors import AppError, Invalid, Upstream
from server.config import Config
from server.db import make_engine
from server.shared_cache import DatabaseCache, RedisCache
from server.wechat import PhoneInfo, WeChatGateway, WeChatSession
from server.wechat_sandbox import Sandbox

REDIS_URL = "redis://127.0.0.1:6379/15"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

GatewayFactory = Callable[..., WeChatGateway]


def assert_upstream(err: AppError, code: str) -> None:
    assert isinstance(err, Upstream)
    assert err.code == code and err.status == 502
    assert err.headers.get("Retry-After", "").isdigit()


# -- login ------------------------------------------------------------------

async def test_code_to_session_stable_openid(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    one = await wx_gateway.code_to_session("alice.1")
    two = await wx_gateway.code_to_session("alice.2")
    assert isinstance(one, WeChatSession)
    assert one.openid == two.openid == wx_sandbox.state.openid_for("alice")
    assert one.unionid is None and one.session_key
    assert (await wx_gateway.code_to_session("bob.1")).openid != one.openid
    assert wx_sandbox.state.token_fetches == 0  # login needs no access token


async def test_unionid(wx_gateway: WeChatGateway) -> None:
    session = await wx_gateway.code_to_session("u-carol.1")
    assert session.unionid and session.unionid.startswith("oU")


async def test_session_key_never_shown(wx_gateway: WeChatGateway, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        session = await wx_gateway.code_to_session("dora.1")
        with pytest.raises(Invalid):
            await wx_gateway.code_to_session("dora.1")
    assert session.session_key not in repr(session)
    assert "session_key" not in repr(session)
    assert session.session_key not in caplog.text


async def test_code_reused(wx_gateway: WeChatGateway) -> None:
    await wx_gateway.code_to_session("erin.1")
    with pytest.raises(Invalid) as info:
        await wx_gateway.code_to_session("erin.1")
    assert info.value.code == "wechat_code_used" and info.value.status == 400


@pytest.mark.parametrize("code", ["invalid.1", ""])
async def test_code_invalid(wx_gateway: WeChatGateway, code: str) -> None:
    with pytest.raises(Invalid) as info:
        await wx_gateway.code_to_session(code)
    assert info.value.code == "wechat_code_invalid"
    assert "微信" in info.value.message


async def test_busy_retried_once_then_502(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    with pytest.raises(Upstream) as info:
        await wx_gateway.code_to_session("busy.1")
    assert_upstream(info.value, "wechat_busy")
    assert wx_sandbox.state.calls["jscode2session"] == 2


async def test_busy_once_then_success(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("jscode2session", -1)
    session = await wx_gateway.code_to_session("fay.1")
    assert session.openid == wx_sandbox.state.openid_for("fay")
    assert wx_sandbox.state.calls["jscode2session"] == 2


async def test_rate_limited(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    with pytest.raises(Upstream) as info:
        await wx_gateway.code_to_session("limit.1")
    assert_upstream(info.value, "wechat_rate_limited")
    assert info.value.headers["Retry-After"] == "5"
    assert wx_sandbox.state.calls["jscode2session"] == 1


async def test_slow_answer_times_out(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    assert wx_gateway.timeout == 0.5 and wx_sandbox.state.slow_seconds == 2.0
    started = time.monotonic()
    with pytest.raises(Upstream) as info:
        await wx_gateway.code_to_session("slow.1")
    elapsed = time.monotonic() - started
    assert_upstream(info.value, "wechat_timeout")
    # Cut at the 0.5 s timeout, not after the 2 s answer; the margin is for a loaded machine.
    assert elapsed < 1.8


async def test_garbage_is_bad_response(wx_gateway: WeChatGateway) -> None:
    with pytest.raises(Upstream) as info:
        await wx_gateway.code_to_session("garbage.1")
    assert_upstream(info.value, "wechat_bad_response")


async def test_http_error_status_is_unavailable(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("jscode2session", http_status=503)
    with pytest.raises(Upstream) as info:
        await wx_gateway.code_to_session("gus.1")
    assert_upstream(info.value, "wechat_unavailable")


async def test_connection_refused_is_unavailable(make_wx_gateway: GatewayFactory) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    wx_gateway = make_wx_gateway(wechat_api_base=f"http://127.0.0.1:{port}")
    with pytest.raises(Upstream) as info:
        await wx_gateway.code_to_session("hal.1")
    assert_upstream(info.value, "wechat_unavailable")


# -- other endpoints -------------------------------------------------------

async def test_phone_number(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    info = await wx_gateway.phone_number("13812345678")
    assert info == PhoneInfo(phone="13812345678", country_code="86")
    derived = await wx_gateway.phone_number("ivy.1")
    assert len(derived.phone) == 11 and derived.phone.isdigit()
    assert wx_sandbox.state.token_fetches == 1  # the second call used the cached token
    with pytest.raises(Invalid) as err:
        await wx_gateway.phone_number("ivy.1")  # used
    assert err.value.code == "wechat_code_invalid"


async def test_subscribe_message_recorded(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    data = {"thing1": {"value": "您的帮扶申请已受理"}}
    await wx_gateway.send_subscribe_message("oabc", "TPL1", data, page="pages/relief/detail?id=1")
    assert wx_sandbox.state.sent_messages == [
        {"touser": "oabc", "template_id": "TPL1", "page": "pages/relief/detail?id=1", "data": data,
         "at": wx_sandbox.state.sent_messages[0]["at"]}
    ]


async def test_check_text(wx_gateway: WeChatGateway) -> None:
    assert await wx_gateway.check_text("感谢工会的帮助", "oabc") is True
    assert await wx_gateway.check_text("可以代开发票", "oabc") is False


async def test_wxa_code_png(wx_gateway: WeChatGateway) -> None:
    code = await wx_gateway.wxa_code("m=42", page="pages/scan/index", width=430)
    assert code.image.startswith(PNG_MAGIC) and code.mime == "image/png"


async def test_other_errcode_is_wechat_error(wx_gateway: WeChatGateway, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="unionaid.wechat"), pytest.raises(Upstream) as info:
        await wx_gateway.wxa_code("x" * 40)  # too long a scene: 40169
    assert_upstream(info.value, "wechat_error")
    assert "40169" in caplog.text


# -- access token ----------------------------------------------------------

async def test_token_cached_under_appid(wx_gateway: WeChatGateway, wx_sandbox: Sandbox, wx_cache: DatabaseCache) -> None:
    token = await wx_gateway.access_token()
    assert await wx_gateway.access_token() == token
    assert wx_sandbox.state.token_fetches == 1
    assert wx_gateway.config.wechat_appid in wx_gateway.token_key
    assert await wx_cache.get(wx_gateway.token_key) == token


async def test_expired_token_refreshed_and_retried_once(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    await wx_gateway.access_token()
    before = wx_sandbox.state.token_fetches
    wx_sandbox.state.expire_tokens()
    await wx_gateway.send_subscribe_message("oabc", "TPL1", {"thing1": {"value": "x"}})
    assert wx_sandbox.state.token_fetches == before + 1
    assert wx_sandbox.state.calls["subscribe_send"] == 2
    assert len(wx_sandbox.state.sent_messages) == 1


async def test_token_refused_twice_gives_up(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("msg_sec_check", 40001, times=2)
    with pytest.raises(Upstream) as info:
        await wx_gateway.check_text("你好", "oabc")
    assert_upstream(info.value, "wechat_error")
    assert wx_sandbox.state.calls["msg_sec_check"] == 2
    assert wx_sandbox.state.token_fetches == 2


async def test_token_fetch_errors(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("token", garbage=True)
    with pytest.raises(Upstream) as info:
        await wx_gateway.access_token()
    assert_upstream(info.value, "wechat_bad_response")
    wx_sandbox.state.inject("token", 40125)
    with pytest.raises(Upstream) as info:
        await wx_gateway.access_token()
    assert_upstream(info.value, "wechat_error")
    assert await wx_gateway.access_token()  # recovers once WeChat answers again


async def test_wrong_secret(make_wx_gateway: GatewayFactory) -> None:
    wx_gateway = make_wx_gateway(wechat_secret="not-the-secret")
    with pytest.raises(Upstream) as info:
        await wx_gateway.phone_number("13812345678")
    assert_upstream(info.value, "wechat_error")


async def test_lease_held_elsewhere_then_fetch_ourselves(
    wx_gateway: WeChatGateway, wx_sandbox: Sandbox, wx_cache: DatabaseCache
) -> None:
    holder = await wx_cache.acquire(wx_gateway.token_key, 30)  # a process that died holding the lease
    assert holder is not None
    started = time.monotonic()
    assert await wx_gateway.access_token()
    assert 0.4 < time.monotonic() - started < 2.0
    assert wx_sandbox.state.token_fetches == 1


# The sharing tests give each call 5 s rather than the fixture's 0.5 s: a waiter stops waiting for the
# lease holder after its own timeout and fetches itself (by design, tested above), and on a loaded machine
# the holder's fetch plus its cache round trips can take longer than 0.5 s, making two fetches.
SHARING_TIMEOUT = 5.0


async def _concurrent_fetch(gateways: list[WeChatGateway], sandbox: Sandbox) -> None:
    tokens = await asyncio.gather(*(gateways[i % len(gateways)].access_token() for i in range(10)))
    assert len(set(tokens)) == 1
    assert sandbox.state.token_fetches == 1


async def test_two_gateways_share_database_cache(
    make_wx_gateway: GatewayFactory, wx_sandbox: Sandbox, wx_cache: DatabaseCache
) -> None:
    await _concurrent_fetch([make_wx_gateway(cache=wx_cache, wechat_timeout=SHARING_TIMEOUT),
                            make_wx_gateway(cache=wx_cache, wechat_timeout=SHARING_TIMEOUT)], wx_sandbox)


async def test_two_processes_database_cache(
    make_wx_gateway: GatewayFactory, wx_sandbox: Sandbox, wx_config: Config, wx_engine: Any
) -> None:
    # Two engines on one SQLite file stand for two processes.
    other = make_engine(wx_config)
    try:
        gateways = [make_wx_gateway(cache=DatabaseCache(wx_engine), wechat_timeout=SHARING_TIMEOUT),
                    make_wx_gateway(cache=DatabaseCache(other), wechat_timeout=SHARING_TIMEOUT)]
        await _concurrent_fetch(gateways, wx_sandbox)
    finally:
        await other.dispose()


@pytest.fixture
async def redis_caches() -> AsyncIterator[tuple[RedisCache, RedisCache]]:
    """Two RedisCache clients on database 15 under a fresh key prefix; skipped without Redis."""
    prefix = f"unionaid-test-{uuid.uuid4().hex}:"
    first, second = RedisCache(REDIS_URL, prefix=prefix), RedisCache(REDIS_URL, prefix=prefix)
    try:
        await asyncio.wait_for(first.redis.ping(), 1.0)
    except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
        await first.close()
        await second.close()
        pytest.skip(f"Redis at {REDIS_URL} does not answer ({type(exc).__name__})")
    try:
        yield first, second
    finally:
        keys = [k async for k in first.redis.scan_iter(match=prefix + "*")]
        if keys:
            await first.redis.delete(*keys)
        await first.close()
        await second.close()


async def test_two_gateways_share_redis_cache(
    make_wx_gateway: GatewayFactory, wx_sandbox: Sandbox, redis_caches: tuple[RedisCache, RedisCache]
) -> None:
    await _concurrent_fetch([make_wx_gateway(cache=redis_caches[0], wechat_timeout=SHARING_TIMEOUT),
                            make_wx_gateway(cache=redis_caches[1], wechat_timeout=SHARING_TIMEOUT)], wx_sandbox)


async def test_closed_gateway_refuses(make_wx_gateway: GatewayFactory) -> None:
    wx_gateway = make_wx_gateway()
    wx_gateway.close()
    with pytest.raises(Upstream) as info:
        await wx_gateway.code_to_session("ken.1")
    assert_upstream(info.value, "wechat_unavailable")
