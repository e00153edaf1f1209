"""The means test: one pure function for the self-test and the register."""
from __future__ import annotations

import pytest

from models.members import hardship, means
from models.members.means import Assessment, assess

DEEP, RELATIVE = 80_000, 160_000
LINES = {"deep_line": DEEP, "relative_line": RELATIVE}


def test_boundaries_at_the_lines() -> None:
    assert assess(1, DEEP, 0, **LINES) == Assessment(DEEP, "deep")
    assert assess(1, DEEP + 1, 0, **LINES) == Assessment(DEEP + 1, "relative")
    assert assess(1, RELATIVE, 0, **LINES) == Assessment(RELATIVE, "relative")
    assert assess(1, RELATIVE + 1, 0, **LINES) == Assessment(RELATIVE + 1, None)


def test_rigid_expenses_come_off_before_dividing_and_the_result_rounds_down() -> None:
    # 400_000 / 3 = 133_333.33… and 399_998 / 3 = 133_332.66…: both rounded down.
    assert assess(3, 500_000, 100_000, **LINES) == Assessment(133_333, "relative")
    assert assess(3, 500_000, 100_002, **LINES) == Assessment(133_332, "relative")
    assert assess(3, 340_002, 100_000, **LINES) == Assessment(80_000, "deep")
    assert assess(3, 340_003, 100_000, **LINES) == Assessment(80_001, "relative")
    assert assess(4, 3, 0, **LINES).per_capita == 0


def test_household_of_one_and_of_twenty() -> None:
    assert assess(1, 90_000, 10_000, **LINES) == Assessment(80_000, "deep")
    assert assess(20, 20 * RELATIVE + 19, 0, **LINES) == Assessment(RELATIVE, "relative")
    with pytest.raises(ValueError):
        assess(0, 1, 0, **LINES)


def test_accident_when_rigid_expenses_exceed_80_percent_of_income() -> None:
    # Income 2_000_000, household of 1: 80 % is 1_600_000; the rest stays above the relative line.
    assert assess(1, 2_000_000, 1_600_000, **LINES) == Assessment(400_000, None)
    assert assess(1, 2_000_000, 1_600_001, **LINES) == Assessment(399_999, "accident")
    # Exact with no float: 5 × expenses > 4 × income.
    assert means.accident(5, 4) is False and means.accident(5, 5) is True
    assert means.accident(0, 0) is False


def test_the_lines_take_precedence_over_accident() -> None:
    # Expenses 90 % of income, and the rest under the deep line: deep, not accident.
    assert assess(2, 1_000_000, 900_000, **LINES) == Assessment(50_000, "deep")
    assert assess(1, 1_000_000, 850_000, **LINES) == Assessment(150_000, "relative")


def test_expenses_above_income_floor_at_zero_and_are_deep() -> None:
    assert assess(3, 100_000, 250_000, **LINES) == Assessment(0, "deep")
    assert assess(1, 0, 0, **LINES) == Assessment(0, "deep")
    with pytest.raises(ValueError):
        assess(1, -1, 0, **LINES)


def test_the_register_uses_the_same_rule() -> None:
    assert hardship.per_capita(100_001, 3) == means.disposable_per_capita(3, 100_001) == 33_333
    for pci in (0, DEEP, DEEP + 1, RELATIVE, RELATIVE + 1):
        got = assess(1, pci, 0, **LINES).category
        assert hardship.propose(pci, ["illness"], **LINES) == (got or hardship.ABOVE_LINE)
