"""The docstring rule ([tool.ruff.lint] in pyproject.toml), run by the suite so an undocumented
public class, function or method of server/, handlers/ or models/ fails a test."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).with_name("ruff")
COMMAND = ["check", "--no-cache", "--output-format", "concise",
           "--select", "D101,D102,D103", "models", "handlers", "server"]


def test_public_code_has_docstrings() -> None:
    if not RUFF.exists():
        pytest.fail(f"{RUFF} is missing: install the test extra (ruff)")
    done = subprocess.run([str(RUFF), *COMMAND], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (
        f"ruff {' '.join(COMMAND)} (exit {done.returncode}): give each one a one-line docstring "
        f"saying what it does\n{done.stdout}{done.stderr}"
    )
