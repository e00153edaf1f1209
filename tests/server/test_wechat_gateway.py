"""The WeChat gateway against the sandbox over real HTTP: results, error mapping, tokens, leases."""
from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from models.core.errors import AppError, Forbidden, Invalid, Upstream
from server.config import Config, ConfigError, load_config
from server.db import make_engine
from server.shared_cache import DatabaseCache, RedisCache
from server.wechat import (
    ERRCODES,
    ContentCheck,
    PhoneInfo,
    WeChatGateway,
    WeChatSession,
    seconds_to_beijing_midnight,
)
from server.wechat_sandbox import DEFAULT_SECRET, Sandbox
from server.wechat_templates import DEFAULT_TEMPLATES
from tests.server.wechat_documented import DOCUMENTED, Answer, Raises, Unchecked

REDIS_URL = "redis://127.0.0.1:6379/15"
JPEG_MAGIC = b"\xff\xd8\xff"
CARD_TEMPLATE = DEFAULT_TEMPLATES["card"][0]

GatewayFactory = Callable[..., WeChatGateway]


def assert_upstream(err: AppError, code: str) -> None:
    """A retryable 502: the code, and a Retry-After in seconds."""
    assert isinstance(err, Upstream)
    assert err.code == code and err.status == 502
    assert err.headers.get("Retry-After", "").isdigit()


def assert_final(err: AppError, code: str, status: int) -> None:
    """A final error: the code and status, and no Retry-After (the outbox's rule for "do not retry")."""
    assert (err.code, err.status) == (code, status)
    assert "Retry-After" not in err.headers


def card_data(**changes: str) -> dict[str, dict[str, str]]:
    values = {"thing1": "服务卡已冻结", "phrase2": "已冻结", "time3": "2024-05-01 14:30", "thing4": "请联系所在工会", **changes}
    return {keyword: {"value": value} for keyword, value in values.items()}


async def worker(wx_gateway: WeChatGateway, name: str = "wang") -> str:
    """A worker who logged in through the gateway just now: their openid."""
    return (await wx_gateway.code_to_session(f"{name}.{uuid.uuid4().hex[:6]}")).openid


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
    assert_final(info.value, "wechat_code_used", 400)


@pytest.mark.parametrize("code", ["invalid.1", ""])
async def test_code_invalid(wx_gateway: WeChatGateway, code: str) -> None:
    with pytest.raises(Invalid) as info:
        await wx_gateway.code_to_session(code)
    assert_final(info.value, "wechat_code_invalid", 400)
    assert "微信" in info.value.message


async def test_high_risk_login_is_a_refusal(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    with pytest.raises(Forbidden) as info:
        await wx_gateway.code_to_session("blocked.1")
    assert_final(info.value, "wechat_login_blocked", 403)
    assert "服务大厅" in info.value.message
    assert wx_sandbox.state.calls["jscode2session"] == 1  # not retried


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


# -- WeChat's documented answers, mapped -------------------------------------

def _operation(wx_gateway: WeChatGateway, endpoint: str, openid: str) -> Callable[[], Awaitable[Any]]:
    """The gateway call that reaches ``endpoint``."""
    return {
        "stable_token": lambda: wx_gateway.access_token(),
        "jscode2session": lambda: wx_gateway.code_to_session("ida.1"),
        "getuserphonenumber": lambda: wx_gateway.phone_number("13812345678"),
        "subscribe_send": lambda: wx_gateway.send_subscribe_message(openid, CARD_TEMPLATE, card_data()),
        "msg_sec_check": lambda: wx_gateway.check_text("你好", openid),
        "getwxacodeunlimit": lambda: wx_gateway.wxa_code("m=42", page="pages/merchant/bind"),
    }[endpoint]


@pytest.mark.parametrize("answer", [a for a in DOCUMENTED if a.gateway is not None], ids=lambda a: a.id)
async def test_each_documented_errcode_is_mapped(wx_gateway: WeChatGateway, wx_sandbox: Sandbox, answer: Answer) -> None:
    """WeChat answers the errcode (twice: a busy or refused-token call is tried again once); the gateway's verdict."""
    openid = await worker(wx_gateway)
    wx_sandbox.state.accept(openid, CARD_TEMPLATE)
    wx_sandbox.state.inject(answer.endpoint, answer.errcode, times=2)
    call = _operation(wx_gateway, answer.endpoint, openid)
    if isinstance(answer.gateway, Unchecked):
        assert await call() == ContentCheck("unchecked", reason=answer.gateway.reason)
        return
    assert isinstance(answer.gateway, Raises)
    with pytest.raises(AppError) as info:
        await call()
    assert (info.value.code, info.value.status) == (answer.gateway.code, answer.gateway.status)
    retry_after = info.value.headers.get("Retry-After")
    assert (retry_after is None) == answer.gateway.final, info.value.headers
    assert retry_after is None or retry_after.isdigit()


def test_the_table_says_final_by_retry_after_alone() -> None:
    for errcode, refusal in ERRCODES.items():
        mapped = refusal.error(refusal.code, refusal.message)
        assert mapped.code == refusal.code and mapped.message, errcode
    finals = {code for code, refusal in ERRCODES.items() if refusal.retry_after is None}
    assert finals == {40003, 40029, 40037, 40097, 40129, 40163, 40169, 40226, 41030, 43101, 47003, 61010}


async def test_daily_limit_waits_for_beijing_midnight(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("getwxacodeunlimit", 45009)
    before = seconds_to_beijing_midnight()
    with pytest.raises(Upstream) as info:
        await wx_gateway.wxa_code("m=42")
    assert_upstream(info.value, "wechat_daily_limit")
    assert before - 5 <= int(info.value.headers["Retry-After"]) <= before


@pytest.mark.parametrize(("now", "seconds"), [
    (datetime(2024, 5, 1, 15, 59, 30, tzinfo=timezone.utc), 30),  # 23:59:30 in Beijing
    (datetime(2024, 5, 1, 16, 0, 0, tzinfo=timezone.utc), 86400),  # midnight in Beijing: the next one
    (datetime(2024, 5, 1, 4, 0, 0, tzinfo=timezone.utc), 12 * 3600),  # noon in Beijing
])
def test_seconds_to_beijing_midnight(now: datetime, seconds: int) -> None:
    assert seconds_to_beijing_midnight(now) == seconds


async def test_other_errcode_is_wechat_error(wx_gateway: WeChatGateway, wx_sandbox: Sandbox,
                                            caplog: pytest.LogCaptureFixture) -> None:
    wx_sandbox.state.inject("getwxacodeunlimit", 48001)  # api unauthorized: not in the table
    with caplog.at_level(logging.ERROR, logger="unionaid.wechat"), pytest.raises(Upstream) as info:
        await wx_gateway.wxa_code("m=42")
    assert_upstream(info.value, "wechat_error")
    assert "48001" in caplog.text


# -- phone numbers -------------------------------------------------------------

@pytest.mark.parametrize("country", [86, "86", 1, "852"])
async def test_phone_number_country_code_of_either_type(wx_gateway: WeChatGateway, wx_sandbox: Sandbox,
                                                        country: int | str) -> None:
    wx_sandbox.state.country_code = country
    info = await wx_gateway.phone_number("13812345678")
    assert info == PhoneInfo(phone="13812345678", country_code=str(country))


@pytest.mark.parametrize("country", [True, "", "+86", "12345", 8.6, None])
async def test_phone_number_bad_country_code(wx_gateway: WeChatGateway, wx_sandbox: Sandbox, country: Any) -> None:
    wx_sandbox.state.country_code = country
    with pytest.raises(Upstream) as info:
        await wx_gateway.phone_number("13812345678")
    assert_upstream(info.value, "wechat_bad_response")


async def test_phone_number(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    derived = await wx_gateway.phone_number("ivy.1")
    assert len(derived.phone) == 11 and derived.phone.isdigit() and derived.country_code == "86"
    assert (await wx_gateway.phone_number("13812345678")).phone == "13812345678"
    assert wx_sandbox.state.token_fetches == 1  # the second call used the cached token
    with pytest.raises(Invalid) as err:
        await wx_gateway.phone_number("ivy.1")  # used
    assert_final(err.value, "wechat_code_invalid", 400)
    assert "手机号" in err.value.message


# -- subscribe messages ---------------------------------------------------------

async def test_a_notice_goes_only_with_a_grant_and_spends_it(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    openid = await worker(wx_gateway)
    with pytest.raises(Invalid) as info:
        await wx_gateway.send_subscribe_message(openid, CARD_TEMPLATE, card_data(), page="pages/card/index")
    assert_final(info.value, "wechat_not_subscribed", 400)
    wx_sandbox.state.accept(openid, CARD_TEMPLATE)
    await wx_gateway.send_subscribe_message(openid, CARD_TEMPLATE, card_data(), page="pages/card/index?id=3")
    assert wx_sandbox.state.grants[(openid, CARD_TEMPLATE)] == 0
    [sent] = wx_sandbox.state.sent_messages
    assert (sent["touser"], sent["template_id"], sent["page"], sent["data"], sent["miniprogram_state"]) == (
        openid, CARD_TEMPLATE, "pages/card/index?id=3", card_data(), "formal")
    with pytest.raises(Invalid):
        await wx_gateway.send_subscribe_message(openid, CARD_TEMPLATE, card_data())


@pytest.mark.parametrize(("env_version", "state"), [("trial", "trial"), ("develop", "developer")])
async def test_a_test_build_gets_notices_that_open_it(make_wx_gateway: GatewayFactory, wx_sandbox: Sandbox,
                                                      env_version: str, state: str) -> None:
    wx_gateway = make_wx_gateway(wechat_env_version=env_version)
    openid = await worker(wx_gateway)
    wx_sandbox.state.accept(openid, CARD_TEMPLATE)
    await wx_gateway.send_subscribe_message(openid, CARD_TEMPLATE, card_data(), page="pages/not-yet-released/index")
    assert wx_sandbox.state.sent_messages[0]["miniprogram_state"] == state


@pytest.mark.parametrize(("template_id", "data", "code"), [
    ("not-a-template", card_data(), "wechat_template_invalid"),
    (CARD_TEMPLATE, card_data(thing1="服" * 21), "wechat_field_invalid"),
])
async def test_a_message_wechat_cannot_take_is_final(wx_gateway: WeChatGateway, wx_sandbox: Sandbox,
                                                     caplog: pytest.LogCaptureFixture, template_id: str,
                                                     data: dict[str, Any], code: str) -> None:
    openid = await worker(wx_gateway)
    wx_sandbox.state.accept(openid, CARD_TEMPLATE)
    with caplog.at_level(logging.ERROR, logger="unionaid.wechat"), pytest.raises(Upstream) as info:
        await wx_gateway.send_subscribe_message(openid, template_id, data)
    assert_final(info.value, code, 502)
    assert code in caplog.text  # our configuration's mistake: logged as an error
    assert wx_sandbox.state.grants[(openid, CARD_TEMPLATE)] == 1 and wx_sandbox.state.calls["subscribe_send"] == 1


async def test_a_stranger_openid_is_final(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    with pytest.raises(Upstream) as info:
        await wx_gateway.send_subscribe_message(wx_sandbox.state.openid_for("nobody"), CARD_TEMPLATE, card_data())
    assert_final(info.value, "wechat_openid_invalid", 502)


# -- content check -------------------------------------------------------------

@pytest.mark.parametrize(("text", "verdict"), [("感谢工会的帮助", "pass"), ("可以代开发票", "risky"),
                                               ("我要去维权上访", "review")])
async def test_check_text_verdicts(wx_gateway: WeChatGateway, text: str, verdict: str) -> None:
    checked = await wx_gateway.check_text(text, await worker(wx_gateway))
    assert (checked.verdict, checked.reason) == (verdict, None)
    assert isinstance(checked.label, int) and checked.trace_id


async def test_check_text_for_a_user_not_seen_lately_is_unchecked(wx_gateway: WeChatGateway,
                                                                  wx_sandbox: Sandbox) -> None:
    openid = await worker(wx_gateway)
    wx_sandbox.state.advance(2 * 3600 + 1)
    assert await wx_gateway.check_text("你好", openid) == ContentCheck("unchecked", reason="wechat_user_inactive")
    assert await wx_gateway.check_text("你好", wx_sandbox.state.openid_for("nobody")) == ContentCheck(
        "unchecked", reason="wechat_openid_invalid")
    assert wx_sandbox.state.calls["msg_sec_check"] == 2  # neither is retried


async def test_check_text_never_raises_for_wechat(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    openid = await worker(wx_gateway)
    wx_sandbox.state.inject("msg_sec_check", delay=2.0)
    assert await wx_gateway.check_text("你好", openid) == ContentCheck("unchecked", reason="wechat_timeout")
    wx_sandbox.state.inject("msg_sec_check", garbage=True)
    assert await wx_gateway.check_text("你好", openid) == ContentCheck("unchecked", reason="wechat_bad_response")
    assert (await wx_gateway.check_text("你好", openid, scene=9)).reason == "wechat_scene_invalid"


async def test_check_text_in_parts_the_worst_verdict_stands(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    openid = await worker(wx_gateway)
    text = "工会" * 2500 + "代开发票" + "你好" * 10  # 5024 characters: three parts, the banned words in the third
    checked = await wx_gateway.check_text(text, openid)
    assert checked.verdict == "risky" and wx_sandbox.state.calls["msg_sec_check"] == 3
    assert await wx_gateway.check_text("  ", openid) == ContentCheck("pass")  # nothing to check, no call
    assert wx_sandbox.state.calls["msg_sec_check"] == 3


# -- mini-program codes --------------------------------------------------------

async def test_wxa_code_is_jpeg_for_the_released_build(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    code = await wx_gateway.wxa_code("m=42", page="pages/merchant/bind", width=430)
    assert code.image.startswith(JPEG_MAGIC) and code.mime == "image/jpeg"
    assert wx_sandbox.state.made_codes == [
        {"scene": "m=42", "page": "pages/merchant/bind", "env_version": "release", "check_path": True, "width": 430}]
    with pytest.raises(Upstream) as info:  # the released version has no such page yet
        await wx_gateway.wxa_code("m=42", page="pages/merchant/new-bind")
    assert_final(info.value, "wechat_page_invalid", 502)


@pytest.mark.parametrize("env_version", ["trial", "develop"])
async def test_wxa_code_for_a_test_build_opens_an_unreleased_page(make_wx_gateway: GatewayFactory,
                                                                  wx_sandbox: Sandbox, env_version: str) -> None:
    code = await make_wx_gateway(wechat_env_version=env_version).wxa_code("m=42", page="pages/merchant/new-bind")
    assert code.mime == "image/jpeg"
    assert wx_sandbox.state.made_codes[0]["env_version"] == env_version
    assert wx_sandbox.state.made_codes[0]["check_path"] is False


# -- access token ----------------------------------------------------------

async def test_the_token_comes_from_stable_token_and_the_secret_stays_out_of_urls(
    wx_gateway: WeChatGateway, wx_sandbox: Sandbox
) -> None:
    await wx_gateway.phone_number("13812345678")
    await wx_gateway.wxa_code("m=42")
    assert wx_sandbox.state.calls["stable_token"] == 1 and wx_sandbox.state.calls["token"] == 0
    assert wx_sandbox.state.uris[0] == "POST /cgi-bin/stable_token"
    assert not [uri for uri in wx_sandbox.state.uris if DEFAULT_SECRET in uri]


async def test_token_cached_under_appid(wx_gateway: WeChatGateway, wx_sandbox: Sandbox, wx_cache: DatabaseCache) -> None:
    token = await wx_gateway.access_token()
    assert await wx_gateway.access_token() == token
    assert wx_sandbox.state.token_fetches == 1
    assert wx_gateway.config.wechat_appid in wx_gateway.token_key
    assert await wx_cache.get(wx_gateway.token_key) == token


async def test_other_users_of_the_appid_no_longer_knock_the_token_out(
    wx_gateway: WeChatGateway, wx_sandbox: Sandbox
) -> None:
    await wx_gateway.phone_number("13812345678.1")
    for _ in range(3):  # a staging copy and an operations script ask cgi-bin/token
        wx_sandbox.state.issue_token()
    wx_sandbox.state.advance(600)
    await wx_gateway.phone_number("13812345678.2")
    assert wx_sandbox.state.calls["stable_token"] == 1 and wx_sandbox.state.calls["getuserphonenumber"] == 2


async def test_expired_token_refreshed_and_retried_once(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    await wx_gateway.phone_number("13812345678.1")
    wx_sandbox.state.advance(7200)  # the cached token outlived WeChat's: 42001
    await wx_gateway.phone_number("13812345678.2")
    assert wx_sandbox.state.calls["stable_token"] == 2 and wx_sandbox.state.calls["getuserphonenumber"] == 3
    assert wx_sandbox.state.force_refreshes == 0


async def test_a_token_replaced_elsewhere_is_refetched_without_forcing(
    wx_gateway: WeChatGateway, wx_sandbox: Sandbox
) -> None:
    await wx_gateway.phone_number("13812345678.1")
    wx_sandbox.state.stable_token(force=True)  # an operations script forces a new token: ours answers 40001
    wx_sandbox.state.advance(31)  # a forced refresh by the gateway now would count
    await wx_gateway.phone_number("13812345678.2")
    assert wx_sandbox.state.calls["stable_token"] == 2 and wx_sandbox.state.calls["getuserphonenumber"] == 3
    assert wx_sandbox.state.force_refreshes == 1  # the script's only


async def test_a_refused_token_handed_back_is_forced_once(wx_gateway: WeChatGateway, wx_sandbox: Sandbox,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    first = await wx_gateway.access_token()
    wx_sandbox.state.inject("getuserphonenumber", 40001)  # WeChat refuses the token stable_token still hands out
    with caplog.at_level(logging.WARNING, logger="unionaid.wechat"):
        await wx_gateway.phone_number("13812345678")
    assert wx_sandbox.state.calls["stable_token"] == 3  # the first, the normal refetch, the forced one
    assert wx_sandbox.state.force_refreshes == 1 and await wx_gateway.access_token() != first
    assert "force_refresh" in caplog.text


async def test_forced_at_most_once_an_hour(wx_gateway: WeChatGateway, wx_sandbox: Sandbox,
                                           caplog: pytest.LogCaptureFixture) -> None:
    wx_sandbox.state.inject("getuserphonenumber", 40001, times=4)
    with pytest.raises(Upstream) as info:
        await wx_gateway.phone_number("13812345678.1")
    assert_upstream(info.value, "wechat_token_invalid")
    assert wx_sandbox.state.force_refreshes == 1
    wx_sandbox.state.advance(31)
    with caplog.at_level(logging.ERROR, logger="unionaid.wechat"), pytest.raises(Upstream):
        await wx_gateway.phone_number("13812345678.2")
    assert wx_sandbox.state.force_refreshes == 1 and wx_sandbox.state.calls["stable_token"] == 4
    assert "not forcing again" in caplog.text


async def test_token_fetch_errors(wx_gateway: WeChatGateway, wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("stable_token", garbage=True)
    with pytest.raises(Upstream) as info:
        await wx_gateway.access_token()
    assert_upstream(info.value, "wechat_bad_response")
    wx_sandbox.state.inject("stable_token", 40125)
    with pytest.raises(Upstream) as info:
        await wx_gateway.access_token()
    assert_upstream(info.value, "wechat_error")
    assert await wx_gateway.access_token()  # recovers once WeChat answers again


async def test_wrong_secret(make_wx_gateway: GatewayFactory) -> None:
    wx_gateway = make_wx_gateway(wechat_secret="not-the-secret")
    with pytest.raises(Upstream) as info:
        await wx_gateway.phone_number("13812345678")
    assert_upstream(info.value, "wechat_error")


async def test_a_gateway_refuses_to_talk_to_wechat_with_sandbox_settings(tmp_path: Path, wx_cache: DatabaseCache) -> None:
    config = load_config(env={}, data_dir=tmp_path)  # WeChat's own API, the sandbox's appid and placeholders
    with pytest.raises(ConfigError, match="UNIONAID_WECHAT_APPID"):
        WeChatGateway(config, wx_cache)


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
