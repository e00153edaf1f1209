"""Parse and check an uploaded member roster (会员名单), CSV or XLSX, before any import.

Pure code: bytes in, :class:`RosterParse` out; no database. The whole file is
read and checked first, so staff see every problem at once and an import can
be all-or-nothing.

File-level failures raise :class:`models.errors.Invalid`:

- ``roster_too_large``  more than ``max_bytes`` (checked before anything else), more
  than ``max_rows`` data rows, or past any of the reader's limits (see "limits"
  below): an XLSX that unpacks to too much or at too high a ratio, too many zip
  members, shared strings, rows or cells, a cell or row or XML tag too long; a CSV
  with too many lines or a record too long
- ``roster_empty``      empty file, empty first sheet, or a header with no data rows
- ``roster_format``     an old .xls, a corrupt or structurally odd .xlsx (bad zip,
  encrypted or bzip2/LZMA members, XML not well-formed or not UTF-8, a DOCTYPE,
  nesting too deep, row or cell references Excel would not write, rows out of order,
  a missing part, a bad shared-string index), or a CSV the csv module rejects (an
  unclosed quote)
- ``roster_encoding``   a CSV that is neither UTF-8 (BOM optional) nor GB18030/GBK
- ``roster_headers``    the 姓名 or 身份证号 column is missing (the message says which),
  or a header appears twice
- ``roster_too_many_problems``  more than ``_MAX_PROBLEMS`` row problems: a file
  wrong throughout is refused with its first problem rather than listed row by row

A hostile file raises one of these and nothing else, and is refused as soon as it
crosses a limit: no file makes the parser hold more than a few megabytes beyond
the rows it returns. The file is read by :mod:`models.core.spreadsheets` (shared with
the exports), which holds the limits, each with its reason; its refusals become the
``roster_*`` codes above.

Row-level problems skip the row and are listed in ``RosterParse.problems``
(``RowProblem.code``): ``name_required``, ``name_too_long``, ``name_format``,
``id_number_required``, the codes of :func:`models.idcard.parse_id_number`,
``phone_format``, ``duplicate_in_file``, ``formula_cell``, ``field_too_long``.
A row may have several problems, one per field at most.

XLSX: the first worksheet (see :mod:`models.core.spreadsheets`). Formula cells
(``<f>``) are refused.

Line numbers are what a person sees: the row number in Excel/WPS (header on
line 1 in the usual layout). For a CSV that is the record number, which equals
the text line number unless a quoted cell spans several lines.
"""
from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from typing import BinaryIO, Literal

from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from models.core import spreadsheets
from models.core.clock import local_today
from models.core.errors import Invalid
from models.members.idcard import IdNumber, parse_id_number

__all__ = [
    "RosterParse",
    "RosterRow",
    "RowProblem",
    "normalize_name",
    "normalize_phone",
    "parse_roster",
]

MAX_CELL_CHARS = 200
MAX_NAME_CHARS = 50
# How many non-blank rows may precede the header (a title such as "某某工会会员名单").
_HEADER_SCAN_ROWS = 10

LABELS: dict[str, str] = {
    "name": "姓名",
    "id_number": "身份证号",
    "phone": "手机号",
    "employer": "工作单位",
    "org": "所属工会",
}
# Recognised headers per field, in order of preference when several are present.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名",),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "身份证"),
    "phone": ("手机号", "手机号码", "联系电话", "电话", "手机"),
    "employer": ("工作单位", "单位"),
    "org": ("所属工会", "工会"),
}
_REQUIRED = ("name", "id_number")

_PHONE_RE = re.compile(r"1[3-9]\d{9}", re.ASCII)
_SCIENTIFIC_RE = re.compile(r"\d+(\.\d+)?[eE]\+?\d+", re.ASCII)
_HEADER_NOTE_RE = re.compile(r"\(.*\)$")  # "身份证号(必填)"
_DOTS = str.maketrans({".": "·", "•": "·", "・": "·", "‧": "·", "∙": "·", "⋅": "·", "･": "·"})
_PHONE_SEPARATORS = str.maketrans("", "", " \t-–—()")
_CSV_FORMULA_STARTS = frozenset("=@\t\r+-")


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One valid roster row, normalised."""

    line: int
    name: str
    id_number: IdNumber
    phone: str | None
    employer: str | None
    org: str | None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row was skipped: ``field`` is an English key (None for the whole row)."""

    line: int
    field: str | None
    code: str
    reason: str


@dataclass(slots=True)
class RosterParse:
    """Result of :func:`parse_roster`: valid rows, problems, and data rows seen."""

    rows: list[RosterRow] = dataclass_field(default_factory=list)
    problems: list[RowProblem] = dataclass_field(default_factory=list)
    total: int = 0
    format: Literal["csv", "xlsx"] = "csv"
    encoding: str | None = None  # "utf-8" or "gb18030" for a CSV


# ---------------------------------------------------------------- normalisers


def _is_cjk(c: str) -> bool:
    return "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" or c >= "\U00020000"


def normalize_name(raw: str) -> str:
    """Canonical form of a person's name, for storing and for real-name matching.

    NFKC (full-width letters to ASCII), dot variants to "·", whitespace collapsed;
    spaces next to a Chinese character are dropped ("王  五" -> "王五", a common
    alignment habit), spaces between Latin words kept ("John Smith").
    """
    parts = unicodedata.normalize("NFKC", raw).translate(_DOTS).split()
    if not parts:
        return ""
    out = parts[0]
    for part in parts[1:]:
        if _is_cjk(out[-1]) or _is_cjk(part[0]) or out[-1] == "·" or part[0] == "·":
            out += part
        else:
            out += " " + part
    return out


def _name_ok(name: str) -> bool:
    if not (name[0].isalpha() and name[-1].isalpha()) or "··" in name:
        return False
    return all(c.isalpha() or c == "·" or c == " " for c in name)


def normalize_phone(raw: str) -> str | None:
    """An 11-digit mainland mobile number, or None when ``raw`` is not one.

    Spaces, dashes and parentheses are removed, and a leading +86 / 0086 / 86.
    """
    v = unicodedata.normalize("NFKC", raw).translate(_PHONE_SEPARATORS)
    if v.startswith("+86"):
        v = v[3:]
    elif v.startswith("0086"):
        v = v[4:]
    elif v.startswith("86") and len(v) == 13:
        v = v[2:]
    return v if _PHONE_RE.fullmatch(v) else None


# The result. Past this many row problems the file is refused outright: the list (and
# the JSON report built from it) would otherwise grow with every row of a file that is
# wrong throughout, e.g. an ID column saved as numbers; one example tells staff more.
_MAX_PROBLEMS = 10_000
# Distinct 工作单位/所属工会 values shared between rows (a unit repeats on many rows).
_MAX_POOLED_TEXTS = 10_000


# ---------------------------------------------------------------- headers


def _header_key(cell: object) -> str:
    if not isinstance(cell, str):
        return ""
    key = "".join(unicodedata.normalize("NFKC", cell).split()).strip("*")
    return _HEADER_NOTE_RE.sub("", key).strip("*")


def _find_columns(cells: Sequence[object]) -> dict[str, int]:
    """Column index per recognised field in a candidate header row."""
    keys = [_header_key(c) for c in cells]
    found: dict[str, int] = {}
    for key, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            positions = [i for i, k in enumerate(keys) if k == alias]
            if len(positions) > 1:
                raise Invalid("roster_headers", f"表头“{alias}”出现了{len(positions)}次，请只保留一列")
            if positions:
                found[key] = positions[0]
                break
    return found


# ---------------------------------------------------------------- rows

_FIELD_ORDER: tuple[str, ...] = ("name", "id_number", "phone", "employer", "org")
_FIELD_RANK = {key: rank for rank, key in enumerate(_FIELD_ORDER)}
_NUMERIC_ID_REASON = (
    "身份证号被 Excel 存成了数字（末尾几位可能已丢失）；请把该列设置为“文本”格式后重新填写"
)
_SCIENTIFIC_ID_REASON = (
    "身份证号变成了科学计数法（如 1.1E+17），末尾几位已丢失；"
    "请在 Excel/WPS 中把该列设置为“文本”格式后重新填写"
)


def _is_blank(values: Sequence[object]) -> bool:
    for value in values:
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return False
    return True


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cell_text(value: object, key: str, kind: str) -> tuple[str | None, tuple[str, str] | None]:
    """A cell as stripped text (None when empty), or a (code, reason) problem."""
    label = LABELS[key]
    if value is None:
        return None, None
    if isinstance(value, str):
        if kind == "csv":
            # CSV injection: a spreadsheet would run these as formulas when the file is opened.
            if value and value[0] in _CSV_FORMULA_STARTS and not (
                key == "phone" and value.startswith("+86")
            ):
                start = {"\t": "制表符", "\r": "回车符"}.get(value[0], f"“{value[0]}”")
                return None, (
                    "formula_cell",
                    f"“{label}”以{start}开头，可能被表格软件当作公式执行，请删除开头的符号",
                )
        elif value.startswith("="):
            return None, ("formula_cell", f"“{label}”单元格是公式，请改为直接填写内容")
        text = value.strip()
    elif isinstance(value, (ArrayFormula, DataTableFormula)):
        return None, ("formula_cell", f"“{label}”单元格是公式，请改为直接填写内容")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if key == "id_number":
            return None, ("id_number_format", _NUMERIC_ID_REASON)
        text = _number_text(value)
    else:  # dates, booleans: keep their text; the field checks reject them
        text = str(value).strip()
    if len(text) > MAX_CELL_CHARS:
        return None, ("field_too_long", f"“{label}”超过{MAX_CELL_CHARS}个字符")
    return text or None, None


def _check_name(raw: str | None) -> tuple[str, tuple[str, str] | None]:
    name = normalize_name(raw) if raw else ""
    if not name:
        return name, ("name_required", "姓名不能为空")
    if len(name) > MAX_NAME_CHARS:
        return name, ("name_too_long", f"姓名超过{MAX_NAME_CHARS}个字")
    if not _name_ok(name):
        return name, ("name_format", "姓名只能包含汉字、字母、间隔号“·”和空格")
    return name, None


def parse_roster(
    data: bytes | BinaryIO,
    filename: str,
    *,
    max_bytes: int = 20 * 1024 * 1024,
    max_rows: int = 200_000,
    today: date | None = None,
) -> RosterParse:
    """Read a roster file (CSV or XLSX) and check every row; see the module docstring.

    ``data`` is the file's bytes or a seekable binary file (a spooled upload), which
    ``spreadsheets.read_rows`` reads without loading an XLSX whole. Only the 姓名 and
    身份证号 columns are required; 手机号, 工作单位 and 所属工会 are optional, other columns
    are ignored, rows blank in every recognised column are skipped. Raises
    :class:`Invalid` for file-level failures.
    """
    size = len(data) if isinstance(data, bytes) else data.seek(0, io.SEEK_END)
    if size > max_bytes:
        raise Invalid(
            "roster_too_large",
            f"文件太大（{size / 1048576:.1f} MB），上限为 {max_bytes / 1048576:.0f} MB，请分批导入",
        )
    if not isinstance(data, bytes):
        data.seek(0)
        head = data.read(len(spreadsheets.ZIP_MAGIC))
        data.seek(0)
        if not head.startswith(spreadsheets.ZIP_MAGIC):
            data = data.read()  # not an XLSX: a CSV is read whole anyway
    if isinstance(data, bytes) and (not data or data.isspace()):  # (not data.strip(): that copies the upload)
        raise Invalid("roster_empty", "文件是空的，没有任何内容")

    try:
        upload = spreadsheets.read_rows(data, filename, max_bytes=max_bytes)
        result = RosterParse(format=upload.format, encoding=upload.encoding)
        try:
            _read_rows(upload.rows, result, kind=upload.format, max_rows=max_rows, today=today or local_today())
        finally:
            upload.close()
    except spreadsheets.Refused as exc:
        raise Invalid(f"roster_{exc.kind}", exc.message) from exc
    return result


def _pooled(pool: dict[str, str], text: str) -> str:
    """``text``, or an equal str already in ``pool`` (which holds at most _MAX_POOLED_TEXTS)."""
    found = pool.get(text)
    if found is not None:
        return found
    if len(pool) < _MAX_POOLED_TEXTS:
        pool[text] = text
    return text


def _read_rows(
    source: Iterator[tuple[int, Sequence[object]]],
    result: RosterParse,
    *,
    kind: str,
    max_rows: int,
    today: date,
) -> None:
    columns: dict[str, int] = {}
    header_line = 0
    scanned = 0
    for line, cells in source:
        if _is_blank(cells):
            continue
        columns = _find_columns(cells)
        if columns:
            header_line = line
            break
        scanned += 1
        if scanned >= _HEADER_SCAN_ROWS:
            break
    if not columns:
        if scanned == 0:
            raise Invalid("roster_empty", "文件中没有任何数据")
        raise Invalid("roster_headers", "没有找到表头：第一行应为列名，至少包含“姓名”和“身份证号”")
    missing = [LABELS[k] for k in _REQUIRED if k not in columns]
    if missing:
        raise Invalid(
            "roster_headers",
            f"表头（第{header_line}行）缺少必需的列：{'、'.join(f'“{m}”' for m in missing)}",
        )

    # Column index per field in _FIELD_ORDER; -1 when the file has no such column.
    slots = [columns.get(k, -1) for k in _FIELD_ORDER]
    seen: dict[str, int] = {}
    # One str per distinct 工作单位/所属工会 rather than one per row.
    pool: dict[str, str] = {}
    rows, problems = result.rows, result.problems
    for line, cells in source:
        n = len(cells)
        values = [cells[i] if 0 <= i < n else None for i in slots]
        if _is_blank(values):  # blank in every recognised column (a pre-numbered template row)
            continue
        result.total += 1
        if result.total > max_rows:
            raise Invalid("roster_too_large", f"数据超过 {max_rows} 行，请分批导入")

        found: list[RowProblem] = []
        texts: list[str | None] = []
        for key, value in zip(_FIELD_ORDER, values):
            text, bad = _cell_text(value, key, kind)
            if bad is not None:
                found.append(RowProblem(line, key, *bad))
            texts.append(text)
        raw_name, raw_id, raw_phone, employer, org = texts
        if employer is not None:
            employer = _pooled(pool, employer)
        if org is not None:
            org = _pooled(pool, org)
        bad_fields: set[str | None] = {p.field for p in found}

        name = ""
        if "name" not in bad_fields:
            name, bad = _check_name(raw_name)
            if bad is not None:
                found.append(RowProblem(line, "name", *bad))

        id_number: IdNumber | None = None
        if "id_number" in bad_fields:
            pass
        elif not raw_id:
            found.append(RowProblem(line, "id_number", "id_number_required", "身份证号不能为空"))
        elif _SCIENTIFIC_RE.fullmatch(raw_id):
            found.append(RowProblem(line, "id_number", "id_number_format", _SCIENTIFIC_ID_REASON))
        else:
            try:
                id_number = parse_id_number(raw_id, today=today)
            except Invalid as exc:
                found.append(RowProblem(line, "id_number", exc.code, exc.message))
            else:
                first = seen.setdefault(id_number.value, line)
                if first != line:
                    found.append(
                        RowProblem(
                            line,
                            "id_number",
                            "duplicate_in_file",
                            f"身份证号与第{first}行重复（同一文件中同一人只能出现一次）",
                        )
                    )

        phone = None
        if raw_phone and "phone" not in bad_fields:
            phone = normalize_phone(raw_phone)
            if phone is None:
                found.append(
                    RowProblem(
                        line, "phone", "phone_format", "手机号格式不正确：应为以1开头的11位手机号码"
                    )
                )

        if found or id_number is None:
            # Problems are listed in column order of the fields, whatever check found them.
            found.sort(key=lambda p: _FIELD_RANK.get(p.field or "", 0))
            problems.extend(found)
            if len(problems) > _MAX_PROBLEMS:
                first_problem = problems[0]
                raise Invalid(
                    "roster_too_many_problems",
                    f"名单中有问题的地方超过 {_MAX_PROBLEMS} 处（第一处：第{first_problem.line}行，"
                    f"{first_problem.reason}），多半是整列的格式有误；请修正后重新上传",
                )
            continue
        rows.append(RosterRow(line, name, id_number, phone, employer, org))

    if result.total == 0:
        raise Invalid("roster_empty", "文件中只有表头，没有数据行")
