"""The WeChat sandbox over real HTTP: answers, special codes, tokens, faults and its control API."""
from __future__ import annotations

import io
import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from PIL import Image
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from server.wechat_sandbox import (
    DEFAULT_APPID,
    DEFAULT_SECRET,
    Sandbox,
    SandboxState,
    render_qr_png,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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


async def token(wx_sandbox: Sandbox) -> str:
    answer = js(
        await get(wx_sandbox, "/cgi-bin/token", grant_type="client_credential", appid=DEFAULT_APPID, secret=DEFAULT_SECRET)
    )
    return str(answer["access_token"])


async def login(wx_sandbox: Sandbox, code: str) -> Any:
    return js(
        await get(
            wx_sandbox,
            "/sns/jscode2session",
            appid=DEFAULT_APPID,
            secret=DEFAULT_SECRET,
            js_code=code,
            grant_type="authorization_code",
        )
    )


async def test_port_zero_gives_a_real_port(wx_sandbox: Sandbox) -> None:
    assert wx_sandbox.port > 0
    assert wx_sandbox.url == f"http://127.0.0.1:{wx_sandbox.port}"


async def test_token_issued_and_counted(wx_sandbox: Sandbox) -> None:
    answer = js(
        await get(wx_sandbox, "/cgi-bin/token", grant_type="client_credential", appid=DEFAULT_APPID, secret=DEFAULT_SECRET)
    )
    assert answer["expires_in"] == 7200 and answer["access_token"]
    assert wx_sandbox.state.token_fetches == 1
    assert wx_sandbox.state.token_valid(answer["access_token"])


@pytest.mark.parametrize(
    ("appid", "secret", "errcode"),
    [("wx_other", DEFAULT_SECRET, 40013), (DEFAULT_APPID, "wrong", 40125), ("", DEFAULT_SECRET, 41002)],
)
async def test_token_refuses_wrong_credentials(wx_sandbox: Sandbox, appid: str, secret: str, errcode: int) -> None:
    answer = js(await get(wx_sandbox, "/cgi-bin/token", grant_type="client_credential", appid=appid, secret=secret))
    assert answer["errcode"] == errcode
    assert wx_sandbox.state.token_fetches == 0


async def test_same_user_same_openid_across_codes(wx_sandbox: Sandbox) -> None:
    first, second, other = await login(wx_sandbox, "alice.1"), await login(wx_sandbox, "alice.2"), await login(wx_sandbox, "bob.1")
    assert first["openid"] == second["openid"] == wx_sandbox.state.openid_for("alice")
    assert first["openid"].startswith("o") and len(first["openid"]) == 28
    assert other["openid"] != first["openid"]
    assert first["session_key"] != second["session_key"]
    assert "unionid" not in first


async def test_unionid_for_u_prefixed_users(wx_sandbox: Sandbox) -> None:
    one, two = await login(wx_sandbox, "u-carol.1"), await login(wx_sandbox, "u-carol.2")
    assert one["unionid"] == two["unionid"] and one["unionid"].startswith("oU")


async def test_code_works_once(wx_sandbox: Sandbox) -> None:
    assert "openid" in await login(wx_sandbox, "dave.1")
    assert (await login(wx_sandbox, "dave.1"))["errcode"] == 40163


@pytest.mark.parametrize(
    ("code", "errcode"), [("", 40029), ("invalid-x", 40029), ("busy.1", -1), ("limit.1", 45011)]
)
async def test_special_codes(wx_sandbox: Sandbox, code: str, errcode: int) -> None:
    answer = await login(wx_sandbox, code)
    assert answer["errcode"] == errcode
    assert "errmsg" in answer


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
    tok = await token(wx_sandbox)
    answer = js(await post(wx_sandbox, "/wxa/business/getuserphonenumber", {"code": "13812345678.a"}, access_token=tok))
    assert answer["errcode"] == 0
    info = answer["phone_info"]
    assert info["phoneNumber"] == info["purePhoneNumber"] == "13812345678"
    assert info["countryCode"] == "86"
    assert info["watermark"]["appid"] == DEFAULT_APPID


async def test_phone_number_derived_stable_and_single_use(wx_sandbox: Sandbox) -> None:
    tok = await token(wx_sandbox)
    one = js(await post(wx_sandbox, "/wxa/business/getuserphonenumber", {"code": "frank.1"}, access_token=tok))
    two = js(await post(wx_sandbox, "/wxa/business/getuserphonenumber", {"code": "frank.2"}, access_token=tok))
    phone = one["phone_info"]["purePhoneNumber"]
    assert phone == two["phone_info"]["purePhoneNumber"]
    assert len(phone) == 11 and phone.startswith("13") and phone.isdigit()
    again = js(await post(wx_sandbox, "/wxa/business/getuserphonenumber", {"code": "frank.1"}, access_token=tok))
    assert again["errcode"] == 40029


async def test_token_required_and_expiry(wx_sandbox: Sandbox) -> None:
    path = "/wxa/business/getuserphonenumber"
    assert js(await post(wx_sandbox, path, {"code": "13812345678"}))["errcode"] == 41001
    assert js(await post(wx_sandbox, path, {"code": "13812345678"}, access_token="made-up"))["errcode"] == 40001
    tok = await token(wx_sandbox)
    wx_sandbox.state.expire_tokens()
    assert js(await post(wx_sandbox, path, {"code": "13812345678"}, access_token=tok))["errcode"] == 40001


async def test_subscribe_message_recorded(wx_sandbox: Sandbox) -> None:
    tok = await token(wx_sandbox)
    message = {"touser": "oabc", "template_id": "T1", "page": "pages/index", "data": {"thing1": {"value": "你好"}}}
    assert js(await post(wx_sandbox, "/cgi-bin/message/subscribe/send", message, access_token=tok))["errcode"] == 0
    sent = wx_sandbox.state.sent_messages
    assert len(sent) == 1 and sent[0]["touser"] == "oabc" and sent[0]["data"]["thing1"]["value"] == "你好"


@pytest.mark.parametrize("body", [{"template_id": "T1", "data": {}}, {"touser": "o", "data": {}}, {"touser": "o", "template_id": "T"}])
async def test_subscribe_message_missing_fields(wx_sandbox: Sandbox, body: dict[str, Any]) -> None:
    tok = await token(wx_sandbox)
    assert js(await post(wx_sandbox, "/cgi-bin/message/subscribe/send", body, access_token=tok))["errcode"] == 47003
    assert wx_sandbox.state.sent_messages == []


async def test_bad_json_body(wx_sandbox: Sandbox) -> None:
    tok = await token(wx_sandbox)
    assert js(await post(wx_sandbox, "/cgi-bin/message/subscribe/send", b"{not json", access_token=tok))["errcode"] == 47001


@pytest.mark.parametrize(("content", "suggest", "label"), [("工会帮扶真好", "pass", 100), ("想去赌博", "risky", 20001)])
async def test_content_check(wx_sandbox: Sandbox, content: str, suggest: str, label: int) -> None:
    tok = await token(wx_sandbox)
    body = {"content": content, "version": 2, "scene": 2, "openid": "oabc"}
    answer = js(await post(wx_sandbox, "/wxa/msg_sec_check", body, access_token=tok))
    assert answer["errcode"] == 0
    assert answer["result"] == {"suggest": suggest, "label": label}


async def test_wxa_code_png(wx_sandbox: Sandbox) -> None:
    tok = await token(wx_sandbox)
    response = await post(wx_sandbox, "/wxa/getwxacodeunlimit", {"scene": "m=42&t=abc", "page": "pages/scan"}, access_token=tok)
    assert response.code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.body.startswith(PNG_MAGIC)


@pytest.mark.parametrize("scene", ["", "x" * 33, "空格 不行"])
async def test_wxa_code_bad_scene(wx_sandbox: Sandbox, scene: str) -> None:
    tok = await token(wx_sandbox)
    assert js(await post(wx_sandbox, "/wxa/getwxacodeunlimit", {"scene": scene}, access_token=tok))["errcode"] == 40169


def test_qr_png_size() -> None:
    image = render_qr_png("hello", width=430)
    assert image.startswith(PNG_MAGIC)
    width = int.from_bytes(image[16:20], "big")
    assert 280 <= width <= 430
    with Image.open(io.BytesIO(image)) as picture:  # a PNG a real decoder reads, square, black on white
        picture.load()
        assert picture.size == (width, width)
        assert set(picture.convert("L").tobytes()) == {0, 255}


async def test_injected_faults_apply_times_then_clear(wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("jscode2session", 45011, times=2)
    assert (await login(wx_sandbox, "gina.1"))["errcode"] == 45011
    assert (await login(wx_sandbox, "gina.1"))["errcode"] == 45011
    assert "openid" in await login(wx_sandbox, "gina.1")
    assert wx_sandbox.state.calls["jscode2session"] == 3


async def test_injected_garbage_http_status_and_delay(wx_sandbox: Sandbox) -> None:
    wx_sandbox.state.inject("token", garbage=True)
    wx_sandbox.state.inject("token", http_status=503)
    wx_sandbox.state.inject("token", delay=0.1)
    query = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}
    garbage = await get(wx_sandbox, "/cgi-bin/token", **query)
    assert garbage.code == 200 and garbage.body.startswith(b"<html>")
    assert (await get(wx_sandbox, "/cgi-bin/token", **query)).code == 503
    started = time.monotonic()
    assert "access_token" in js(await get(wx_sandbox, "/cgi-bin/token", **query))
    assert time.monotonic() - started >= 0.09


def test_inject_rejects_unknown_endpoint() -> None:
    with pytest.raises(ValueError):
        SandboxState().inject("nope", 40001)
    with pytest.raises(ValueError):
        SandboxState().inject("token")


async def test_control_api(wx_sandbox: Sandbox) -> None:
    answer = js(await post(wx_sandbox, "/__sandbox__/faults", {"endpoint": "jscode2session", "errcode": -1}))
    assert answer["errcode"] == 0
    assert (await login(wx_sandbox, "hana.1"))["errcode"] == -1
    assert "session_key" in await login(wx_sandbox, "hana.1")
    bad = await post(wx_sandbox, "/__sandbox__/faults", {"endpoint": "nope", "errcode": 1})
    assert bad.code == 400

    state = js(await get(wx_sandbox, "/__sandbox__/state"))
    assert state["calls"]["jscode2session"] == 2
    assert state["used_codes"] == 1
    assert "session_key" not in json.dumps(state)
    assert "secret" not in state

    assert js(await post(wx_sandbox, "/__sandbox__/reset", {}))["errcode"] == 0
    state = js(await get(wx_sandbox, "/__sandbox__/state"))
    assert state["calls"] == {} and state["used_codes"] == 0 and state["token_fetches"] == 0
    assert "openid" in await login(wx_sandbox, "hana.1")  # the code is usable again after a reset
