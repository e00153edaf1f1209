"""What the `unionaid` command leaves on disk is private: the data dir and every directory in it 0700, every
file 0600 (the attachment store's blobs, which the demo's proofs fill, included).

The commands run as real processes under a permissive umask, so the modes come
from the service itself, not from the shell that started it.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.test_cli import _free_port, _wait_for

DB = "unionaid.sqlite3"
UNIONAID = Path(sys.executable).with_name("unionaid")


def _command() -> list[str]:
    """The console script under the loosest umask a shell could hand over."""
    cli = [str(UNIONAID)] if UNIONAID.exists() else [sys.executable, "-m", "scripts.cli"]
    return ["/bin/sh", "-c", 'umask 000 && exec "$@"', "sh", *cli]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIONAID_")}
    env["UNIONAID_DATA_DIR"] = str(data_dir)
    return env


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(_command() + list(args), env=_env(data_dir), cwd=data_dir.parent, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    return done


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_private(data_dir: Path, expected: set[str]) -> None:
    assert _mode(data_dir) == 0o700, oct(_mode(data_dir))
    names = {p.name for p in data_dir.iterdir()}
    assert expected <= names, names
    modes = {str(p.relative_to(data_dir)): oct(_mode(p)) for p in data_dir.rglob("*")}
    assert all(mode == oct(0o700 if (data_dir / name).is_dir() else 0o600) for name, mode in modes.items()), modes


def test_migrate_and_demo_data_leave_a_private_data_dir(tmp_path):
    data_dir = tmp_path / "var"
    _run(data_dir, "migrate")
    _assert_private(data_dir, {DB})
    _run(data_dir, "demo-data")
    _assert_private(data_dir, {DB, "keys.json", "attachments"})
    assert any(p.is_file() for p in (data_dir / "attachments").rglob("*"))


def test_a_serving_process_keeps_db_wal_shm_and_keys_private(tmp_path):
    data_dir = tmp_path / "var"
    port = _free_port()
    # faulthandler: a stop that hangs is aborted below, and every thread's stack is in the failure's output.
    proc = subprocess.Popen(_command() + ["serve", "--demo", "--port", str(port)],
                            env={**_env(data_dir), "PYTHONFAULTHANDLER": "1"}, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/readyz", proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/cards/keys", timeout=10):
            pass
        # While the database is open, SQLite keeps its -wal and -shm files beside it.
        _assert_private(data_dir, {DB, f"{DB}-wal", f"{DB}-shm", "keys.json", "qr_keys.json"})
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack, then it dies
            out, _ = proc.communicate(timeout=30)
            raise AssertionError(f"the service did not stop within 30 s of SIGTERM:\n{out[-6000:]}") from None
    assert proc.returncode == 0, out
    _assert_private(data_dir, {DB, "keys.json", "qr_keys.json"})


def test_an_existing_loose_data_dir_is_tightened(tmp_path):
    data_dir = tmp_path / "var"
    _run(data_dir, "migrate")
    # As an installation from before left it: readable by everyone.
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / DB, 0o644)
    done = _run(data_dir, "migrate")
    _assert_private(data_dir, {DB})
    assert "0700" in done.stderr and str(data_dir) in done.stderr  # a log line says what was tightened
