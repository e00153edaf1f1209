"""The shared spreadsheet module: refusals carry a kind, the writers keep money exact and text inert."""
from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from models.core import spreadsheets
from models.core.spreadsheets import Money, Table


def _table() -> Table:
    return Table(sheet="2025-11", header=["时间", "名称", "金额(元)"],
                 rows=[[datetime(2025, 11, 3, 8, 30), "=1+1", Money(-5)], [None, "正常", Money(12_345)]],
                 footer=["合计", None, Money(12_340)], title="标题", widths=(20, 10, 14))


def test_csv_writes_negative_money_exact_and_neutralises_formulas() -> None:
    data = spreadsheets.write_csv(_table())
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table == [["时间", "名称", "金额(元)"], ["2025-11-03 08:30:00", "'=1+1", "-0.05"],
                     ["", "正常", "123.45"], ["合计", "", "123.40"]]


def test_xlsx_writes_numbers_dates_and_text_never_formulas() -> None:
    ws = load_workbook(io.BytesIO(spreadsheets.write_xlsx(_table()))).active
    assert ws.title == "2025-11"
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[0][0] == "标题" and values[1] == ["时间", "名称", "金额(元)"]
    assert values[2][0] == datetime(2025, 11, 3, 8, 30) and values[2][1] == "=1+1"
    assert values[2][2] == pytest.approx(-0.05) and ws.cell(row=3, column=3).number_format == "0.00"
    assert ws.cell(row=3, column=2).data_type == "s"
    assert ws.cell(row=5, column=3).font.bold and not ws.cell(row=5, column=1).font.bold
    assert ws.column_dimensions["C"].width == 14


@pytest.mark.parametrize(("data", "name", "kind"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "a.xls", "format"),
    (b"PK\x03\x04" + b"garbage" * 20, "a.xlsx", "format"),
    ("姓名\n".encode("utf-16"), "a.csv", "encoding"),
])
def test_a_refusal_says_its_kind(data: bytes, name: str, kind: str) -> None:
    with pytest.raises(spreadsheets.Refused) as info:
        upload = spreadsheets.read_rows(data, name, max_bytes=1 << 20)
        list(upload.rows)
    assert info.value.kind == kind and info.value.code == f"spreadsheet_{kind}"
    assert info.value.status == 400 and info.value.message


def test_csv_rows_come_with_their_line_numbers_and_encoding() -> None:
    upload = spreadsheets.read_rows("姓名,电话\n张三,1\n".encode("gb18030"), "a.csv", max_bytes=1 << 20)
    assert (upload.format, upload.encoding) == ("csv", "gb18030")
    assert list(upload.rows) == [(1, ["姓名", "电话"]), (2, ["张三", "1"])]
    upload.close()
