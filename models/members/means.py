"""The means test (困难自测 and the register's proposal): one pure function, no I/O.

Per-capita monthly disposable income = (household income − rigid expenses such as medical care and
schooling) // household size, in fen, rounded down. The categories follow the ACFTU practice
(docs/domain.md): deep hardship at or below the local minimum-living line (the unit's deep line),
relative hardship at or below the relative line (twice it), accident hardship (意外致困) when rigid
expenses exceed 80 % of income.

Precedence: deep, then relative, then accident. A household under a line is in that category
whatever its expenses (the register's proposal always ranked the lines first, and deep hardship
carries the strongest help); accident hardship catches the household the lines miss, whose rigid
expenses eat its income although its figure stays above them.

Rigid expenses above income give a negative disposable income: the figure is floored at 0 (a
household cannot live on less than nothing, and a stored or shown figure never goes negative);
such a household is under every line, so deep.
"""
from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("deep", "relative", "accident")
#: Accident hardship: rigid expenses above this share of income (a fraction, compared exactly in integers).
ACCIDENT_SHARE = (4, 5)
MAX_HOUSEHOLD = 20


@dataclass(frozen=True)
class Assessment:
    """The result: per-capita monthly disposable income in fen, and the category (None: above every test)."""

    per_capita: int
    category: str | None


def disposable_per_capita(household_size: int, monthly_income: int, monthly_rigid_expense: int = 0) -> int:
    """(income − rigid expenses) // household size in fen, rounded down, never below 0."""
    if household_size < 1:
        raise ValueError("household_size must be at least 1")
    return max(monthly_income - monthly_rigid_expense, 0) // household_size


def accident(monthly_income: int, monthly_rigid_expense: int) -> bool:
    """Whether rigid expenses exceed 80 % of income (exactly: 5 × expenses > 4 × income)."""
    num, den = ACCIDENT_SHARE
    return monthly_rigid_expense * den > monthly_income * num


def assess(household_size: int, monthly_income: int, monthly_rigid_expense: int, *,
           deep_line: int, relative_line: int) -> Assessment:
    """The self-test's and the register's one rule: the per-capita figure and the category it points to."""
    if monthly_income < 0 or monthly_rigid_expense < 0:
        raise ValueError("amounts must not be negative")
    pci = disposable_per_capita(household_size, monthly_income, monthly_rigid_expense)
    if pci <= deep_line:
        return Assessment(pci, "deep")
    if pci <= relative_line:
        return Assessment(pci, "relative")
    if accident(monthly_income, monthly_rigid_expense):
        return Assessment(pci, "accident")
    return Assessment(pci, None)
