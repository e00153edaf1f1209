"""Several serving processes on one port: Tornado's pre-fork model, with a stop that reaches every child.

The parent binds the listening sockets (``tornado.netutil.bind_sockets``) and forks; each child
builds its own event loop, engine and app on the inherited sockets, and the kernel hands each new
connection to one of them. This follows ``tornado.process.fork_processes`` (fork N children with
task ids 0..N-1, wait, restart a child that died abnormally with the same id, up to
``max_restarts`` times) and adds what a service needs from its parent:

- ``SIGTERM`` or ``SIGINT`` to the parent is sent on (as ``SIGTERM``) to every child, each of which
  stops gracefully; nothing is restarted any more, and the parent returns 0 once every child
  exited with 0 (1 otherwise). ``fork_processes`` keeps its children's pids to itself, and its
  parent dies of the first ``SIGTERM``, leaving its children behind.
- A child starts with ``SIGTERM`` and ``SIGINT`` blocked: one that comes before its loop can handle
  it stays pending instead of killing the child half-built; the child unblocks them (``unblock``)
  once its handlers are in place.
- A child that died is restarted after ``RESTART_DELAY``: a child that cannot start (the database
  down) does not spin through its restarts in a second.
- A child whose parent dies (killed with ``SIGKILL``, out of memory) gets ``SIGTERM`` from the kernel
  (Linux's parent-death signal) and stops gracefully: without it the children went on serving,
  holding the port and their job leases, with no one to stop or restart them.
- ``SIGHUP`` (a closed terminal, a ``reload`` that sends it) is logged and ignored by the parent and
  every child: by default it killed them at once, cutting the requests in flight.
- A child that exits with ``EXIT_CONFIG`` (a configuration error: no restart mends it) is not
  restarted; the others are stopped and the parent returns ``EXIT_CONFIG``. When the restarts run
  out the others are stopped too and the parent returns 1.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import sys
import time
import traceback
from typing import Any, Callable

log = logging.getLogger("unionaid.workers")

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
#: Seconds before a dead child's replacement is forked.
RESTART_DELAY = 1.0
MAX_RESTARTS = 100
#: A child's exit status that means "do not restart me": the configuration is wrong.
EXIT_CONFIG = 2


#: What a serving process says of a SIGHUP: it goes on serving (a hangup killed it with no drain before).
HANGUP = "SIGHUP ignored: nothing is reloaded while serving; restart the service (SIGTERM, then start it) to apply a change"


def _hangup(*_: object) -> None:
    log.warning(HANGUP)


def unblock() -> None:
    """Let the stop signals through again (a child calls it once its loop handles them)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class Supervisor:
    """The parent: forks the children, waits for them, restarts the ones that die, sends the stop on."""

    def __init__(self, count: int, child: Callable[[int], int], *, max_restarts: int = MAX_RESTARTS,
                 restart_delay: float = RESTART_DELAY, sockets: list[socket.socket] | None = None) -> None:
        if count < 1:
            raise ValueError("at least one worker")
        self.count = count
        self.child = child
        self.max_restarts = max_restarts
        self.restart_delay = restart_delay
        self.sockets = sockets or []  # the parent's copies, kept for restarted children until the stop
        self.children: dict[int, int] = {}  # pid -> task id
        self.stopping = False
        self.failed = False
        self.status = 0
        self.restarts = 0

    def run(self) -> int:
        """Fork the children and supervise them until all have exited; the parent's exit status."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, _hangup)
        try:
            for task in range(self.count):
                self._fork(task)
            while self.children:
                try:
                    pid, status = os.wait()
                except ChildProcessError:
                    break
                task_id = self.children.pop(pid, None)
                if task_id is not None:
                    self._reap(task_id, pid, status)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.status or (1 if self.failed else 0)

    def _reap(self, task: int, pid: int, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            log.info("worker %d (pid %d) exited", task, pid)
            return
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if self.stopping:
            log.warning("worker %d (pid %d) %s while stopping", task, pid, how)
            self.failed = True
            return
        if code == EXIT_CONFIG:
            log.error("worker %d (pid %d) found the configuration wrong: stopping every worker", task, pid)
            self.status = EXIT_CONFIG
            self._stop_all()
            return
        self.restarts += 1
        if self.restarts > self.max_restarts:
            log.error("worker %d (pid %d) %s; %d restarts already: stopping every worker", task, pid, how,
                      self.max_restarts)
            self.failed = True
            self._stop_all()
            return
        log.warning("worker %d (pid %d) %s: restarting it", task, pid, how)
        time.sleep(self.restart_delay)
        if not self.stopping:  # a stop may have come during the delay
            self._fork(task)

    def _fork(self, task: int) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        parent = os.getpid()
        try:
            pid = os.fork()
        except BaseException:
            unblock()
            raise
        if pid == 0:
            _stop_with_parent(parent)
            self._be_child(task)  # never returns
        self.children[pid] = task
        unblock()
        log.info("worker %d started (pid %d)", task, pid)

    def _be_child(self, task: int) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)  # still blocked; the child's loop installs its own handlers
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a serving child logs it from its loop (scripts/cli.py)
        code = 1
        try:
            code = int(self.child(task) or 0)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - the child's last word; the parent restarts it
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if not self.stopping:
            log.info("stopping %d workers (signal %d)", len(self.children), signum)
        self.stopping = True
        self._stop_all()

    def _stop_all(self) -> None:
        self.stopping = True
        # Once the workers close theirs the port is closed too: new connections are refused, not left waiting.
        for sock in self.sockets:
            sock.close()
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


_PR_SET_PDEATHSIG = 1


def _stop_with_parent(parent: int) -> None:
    """Ask the kernel for ``SIGTERM`` when the parent dies (Linux; elsewhere nothing); the signal is blocked
    until the child's loop handles it. A parent already gone before the request was made is caught too."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def run_workers(count: int, child: Callable[[int], int], *, max_restarts: int = MAX_RESTARTS,
                restart_delay: float = RESTART_DELAY, sockets: list[socket.socket] | None = None) -> int:
    """Run ``child(task_id)`` in ``count`` forked processes until stopped; the parent's exit status.

    ``sockets``, the listening sockets the children serve, are closed in the parent when the stop begins.
    """
    return Supervisor(count, child, max_restarts=max_restarts, restart_delay=restart_delay, sockets=sockets).run()
