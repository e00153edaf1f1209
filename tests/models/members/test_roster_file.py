"""A roster read from a spooled file (as uploads now are) reads exactly as from its bytes."""
from __future__ import annotations

import tempfile
from typing import BinaryIO

import pytest

from models.core.errors import Invalid
from models.members.roster import RosterParse, parse_roster
from tests.factories import id_number, roster_csv
from tests.hostile_files import CATALOGUE
from tests.models.members.test_roster import TODAY, xlsx

MAX_BYTES = 10 * 1024 * 1024


def _spooled(data: bytes) -> BinaryIO:
    file = tempfile.TemporaryFile()
    file.write(data)
    file.seek(7)  # wherever the writer left it
    return file  # type: ignore[return-value]


def _outcome(data: bytes | BinaryIO, filename: str) -> RosterParse | str:
    try:
        return parse_roster(data, filename, max_bytes=MAX_BYTES, today=TODAY)
    except Invalid as exc:
        return exc.code


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda case: case.name)
def test_every_hostile_file_gets_the_same_answer_from_a_file(case) -> None:
    data = case.build()
    with _spooled(data) as file:
        from_file = _outcome(file, case.filename)
    assert from_file == case.code or (case.code is None and isinstance(from_file, RosterParse)), from_file


@pytest.mark.parametrize("filename, data", [
    ("r.csv", roster_csv([("张三", id_number(1), "13800000001"), ("李四", id_number(2), "")])),
    ("r.csv", roster_csv([("王五", id_number(3), "")]).decode().encode("gbk")),
    ("r.xlsx", xlsx(["姓名", "身份证号", "手机号"], ["张三", id_number(1), "13800000001"], ["赵六", "123", ""])),
    ("r.csv", b""),
    ("r.xlsx", b"PK\x03\x04 truncated"),
])
def test_a_file_reads_like_its_bytes(filename: str, data: bytes) -> None:
    with _spooled(data) as file:
        assert _outcome(file, filename) == _outcome(data, filename)


def test_a_file_past_the_limit_is_refused_by_its_size() -> None:
    with _spooled(b"x" * 2048) as file:
        with pytest.raises(Invalid) as refused:
            parse_roster(file, "r.csv", max_bytes=1024)
    assert refused.value.code == "roster_too_large"
