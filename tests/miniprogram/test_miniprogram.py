"""The reference mini-program's own tests (miniprogram/), run under jest from here so that README's
one test command runs them too.

- unit: pages and components in miniprogram-simulate against a fake server;
- e2e: the same pages with ``wx`` bound to a real service, started here as a newcomer would
  (``unionaid serve --demo``: embedded SQLite, demo data, the WeChat sandbox in-process).

They need Node.js and the mini-program's npm packages (``npm ci`` in miniprogram/, which .ci/run
does). Without them the tests are skipped with the reason; with ``CI=true`` they fail instead.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MINIPROGRAM = ROOT / "miniprogram"
JEST = MINIPROGRAM / "node_modules" / ".bin" / "jest"


def _need_node() -> None:
    missing = None
    if shutil.which("node") is None:
        missing = "Node.js is not installed"
    elif not JEST.exists():
        missing = "the mini-program's npm packages are not installed (cd miniprogram && npm ci)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing + ": CI must run the mini-program's tests")
        pytest.skip(missing)


def _jest(project: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(JEST), "--selectProjects", project, "--runInBand", "--ci"], cwd=MINIPROGRAM,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo_people() -> dict[str, object]:
    """What the e2e tests need of the demo: members nobody has bound, the staff password, the counter."""
    from scripts import demo, demo_relief

    taken = {case.name for case in demo_relief._cases(date.today())}
    free = [{"name": p.name, "id_number": p.id_number(n)} for n, p in enumerate(demo.PEOPLE, start=1)
            if p.name not in taken]
    return {"members": free, "staff_password": demo.DEMO_PASSWORD,
            "counter": {"merchant": demo.COUNTER[0], "store": demo.COUNTER[1]}}


def test_unit() -> None:
    _need_node()
    run = _jest("unit")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-12000:]


def test_end_to_end_against_the_real_service(tmp_path: Path) -> None:
    _need_node()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIONAID_")}
    env["UNIONAID_DATA_DIR"] = str(tmp_path / "var")
    env["PYTHONUNBUFFERED"] = "1"
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "scripts.cli", "serve", "--demo", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        # Ready once the demo is loaded: serve --demo prints its walkthrough then (it ends with how to stop).
        deadline = time.monotonic() + 180
        while "Ctrl-C" not in (tmp_path / "serve.log").read_text():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "serve --demo printed no walkthrough:\n" + \
                (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        with urllib.request.urlopen(base + "/healthz", timeout=10) as answer:
            assert answer.status == 200
        run = _jest("e2e", {"UNIONAID_E2E_BASE": base, "UNIONAID_E2E_DEMO": json.dumps(_demo_people())})
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-12000:] + \
            "\n--- server log ---\n" + (tmp_path / "serve.log").read_text()[-6000:]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
