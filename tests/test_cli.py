"""The `unionaid` command as a newcomer runs it: serve --demo, migrate, wechat-sandbox."""
from __future__ import annotations

import contextlib
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


def _raw_request(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head.encode())
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def _healthz_workers(port: int, rounds: int = 60) -> dict[int, int]:
    """Ask /healthz, 8 at a time on new connections, until two workers answered (or the rounds ran out)."""
    from concurrent.futures import ThreadPoolExecutor

    seen: dict[int, int] = {}

    def ask(_: int) -> tuple[int, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            body = json.loads(resp.read())
        return body["worker"], body["pid"]

    with ThreadPoolExecutor(8) as pool:
        for _ in range(rounds):
            seen.update(pool.map(ask, range(8)))
            if len(seen) >= 2:
                break
    return seen


def _leases(url: str) -> list[tuple[str, str | None, int]]:
    import sqlalchemy as sa

    engine = sa.create_engine(sa.engine.make_url(url).set(drivername="mysql+pymysql"))  # whichever async driver
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(
                "SELECT name, holder, generation FROM job_leases ORDER BY name"))]
    finally:
        engine.dispose()


def _wait_until(check, what: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.1)


def test_serve_with_two_workers_on_mariadb(tmp_path, backend, database_url):
    """`serve --workers 2`: both workers answer on the one port, a hangup stops none, a killed one is restarted, each job lease
    is taken once, and SIGTERM lets a request in flight finish before every worker exits and the parent with 0."""
    if backend != "mysql":
        pytest.skip("several workers need MySQL/MariaDB")
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    fresh = url.database + "_workers"
    admin = sa.create_engine(url.set(drivername="mysql+pymysql"))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{fresh}`"))
    db_url = url.set(database=fresh).render_as_string(hide_password=False)
    # The jobs never reach WeChat here; a dead local address keeps the gateway off WeChat's own API.
    env = _env(tmp_path, UNIONAID_DATABASE_URL=db_url, UNIONAID_WECHAT_API_BASE="http://127.0.0.1:9")
    port = _free_port()
    proc = None
    try:
        done = subprocess.run([sys.executable, "-m", "scripts.cli", "migrate"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        with open(tmp_path / "serve.log", "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "scripts.cli", "serve", "--workers", "2", "--port",
                                     str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=log, text=True,
                                    start_new_session=True)  # a group: a failed test kills the workers too
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in proc.stdout), daemon=True).start()

        def serving() -> dict[int, int]:
            found = (re.fullmatch(r"worker (\d) \(pid (\d+)\) serving", line) for line in lines)
            return {int(m.group(1)): int(m.group(2)) for m in found if m}

        _wait_until(lambda: len(serving()) == 2, "two workers serving", proc)
        assert lines[0] == f"UnionAid listening on http://127.0.0.1:{port} (database: mysql, 2 workers)"
        assert _healthz_workers(port) == serving()  # both answer on the one port, each its own process
        # Each leased job's first round ran at start, in one of the two: one take per lease.
        _wait_until(lambda: len(_leases(db_url)) == 3 and all(h for _, h, _ in _leases(db_url)), "leases", proc)
        pids = set(serving().values())
        assert {(name, int(holder.split(":")[1]) in pids, generation) for name, holder, generation
                in _leases(db_url)} == {("notifications", True, 1), ("purge", True, 1), ("relief-notices", True, 1)}

        holders = [(name, int(holder.split(":")[1])) for name, holder, _ in _leases(db_url)]
        # A hangup to the whole group (a closed terminal) is logged by each process and ignored: no one stops.
        os.killpg(proc.pid, signal.SIGHUP)
        _wait_until(lambda: (tmp_path / "serve.log").read_text().count("SIGHUP ignored") == 3, "the hangup logged",
                    proc)
        assert _healthz_workers(port) == serving() and set(serving().values()) == pids
        # A worker that dies is forked again with its number.
        killed = serving()[0]
        os.kill(killed, signal.SIGKILL)
        _wait_until(lambda: serving()[0] != killed, "worker 0 restarted", proc)
        assert _healthz_workers(port) == serving()

        # A request in flight when the stop comes is answered: its headers are in, its body not yet. A first
        # request on the same connection makes sure a worker has it.
        sock = _raw_request(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        body = json.dumps({"username": "nobody", "password": "not-a-password"}).encode()
        sock.sendall(f"POST /api/v1/auth/staff HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        time.sleep(0.5)  # not an assertion: lets the worker read the headers before the stop
        proc.send_signal(signal.SIGTERM)
        _wait_until(lambda: sum("shutting down" in line for line in lines) == 2, "both workers stopping", proc)
        sock.sendall(body[10:])
        answer = _read_all(sock)
        with pytest.raises(OSError):  # the port closed with the last worker's listener
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert b"\r\nConnection: close\r\n" in answer and b'"login_failed"' in answer, answer.decode()
        assert proc.wait(timeout=60) == 0, (tmp_path / "serve.log").read_text()
        assert lines[-1] == "all workers stopped"
        # None ever changed hands (the jobs ran in one place each), and every lease was given back, but
        # those of the killed worker: they stay its own until they lapse.
        assert [(name, holder and int(holder.split(":")[1]), generation) for name, holder, generation
                in _leases(db_url)] == [(name, holder, 1) if holder == killed else (name, None, 1)
                                        for name, holder in holders]
        log = (tmp_path / "serve.log").read_text()
        assert sorted(re.findall(r"lease (\S+) taken by", log)) == ["notifications", "purge", "relief-notices"]
        assert f"worker 0 (pid {killed}) killed by signal 9: restarting it" in log
    finally:
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{fresh}`"))
        admin.dispose()


def test_several_workers_refuse_sqlite_and_the_demo(tmp_path):
    sqlite = subprocess.run([sys.executable, "-m", "scripts.cli", "serve", "--workers", "2", "--port",
                             str(_free_port())], env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert sqlite.returncode == 2 and "needs MySQL/MariaDB" in sqlite.stderr
    demo = subprocess.run([sys.executable, "-m", "scripts.cli", "serve", "--demo", "--workers", "2"],
                          env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert demo.returncode == 2 and "--demo runs one process" in demo.stderr
    zero = subprocess.run([sys.executable, "-m", "scripts.cli", "serve", "--workers", "0"],
                          env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert zero.returncode == 2 and "from 1 to 64" in zero.stderr
