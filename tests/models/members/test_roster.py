"""Roster upload parsing: encodings, formats, headers, per-row checks, line numbers."""
from __future__ import annotations

import io
import math
import zipfile
from datetime import date
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from models.core import spreadsheets
from models.core.errors import Invalid
from models.members.idcard import check_digit
from models.members.roster import (
    RosterParse,
    normalize_name,
    normalize_phone,
    parse_roster,
)

TODAY = date(2025, 6, 1)


def make_id(region: str = "110101", birth: str = "19800101", seq: str = "123") -> str:
    first17 = region + birth + seq
    return first17 + check_digit(first17)


ID1 = make_id(seq="123")
ID2 = make_id(seq="124")
ID3 = make_id("310104", "19900515", "031")
ID4 = make_id("440305", "19751231", "502")
HEADER = "姓名,身份证号,手机号,工作单位,所属工会"


def csv_of(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def parse(data: bytes, filename: str = "roster.csv", **kwargs: Any) -> RosterParse:
    return parse_roster(data, filename, today=TODAY, **kwargs)


def refused(data: bytes, filename: str = "roster.csv", **kwargs: Any) -> Invalid:
    with pytest.raises(Invalid) as info:
        parse(data, filename, **kwargs)
    assert info.value.message
    return info.value


def xlsx(*rows: list[Any], placed: dict[int, list[Any]] | None = None) -> bytes:
    """An XLSX written by openpyxl: rows appended from row 1, then rows placed at given numbers."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    for number, values in (placed or {}).items():
        for col, value in enumerate(values, start=1):
            ws.cell(row=number, column=col, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_MAIN = "http://purl.oclc.org/ooxml/spreadsheetml/main"
STRICT_RELS = "http://purl.oclc.org/ooxml/officeDocument/relationships"


def package(sheet_data: str, shared: list[str], *, strict: bool = False, doctype: str = "") -> bytes:
    """A minimal XLSX laid out the way Excel writes it: a shared strings table and row/cell refs.

    ``shared`` holds raw ``<si>`` contents.
    """
    main, rels = (STRICT_MAIN, STRICT_RELS) if strict else (MAIN, DOC_RELS)
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rels}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rels}">'
            '<sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rels}/sharedStrings" Target="/xl/sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<worksheet xmlns="{main}">'
            f"<sheetData>{sheet_data}</sheetData></worksheet>"
        ),
        "xl/sharedStrings.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{main}" count="{len(shared)}">'
            + "".join(f"<si>{si}</si>" for si in shared)
            + "</sst>"
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return out.getvalue()


def excel_like(rows: dict[int, list[str | None]], **kwargs: Any) -> bytes:
    """Rows of text as shared strings, at the given row numbers."""
    shared: list[str] = []
    body = []
    for number, values in rows.items():
        cells = []
        for col, value in enumerate(values):
            if value is None:
                continue
            shared.append(f"<t>{value}</t>")
            cells.append(f'<c r="{chr(65 + col)}{number}" t="s"><v>{len(shared) - 1}</v></c>')
        body.append(f'<row r="{number}">{"".join(cells)}</row>')
    return package("".join(body), shared, **kwargs)


def codes(result: RosterParse) -> list[tuple[int, str | None, str]]:
    return [(p.line, p.field, p.code) for p in result.problems]


# ---------------------------------------------------------------- CSV encodings


def test_utf8_csv() -> None:
    result = parse(csv_of(HEADER, f"张三,{ID1},13812345678,某某有限公司,某某基层工会"))
    assert result.format == "csv" and result.encoding == "utf-8"
    assert result.total == 1 and result.problems == []
    (row,) = result.rows
    assert (row.line, row.name, row.id_number.value, row.phone, row.employer, row.org) == (
        2, "张三", ID1, "13812345678", "某某有限公司", "某某基层工会",
    )


def test_utf8_csv_with_bom_and_crlf() -> None:
    data = "\ufeff" + HEADER + "\r\n" + f"张三,{ID1},,,\r\n"
    result = parse(data.encode("utf-8"))
    assert result.encoding == "utf-8"
    assert [r.name for r in result.rows] == ["张三"]


@pytest.mark.parametrize("encoding", ["gbk", "gb2312", "gb18030"])
def test_gbk_csv_is_read_correctly(encoding: str) -> None:
    data = csv_of(HEADER, f"欧阳小明,{ID1},,北京市朝阳区某某街道办事处,朝阳区总工会", encoding=encoding)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = parse(data)
    assert result.encoding == "gb18030"
    (row,) = result.rows
    assert (row.name, row.employer, row.org) == ("欧阳小明", "北京市朝阳区某某街道办事处", "朝阳区总工会")


def test_gb18030_only_characters() -> None:
    # 𠮷 is outside GBK: only GB18030's four-byte form encodes it.
    result = parse(csv_of(HEADER, f"吉𠮷,{ID1},,,", encoding="gb18030"))
    assert [r.name for r in result.rows] == ["吉𠮷"]


def test_a_file_in_neither_encoding_is_refused() -> None:
    data = csv_of(HEADER, f"张三,{ID1},,,") + b"\xff\xfe\x80\xff\n"
    assert refused(data).code == "roster_encoding"


def test_utf16_is_refused_with_a_clear_message() -> None:
    error = refused(csv_of(HEADER, f"张三,{ID1},,,", encoding="utf-16"))
    assert error.code == "roster_encoding" and "UTF-16" in error.message
    no_bom = csv_of(HEADER, f"张三,{ID1},,,", encoding="utf-16-le")
    assert refused(no_bom).code == "roster_encoding"


def test_tab_separated_file() -> None:
    data = csv_of("姓名\t身份证号\t手机号", f"张三\t{ID1}\t138 1234 5678")
    assert [(r.name, r.phone) for r in parse(data, "roster.txt").rows] == [("张三", "13812345678")]


# ---------------------------------------------------------------- file-level refusals


@pytest.mark.parametrize("data", [b"", b"   ", b"\n\n\r\n", "\ufeff".encode("utf-8") + b"\n", b",,,\n,,\n"])
def test_empty_file(data: bytes) -> None:
    assert refused(data).code == "roster_empty"


def test_header_without_data_rows_is_empty() -> None:
    assert refused(csv_of(HEADER, ",,,,", "")).code == "roster_empty"
    assert refused(xlsx(["姓名", "身份证号"]), "r.xlsx").code == "roster_empty"


def test_empty_sheet_is_empty() -> None:
    assert refused(xlsx(), "r.xlsx").code == "roster_empty"


def test_oversized_file_is_refused_before_parsing() -> None:
    big = b"a" * (50 * 1024 * 1024)
    # Parsed, this would be a CSV without headers (roster_headers): the size check comes first.
    assert refused(big).code == "roster_too_large"
    assert refused(b"PK\x03\x04" + big, "r.xlsx").code == "roster_too_large"
    # The limit is inclusive.
    small = csv_of(HEADER, f"张三,{ID1},,,")
    assert parse(small, max_bytes=len(small)).total == 1
    assert refused(small, max_bytes=len(small) - 1).code == "roster_too_large"


def test_too_many_rows() -> None:
    data = csv_of(HEADER, f"张三,{ID1},,,", f"李四,{ID2},,,", "", f"王五,{ID3},,,")
    assert parse(data, max_rows=3).total == 3
    assert refused(data, max_rows=2).code == "roster_too_large"


def test_zip_bomb_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b" " * (30 * 1024 * 1024))
    data = out.getvalue()
    assert len(data) < 1024 * 1024
    assert refused(data, "r.xlsx", max_bytes=1024 * 1024).code == "roster_too_large"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "roster.xls"),  # legacy Excel
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "roster.csv"),
        ("姓名,身份证号\n".encode(), "roster.xls"),
        ("姓名,身份证号\n".encode(), "roster.xlsx"),  # text named .xlsx
        (b"PK\x03\x04" + b"garbage" * 100, "roster.xlsx"),  # corrupt zip
        (b"PK\x03\x04" + b"garbage" * 100, "roster.csv"),
    ],
)
def test_not_a_csv_or_xlsx(data: bytes, filename: str) -> None:
    assert refused(data, filename).code == "roster_format"


def test_a_zip_that_is_not_a_workbook() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "姓名,身份证号")
    assert refused(out.getvalue(), "roster.xlsx").code == "roster_format"


def test_truncated_xlsx() -> None:
    data = xlsx(["姓名", "身份证号"], ["张三", ID1])
    assert refused(data[: len(data) // 2], "roster.xlsx").code == "roster_format"


def test_damaged_compressed_data() -> None:
    data = bytearray(xlsx(["姓名", "身份证号"], *[["张三", ID1]] * 200))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + info.compress_size - 10):
        data[i] ^= 0x5A
    assert refused(bytes(data), "roster.xlsx").code == "roster_format"


def test_broken_sheet_xml() -> None:
    data = package('<row r="1"><c r="A1" t="s"><v>0</v></c>', ["<t>姓名</t>"])
    assert refused(data, "roster.xlsx").code == "roster_format"
    bad_index = package('<row r="1"><c r="A1" t="s"><v>7</v></c></row>', ["<t>姓名</t>"])
    assert refused(bad_index, "roster.xlsx").code == "roster_format"


def test_doctype_in_sheet_is_refused() -> None:
    data = excel_like(
        {1: ["姓名", "身份证号"], 2: ["张三", ID1]},
        doctype='<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaa">]>',
    )
    assert refused(data, "roster.xlsx").code == "roster_format"


def test_unbalanced_quote_in_csv() -> None:
    data = csv_of(HEADER, '张三,"' + "x" * 200_000)
    assert refused(data).code == "roster_format"


# ---------------------------------------------------------------- headers


def test_missing_headers_are_named() -> None:
    error = refused(csv_of("姓名,手机号", "张三,13812345678"))
    assert error.code == "roster_headers"
    assert "身份证号" in error.message and "“姓名”" not in error.message
    error = refused(csv_of("手机号,工作单位", "13812345678,某公司"))
    assert error.code == "roster_headers"
    assert "姓名" in error.message and "身份证号" in error.message


def test_no_header_row_at_all() -> None:
    error = refused(csv_of(f"张三,{ID1}", f"李四,{ID2}"))
    assert error.code == "roster_headers"


def test_duplicate_header_is_refused() -> None:
    error = refused(csv_of("姓名,身份证号,身份证号", f"张三,{ID1},{ID2}"))
    assert error.code == "roster_headers" and "身份证号" in error.message


def test_header_aliases_spaces_and_unknown_columns() -> None:
    data = csv_of(
        " 序号 , 姓  名 ,*身份证号码（必填）,联系电话,单位,工会,备注",
        f"1,张三,{ID1},13812345678,某公司,某工会,随便写",
    )
    (row,) = parse(data).rows
    assert (row.name, row.id_number.value, row.phone, row.employer, row.org) == (
        "张三", ID1, "13812345678", "某公司", "某工会",
    )


def test_preferred_alias_wins_when_several_are_present() -> None:
    data = csv_of("姓名,身份证号,电话,手机号", f"张三,{ID1},010-12345678,13812345678")
    assert parse(data).rows[0].phone == "13812345678"
    data = csv_of("姓名,公民身份号码,身份证号码", f"张三,{ID2},{ID1}")
    assert parse(data).rows[0].id_number.value == ID1


def test_title_rows_above_the_header_keep_real_line_numbers() -> None:
    data = csv_of("某某区总工会会员名单", "", "制表日期：2025年5月", HEADER, f"张三,{ID1},,,", f"李四,{ID1},,,")
    result = parse(data)
    assert [r.line for r in result.rows] == [5]
    assert codes(result) == [(6, "id_number", "duplicate_in_file")]
    assert "第5行" in result.problems[0].reason


def test_minimal_columns() -> None:
    (row,) = parse(csv_of("身份证号,姓名", f"{ID1},张三")).rows
    assert (row.name, row.phone, row.employer, row.org) == ("张三", None, None, None)


# ---------------------------------------------------------------- rows and line numbers


def test_blank_rows_are_skipped_and_line_numbers_are_correct() -> None:
    data = csv_of(
        HEADER,  # line 1
        f"张三,{ID1},,,",  # 2
        "",  # 3
        ",,,,",  # 4
        "  , ,\t,,",  # 5
        f"李四,{ID2},12345,,",  # 6 bad phone
        f"王五,{ID3},,,",  # 7
    )
    result = parse(data)
    assert result.total == 3
    assert [r.line for r in result.rows] == [2, 7]
    assert codes(result) == [(6, "phone", "phone_format")]


def test_rows_filled_only_in_unknown_columns_are_blank() -> None:
    # A template with the 序号 column pre-numbered for rows nobody filled in.
    data = csv_of("序号,姓名,身份证号", f"1,张三,{ID1}", "2,,", "3,,")
    result = parse(data)
    assert result.total == 1 and result.problems == []


def test_line_numbers_count_records_not_text_lines() -> None:
    # A quoted cell spanning lines is one row in Excel/WPS: the line number follows the row.
    data = csv_of(HEADER, f'张三,{ID1},,"某某\n有限公司",', f"李四,{ID2},bad,,")
    result = parse(data)
    assert result.rows[0].employer == "某某\n有限公司"
    assert codes(result) == [(3, "phone", "phone_format")]


def test_every_row_problem_is_reported_with_a_chinese_reason() -> None:
    data = csv_of(
        HEADER,
        f",{ID1},,,",  # 2 name missing
        f"张三3,{ID2},,,",  # 3 digit in a name
        f"{'张' * 51},{ID3},,,",  # 4 name too long
        "李四,,,,",  # 5 id missing
        f"王五,{ID4[:-1] + ('0' if ID4[-1] != '0' else '1')},,,",  # 6 checksum
        f"赵六,{make_id(birth='19810229')},,,",  # 7 no such date
        f"钱七,{make_id(birth='20300101')},,,",  # 8 future
        f"孙八,{make_id(region='990101')},,,",  # 9 region
        "周九,110101810229123,,,",  # 10 legacy with bad date
        "吴十,1101011980,,,",  # 11 too short
        f"郑一,{ID4},1234567890,,",  # 12 phone
        f",,13812345678,{'长' * 201},",  # 13 many at once
    )
    result = parse(data)
    assert codes(result) == [
        (2, "name", "name_required"),
        (3, "name", "name_format"),
        (4, "name", "name_too_long"),
        (5, "id_number", "id_number_required"),
        (6, "id_number", "id_number_checksum"),
        (7, "id_number", "id_number_birth_date"),
        (8, "id_number", "id_number_birth_date"),
        (9, "id_number", "id_number_region"),
        (10, "id_number", "id_number_legacy"),
        (11, "id_number", "id_number_format"),
        (12, "phone", "phone_format"),
        (13, "name", "name_required"),
        (13, "id_number", "id_number_required"),
        (13, "employer", "field_too_long"),
    ]
    assert result.rows == [] and result.total == 12
    assert all(any("\u4e00" <= c <= "\u9fff" for c in p.reason) for p in result.problems)


def test_name_normalisation() -> None:
    data = csv_of(
        "姓名,身份证号",
        f"买买提·艾力,{make_id(seq='001')}",
        f"买买提•艾力,{make_id(seq='002')}",
        f"王  五,{make_id(seq='003')}",
        f"John  Smith,{make_id(seq='004')}",
        f"ＡＢＣ,{make_id(seq='005')}",
        f"·艾力,{make_id(seq='006')}",
        f"张三@,{make_id(seq='007')}",
    )
    result = parse(data)
    assert [r.name for r in result.rows] == ["买买提·艾力", "买买提·艾力", "王五", "John Smith", "ABC"]
    assert codes(result) == [(7, "name", "name_format"), (8, "name", "name_format")]


def test_phone_normalisation() -> None:
    assert normalize_phone("138 1234 5678") == "13812345678"
    assert normalize_phone("138-1234-5678") == "13812345678"
    assert normalize_phone("+86 138 1234 5678") == "13812345678"
    assert normalize_phone("8613812345678") == "13812345678"
    assert normalize_phone("０１３８１２３４５６７８".lstrip("０")) == "13812345678"
    for bad in ("12812345678", "1381234567", "138123456789", "010-12345678", "abc", "+1 555 0100"):
        assert normalize_phone(bad) is None


def test_normalize_name() -> None:
    assert normalize_name(" 王 五 ") == "王五"
    assert normalize_name("买买提 · 艾力") == "买买提·艾力"
    assert normalize_name("Mary  Ann") == "Mary Ann"
    assert normalize_name("  ") == ""


def test_id_numbers_are_normalised_and_15_digit_ones_converted() -> None:
    legacy = "110101800101123"
    data = csv_of("姓名,身份证号", f"张三, {ID1.lower()} ", f"李四,{legacy}")
    result = parse(data)
    assert [r.id_number.value for r in result.rows] == [ID1]  # the legacy form is the same person
    assert codes(result) == [(3, "id_number", "duplicate_in_file")]


def test_duplicates_keep_the_first_occurrence() -> None:
    data = csv_of(HEADER, f"张三,{ID1},,,", f"李四,{ID2},,,", f"张三,{ID1},,,", f"张三,{ID1},,,")
    result = parse(data)
    assert [r.line for r in result.rows] == [2, 3]
    assert codes(result) == [(4, "id_number", "duplicate_in_file"), (5, "id_number", "duplicate_in_file")]
    assert all("第2行" in p.reason for p in result.problems)


def test_duplicate_of_a_row_with_another_problem() -> None:
    data = csv_of(HEADER, f"张三,{ID1},bad,,", f"张三,{ID1},13812345678,,")
    assert codes(parse(data)) == [(2, "phone", "phone_format"), (3, "id_number", "duplicate_in_file")]


def test_scientific_notation_id_from_excel_csv() -> None:
    result = parse(csv_of("姓名,身份证号", "张三,1.10101E+17"))
    assert codes(result) == [(2, "id_number", "id_number_format")]
    assert "文本" in result.problems[0].reason


def test_cell_length_limit() -> None:
    ok = parse(csv_of("姓名,身份证号,工作单位", f"张三,{ID1},{'长' * 200}"))
    assert len(ok.rows[0].employer or "") == 200
    result = parse(csv_of("姓名,身份证号,所属工会", f"张三,{ID1},{'长' * 201}"))
    assert codes(result) == [(2, "org", "field_too_long")]


# ---------------------------------------------------------------- CSV injection


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        (["=1+1", ID1, "", "", ""], "name"),
        (["张三", "=HYPERLINK(\"http://x\")", "", "", ""], "id_number"),
        (["张三", ID1, "", "@SUM(A1)", ""], "employer"),
        (["张三", ID1, "", "", "+1+cmd|' /C calc'!A0"], "org"),
        (["张三", ID1, "", "-2+3", ""], "employer"),
        (["张三", ID1, "+1 555 0100", "", ""], "phone"),
        (["张三", ID1, "-13812345678", "", ""], "phone"),
        (["张三", ID1, "", '"\tfoo"', ""], "employer"),
        (["张三", ID1, "", '"\rfoo"', ""], "employer"),
    ],
)
def test_csv_formula_cells(cells: list[str], field: str) -> None:
    result = parse(csv_of(HEADER, ",".join(cells)))
    assert codes(result) == [(2, field, "formula_cell")]
    assert result.rows == []


def test_csv_phone_with_plus86_is_not_an_injection() -> None:
    (row,) = parse(csv_of(HEADER, f"张三,{ID1},+86 138-1234-5678,,")).rows
    assert row.phone == "13812345678"


def test_leading_space_then_equals_is_plain_text() -> None:
    # Only the very first character matters; " =x" is text in every spreadsheet.
    (row,) = parse(csv_of(HEADER, f"张三,{ID1},, =某公司,")).rows
    assert row.employer == "=某公司"


# ---------------------------------------------------------------- XLSX


def test_xlsx_basic() -> None:
    data = xlsx(
        ["姓名", "身份证号", "手机号", "工作单位", "所属工会"],
        ["张三", ID1, "13812345678", "某公司", "某工会"],
        ["李四", ID2, 13912345678, None, None],  # a phone stored as a number is fine
    )
    result = parse(data, "roster.xlsx")
    assert result.format == "xlsx" and result.encoding is None
    assert [(r.line, r.name, r.phone) for r in result.rows] == [(2, "张三", "13812345678"), (3, "李四", "13912345678")]


def test_xlsx_detected_by_magic_whatever_the_name() -> None:
    data = xlsx(["姓名", "身份证号"], ["张三", ID1])
    assert parse(data, "upload.bin").format == "xlsx"
    assert parse(data, "roster.csv").format == "xlsx"


def test_xlsx_numeric_id_cells() -> None:
    data = xlsx(
        ["姓名", "身份证号"],
        ["张三", int(ID1)],
        ["李四", 1.10101198001011e17],
        ["王五", ID3],
    )
    result = parse(data, "roster.xlsx")
    assert codes(result) == [(2, "id_number", "id_number_format"), (3, "id_number", "id_number_format")]
    assert all("文本" in p.reason for p in result.problems)
    assert [r.line for r in result.rows] == [4]


def test_xlsx_formula_cells() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "工作单位"])
    ws.append(["张三", ID1, "=A1&\"公司\""])
    ws.append(["=A2", ID2, None])
    ws.append(["王五", ID3, None])
    ws["B4"] = ArrayFormula("B4", "=UPPER(C1)")
    ws.append(["赵六", ID4, "=1+1"])
    out = io.BytesIO()
    wb.save(out)
    result = parse(out.getvalue(), "roster.xlsx")
    assert codes(result) == [
        (2, "employer", "formula_cell"),
        (3, "name", "formula_cell"),
        (4, "id_number", "formula_cell"),
        (5, "employer", "formula_cell"),
    ]
    assert result.rows == []


def test_xlsx_csv_style_prefixes_are_plain_text() -> None:
    # Text cells in a workbook cannot run; only real formulas are refused there.
    result = parse(xlsx(["姓名", "身份证号", "工作单位"], ["张三", ID1, "-某公司-"]), "r.xlsx")
    assert result.rows[0].employer == "-某公司-"


def test_xlsx_gaps_blank_rows_and_line_numbers() -> None:
    data = xlsx(
        placed={
            2: ["会员名单"],
            4: ["序号", "姓名", "身份证号"],
            5: [1, "张三", ID1],
            6: [2, None, None],
            9: [3, "李四", "bad"],
            12: [4, "王五", ID3],
        }
    )
    result = parse(data, "roster.xlsx")
    assert [r.line for r in result.rows] == [5, 12]
    assert codes(result) == [(9, "id_number", "id_number_format")]
    assert result.total == 3


def test_xlsx_first_sheet_is_used_and_chart_sheets_skipped() -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["姓名", "身份证号"])
    wb.active.append(["张三", ID1])
    other = wb.create_sheet("其他")
    other.append(["姓名", "身份证号"])
    other.append(["李四", ID2])
    wb.create_chartsheet("图表", 0)
    out = io.BytesIO()
    wb.save(out)
    assert [r.name for r in parse(out.getvalue(), "r.xlsx").rows] == ["张三"]


def test_excel_style_shared_strings() -> None:
    shared = [
        "<t>姓名</t>",
        "<t>身份证号</t>",
        # Rich text with a phonetic guide (Excel's furigana): the guide is not part of the value.
        "<r><t>张</t></r><r><rPr><b/></rPr><t>三</t></r><rPh sb=\"0\" eb=\"1\"><t>ZHANG</t></rPh>",
        f"<t xml:space=\"preserve\"> {ID1} </t>",
        "<t>A&amp;B公司</t>",
        "<t>工作单位</t>",
    ]
    sheet = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>5</v></c></row>'
        '<row r="3"><c r="A3" t="s"><v>2</v></c><c r="B3" t="s"><v>3</v></c><c r="C3" t="s"><v>4</v></c></row>'
        f'<row><c t="inlineStr"><is><t>李四</t></is></c><c t="str"><v>{ID2}</v></c><c/></row>'
        f'<row r="7"><c r="A7" t="inlineStr"><is><t>王五</t></is></c><c r="B7"><f>A1</f><v>0</v></c></row>'
    )
    result = parse(package(sheet, shared), "roster.xlsx")
    assert [(r.line, r.name, r.id_number.value, r.employer) for r in result.rows] == [
        (3, "张三", ID1, "A&B公司"),
        (4, "李四", ID2, None),
    ]
    assert codes(result) == [(7, "id_number", "formula_cell")]


def test_strict_ooxml_namespace() -> None:
    data = excel_like({1: ["姓名", "身份证号"], 2: ["张三", ID1]}, strict=True)
    assert [r.name for r in parse(data, "r.xlsx").rows] == ["张三"]


def test_unrecognised_layout_falls_back_to_openpyxl(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(_archive: zipfile.ZipFile) -> None:
        raise spreadsheets._UseOpenpyxl("test")

    monkeypatch.setattr(spreadsheets, "_locate_first_sheet", unknown)
    data = xlsx(["姓名", "身份证号"], ["张三", ID1], ["李四", "=A2"])
    result = parse(data, "r.xlsx")
    assert [r.name for r in result.rows] == ["张三"]
    assert codes(result) == [(3, "id_number", "formula_cell")]


cell_values = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=12),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(["=A1", "=SUM(A1:B2)", " 张三 ", ID1]),
)


def _trimmed(values: Any) -> list[Any]:
    out = [v.text if isinstance(v, ArrayFormula) else v for v in values]
    while out and out[-1] is None:
        out.pop()
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(cell_values, max_size=6), max_size=8))
def test_fast_reader_agrees_with_openpyxl(table: list[list[Any]]) -> None:
    data = xlsx(*table)
    fast = {line: _trimmed(v) for line, v in spreadsheets._xlsx_rows(data, 20 << 20)}
    reference = {line: _trimmed(v) for line, v in spreadsheets._openpyxl_rows(data)}
    fast = {k: v for k, v in fast.items() if v}
    reference = {k: v for k, v in reference.items() if v}
    assert fast.keys() == reference.keys()
    for line, values in reference.items():
        for a, b in zip(fast[line], values, strict=True):
            assert type(a) is type(b) and (a == b or (isinstance(a, float) and math.isclose(a, b)))


# ---------------------------------------------------------------- properties


names = st.sampled_from(["张三", "李四", "欧阳小明", "买买提·艾力", "", "张3", "John Smith"])
ids = st.one_of(
    st.builds(
        make_id,
        st.sampled_from(["110101", "310104", "440305", "990101"]),
        st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 1, 1)).map(lambda d: d.strftime("%Y%m%d")),
        st.integers(0, 999).map(lambda n: f"{n:03d}"),
    ),
    st.sampled_from(["", "123", "=1+1", "11010119800101123X"]),
)
phones = st.sampled_from(["", "13812345678", "138 1234 5678", "+8613912345678", "123", "-1"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(names, ids, phones, st.booleans()), min_size=1, max_size=30))
def test_every_data_row_is_accounted_for_once(rows: list[tuple[str, str, str, bool]]) -> None:
    lines = [HEADER]
    expected_lines = []
    for name, id_number, phone, blank_before in rows:
        if blank_before:
            lines.append("")
        lines.append(f"{name},{id_number},{phone},,")
        if name or id_number or phone:
            expected_lines.append(len(lines))
    if not expected_lines:
        assert refused(csv_of(*lines)).code == "roster_empty"
        return
    result = parse(csv_of(*lines))
    assert result.total == len(expected_lines)
    valid = [r.line for r in result.rows]
    bad = sorted({p.line for p in result.problems})
    assert sorted(valid + bad) == expected_lines
    assert not set(valid) & set(bad)
    values = [r.id_number.value for r in result.rows]
    assert len(values) == len(set(values))
