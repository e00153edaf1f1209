"""Masking of personal data for public pages and non-privileged responses.

Every function takes ``str | None`` and returns ``str``: ``None``, an empty or
all-whitespace value give ``""`` (so a caller can always render the result;
"" means "nothing to show"). Surrounding whitespace is ignored. Values too
short to keep a meaningful part hidden are masked entirely.

- ``mask_name("张三明")`` -> ``"张*明"``; ``"张三"`` -> ``"张*"``; ``"欧阳小明"`` -> ``"欧**明"``;
  ``"买买提·艾力"`` -> ``"买****力"`` (the middle dot is masked too); one character -> ``"*"``.
- ``mask_id_number`` -> first 4 and last 4 kept, one star per hidden character
  (``"1101**********1234"``); fewer than 15 characters -> all stars.
- ``mask_phone`` -> first 3 and last 4 kept (``"138****5678"``) when at least 11
  characters; shorter -> all stars.
- ``mask_bank_account`` -> ``"****"`` + last 4 (``"****1234"``), spaces inside
  ignored; the number of stars is fixed so the length is not revealed;
  fewer than 8 characters -> ``"****"``.
"""
from __future__ import annotations

__all__ = ["mask_bank_account", "mask_id_number", "mask_name", "mask_phone"]


def _clean(value: str | None) -> str:
    return value.strip() if value else ""


def _keep_ends(value: str, head: int, tail: int) -> str:
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def mask_name(name: str | None) -> str:
    """Keep the first character (and the last for 3+ characters); star the rest."""
    value = _clean(name)
    n = len(value)
    if n == 0:
        return ""
    if n == 1:
        return "*"
    if n == 2:
        return value[0] + "*"
    return _keep_ends(value, 1, 1)


def mask_id_number(value: str | None) -> str:
    """Keep the first 4 and last 4 characters of an ID number."""
    v = _clean(value)
    if len(v) < 15:
        return "*" * len(v)
    return _keep_ends(v, 4, 4)


def mask_phone(value: str | None) -> str:
    """Keep the first 3 and last 4 characters of a phone number."""
    v = _clean(value)
    if len(v) < 11:
        return "*" * len(v)
    return _keep_ends(v, 3, 4)


def mask_bank_account(value: str | None) -> str:
    """Show only the last 4 characters of a bank account: ``"****1234"``."""
    v = "".join(_clean(value).split())
    if not v:
        return ""
    if len(v) < 8:
        return "****"
    return "****" + v[-4:]
