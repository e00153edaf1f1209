"""The WeChat sandbox over real HTTP: WeChat's documented answers, tokens, subscriptions, codes, faults, control API."""
from __future__ import annotations

import io
import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

import pytest
from PIL import Image
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from server.wechat_sandbox import (
    DEFAULT_APPID,
    DEFAULT_SECRET,
    FORCE_REFRESH_DAILY,
    RELEASED_PAGES,
    Sandbox,
    SandboxState,
    render_qr_jpeg,
    render_qr_png,
)
from server.wechat_templates import DEFAULT_TEMPLATES, NoticeTemplates
from tests.server.wechat_documented import DOCUMENTED, Answer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
ROOT = Path(__file__).resolve().parents[2]
CARD_TEMPLATE = DEFAULT_TEMPLATES["card"][0]
SEND = "/cgi-bin/message/subscribe/send"


async def get(wx_sandbox: Sandbox, path: str, **params: Any) -> HTTPResponse:
    url = f"{wx_sandbox.url}{path}" + (f"?{urlencode(params)}" if params else "")
    return await AsyncHTTPClient().fetch(url, raise_error=False)


async def post(wx_sandbox: Sandbox, path: str, body: Any, **params: Any) -> HTTPResponse:
    url = f"{wx_sandbox.url}{path}" + (f"?{urlencode(params)}" if params else "")
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return await AsyncHTTPClient().fetch(url, method="POST", body=data, raise_error=False)


def js(response: HTTPResponse) -> Any:
    assert response.code == 200
    return json.loads(response.body)


async def stable(wx_sandbox: Sandbox, **changes: Any) -> Any:
    """The answer of cgi-bin/stable_token for the sandbox's credentials, with ``changes`` to the body."""
    body = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET,
            "force_refresh": False, **changes}
    return js(await post(wx_sandbox, "/cgi-bin/stable_token", body))


async def token(wx_sandbox: Sandbox) -> str:
    """A live stable token."""
    return str((await stable(wx_sandbox))["access_token"])


async def basic_token(wx_sandbox: Sandbox, secret: str = DEFAULT_SECRET) -> Any:
    """The answer of cgi-bin/token (what another user of the AppID calls)."""
    return js(await get(wx_sandbox, "/cgi-bin/token", grant_type="client_credential", appid=DEFAULT_APPID,
                        secret=secret))


async def login(wx_sandbox: Sandbox, code: str) -> Any:
    return js(await get(wx_sandbox, "/sns/jscode2session", appid=DEFAULT_APPID, secret=DEFAULT_SECRET, js_code=code,
                        grant_type="authorization_code"))


async def phone(wx_sandbox: Sandbox, code: str, tok: str | None) -> Any:
    params = {"access_token": tok} if tok is not None else {}
    return js(await post(wx_sandbox, "/wxa/business/getuserphonenumber", {"code": code}, **params))


def card_data(**changes: str) -> dict[str, dict[str, str]]:
    """A card notice's data as the default card template wants it, with some values changed."""
    values = {"thing1": "服务卡已冻结", "phrase2": "已冻结", "time3": "2024-05-01 14:30", "thing4": "请联系所在工会", **changes}
    return {keyword: {"value": value} for keyword, value in values.items()}


async def send(wx_sandbox: Sandbox, touser: str, *, template_id: str = CARD_TEMPLATE, **changes: Any) -> Any:
    message = {"touser": touser, "template_id": template_id, "data": card_data(), "page": "pages/card/index",
               **changes}
    return js(await post(wx_sandbox, SEND, message, access_token=await token(wx_sandbox)))


async def check(wx_sandbox: Sandbox, content: str, openid: str, scene: Any = 2, version: Any = 2) -> Any:
    body = {"content": content, "version": version, "scene": scene, "openid": openid}
    return js(await post(wx_sandbox, "/wxa/msg_sec_check", body, access_token=await token(wx_sandbox)))


async def wxa_code(wx_sandbox: Sandbox, **body: Any) -> HTTPResponse:
    return await post(wx_sandbox, "/wxa/getwxacodeunlimit", {"scene": "m=42", **body},
                      access_token=await token(wx_sandbox))


async def wxa_code_error(wx_sandbox: Sandbox, **body: Any) -> Any:
    return js(await wxa_code(wx_sandbox, **body))


async def logged_in(wx_sandbox: Sandbox, user: str) -> str:
    return str((await login(wx_sandbox, f"{user}.login"))["openid"])


# -- WeChat's documented answers -----------------------------------------------

async def _force_refresh_21st(wx: Sandbox) -> Any:
    for _ in range(FORCE_REFRESH_DAILY):
        assert "access_token" in await stable(wx, force_refresh=True)
        wx.state.advance(31)  # a forced refresh within 30 s of the last does not refresh
    return await stable(wx, force_refresh=True)


async def _replaced_after_grace(wx: Sandbox) -> Any:
    first = (await basic_token(wx))["access_token"]
    await basic_token(wx)  # another user of the AppID asks cgi-bin/token again
    assert (await phone(wx, "13812345678.a", first))["errcode"] == 0  # still good within the 5 minutes
    wx.state.advance(301)
    return await phone(wx, "13812345678.b", first)


async def _force_refreshed(wx: Sandbox) -> Any:
    before = await token(wx)
    await stable(wx, force_refresh=True)  # an operations script forces a new stable token
    return await phone(wx, "13812345678", before)


async def _expired(wx: Sandbox) -> Any:
    tok = await token(wx)
    wx.state.advance(7200)
    return await phone(wx, "13812345678", tok)


async def _phone_code_used(wx: Sandbox) -> Any:
    assert (await phone(wx, "ivy.1", await token(wx)))["errcode"] == 0
    return await phone(wx, "ivy.1", await token(wx))


async def _code_used(wx: Sandbox) -> Any:
    assert "openid" in await login(wx, "erin.1")
    return await login(wx, "erin.1")


async def _thing_too_long(wx: Sandbox) -> Any:
    openid = await logged_in(wx, "wang")
    wx.state.accept(openid, CARD_TEMPLATE)
    return await send(wx, openid, data=card_data(thing1="服" * 21))


async def _keyword_missing(wx: Sandbox) -> Any:
    openid = await logged_in(wx, "wang")
    wx.state.accept(openid, CARD_TEMPLATE)
    data = card_data()
    del data["thing4"]
    return await send(wx, openid, data=data)


async def _page_not_released(wx: Sandbox) -> Any:
    openid = await logged_in(wx, "wang")
    wx.state.accept(openid, CARD_TEMPLATE)
    return await send(wx, openid, page="pages/secret/index")


async def _grant_spent(wx: Sandbox) -> Any:
    openid = await logged_in(wx, "wang")
    wx.state.accept(openid, CARD_TEMPLATE)
    assert (await send(wx, openid))["errcode"] == 0
    return await send(wx, openid)


async def _not_seen_lately(wx: Sandbox) -> Any:
    openid = await logged_in(wx, "wang")
    wx.state.advance(7201)
    return await check(wx, "你好", openid)


async def _sec_check_busy(wx: Sandbox) -> Any:
    wx.state.inject("msg_sec_check", -1)
    return await check(wx, "你好", await logged_in(wx, "wang"))


async def _get_stable_token(wx: Sandbox) -> Any:
    return js(await get(wx, "/cgi-bin/stable_token", grant_type="client_credential", appid=DEFAULT_APPID,
                        secret=DEFAULT_SECRET))


async def _template_unknown(wx: Sandbox) -> Any:
    return await send(wx, await logged_in(wx, "wang"), template_id="not-a-template")


async def _not_accepted(wx: Sandbox) -> Any:
    return await send(wx, await logged_in(wx, "wang"))


async def _checked_by(wx: Sandbox, *, content: str = "你好", scene: Any = 2) -> Any:
    return await check(wx, content, await logged_in(wx, "wang"), scene=scene)


Driver = Callable[[Sandbox], Awaitable[Any]]
DRIVERS: dict[tuple[str, str], Driver] = {
    ("stable_token", "appid_missing"): lambda wx: stable(wx, appid=""),
    ("stable_token", "secret_missing"): lambda wx: stable(wx, secret=""),
    ("stable_token", "grant_type_wrong"): lambda wx: stable(wx, grant_type="password"),
    ("stable_token", "appid_wrong"): lambda wx: stable(wx, appid="wx_other"),
    ("stable_token", "secret_wrong"): lambda wx: stable(wx, secret="wrong"),
    ("stable_token", "get_not_post_json"): _get_stable_token,
    ("stable_token", "force_refresh_21st_today"): _force_refresh_21st,
    ("token", "secret_wrong"): lambda wx: basic_token(wx, secret="wrong"),
    ("getuserphonenumber", "token_missing"): lambda wx: phone(wx, "13812345678", None),
    ("getuserphonenumber", "token_expired"): _expired,
    ("getuserphonenumber", "token_replaced_after_5_minutes"): _replaced_after_grace,
    ("getuserphonenumber", "stable_token_force_refreshed"): _force_refreshed,
    ("getuserphonenumber", "code_used"): _phone_code_used,
    ("jscode2session", "code_invalid"): lambda wx: login(wx, "invalid.1"),
    ("jscode2session", "code_used"): _code_used,
    ("jscode2session", "user_blocked"): lambda wx: login(wx, "blocked.1"),
    ("jscode2session", "rate_limited"): lambda wx: login(wx, "limit.1"),
    ("jscode2session", "busy"): lambda wx: login(wx, "busy.1"),
    ("subscribe_send", "openid_never_issued"): lambda wx: send(wx, wx.state.openid_for("nobody")),
    ("subscribe_send", "template_unknown"): _template_unknown,
    ("subscribe_send", "thing_over_20_characters"): _thing_too_long,
    ("subscribe_send", "keyword_missing"): _keyword_missing,
    ("subscribe_send", "page_not_released"): _page_not_released,
    ("subscribe_send", "not_accepted"): _not_accepted,
    ("subscribe_send", "grant_spent"): _grant_spent,
    ("getwxacodeunlimit", "page_not_released"): lambda wx: wxa_code_error(wx, page="pages/unreleased/index"),
    ("getwxacodeunlimit", "page_leading_slash"): lambda wx: wxa_code_error(wx, page="/pages/merchant/bind"),
    ("getwxacodeunlimit", "page_with_query"): lambda wx: wxa_code_error(wx, page="pages/merchant/bind?c=1"),
    ("getwxacodeunlimit", "env_version_unknown"): lambda wx: wxa_code_error(wx, env_version="beta"),
    ("getwxacodeunlimit", "scene_over_32_characters"): lambda wx: wxa_code_error(wx, scene="x" * 33),
    ("msg_sec_check", "scene_unknown"): lambda wx: _checked_by(wx, scene=5),
    ("msg_sec_check", "openid_never_issued"): lambda wx: check(wx, "你好", wx.state.openid_for("nobody")),
    ("msg_sec_check", "user_not_seen_for_2_hours"): _not_seen_lately,
    ("msg_sec_check", "content_empty"): lambda wx: _checked_by(wx, content=""),
    ("msg_sec_check", "busy"): _sec_check_busy,
}


def test_every_documented_answer_has_a_driver_and_a_source() -> None:
    assert {(a.endpoint, a.situation) for a in DOCUMENTED} == set(DRIVERS)
    assert len({a.id for a in DOCUMENTED}) == len(DOCUMENTED)
    for answer in DOCUMENTED:
        assert answer.source.startswith("https://developers.weixin.qq.com/"), answer.id
        assert answer.errmsg, answer.id


@pytest.mark.parametrize("answer", DOCUMENTED, ids=lambda a: a.id)
async def test_the_sandbox_answers_as_wechat_documents(wx_sandbox: Sandbox, answer: Answer) -> None:
    reply = await DRIVERS[(answer.endpoint, answer.situation)](wx_sandbox)
    assert reply["errcode"] == answer.errcode, reply
    assert reply["errmsg"]
    assert wx_sandbox.state.calls[answer.endpoint] >= 1


# -- access tokens --------------------------------------------------------------

async def test_port_zero_gives_a_real_port(wx_sandbox: Sandbox) -> None:
    assert wx_sandbox.port > 0
    assert wx_sandbox.url == f"http://127.0.0.1:{wx_sandbox.port}"


async def test_stable_token_is_the_same_until_its_last_five_minutes(wx_sandbox: Sandbox) -> None:
    first = await stable(wx_sandbox)
    assert first["expires_in"] == 7200 and wx_sandbox.state.token_fetches == 1
    wx_sandbox.state.advance(1000)
    again = await stable(wx_sandbox)
    assert again["access_token"] == first["access_token"] and 6190 < again["expires_in"] <= 6200
    wx_sandbox.state.advance(6000)  # 200 s left: a call now gets a new token ...
    renewed = await stable(wx_sandbox)
    assert renewed["access_token"] != first["access_token"] and renewed["expires_in"] == 7200
    # ... and the old one works until its own expiry, then answers 42001.
    assert (await phone(wx_sandbox, "13812345678.1", first["access_token"]))["errcode"] == 0
    wx_sandbox.state.advance(200)
    assert (await phone(wx_sandbox, "13812345678.2", first["access_token"]))["errcode"] == 42001
    assert (await phone(wx_sandbox, "13812345678.3", renewed["access_token"]))["errcode"] == 0


async def test_force_refresh_replaces_the_stable_token_at_once(wx_sandbox: Sandbox) -> None:
    old = await token(wx_sandbox)
    forced = await stable(wx_sandbox, force_refresh=True)
    assert forced["access_token"] != old and forced["expires_in"] == 7200
    assert (await phone(wx_sandbox, "13812345678.1", old))["errcode"] == 40001
    assert (await phone(wx_sandbox, "13812345678.2", forced["access_token"]))["errcode"] == 0
    # Forcing again within 30 s does not refresh (WeChat: "请保证调用时间隔至少为30s，否则不会刷新").
    assert (await stable(wx_sandbox, force_refresh=True))["access_token"] == forced["access_token"]
    wx_sandbox.state.advance(31)
    assert (await stable(wx_sandbox, force_refresh=True))["access_token"] != forced["access_token"]
    assert wx_sandbox.state.force_refreshes == 2


async def test_stable_and_basic_tokens_do_not_touch_each_other(wx_sandbox: Sandbox) -> None:
    mine = await token(wx_sandbox)
    for _ in range(3):  # a staging copy and a script use cgi-bin/token
        await basic_token(wx_sandbox)
    wx_sandbox.state.advance(301)
    assert (await phone(wx_sandbox, "13812345678.1", mine))["errcode"] == 0
    theirs = (await basic_token(wx_sandbox))["access_token"]
    await stable(wx_sandbox, force_refresh=True)
    assert (await phone(wx_sandbox, "13812345678.2", theirs))["errcode"] == 0
    assert (await token(wx_sandbox)) != mine


async def test_basic_token_grace_is_a_setting(wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.basic_grace = 10
    first = (await basic_token(wx_sandbox))["access_token"]
    second = (await basic_token(wx_sandbox))["access_token"]
    wx_sandbox.state.advance(9)
    assert (await phone(wx_sandbox, "13812345678.1", first))["errcode"] == 0
    wx_sandbox.state.advance(2)
    assert (await phone(wx_sandbox, "13812345678.2", first))["errcode"] == 40001
    assert (await phone(wx_sandbox, "13812345678.3", second))["errcode"] == 0


@pytest.mark.parametrize("body", [b"grant_type=client_credential&appid=x&secret=y", b"[]"])
async def test_stable_token_wants_a_json_object(wx_sandbox: Sandbox, body: bytes) -> None:
    assert js(await post(wx_sandbox, "/cgi-bin/stable_token", body))["errcode"] == 47001


async def test_tokens_required_expired_and_unknown(wx_sandbox: Sandbox) -> None:
    assert (await phone(wx_sandbox, "13812345678", None))["errcode"] == 41001
    assert (await phone(wx_sandbox, "13812345678", "made-up"))["errcode"] == 40001
    tok = await token(wx_sandbox)
    wx_sandbox.state.expire_tokens()
    assert (await phone(wx_sandbox, "13812345678", tok))["errcode"] == 42001
    assert js(await post(wx_sandbox, "/__sandbox__/advance", {"seconds": 5}))["errcode"] == 0
    assert (await post(wx_sandbox, "/__sandbox__/advance", {"seconds": -5})).code == 400


# -- logins and phone numbers -------------------------------------------------

async def test_same_user_same_openid_across_codes(wx_sandbox: Sandbox) -> None:
    first, second, other = await login(wx_sandbox, "alice.1"), await login(wx_sandbox, "alice.2"), await login(wx_sandbox, "bob.1")
    assert first["openid"] == second["openid"] == wx_sandbox.state.openid_for("alice")
    assert first["openid"].startswith("o") and len(first["openid"]) == 28
    assert other["openid"] != first["openid"]
    assert first["session_key"] != second["session_key"]
    assert "unionid" not in first
    assert wx_sandbox.state.known(first["openid"]) and not wx_sandbox.state.known(wx_sandbox.state.openid_for("zed"))


async def test_unionid_for_u_prefixed_users(wx_sandbox: Sandbox) -> None:
    one, two = await login(wx_sandbox, "u-carol.1"), await login(wx_sandbox, "u-carol.2")
    assert one["unionid"] == two["unionid"] and one["unionid"].startswith("oU")


@pytest.mark.parametrize(
    ("code", "errcode"), [("", 40029), ("invalid-x", 40029), ("busy.1", -1), ("limit.1", 45011), ("blocked.1", 40226)]
)
async def test_special_codes(wx_sandbox: Sandbox, code: str, errcode: int) -> None:
    answer = await login(wx_sandbox, code)
    assert answer["errcode"] == errcode
    assert "errmsg" in answer
    assert wx_sandbox.state.logins == {}


async def test_busy_code_is_not_consumed(wx_sandbox: Sandbox) -> None:
    assert (await login(wx_sandbox, "busy.1"))["errcode"] == -1
    assert (await login(wx_sandbox, "busy.1"))["errcode"] == -1


async def test_garbage_code_answers_html(wx_sandbox: Sandbox) -> None:
    response = await get(
        wx_sandbox, "/sns/jscode2session", appid=DEFAULT_APPID, secret=DEFAULT_SECRET, js_code="garbage.1",
        grant_type="authorization_code",
    )
    assert response.code == 200
    assert response.body.startswith(b"<html>")
    assert response.headers["Content-Type"].startswith("text/html")


async def test_slow_code_waits_then_answers(wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.slow_seconds = 0.2
    started = time.monotonic()
    answer = await login(wx_sandbox, "slow-erin.1")
    assert time.monotonic() - started >= 0.19
    assert answer["openid"] == wx_sandbox.state.openid_for("slow-erin")


async def test_wrong_secret_on_login(wx_sandbox: Sandbox) -> None:
    answer = js(
        await get(wx_sandbox, "/sns/jscode2session", appid=DEFAULT_APPID, secret="nope", js_code="x.1",
                  grant_type="authorization_code")
    )
    assert answer["errcode"] == 40125


async def test_phone_number_from_code(wx_sandbox: Sandbox) -> None:
    answer = await phone(wx_sandbox, "13812345678.a", await token(wx_sandbox))
    assert answer["errcode"] == 0
    info = answer["phone_info"]
    assert info["phoneNumber"] == info["purePhoneNumber"] == "13812345678"
    assert info["countryCode"] == 86  # a number, as in WeChat's documented example
    assert info["watermark"]["appid"] == DEFAULT_APPID
    wx_sandbox.state.country_code = "86"
    assert (await phone(wx_sandbox, "13812345678.b", await token(wx_sandbox)))["phone_info"]["countryCode"] == "86"


async def test_phone_number_derived_stable_and_single_use(wx_sandbox: Sandbox) -> None:
    tok = await token(wx_sandbox)
    one, two = await phone(wx_sandbox, "frank.1", tok), await phone(wx_sandbox, "frank.2", tok)
    number = one["phone_info"]["purePhoneNumber"]
    assert number == two["phone_info"]["purePhoneNumber"]
    assert len(number) == 11 and number.startswith("13") and number.isdigit()
    assert (await phone(wx_sandbox, "frank.1", tok))["errcode"] == 40029


# -- subscribe messages ---------------------------------------------------------

async def test_a_message_needs_a_grant_and_spends_it(wx_sandbox: Sandbox) -> None:
    openid = await logged_in(wx_sandbox, "wang")
    assert (await send(wx_sandbox, openid))["errcode"] == 43101
    answer = js(await post(wx_sandbox, "/__sandbox__/subscriptions",
                           {"user": "wang", "template_id": CARD_TEMPLATE, "times": 2}))
    assert answer == {"errcode": 0, "errmsg": "ok", "openid": openid, "grants": 2}
    assert (await send(wx_sandbox, openid, page="pages/card/index?id=7"))["errcode"] == 0
    assert wx_sandbox.state.grants[(openid, CARD_TEMPLATE)] == 1
    assert (await send(wx_sandbox, openid, miniprogram_state="trial", lang="en_US"))["errcode"] == 0
    assert (await send(wx_sandbox, openid))["errcode"] == 43101
    sent = wx_sandbox.state.sent_messages
    assert [(m["touser"], m["template_id"], m["page"], m["miniprogram_state"]) for m in sent] == [
        (openid, CARD_TEMPLATE, "pages/card/index?id=7", "formal"), (openid, CARD_TEMPLATE, "pages/card/index", "trial")]
    assert sent[0]["data"] == card_data()


async def test_a_refused_message_keeps_the_grant(wx_sandbox: Sandbox) -> None:
    openid = await logged_in(wx_sandbox, "wang")
    wx_sandbox.state.accept(openid, CARD_TEMPLATE)
    assert (await send(wx_sandbox, openid, data=card_data(phrase2="冻结了哦abc")))["errcode"] == 47003
    assert (await send(wx_sandbox, openid))["errcode"] == 0


async def test_grants_are_per_template(wx_sandbox: Sandbox) -> None:
    openid = await logged_in(wx_sandbox, "wang")
    wx_sandbox.state.accept(openid, DEFAULT_TEMPLATES["relief"][0])
    assert (await send(wx_sandbox, openid))["errcode"] == 43101


async def test_trial_and_develop_builds_may_open_unreleased_pages(wx_sandbox: Sandbox) -> None:
    openid = await logged_in(wx_sandbox, "wang")
    wx_sandbox.state.accept(openid, CARD_TEMPLATE, times=3)
    assert (await send(wx_sandbox, openid, page="pages/new/index", miniprogram_state="developer"))["errcode"] == 0
    assert (await send(wx_sandbox, openid, page="/pages/new/index", miniprogram_state="trial"))["errcode"] == 41030
    assert (await send(wx_sandbox, openid, page="pages/new/index", miniprogram_state="beta"))["errcode"] == 47003


@pytest.mark.parametrize("value", ["", "12:30pm", "明天下午"])
async def test_a_time_keyword_wants_a_time(wx_sandbox: Sandbox, value: str) -> None:
    openid = await logged_in(wx_sandbox, "wang")
    wx_sandbox.state.accept(openid, CARD_TEMPLATE)
    assert (await send(wx_sandbox, openid, data=card_data(time3=value)))["errcode"] == 47003


async def test_added_templates_and_control_refusals(wx_sandbox: Sandbox) -> None:
    openid = await logged_in(wx_sandbox, "wang")
    wx_sandbox.state.add_template("TPL-amount", "amount1,number2")
    wx_sandbox.state.accept(openid, "TPL-amount")
    data = {"amount1": {"value": "¥12.50"}, "number2": {"value": "3"}}
    assert (await send(wx_sandbox, openid, template_id="TPL-amount", data=data))["errcode"] == 0
    for body in ({"user": "wang", "template_id": "nope"}, {"template_id": CARD_TEMPLATE},
                 {"user": "wang", "template_id": CARD_TEMPLATE, "times": 0}, {"user": "wang", "extra": 1}):
        assert (await post(wx_sandbox, "/__sandbox__/subscriptions", body)).code == 400


async def test_the_default_templates_render_what_the_sandbox_accepts(wx_sandbox: Sandbox) -> None:
    """Every kind of notice, with long values, rendered by the shipped keyword maps, passes WeChat's rules."""
    openid = await logged_in(wx_sandbox, "wang")
    templates = NoticeTemplates.from_settings({}, {})
    values: dict[str, str | int] = {"title": "服务卡状态已经变更为冻结，请尽快联系" * 2, "body": "正文" * 30, "status": "已冻结",
                                    "merchant": "老百姓爱心大药房（芙蓉区五一大道店）", "amount": 1234567, "discount": 0,
                                    "kind": "大病救助", "step": "审核通过", "card_no": "0012345678"}
    at = datetime(2024, 5, 1, 6, 30, tzinfo=timezone.utc)
    for category in DEFAULT_TEMPLATES:
        template_id = templates.template_id(category)
        wx_sandbox.state.accept(openid, template_id)
        data = templates.render(category, values, at)
        assert (await send(wx_sandbox, openid, template_id=template_id, data=data))["errcode"] == 0, category


def test_every_page_the_service_links_to_is_released() -> None:
    linked = set()
    for folder in ("models", "handlers", "server", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            linked |= set(re.findall(r"[\"'](pages/[A-Za-z0-9_/-]+)", path.read_text(encoding="utf-8")))
    assert linked and linked <= RELEASED_PAGES, linked - RELEASED_PAGES


# -- content check -------------------------------------------------------------

@pytest.mark.parametrize(("content", "suggest", "label"),
                         [("工会帮扶真好", "pass", 100), ("想去赌博", "risky", 20001), ("我要去维权上访", "review", 21000)])
async def test_content_check(wx_sandbox: Sandbox, content: str, suggest: str, label: int) -> None:
    answer = await check(wx_sandbox, content, await logged_in(wx_sandbox, "wang"))
    assert answer["errcode"] == 0
    assert answer["result"] == {"suggest": suggest, "label": label}
    assert answer["trace_id"]


async def test_content_check_wants_version_2_and_a_recent_user(wx_sandbox: Sandbox) -> None:
    openid = await logged_in(wx_sandbox, "wang")
    assert (await check(wx_sandbox, "你好", openid, version=1))["errcode"] == 47001
    assert (await check(wx_sandbox, "你好", openid, scene=True))["errcode"] == 40129
    wx_sandbox.state.login_window = 60
    wx_sandbox.state.advance(61)
    assert (await check(wx_sandbox, "你好", openid))["errcode"] == 61010
    await login(wx_sandbox, "wang.again")
    assert (await check(wx_sandbox, "你好", openid))["errcode"] == 0
    accepted_only = wx_sandbox.state.openid_for("li")
    wx_sandbox.state.accept(accepted_only, CARD_TEMPLATE)
    assert (await check(wx_sandbox, "你好", accepted_only))["errcode"] == 61010


# -- mini-program codes --------------------------------------------------------

async def test_wxa_code_is_jpeg(wx_sandbox: Sandbox) -> None:
    response = await wxa_code(wx_sandbox, scene="m=42&t=abc", page="pages/merchant/bind")
    assert response.code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert response.body.startswith(JPEG_MAGIC)
    with Image.open(io.BytesIO(response.body)) as picture:
        assert picture.format == "JPEG" and 280 <= picture.size[0] <= 430


async def test_wxa_code_hyaline_is_a_transparent_png(wx_sandbox: Sandbox) -> None:
    response = await wxa_code(wx_sandbox, is_hyaline=True)
    assert response.headers["Content-Type"] == "image/png" and response.body.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(response.body)) as picture:
        assert picture.mode == "LA" and picture.getchannel("A").getextrema() == (0, 255)


@pytest.mark.parametrize("env_version", ["trial", "develop", "release"])
async def test_wxa_code_without_check_path_opens_an_unreleased_page(wx_sandbox: Sandbox, env_version: str) -> None:
    response = await wxa_code(wx_sandbox, page="pages/unreleased/index", check_path=False, env_version=env_version)
    assert response.code == 200 and response.body.startswith(JPEG_MAGIC)
    refused = await wxa_code_error(wx_sandbox, page="pages/unreleased/index", env_version=env_version)
    assert refused["errcode"] == 41030


@pytest.mark.parametrize("scene", ["", "x" * 33, "空格 不行"])
async def test_wxa_code_bad_scene(wx_sandbox: Sandbox, scene: str) -> None:
    assert (await wxa_code_error(wx_sandbox, scene=scene))["errcode"] == 40169


def test_qr_images() -> None:
    image = render_qr_png("hello", width=430)
    assert image.startswith(PNG_MAGIC)
    width = int.from_bytes(image[16:20], "big")
    assert 280 <= width <= 430
    with Image.open(io.BytesIO(image)) as picture:  # a PNG a real decoder reads, square, black on white
        picture.load()
        assert picture.size == (width, width)
        assert set(picture.convert("L").tobytes()) == {0, 255}
    with Image.open(io.BytesIO(render_qr_jpeg("hello", width=430))) as picture:
        assert picture.format == "JPEG" and picture.size == (width, width)


# -- faults and control ---------------------------------------------------------

async def test_bad_json_body(wx_sandbox: Sandbox) -> None:
    assert js(await post(wx_sandbox, SEND, b"{not json", access_token=await token(wx_sandbox)))["errcode"] == 47001


async def test_injected_faults_apply_times_then_clear(wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("jscode2session", 45011, times=2)
    assert (await login(wx_sandbox, "gina.1"))["errcode"] == 45011
    assert (await login(wx_sandbox, "gina.1"))["errcode"] == 45011
    assert "openid" in await login(wx_sandbox, "gina.1")
    assert wx_sandbox.state.calls["jscode2session"] == 3


async def test_injected_garbage_http_status_and_delay(wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("stable_token", garbage=True)
    wx_sandbox.state.inject("stable_token", http_status=503)
    wx_sandbox.state.inject("stable_token", delay=0.1)
    body = json.dumps({"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}).encode()
    garbage = await post(wx_sandbox, "/cgi-bin/stable_token", body)
    assert garbage.code == 200 and garbage.body.startswith(b"<html>")
    assert (await post(wx_sandbox, "/cgi-bin/stable_token", body)).code == 503
    started = time.monotonic()
    assert "access_token" in js(await post(wx_sandbox, "/cgi-bin/stable_token", body))
    assert time.monotonic() - started >= 0.09


def test_inject_rejects_unknown_endpoint() -> None:
    with pytest.raises(ValueError):
        SandboxState().inject("nope", 40001)
    with pytest.raises(ValueError):
        SandboxState().inject("token")


async def test_requests_are_recorded_but_never_shown(wx_sandbox: Sandbox) -> None:
    await token(wx_sandbox)
    await login(wx_sandbox, "ida.1")
    assert wx_sandbox.state.uris[0] == "POST /cgi-bin/stable_token"
    assert wx_sandbox.state.uris[1].startswith("GET /sns/jscode2session?")
    assert "uris" not in js(await get(wx_sandbox, "/__sandbox__/state"))


async def test_control_api(wx_sandbox: Sandbox) -> None:
    answer = js(await post(wx_sandbox, "/__sandbox__/faults", {"endpoint": "jscode2session", "errcode": -1}))
    assert answer["errcode"] == 0
    assert (await login(wx_sandbox, "hana.1"))["errcode"] == -1
    assert "session_key" in await login(wx_sandbox, "hana.1")
    bad = await post(wx_sandbox, "/__sandbox__/faults", {"endpoint": "nope", "errcode": 1})
    assert bad.code == 400
    wx_sandbox.state.accept(wx_sandbox.state.openid_for("hana"), CARD_TEMPLATE)

    state = js(await get(wx_sandbox, "/__sandbox__/state"))
    assert state["calls"]["jscode2session"] == 2
    assert state["used_codes"] == 1
    assert state["grants"] == [{"openid": wx_sandbox.state.openid_for("hana"), "template_id": CARD_TEMPLATE, "times": 1}]
    assert "pages/merchant/bind" in state["released_pages"]
    assert "session_key" not in json.dumps(state)
    assert "secret" not in state

    assert js(await post(wx_sandbox, "/__sandbox__/reset", {}))["errcode"] == 0
    state = js(await get(wx_sandbox, "/__sandbox__/state"))
    assert state["calls"] == {} and state["used_codes"] == 0 and state["token_fetches"] == 0 and state["grants"] == []
    assert "openid" in await login(wx_sandbox, "hana.1")  # the code is usable again after a reset
