"""mypy --strict over server/, handlers/ and models/ (pyproject's [tool.mypy]), run by the suite so CI keeps it clean."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MYPY = Path(sys.executable).with_name("mypy")


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    assert MYPY.exists(), f"{MYPY} is missing: install the test extra"
    # A cache of its own: workers of the suite may run this at the same time as a developer's mypy.
    done = subprocess.run([str(MYPY), "--cache-dir", str(tmp_path / "cache")], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout, done.stdout
