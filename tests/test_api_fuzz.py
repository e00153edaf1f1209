"""A bounded property-based fuzz run of the whole API against its own OpenAPI document.

Schemathesis reads the live document and sends generated requests (valid and invalid) as each
audience: a worker, a cashier and staff, and no one. The run fails on any 5xx, any answer that
does not match its documented schema or content type, and any status the operation does not
document. The seed is fixed and the number of examples and the time are bounded, so the run is
repeatable and stays a small part of the suite; ``UNIONAID_FUZZ_SCALE`` asks for a longer run.
"""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.handlers.test_hostile_http import audiences

SEED = 20261201
#: Examples per operation in the examples phase; the coverage phase is deterministic and bounded
#: by the schema, and the fuzzing phase runs for what is left of each audience's time.
EXAMPLES = int(os.environ.get("UNIONAID_FUZZ_EXAMPLES", "4"))
#: Seconds for each audience; ``UNIONAID_FUZZ_SCALE=10`` fuzzes ten times as long.
SCALE = float(os.environ.get("UNIONAID_FUZZ_SCALE", "1"))
#: Each audience fuzzes the operations meant for it (staff and no one: everything, to find what
#: leaks across audiences), for a number of seconds.
PLAN: dict[str, tuple[list[str], int]] = {
    "none": ([], 20),
    "worker": (["--include-path-regex", "^/api/v1/(me|auth|cards)"], 20),
    "cashier": (["--include-path-regex", "^/api/v1/(merchant|cards)"], 20),
    "staff": ([], 45),
}
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
#: Operations that would end the run's own session.
EXCLUDED = ["/api/v1/auth/logout"]


async def _schemathesis(url: str, token: str | None, audience: str, report: Path) -> tuple[int, str]:
    exe = Path(sys.executable).with_name("st")
    include, seconds = PLAN[audience]
    args = [str(exe), "run", f"{url}/api/v1/openapi.json", "--checks", CHECKS, "--max-examples", str(EXAMPLES),
            "--seed", str(SEED), "--workers", "1", "--request-timeout", "20", "--max-time", str(int(seconds * SCALE)),
            "--no-color", "--phases", "examples,coverage,fuzzing", *include,
            "--suppress-health-check", "all", "--report", "junit", "--report-junit-path", str(report)]
    for path in EXCLUDED:
        args += ["--exclude-path", path]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, cwd=str(report.parent))
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode("utf-8", "replace")


@pytest.mark.parametrize("audience", list(PLAN))
async def test_the_api_answers_every_generated_request_as_documented(api: Any, engine: Any, running: Any,
                                                                      tmp_path: Path, audience: str) -> None:
    who = await audiences(api, engine, running)
    token = dict(who.all())[audience]
    code, output = await _schemathesis(running.url, token, audience, tmp_path / "fuzz.xml")
    tail = "\n".join(output.splitlines()[-80:])
    assert code == 0, f"schemathesis found failures as {audience}:\n{tail}"
    assert "passed" in output or "Test cases" in output, tail
