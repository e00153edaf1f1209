"""Resident ID numbers: check digit, parsing, legacy conversion, age."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.core.errors import Invalid
from models.members.idcard import (
    PROVINCE_CODES,
    IdNumber,
    age_on,
    check_digit,
    parse_id_number,
)

TODAY = date(2025, 6, 1)
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def make_id(region: str = "110101", birth: str = "19800101", seq: str = "123") -> str:
    first17 = region + birth + seq
    return first17 + check_digit(first17)


def code_of(raw: object, today: date = TODAY) -> str:
    with pytest.raises(Invalid) as info:
        parse_id_number(raw, today=today)  # type: ignore[arg-type]
    assert info.value.message  # a Chinese message for the person
    return info.value.code


# ---------------------------------------------------------------- check digit


def test_check_digit_matches_the_standard_example() -> None:
    # GB 11643-1999's worked example.
    assert check_digit("11010519491231002") == "X"
    assert check_digit("44052418800101001") == "4"


@pytest.mark.parametrize("bad", ["", "1234", "1101011980010112", "110101198001011234", "1101011980010112a", "１１０１０１１９８００１０１１２３"])
def test_check_digit_refuses_anything_but_17_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        check_digit(bad)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_digit_satisfies_iso_7064_mod_11_2(first17: str) -> None:
    # The defining property: sum(a_i * 2^(18-i)) over all 18 characters == 1 (mod 11), X = 10.
    c = check_digit(first17)
    assert c in "0123456789X"
    value = 10 if c == "X" else int(c)
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS)) + value
    assert total % 11 == 1


# ---------------------------------------------------------------- parsing


def test_parse_valid_number() -> None:
    raw = make_id("110101", "19800101", "123")
    parsed = parse_id_number(raw, today=TODAY)
    assert parsed == IdNumber(value=raw, birth_date=date(1980, 1, 1), gender="male", region_code="110101")
    assert parse_id_number(make_id(seq="124"), today=TODAY).gender == "female"
    assert str(parsed) == raw


def test_parse_x_check_character_and_its_spellings() -> None:
    assert parse_id_number("11010519491231002X", today=TODAY).gender == "female"
    assert parse_id_number("11010519491231002x", today=TODAY).value == "11010519491231002X"
    assert parse_id_number("11010519491231002Ｘ", today=TODAY).value == "11010519491231002X"
    assert parse_id_number("11010519491231002ｘ", today=TODAY).value == "11010519491231002X"


def test_parse_full_width_digits_and_surrounding_whitespace() -> None:
    raw = make_id()
    full_width = raw.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert parse_id_number(full_width, today=TODAY).value == raw
    assert parse_id_number(f" \t{raw}\u3000\n", today=TODAY).value == raw


def test_repr_does_not_leak_the_number() -> None:
    raw = make_id()
    text = repr(parse_id_number(raw, today=TODAY))
    assert raw not in text and raw[6:14] not in text
    assert "1101**********" in text


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "1101011980010112",  # 16
        "11010119800101123",  # 17
        "1101011980010112345",  # 19
        "11010119800101123A",
        "X10101198001011232",  # X only at the end
        "1101011980 0101123",
        "11010119800101-1232",
        "١١٠١٠١١٩٨٠٠١٠١١٢٣٢",  # Arabic-Indic digits: isdigit() but not ours
        "11010180010112X",  # 15-digit form has no check character
    ],
)
def test_format_errors(raw: str) -> None:
    assert code_of(raw) == "id_number_format"


@pytest.mark.parametrize("raw", [None, 110101198001011232])
def test_non_strings_are_format_errors(raw: object) -> None:
    assert code_of(raw) == "id_number_format"


def test_every_wrong_check_character_is_refused() -> None:
    raw = make_id()
    for c in "0123456789X":
        if c != raw[-1]:
            assert code_of(raw[:17] + c) == "id_number_checksum"


def test_checksum_is_reported_before_date_and_region() -> None:
    bad_everything = "99010119801301123"
    wrong = "0" if check_digit(bad_everything) != "0" else "1"
    assert code_of(bad_everything + wrong) == "id_number_checksum"


@pytest.mark.parametrize(
    "birth",
    ["19810229", "19000229", "21000229", "19801301", "19800001", "19800100", "19800132", "19800431"],
)
def test_impossible_birth_dates(birth: str) -> None:
    assert code_of(make_id(birth=birth)) == "id_number_birth_date"


@pytest.mark.parametrize("birth", ["19800229", "20000229", "19000101", "19991231"])
def test_real_birth_dates_including_leap_days(birth: str) -> None:
    assert parse_id_number(make_id(birth=birth), today=TODAY).birth_date.strftime("%Y%m%d") == birth


def test_birth_date_before_1900_is_refused() -> None:
    assert code_of(make_id(birth="18991231")) == "id_number_birth_date"


def test_future_birth_date_relative_to_today() -> None:
    assert parse_id_number(make_id(birth="20250601"), today=TODAY).birth_date == TODAY
    assert code_of(make_id(birth="20250602")) == "id_number_birth_date"
    assert code_of(make_id(birth="20300101")) == "id_number_birth_date"
    # Without `today`, "today" is the current date in China.
    with pytest.raises(Invalid) as info:
        parse_id_number(make_id(birth="29991231"))
    assert info.value.code == "id_number_birth_date"


@pytest.mark.parametrize("province", ["00", "10", "16", "20", "24", "30", "38", "40", "47", "49", "55", "60", "66", "70", "72", "80", "84", "90", "92", "99"])
def test_invalid_province_codes(province: str) -> None:
    assert code_of(make_id(region=province + "0101")) == "id_number_region"


@pytest.mark.parametrize("province", ["11", "15", "21", "23", "31", "37", "41", "46", "50", "54", "61", "65", "71", "81", "82", "83", "91"])
def test_valid_province_codes(province: str) -> None:
    assert parse_id_number(make_id(region=province + "0101"), today=TODAY).region_code == province + "0101"


def test_province_code_table() -> None:
    assert len(PROVINCE_CODES) == 5 + 3 + 7 + 6 + 5 + 5 + 5


# ---------------------------------------------------------------- legacy 15-digit numbers


def test_legacy_15_digit_number_is_converted() -> None:
    parsed = parse_id_number("110101800101123", today=TODAY)
    assert parsed.value == make_id("110101", "19800101", "123")
    assert parsed.birth_date == date(1980, 1, 1)
    assert parsed.gender == "male"
    assert parse_id_number(" 110101800101124 ", today=TODAY).gender == "female"


@pytest.mark.parametrize("yymmdd", ["810229", "000229", "801301", "800000", "800431"])
def test_legacy_number_with_an_impossible_date_is_refused(yymmdd: str) -> None:
    assert code_of(f"110101{yymmdd}123") == "id_number_legacy"


def test_legacy_number_on_a_leap_day() -> None:
    assert parse_id_number("110101800229123", today=TODAY).birth_date == date(1980, 2, 29)


def test_legacy_number_with_a_bad_region() -> None:
    assert code_of("990101800101123") == "id_number_region"


# ---------------------------------------------------------------- properties

regions = st.builds(
    lambda province, rest: province + rest,
    st.sampled_from(sorted(PROVINCE_CODES)),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
)
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
seqs = st.integers(min_value=0, max_value=999).map(lambda n: f"{n:03d}")


@given(regions, births, seqs)
def test_any_well_formed_number_parses(region: str, birth: date, seq: str) -> None:
    raw = make_id(region, birth.strftime("%Y%m%d"), seq)
    parsed = parse_id_number(raw, today=TODAY)
    assert parsed.value == raw
    assert parsed.birth_date == birth
    assert parsed.region_code == region
    assert parsed.gender == ("male" if int(seq[-1]) % 2 else "female")
    assert parse_id_number(raw.lower(), today=TODAY) == parsed


@given(regions, births, seqs, st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_a_single_digit_substitution_always_breaks_the_check_digit(
    region: str, birth: date, seq: str, position: int, delta: int
) -> None:
    # Every weight is non-zero mod 11 and a digit changes by 1..9, so the sum changes mod 11.
    raw = make_id(region, birth.strftime("%Y%m%d"), seq)
    digit = (int(raw[position]) + delta) % 10
    changed = raw[:position] + str(digit) + raw[position + 1 :]
    assert check_digit(changed[:17]) != raw[17]
    assert code_of(changed) == "id_number_checksum"


@given(regions, births, seqs, st.integers(min_value=0, max_value=15))
def test_swapping_two_adjacent_different_digits_breaks_the_check_digit(
    region: str, birth: date, seq: str, position: int
) -> None:
    raw = make_id(region, birth.strftime("%Y%m%d"), seq)
    a, b = raw[position], raw[position + 1]
    if a == b:
        return
    swapped = raw[:position] + b + a + raw[position + 2 :]
    assert code_of(swapped) == "id_number_checksum"


@given(regions, st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), seqs)
def test_legacy_conversion_matches_the_18_digit_form(region: str, birth: date, seq: str) -> None:
    legacy = region + birth.strftime("%y%m%d") + seq
    assert parse_id_number(legacy, today=TODAY) == parse_id_number(
        make_id(region, birth.strftime("%Y%m%d"), seq), today=TODAY
    )


# ---------------------------------------------------------------- age


def test_age_on() -> None:
    birth = date(1980, 6, 15)
    assert age_on(birth, date(1980, 6, 15)) == 0
    assert age_on(birth, date(2025, 6, 14)) == 44
    assert age_on(birth, date(2025, 6, 15)) == 45
    assert age_on(birth, date(2025, 12, 31)) == 45


def test_age_of_a_leap_day_birth() -> None:
    birth = date(2000, 2, 29)
    assert age_on(birth, date(2001, 2, 28)) == 0
    assert age_on(birth, date(2001, 3, 1)) == 1
    assert age_on(birth, date(2004, 2, 29)) == 4


def test_age_before_birth_is_an_error() -> None:
    with pytest.raises(ValueError):
        age_on(date(2000, 1, 2), date(2000, 1, 1))


@given(births, st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)))
def test_age_is_monotonic_and_matches_anniversaries(birth: date, on: date) -> None:
    if on < birth:
        return
    age = age_on(birth, on)
    assert 0 <= age <= on.year - birth.year
    assert age >= on.year - birth.year - 1
