"""Masking of names, ID numbers, phone numbers and bank accounts."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.core.masking import mask_bank_account, mask_id_number, mask_name, mask_phone

ALL = [mask_name, mask_id_number, mask_phone, mask_bank_account]


@pytest.mark.parametrize("mask", ALL)
@pytest.mark.parametrize("empty", [None, "", "   ", "\u3000"])
def test_missing_values_give_an_empty_string(mask: Callable[[str | None], str], empty: str | None) -> None:
    assert mask(empty) == ""


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张", "*"),
        ("张三", "张*"),
        ("张三明", "张*明"),
        ("欧阳小明", "欧**明"),
        ("爱新觉罗溥仪", "爱****仪"),
        ("买买提·艾力", "买****力"),
        ("阿卜杜拉·买买提·艾力", "阿*********力"),
        (" 张三明 ", "张*明"),
        ("John Smith", "J********h"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110101198001011234", "1101**********1234"),
        ("11010519491231002X", "1101**********002X"),
        ("110101800101123", "1101*******1123"),
        (" 110101198001011234 ", "1101**********1234"),
        ("1234567", "*******"),
        ("12345678901234", "**************"),
    ],
)
def test_mask_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("010-12345678", "010*****5678"),
        ("+8613812345678", "+86*******5678"),
        ("1234567", "*******"),
        ("1381234567", "**********"),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("6222021234567891234", "****1234"),
        ("6222 0212 3456 7890", "****7890"),
        ("12345678", "****5678"),
        ("1234567", "****"),
        ("12", "****"),
    ],
)
def test_mask_bank_account(value: str, masked: str) -> None:
    assert mask_bank_account(value) == masked


visible = st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"))


@given(st.text(alphabet=visible, min_size=1, max_size=60))
def test_name_mask_keeps_length_and_at_most_the_ends(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name)
    if len(name) == 1:
        assert masked == "*"
    elif len(name) == 2:
        assert masked == name[0] + "*"
    else:
        assert masked == name[0] + "*" * (len(name) - 2) + name[-1]


@given(st.text(alphabet="0123456789X", min_size=15, max_size=18))
def test_id_mask_shows_only_four_at_each_end(value: str) -> None:
    masked = mask_id_number(value)
    assert len(masked) == len(value)
    assert masked[:4] == value[:4] and masked[-4:] == value[-4:]
    assert set(masked[4:-4]) == {"*"}


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_phone_mask_hides_the_middle_four(value: str) -> None:
    assert mask_phone(value) == value[:3] + "****" + value[7:]


@given(st.text(alphabet="0123456789 ", min_size=1, max_size=30))
def test_bank_account_mask_reveals_at_most_four_digits(value: str) -> None:
    masked = mask_bank_account(value)
    digits = value.replace(" ", "")
    if not digits:
        assert masked == ""
        return
    assert masked.startswith("****")
    assert len(masked) <= 8
    assert digits.endswith(masked[4:])
