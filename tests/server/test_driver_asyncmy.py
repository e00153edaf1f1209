"""The service on asyncmy (``mysql+asyncmy://``, the fast extra's MySQL driver): the counter's guarantees hold there too.

The suite runs on aiomysql, the default. asyncmy speaks the same protocol with its parsing compiled, and a
deployment may choose it (docs/operations.md); so the MySQL tests of what the counter promises (round trips,
the programme cache across processes, the scan's one claim, quotas under concurrent redemptions,
idempotency, the caller's query, settlement, audit) run again on it here, in a pytest of their own.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.conftest import MYSQL_URL

ROOT = Path(__file__).resolve().parents[2]
COUNTER_TESTS = [
    "tests/perf", "tests/models/counter", "tests/models/core", "tests/handlers/test_idempotency.py",
    "tests/handlers/test_caller_query.py", "tests/handlers/test_merchant_scan.py",
    "tests/handlers/test_redemptions.py", "tests/handlers/test_merchant_quotes.py",
]


def test_the_counters_mysql_tests_pass_on_asyncmy(backend: str) -> None:
    if backend != "mysql":
        return  # one run is enough: it starts its own pytest against MySQL
    import asyncmy  # noqa: F401  (the test extra installs it: a missing driver fails here, it does not skip)

    url = make_url(MYSQL_URL).set(drivername="mysql+asyncmy").render_as_string(hide_password=False)
    env = {**os.environ, "UNIONAID_TEST_MYSQL_URL": url}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "-k", "mysql", *COUNTER_TESTS],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    tail = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    counts = dict((kind, int(n)) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", done.stdout))
    assert counts.get("passed", 0) >= 100, tail  # the selection found the MySQL tests (111 when written)
    assert "failed" not in counts and "error" not in counts, tail
