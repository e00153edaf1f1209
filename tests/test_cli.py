"""The `unionaid` command as a newcomer runs it: serve --demo, migrate, wechat-sandbox."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIONAID_")}
    env["UNIONAID_DATA_DIR"] = str(tmp_path / "var")
    env.update(extra)
    return env


def _wait_for(url: str, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def _post(url: str, body: dict, token: str | None = None, headers: dict | None = None) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_serve_demo_from_nothing(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "serve", "--demo", "--port", str(port)],
        env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/readyz", proc)
        login = _post(base + "/api/v1/auth/wechat", {"code": "alice.1"})
        assert login["user"]["roles"] == ["visitor"]
        phone = _post(base + "/api/v1/me/phone", {"code": "13900001111"}, login["token"])
        assert phone == {"phone_masked": "139****1111"}
        from scripts.demo import DEMO_MEMBER, DEMO_PASSWORD

        bound = _post(base + "/api/v1/me/bind", {"name": DEMO_MEMBER[0], "id_number": DEMO_MEMBER[1]},
                      login["token"])
        assert bound["member"]["name_masked"] == "张*英"
        clerk = _post(base + "/api/v1/auth/staff", {"username": "clerk", "password": DEMO_PASSWORD})
        req = urllib.request.Request(base + "/api/v1/staff/hardship/due?within_days=366",
                                     headers={"Authorization": "Bearer " + clerk["token"]})
        with urllib.request.urlopen(req, timeout=10) as resp:
            due = json.loads(resp.read())
        assert len(due["items"]) == 1
        # The counter, exactly as the printed help walks it: card, QR, a cashier invited and bound, scan, redeem.
        card = _get(base + "/api/v1/me/card", login["token"])
        assert {b["program"] for b in card["benefits"]} >= {"爱心购药卡", "爱心超市购物卡"}
        qr = _get(base + "/api/v1/me/card/qr", login["token"])
        admin = _post(base + "/api/v1/auth/staff", {"username": "admin", "password": DEMO_PASSWORD})
        invite = _post(base + "/api/v1/staff/merchants/2/invites", {"role": "cashier", "store_id": 4},
                       admin["token"])
        cashier = _post(base + "/api/v1/auth/wechat", {"code": "bob.1"})
        joined = _post(base + "/api/v1/merchant/bind", {"invite_code": invite["invite"]["code"]}, cashier["token"])
        assert joined["merchant"]["name"] == "老百姓爱心大药房"
        scan = _post(base + "/api/v1/merchant/scan", {"qr": qr["token"]}, cashier["token"])
        redeemed = _post(base + "/api/v1/merchant/redemptions",
                         {"scan_id": scan["scan_id"], "items": [{"category": "drug", "amount": 12800}]},
                         cashier["token"], headers={"Idempotency-Key": "demo-0001"})
        # The drug card pays the whole bill: the union 85 %, the pharmacy 15 %.
        assert (redeemed["discount"], redeemed["union_share"], redeemed["merchant_share"]) == (12800, 10880, 1920)
        assert (tmp_path / "var" / "unionaid.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "curl" in out and "/api/v1/auth/wechat" in out and "/api/v1/auth/staff" in out
    lines = out.splitlines()
    listening = next(i for i, line in enumerate(lines) if line.startswith("UnionAid listening on"))
    assert lines[listening + 1].startswith("printed cards: ")  # the font the cards use, or why they are refused


def test_demo_data_twice_changes_nothing(tmp_path):
    env = _env(tmp_path)
    first = subprocess.run([sys.executable, "-m", "scripts.cli", "demo-data"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "demo data loaded" in first.stdout
    again = subprocess.run([sys.executable, "-m", "scripts.cli", "demo-data"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "nothing changed" in again.stdout


def test_migrate_then_serve_refuses_unmigrated_server_database(tmp_path, backend, database_url):
    if backend != "mysql":
        pytest.skip("an unmigrated server database needs MySQL")
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    fresh = url.database + "_cli"
    admin = sa.create_engine(url.set(drivername="mysql+pymysql"))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{fresh}`"))
    try:
        env = _env(tmp_path, UNIONAID_DATABASE_URL=url.set(database=fresh).render_as_string(hide_password=False))
        refused = subprocess.run([sys.executable, "-m", "scripts.cli", "serve", "--port", str(_free_port())],
                                 env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2
        assert "unionaid migrate" in refused.stderr
        done = subprocess.run([sys.executable, "-m", "scripts.cli", "migrate"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "empty ->" in done.stdout
        again = subprocess.run([sys.executable, "-m", "scripts.cli", "migrate"], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and "empty" not in again.stdout
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{fresh}`"))
        admin.dispose()


def test_wechat_sandbox_alone(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "scripts.cli", "wechat-sandbox", "--port", str(port)],
                            env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        url = (f"http://127.0.0.1:{port}/sns/jscode2session?appid=wx_sandbox_appid&secret=sandbox-secret"
               "&js_code=zoe.1&grant_type=authorization_code")
        _wait_for(f"http://127.0.0.1:{port}/__sandbox__/state", proc)
        with urllib.request.urlopen(url, timeout=5) as resp:
            answer = json.loads(resp.read())
        assert answer["openid"] and answer["session_key"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
