"""Ready for the console: a cookie secret kept in the key store, XSRF for cookie-authenticated requests only."""
from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handlers.base import BaseHandler
from server import console
from server.config import ConfigError, load_config
from server.crypto import load_keyring
from tests.client import ApiClient
from tests.conftest import RunningApp, serve_app


class ConsoleProbe(BaseHandler):
    """Stands in for a console page: GET hands out the XSRF token, POST changes nothing."""

    def get(self) -> None:
        self.write_json({"xsrf": self.xsrf_token.decode("ascii")})

    def post(self) -> None:
        self.write_json({"ok": True})


@pytest.fixture
async def app(config: Any, engine: Any, wechat: Any) -> AsyncIterator[tuple[RunningApp, ApiClient]]:
    served = await serve_app(config, engine, [(r"/__console__/probe", ConsoleProbe)])
    yield served, ApiClient(served.url, served.settings["openapi"])
    served.server.stop()
    served.gateway.close()


def _cookie_jar(set_cookie: list[str]) -> dict[str, str]:
    return dict(c.split(";", 1)[0].split("=", 1) for c in set_cookie)


async def test_a_cookie_authenticated_post_needs_the_xsrf_token(app: tuple[RunningApp, ApiClient]) -> None:
    _, api = app
    session = f"{console.SESSION_COOKIE}=signed-session"
    refused = await api.post("/__console__/probe", {}, headers={"Cookie": session})
    assert refused.status == 403
    assert refused.error_code == "xsrf_failed"  # the fixed shape: checked by the client against Error
    assert refused.data["error"]["request_id"] == refused.headers["X-Request-Id"]

    page = await api.get("/__console__/probe", headers={"Cookie": session})
    assert page.status == 200
    jar = _cookie_jar(page.headers.get_list("Set-Cookie"))
    assert "_xsrf" in jar
    cookies = f"{session}; _xsrf={jar['_xsrf']}"

    forged = await api.post("/__console__/probe", {}, headers={"Cookie": cookies, "X-XSRFToken": "2|00|00|0"})
    assert forged.status == 403 and forged.error_code == "xsrf_failed"
    no_header = await api.post("/__console__/probe", {}, headers={"Cookie": cookies})
    assert no_header.status == 403 and no_header.error_code == "xsrf_failed"

    passed = await api.post("/__console__/probe", {}, headers={"Cookie": cookies, "X-XSRFToken": page.data["xsrf"]})
    assert passed.status == 200 and passed.data == {"ok": True}


async def test_bearer_api_posts_need_no_xsrf_token(app: tuple[RunningApp, ApiClient]) -> None:
    served, api = app
    assert served.settings["xsrf_cookies"] is True  # the protection is on, and the API is exempt
    token = await api.login("xsrf.1")
    phone = await api.post("/api/v1/me/phone", {"code": "13812345678"}, token=token)
    assert phone.status == 200 and phone.data["phone_masked"]
    probe = await api.post("/__console__/probe", {}, headers={"Authorization": f"Bearer {token}"})
    assert probe.status == 200


async def test_app_serves_templates_and_static_files_from_the_console_dirs(app: tuple[RunningApp, ApiClient]) -> None:
    served, _ = app
    settings = served.settings
    assert Path(settings["template_path"]).is_dir() and Path(settings["static_path"]).is_dir()
    assert settings["cookie_secret"] == load_keyring(served.settings["config"]).cookie_secret
    assert len(settings["cookie_secret"]) == 32


def test_cookie_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    cfg = load_config(env={}, data_dir=tmp_path)
    first = load_keyring(cfg)
    assert len(first.cookie_secret) == 32
    assert load_keyring(cfg).cookie_secret == first.cookie_secret
    assert base64.b64encode(first.cookie_secret).decode() not in repr(first)


def test_a_keyring_file_from_before_gains_a_cookie_secret_and_keeps_its_keys(tmp_path: Path) -> None:
    cfg = load_config(env={}, data_dir=tmp_path)
    before = load_keyring(cfg)
    path = tmp_path / "keys.json"
    stored = json.loads(path.read_text())
    del stored["cookie_secret"]
    path.write_text(json.dumps(stored))
    upgraded = load_keyring(cfg)
    assert upgraded.pii_keys == before.pii_keys and upgraded.blind_index_key == before.blind_index_key
    assert "cookie_secret" in json.loads(path.read_text())
    assert load_keyring(cfg).cookie_secret == upgraded.cookie_secret
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_a_configured_cookie_secret_wins_and_is_checked(tmp_path: Path) -> None:
    secret = base64.b64encode(bytes(range(32))).decode()
    cfg = load_config(env={"UNIONAID_COOKIE_SECRET": secret}, data_dir=tmp_path)
    assert load_keyring(cfg).cookie_secret == bytes(range(32))
    with pytest.raises(ConfigError, match="UNIONAID_COOKIE_SECRET"):
        load_config(env={"UNIONAID_COOKIE_SECRET": "short"}, data_dir=tmp_path)


async def test_static_files_carry_the_security_headers(app: tuple[RunningApp, ApiClient]) -> None:
    _, api = app
    sheet = await api.get("/console/static/notices.css", validate=False)
    assert sheet.status == 200 and sheet.headers["Content-Type"].startswith("text/css")
    assert sheet.headers["X-Content-Type-Options"] == "nosniff" and sheet.headers["X-Frame-Options"] == "DENY"
    assert sheet.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert sheet.headers["Cross-Origin-Resource-Policy"] == "same-origin" and "Server" not in sheet.headers
    missing = await api.get("/console/static/nothing.css", validate=False)
    assert missing.status == 404 and missing.headers["X-Content-Type-Options"] == "nosniff"
