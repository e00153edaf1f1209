"""Configuration: defaults, environment, TOML, and one clear line for a bad value."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server.config import ConfigError, load_config


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
