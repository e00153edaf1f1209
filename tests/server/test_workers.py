"""The supervisor of `serve --workers N`: the stop reaches every worker, a dead worker is restarted with its
number, a configuration error stops them all. Run as a real parent process with plain children."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import os, signal, sys, time
from server.workers import EXIT_CONFIG, run_workers, unblock

mode = sys.argv[1]

def child(task):
    if mode == "config" and task == 1:
        return EXIT_CONFIG
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    unblock()
    os.write(1, f"ready {task} {os.getpid()}\n".encode())
    while not stop:
        time.sleep(0.02)
    os.write(1, f"stopped {task} {os.getpid()}\n".encode())
    return 0

sys.exit(run_workers(2, child, restart_delay=0))
"""


class Parent:
    def __init__(self, mode: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def wait_for(self, check, what: str) -> None:
        deadline = time.monotonic() + 60
        while not check(self.lines):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"never saw {what}: {self.lines} {self.proc.poll()}")
            time.sleep(0.02)

    def ready(self) -> dict[int, int]:
        """The last pid each worker number announced."""
        out: dict[int, int] = {}
        for line in self.lines:
            word, task, pid = line.split()
            if word == "ready":
                out[int(task)] = int(pid)
        return out

    def finish(self) -> tuple[int, str]:
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()  # to its end: every process holding it has exited
        self.proc.wait(timeout=60)
        self.reader.join(timeout=60)
        return self.proc.returncode, err


def test_the_stop_reaches_every_worker_and_the_parent_exits_0():
    parent = Parent("serve")
    parent.wait_for(lambda lines: len(parent.ready()) == 2, "two workers")
    pids = set(parent.ready().values())
    parent.proc.send_signal(signal.SIGTERM)
    code, err = parent.finish()
    assert code == 0, err
    assert {int(line.split()[2]) for line in parent.lines if line.startswith("stopped")} == pids


def test_a_hangup_stops_no_one():
    parent = Parent("serve")
    parent.wait_for(lambda lines: len(parent.ready()) == 2, "two workers")
    pids = set(parent.ready().values())
    parent.proc.send_signal(signal.SIGHUP)  # to the parent, then to a child: each ignores it
    os.kill(min(pids), signal.SIGHUP)
    time.sleep(0.5)  # not an assertion: a process the hangup killed would be gone by now
    assert parent.proc.poll() is None and not any(line.startswith("stopped") for line in parent.lines)
    assert set(parent.ready().values()) == pids  # none died, none restarted
    parent.proc.send_signal(signal.SIGTERM)
    code, err = parent.finish()
    assert code == 0, err
    assert err.count("SIGHUP ignored") == 1 and "restarting" not in err


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_worker_that_dies_is_restarted_with_its_number(stop):
    parent = Parent("serve")
    parent.wait_for(lambda lines: len(parent.ready()) == 2, "two workers")
    first = parent.ready()
    os.kill(first[0], signal.SIGKILL)
    parent.wait_for(lambda lines: parent.ready().get(0) not in (None, first[0]), "worker 0 restarted")
    assert parent.ready()[1] == first[1]  # the other one was left alone
    parent.proc.send_signal(stop)
    code, err = parent.finish()
    assert code == 0, err
    assert "worker 0 (pid %d) killed by signal 9: restarting it" % first[0] in err


def test_a_configuration_error_in_a_worker_stops_them_all():
    parent = Parent("config")
    code, err = parent.finish()
    assert code == 2, err
    assert "found the configuration wrong" in err
    assert [line.split()[0] for line in parent.lines] == ["ready", "stopped"]  # worker 0, stopped by the parent


def test_the_workers_stop_when_the_parent_is_killed():
    """SIGKILL leaves the parent no chance to stop its workers: the kernel's parent-death signal does."""
    parent = Parent("serve")
    parent.wait_for(lambda lines: len(parent.ready()) == 2, "two workers")
    pids = set(parent.ready().values())
    parent.proc.kill()
    parent.proc.wait(timeout=60)
    try:
        _all_stopped(parent, pids)
    finally:
        for pid in pids:  # whatever outlived its parent: no test leaves a process behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _all_stopped(parent: Parent, pids: set[int]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not {int(line.split()[2]) for line in parent.lines
                                                if line.startswith("stopped")} >= pids:
        time.sleep(0.02)
    assert {int(line.split()[2]) for line in parent.lines if line.startswith("stopped")} == pids  # gracefully
    for pid in pids:
        for _ in range(500):
            if not _alive(pid):
                break
            time.sleep(0.02)
        else:
            raise AssertionError(f"worker {pid} outlived its parent")


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for whoever adopted it to reap it has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
