"""Money is integer fen everywhere; this is the one place that writes fen as yuan for people."""
from __future__ import annotations

from decimal import Decimal

_FEN_PER_YUAN = 100


def yuan(fen: int) -> str:
    """Signed fen as yuan with two decimals, exactly (no float): 10000 -> "100.00", -5 -> "-0.05"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), _FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"


def yuan_decimal(fen: int) -> Decimal:
    """Fen as an exact Decimal number of yuan (for spreadsheet cells): -5 -> Decimal("-0.05")."""
    return Decimal(fen) / _FEN_PER_YUAN
