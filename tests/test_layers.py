"""The layering contracts of .importlinter, run by the suite so a new import that breaks one fails a test."""
from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# Contracts still broken while issue 11 is under way; each marker must go (strict) once its
# contract is kept, so a fixed contract cannot silently stop being checked.
STILL_BROKEN: dict[str, str] = {}


def _contracts() -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG, encoding="utf-8")
    prefix = "importlinter:contract:"
    return {section[len(prefix):]: parser[section]["name"] for section in parser.sections()
            if section.startswith(prefix)}


CONTRACTS = _contracts()


@pytest.fixture(scope="module")
def report() -> dict[str, str]:
    """Contract name -> KEPT or BROKEN, from one run of lint-imports over this checkout."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the test extra (import-linter)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(LINT_IMPORTS), str(CONFIG), "--no-cache"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    found = dict(re.findall(r"^(.+?) (KEPT|BROKEN)(?: \(\d+ ignored imports?\))?$", done.stdout, flags=re.MULTILINE))
    assert found, done.stdout + done.stderr
    return {name: found.get(name, "MISSING") for name in CONTRACTS.values()}


def test_every_contract_is_checked() -> None:
    assert {"domain-layers", "models-no-server", "infrastructure-no-domains", "handlers-no-tables"} <= set(CONTRACTS)


@pytest.mark.parametrize("contract", [
    pytest.param(key, marks=pytest.mark.xfail(reason=STILL_BROKEN[key], strict=True)) if key in STILL_BROKEN
    else key
    for key in CONTRACTS
])
def test_contract_is_kept(report: dict[str, str], contract: str) -> None:
    assert report[CONTRACTS[contract]] == "KEPT", f"run lint-imports: {CONTRACTS[contract]}"
