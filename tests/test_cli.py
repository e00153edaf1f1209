"""The `unionaid` command as a newcomer runs it: serve --demo, migrate, wechat-sandbox."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
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


def _start_demo(tmp_path: Path, port: int) -> tuple[subprocess.Popen, list[str]]:
    """`serve --demo` in a subprocess; returns it and the lines it prints on stdout (read as they come)."""
    with open(tmp_path / "serve.log", "w") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "serve", "--demo", "--port", str(port)],
            env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=log, text=True,
        )
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def _printed_walkthrough(lines: list[str], proc: subprocess.Popen, seconds: float = 60) -> list[str]:
    """The walkthrough block as printed: from the line "# 1. ..." to the first empty line."""
    deadline = time.monotonic() + seconds
    while not any(line.startswith("Stop the service with Ctrl-C") for line in lines):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("serve --demo printed no walkthrough:\n" + "\n".join(lines))
        time.sleep(0.2)
    start = next(i for i, line in enumerate(lines) if line.startswith("# 1. "))
    end = lines.index("", start)
    return lines[start:end]


_ASSIGN = re.compile(r"^([A-Z_]+)=\$\(")
_USES = re.compile(r"\$([A-Z_]+)")


def _run_as_printed(block: list[str], cwd: Path) -> list[tuple[str, int, str]]:
    """Every line of the block, as is, in one bash in order; after each command its exit status and
    output (and the variable it set) are marked, so each step is judged on its own."""
    script: list[str] = []
    commands = [line for line in block if not line.startswith("#")]
    for line in block:
        script.append(line)
        if line.startswith("#"):
            continue
        script.append('echo "@@status $?"')
        assigned = _ASSIGN.match(line)
        if assigned:
            script.append(f'echo "@@var ${{{assigned.group(1)}}}"')
        script.append('echo "@@end"')
    done = subprocess.run(["bash"], input="\n".join(script) + "\n", cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items() if not k.startswith("UNIONAID_")},
                          check=False)
    steps = []
    chunks = done.stdout.split("@@end\n")
    assert len(chunks) == len(commands) + 1, done.stdout + done.stderr
    for line, chunk in zip(commands, chunks):
        out, _, rest = chunk.partition("@@status ")
        status, _, var = rest.partition("\n")
        value = var.removeprefix("@@var ").rstrip("\n") if var.startswith("@@var ") else None
        steps.append((line, int(status), value if value is not None else out.strip()))
    assert not done.stderr, done.stderr
    return steps


def test_serve_demo_walkthrough_runs_as_printed(tmp_path):
    """README's first command: `serve --demo` from nothing prints a walkthrough that works pasted line by line."""
    port = _free_port()
    proc, printed = _start_demo(tmp_path, port)
    try:
        block = _printed_walkthrough(printed, proc)
        base = f"http://127.0.0.1:{port}"
        commands = [line for line in block if not line.startswith("#")]
        # Every placeholder is a shell variable set by a line above the one that uses it.
        assigned: list[str] = []
        for line in commands:
            sets = _ASSIGN.match(line)
            # An assignment may show what it just set: `INVITE=$(...); echo "$INVITE"`.
            value, _, shown = line.partition("); ") if sets else (line, "", "")
            assert set(_USES.findall(value)) <= set(assigned), f"uses a variable set nowhere above: {line}"
            if sets:
                assigned.append(sets.group(1))
            assert set(_USES.findall(shown)) <= set(assigned), line
        assert all(base in line for line in commands)
        steps = _run_as_printed(block, tmp_path)
        story = []
        for line, status, out in steps:
            assert status == 0, (line, out)
            assert out, f"nothing came of {line}"
            path = re.search(re.escape(base) + r"(/\S+)", line).group(1)
            answer = out if _ASSIGN.match(line) else json.loads(out)
            assert not isinstance(answer, dict) or "error" not in answer, (line, out)
            story.append(("POST" if "-X POST" in line else "GET", path, answer))
        # The story, in order: worker login, bind, card; the admin invites a cashier, who logs in and joins;
        # the worker's QR is fetched right before the scan; the redemption; the worker's history.
        assert [(method, path) for method, path, _ in story] == [
            ("POST", "/api/v1/auth/wechat"), ("POST", "/api/v1/me/bind"), ("GET", "/api/v1/me/card"),
            ("POST", "/api/v1/auth/staff"), ("POST", "/api/v1/staff/merchants/2/invites"),
            ("POST", "/api/v1/auth/wechat"), ("POST", "/api/v1/merchant/bind"),
            ("GET", "/api/v1/me/card/qr"), ("POST", "/api/v1/merchant/scan"),
            ("POST", "/api/v1/merchant/redemptions"), ("GET", "/api/v1/me/redemptions"), ("GET", "/api/v1/me/notices"),
        ]
        (_, _, token), (_, _, bound), (_, _, card), (_, _, staff_token), (_, _, invite), (_, _, cashier_token), \
            (_, _, joined), (_, _, qr), (_, _, scan_id), (_, _, redeemed), (_, _, history), (_, _, notices) = story
        assert commands[0].startswith("TOKEN=") and commands[5].startswith("CASHIER_TOKEN=")
        assert '"username": "admin"' in commands[3]
        assert len(token) == len(staff_token) == len(cashier_token) == 43
        from scripts.demo import DEMO_PASSWORD

        assert (bound["member"]["name_masked"], bound["member"]["gender"]) == ("张*英", "female")
        assert {b["program"] for b in card["benefits"]} >= {"爱心购药卡", "爱心超市购物卡"}
        assert re.fullmatch(r"[A-Z0-9]{6,32}", invite), "the invite line prints the code alone"
        assert (joined["role"], joined["merchant"]["name"]) == ("cashier", "老百姓爱心大药房")
        assert len(qr) == 135 and len(scan_id) >= 16
        # The drug card pays the whole bill: the union 85 %, the pharmacy 15 %.
        assert (redeemed["amount"], redeemed["discount"], redeemed["payable"], redeemed["union_share"],
                redeemed["merchant_share"]) == (12800, 12800, 0, 10880, 1920)
        assert history["items"][0]["id"] == redeemed["id"]
        assert [n["kind"] for n in notices["items"]][:2] == ["redemption", "card.issued"] and notices["unread"] >= 2

        # Beyond the story: the phone, the clerk's re-check list, /me saying the member once.
        login = _post(base + "/api/v1/auth/wechat", {"code": "xiuying.2"})
        assert login["user"]["roles"] == ["member"] and login["user"]["member"]["id"] == bound["member"]["id"]
        phone = _post(base + "/api/v1/me/phone", {"code": "13900001111"}, login["token"])
        assert phone == {"phone_masked": "139****1111", "phone_country": "86"}
        me = _get(base + "/api/v1/me", login["token"])
        assert "member" not in me["user"] and me["member"]["id"] == bound["member"]["id"]
        clerk = _post(base + "/api/v1/auth/staff", {"username": "clerk", "password": DEMO_PASSWORD})
        due = _get(base + "/api/v1/staff/hardship/due?within_days=366", clerk["token"])
        assert len(due["items"]) == 3  # the demo's three difficult workers, each entered for a year
        assert (tmp_path / "var" / "unionaid.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()
    # A graceful stop sealed every audit record (the cashier's scan among them) and checkpointed the head.
    assert _audit_sealed_and_checkpointed(tmp_path) == (True, 1)
    lines = printed
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
    # The command sealed and checkpointed its records before it exited: no server needed.
    assert _audit_sealed_and_checkpointed(tmp_path) == (True, 0)


def _audit_sealed_and_checkpointed(tmp_path: Path) -> tuple[bool, int]:
    """No audit record of the data dir's SQLite file waits unsealed, and the checkpoint file's last
    line is the chain's head: (whether the chain has records, how many of them are scans)."""
    import sqlite3

    with sqlite3.connect(tmp_path / "var" / "unionaid.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM audit_log WHERE seq IS NULL").fetchone() == (0,)
        head = conn.execute("SELECT last_id, last_hash FROM audit_head").fetchone()
        scans = conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'counter.scan'").fetchone()[0]
    last = json.loads((tmp_path / "var" / "audit_checkpoints.jsonl").read_text().splitlines()[-1])
    assert (last["seq"], last["hash"]) == tuple(head)
    return head[0] > 0, int(scans)


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
