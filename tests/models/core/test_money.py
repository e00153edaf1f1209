"""The one money formatter: integer fen written as yuan, exactly, with the sign where it belongs."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from models.core.money import yuan, yuan_decimal


def test_negative_amounts_keep_their_sign() -> None:
    assert yuan(-5) == "-0.05"
    assert yuan(-100) == "-1.00"
    assert yuan(-1234) == "-12.34"
    assert yuan_decimal(-5) == Decimal("-0.05")


def test_small_and_large_amounts() -> None:
    assert [yuan(v) for v in (0, 5, 99, 100, 10_000, 123456789012345678)] == [
        "0.00", "0.05", "0.99", "1.00", "100.00", "1234567890123456.78"]


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_yuan_reads_back_as_the_same_fen(fen: int) -> None:
    assert Decimal(yuan(fen)) * 100 == fen
    assert yuan_decimal(fen) * 100 == fen
    if fen > 0:
        assert yuan(-fen) == "-" + yuan(fen)
