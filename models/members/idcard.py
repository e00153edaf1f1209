"""Chinese resident identity numbers (公民身份号码, GB 11643-1999).

An 18-character number is: 6-digit region code (行政区划代码), 8-digit birth
date (YYYYMMDD), 3-digit sequence (odd = male, even = female) and one ISO 7064
MOD 11-2 check character (0-9 or X). The legacy 15-digit form (before 1999)
has a 2-digit year and no check character; it is converted to 18.

Pure code: no I/O. Errors are :class:`models.errors.Invalid` with stable codes:

- ``id_number_format``     not 18 (or 15) characters, or characters that cannot appear
- ``id_number_checksum``   the check character does not match the first 17 digits
- ``id_number_birth_date`` not a real date, before 1900-01-01 or after today
- ``id_number_region``     the first two digits are not a province-level code
- ``id_number_legacy``     a 15-digit number whose birth date is not a real date

Checks run in that order (format, checksum, birth date, region) so that a
mistyped digit is reported as a checksum error, the most useful hint.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from operator import mul
from typing import Literal

from models.core.clock import local_today
from models.core.errors import Invalid

__all__ = [
    "IdNumber",
    "PROVINCE_CODES",
    "age_on",
    "check_digit",
    "parse_id_number",
]

# ISO 7064 MOD 11-2: weight of position i (from the left, 0-based) is 2**(17-i) mod 11.
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"
# Summing over the ASCII codes is much faster than int() per character; subtract
# the weight of the "0" offset afterwards.
_ZERO_OFFSET = ord("0") * sum(_WEIGHTS)

# Province-level codes (first two digits). 71 is Taiwan in the code table; 81/82/83
# are the residence permits of Hong Kong, Macao and Taiwan residents (83 is accepted
# leniently: older tables lack it); 91 is accepted as listed in the requirements.
PROVINCE_CODES: frozenset[str] = frozenset(
    {f"{n}" for n in range(11, 16)}
    | {f"{n}" for n in range(21, 24)}
    | {f"{n}" for n in range(31, 38)}
    | {f"{n}" for n in range(41, 47)}
    | {f"{n}" for n in range(50, 55)}
    | {f"{n}" for n in range(61, 66)}
    | {"71", "81", "82", "83", "91"}
)

_EARLIEST_BIRTH = date(1900, 1, 1)

# re.ASCII: \d must not match other scripts' digits (e.g. Arabic-Indic), which NFKC keeps.
_RE18 = re.compile(r"\d{17}[\dX]", re.ASCII)
_RE15 = re.compile(r"\d{15}", re.ASCII)
_RE17 = re.compile(r"\d{17}", re.ASCII)

Gender = Literal["male", "female"]


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid 18-character ID number and the facts it encodes."""

    value: str
    birth_date: date
    gender: Gender
    region_code: str

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        # Never put a full ID number into logs or tracebacks by accident.
        from models.core.masking import mask_id_number

        return (
            f"IdNumber(value={mask_id_number(self.value)!r}, birth_date=<hidden>, "
            f"gender=<hidden>, region_code={self.region_code[:2]!r}...)"
        )


def check_digit(first17: str) -> str:
    """Return the GB 11643 check character ("0"-"9" or "X") for 17 ASCII digits."""
    if not isinstance(first17, str) or not _RE17.fullmatch(first17):
        raise ValueError("check_digit needs exactly 17 ASCII digits")
    return _check_char(first17)


def _check_char(first17: str) -> str:
    """check_digit without the input check (the caller has matched the pattern)."""
    total = sum(map(mul, first17.encode("ascii"), _WEIGHTS)) - _ZERO_OFFSET
    return _CHECK_CHARS[total % 11]


def age_on(birth: date, on: date) -> int:
    """Whole years of age on date ``on`` (周岁).

    Someone born on 29 February becomes a year older on 1 March in common years.
    Raises ValueError when ``on`` is before ``birth``.
    """
    if on < birth:
        raise ValueError("date is before the birth date")
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def _format_error() -> Invalid:
    return Invalid(
        "id_number_format",
        "身份证号格式不正确：应为18位（最后一位可以是X），或15位数字的旧号码",
    )


def _parse_birth(text: str) -> date | None:
    """YYYYMMDD to a date, or None when it is not a real calendar date."""
    try:
        return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_id_number(raw: str, *, today: date | None = None) -> IdNumber:
    """Validate and normalise an ID number (18 or legacy 15 digits).

    Surrounding whitespace is stripped; full-width digits and a lowercase or
    full-width X are accepted (NFKC). ``today`` (default: today in China) bounds
    the birth date. Raises :class:`Invalid` with one of the module's codes.
    """
    if not isinstance(raw, str):
        raise _format_error()
    text = unicodedata.normalize("NFKC", raw).strip().upper()
    today = today or local_today()

    if len(text) == 15 and _RE15.fullmatch(text):
        birth = _parse_birth("19" + text[6:12])
        if birth is None:
            raise Invalid(
                "id_number_legacy",
                "15位旧身份证号中的出生日期不正确，无法转换为18位号码，请核对或改填18位号码",
            )
        first17 = text[:6] + "19" + text[6:]
        text = first17 + _check_char(first17)
    elif not (len(text) == 18 and _RE18.fullmatch(text)):
        raise _format_error()
    elif _check_char(text[:17]) != text[17]:
        raise Invalid("id_number_checksum", "身份证号校验位不正确，请核对是否有数字输错")

    birth = _parse_birth(text[6:14])
    if birth is None:
        raise Invalid("id_number_birth_date", "身份证号中的出生日期不是有效日期")
    if birth < _EARLIEST_BIRTH:
        raise Invalid("id_number_birth_date", "身份证号中的出生日期早于1900年，请核对")
    if birth > today:
        raise Invalid("id_number_birth_date", "身份证号中的出生日期晚于今天，请核对")

    if text[:2] not in PROVINCE_CODES:
        raise Invalid("id_number_region", "身份证号前两位不是有效的省级行政区划代码，请核对")

    gender: Gender = "male" if int(text[16]) % 2 == 1 else "female"
    return IdNumber(value=text, birth_date=birth, gender=gender, region_code=text[:6])
