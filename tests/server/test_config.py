"""Configuration: defaults, environment, TOML, and one clear line for a bad value."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server.config import ConfigError, check_wechat_ready, load_config


def test_defaults_need_no_configuration():
    cfg = load_config(env={})
    assert cfg.port == 8000
    assert cfg.data_dir == Path("var")
    assert cfg.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert cfg.effective_database_url.endswith("var/unionaid.sqlite3")
    assert cfg.wechat_api_base == "https://api.weixin.qq.com"


def test_environment_overrides():
    cfg = load_config(env={
        "UNIONAID_PORT": "9001",
        "UNIONAID_DATABASE_URL": "mysql+aiomysql://u:p@db:3306/union",
        "UNIONAID_WECHAT_API_BASE": "http://127.0.0.1:8001/",
        "UNIONAID_BEHIND_HTTPS": "true",
    })
    assert cfg.port == 9001
    assert not cfg.is_sqlite
    assert cfg.wechat_api_base == "http://127.0.0.1:8001"
    assert cfg.behind_https is True


def test_toml_file_then_environment(tmp_path):
    path = tmp_path / "unionaid.toml"
    path.write_text('port = 8100\ndata_dir = "/srv/unionaid"\nwechat_timeout = 3.5\n')
    cfg = load_config(path, env={"UNIONAID_PORT": "8200"})
    assert cfg.port == 8200
    assert cfg.data_dir == Path("/srv/unionaid")
    assert cfg.wechat_timeout == 3.5


@pytest.mark.parametrize(
    "env, setting",
    [
        ({"UNIONAID_PORT": "eighty"}, "UNIONAID_PORT"),
        ({"UNIONAID_PORT": "70000"}, "UNIONAID_PORT"),
        ({"UNIONAID_DATABASE_URL": "postgresql://x/y"}, "UNIONAID_DATABASE_URL"),
        ({"UNIONAID_WECHAT_API_BASE": "ftp://x"}, "UNIONAID_WECHAT_API_BASE"),
        ({"UNIONAID_BEHIND_HTTPS": "maybe"}, "UNIONAID_BEHIND_HTTPS"),
        ({"UNIONAID_REDIS_URL": "http://x"}, "UNIONAID_REDIS_URL"),
        ({"UNIONAID_WECHAT_TIMEOUT": "-1"}, "UNIONAID_WECHAT_TIMEOUT"),
        ({"UNIONAID_QR_TTL": "5"}, "UNIONAID_QR_TTL"),
        ({"UNIONAID_QR_CLOCK_SKEW": "600"}, "UNIONAID_QR_CLOCK_SKEW"),
        ({"UNIONAID_SCAN_TTL": "10"}, "UNIONAID_SCAN_TTL"),
        ({"UNIONAID_QR_KEY_ID": "256"}, "UNIONAID_QR_KEY_ID"),
        ({"UNIONAID_QR_KEY": "c2hvcnQ="}, "UNIONAID_QR_KEY"),
        ({"UNIONAID_QR_KEY": "not base64!"}, "UNIONAID_QR_KEY"),
    ],
)
def test_bad_values_name_the_setting(env, setting):
    with pytest.raises(ConfigError) as info:
        load_config(env=env)
    message = str(info.value)
    assert message.startswith(setting) and "\n" not in message


@pytest.mark.parametrize("url", ["mysql+aiomysql://u:p@db:3306/union", "mysql+asyncmy://u:p@db:3306/union",
                                 "sqlite+aiosqlite:////srv/u.sqlite3"])
def test_each_supported_driver_is_accepted(url):
    assert load_config(env={"UNIONAID_DATABASE_URL": url}).effective_database_url == url


def test_an_unsupported_driver_is_named_with_the_supported_ones():
    with pytest.raises(ConfigError, match="mysql\\+aiomysql://, mysql\\+asyncmy:// or sqlite\\+aiosqlite://"):
        load_config(env={"UNIONAID_DATABASE_URL": "mysql+pymysql://u:p@db/union"})


def test_bad_toml(tmp_path):
    unknown = tmp_path / "a.toml"
    unknown.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="UNIONAID_PROT: unknown setting"):
        load_config(unknown, env={})
    broken = tmp_path / "b.toml"
    broken.write_text("port = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, env={})
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml", env={})


def test_cli_stops_with_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "migrate"],
        env={"UNIONAID_PORT": "nope", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60, cwd=tmp_path.parent,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "UNIONAID_PORT" in lines[0]


# -- readiness to talk to WeChat itself ---------------------------------------------

REAL = {"UNIONAID_WECHAT_APPID": "wx0123456789abcdef", "UNIONAID_WECHAT_SECRET": "0123456789abcdef0123456789abcdef",
        **{f"UNIONAID_WECHAT_TEMPLATE_{kind.upper()}": f"tmpl-{kind}-0123456789"
           for kind in ("card", "redemption", "relief", "payment")}}


@pytest.mark.parametrize(
    "unset, setting",
    [
        ("UNIONAID_WECHAT_APPID", "UNIONAID_WECHAT_APPID"),
        ("UNIONAID_WECHAT_SECRET", "UNIONAID_WECHAT_APPID/UNIONAID_WECHAT_SECRET"),
        ("UNIONAID_WECHAT_TEMPLATE_CARD", "UNIONAID_WECHAT_TEMPLATE_CARD"),
        ("UNIONAID_WECHAT_TEMPLATE_PAYMENT", "UNIONAID_WECHAT_TEMPLATE_PAYMENT"),
    ],
)
def test_wechat_itself_refuses_sandbox_credentials_and_placeholder_templates(unset, setting):
    cfg = load_config(env={k: v for k, v in REAL.items() if k != unset})  # the sandbox's default stays for `unset`
    assert cfg.talks_to_wechat
    with pytest.raises(ConfigError) as info:
        check_wechat_ready(cfg)
    message = str(info.value)
    assert message.startswith(setting) and "\n" not in message


@pytest.mark.parametrize("base", ["https://api.weixin.qq.com", "https://api2.weixin.qq.com/",
                                  "https://sh.api.weixin.qq.com", "https://API.WEIXIN.QQ.COM"])
def test_every_wechat_domain_is_wechat_itself(base):
    cfg = load_config(env={"UNIONAID_WECHAT_API_BASE": base})
    assert cfg.talks_to_wechat
    with pytest.raises(ConfigError):
        check_wechat_ready(cfg)
    assert not load_config(env={"UNIONAID_WECHAT_API_BASE": "http://weixin.qq.com.example:8001"}).talks_to_wechat


def test_wechat_itself_with_real_settings_and_any_sandbox_with_defaults_are_ready(tmp_path):
    check_wechat_ready(load_config(env=REAL))
    sandbox = load_config(env={"UNIONAID_WECHAT_API_BASE": "http://127.0.0.1:8001"})
    assert not sandbox.talks_to_wechat
    check_wechat_ready(sandbox)
    trial = load_config(env={**REAL, "UNIONAID_WECHAT_ENV_VERSION": "trial"})
    assert trial.wechat_env_version == "trial"
    with pytest.raises(ConfigError, match="^UNIONAID_WECHAT_ENV_VERSION"):
        load_config(env={"UNIONAID_WECHAT_ENV_VERSION": "beta"})


def test_serve_against_wechat_with_sandbox_credentials_stops_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "UNIONAID_DATA_DIR": str(tmp_path / "var"), "UNIONAID_LOG_LEVEL": "ERROR"}
    proc = subprocess.run([sys.executable, "-m", "scripts.cli", "serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("unionaid: configuration error: UNIONAID_WECHAT_APPID")
