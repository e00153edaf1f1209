"""Parse and check an uploaded member roster (会员名单), CSV or XLSX, before any import.

Pure code: bytes in, :class:`RosterParse` out; no database. The whole file is
read and checked first, so staff see every problem at once and an import can
be all-or-nothing.

File-level failures raise :class:`models.errors.Invalid`:

- ``roster_too_large``  more than ``max_bytes`` (checked before anything else), more
  than ``max_rows`` data rows, or an XLSX that would unpack to far more than that
- ``roster_empty``      empty file, empty first sheet, or a header with no data rows
- ``roster_format``     an old .xls, a corrupt .xlsx, or a CSV the csv module rejects
- ``roster_encoding``   a CSV that is neither UTF-8 (BOM optional) nor GB18030/GBK
- ``roster_headers``    the 姓名 or 身份证号 column is missing (the message says which),
  or a header appears twice

Row-level problems skip the row and are listed in ``RosterParse.problems``
(``RowProblem.code``): ``name_required``, ``name_too_long``, ``name_format``,
``id_number_required``, the codes of :func:`models.idcard.parse_id_number`,
``phone_format``, ``duplicate_in_file``, ``formula_cell``, ``field_too_long``.
A row may have several problems, one per field at most.

XLSX: the first worksheet. Its XML is streamed with expat rather than through
openpyxl's cell objects, which take 10 s or more for 100,000 rows; a package the
fast reader does not recognise falls back to openpyxl's ``load_workbook(...,
read_only=True, data_only=False)``. Formula cells (``<f>``) are refused.

Line numbers are what a person sees: the row number in Excel/WPS (header on
line 1 in the usual layout). For a CSV that is the record number, which equals
the text line number unless a quoted cell spans several lines.
"""
from __future__ import annotations

import csv
import functools
import io
import posixpath
import re
import unicodedata
import xml.etree.ElementTree as ET
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from typing import Literal

from openpyxl import load_workbook
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from models.errors import Invalid
from models.idcard import IdNumber, china_today, parse_id_number

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
# An XLSX is a zip: refuse one that unpacks to more than this multiple of max_bytes.
_MAX_UNZIP_RATIO = 25

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

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / WPS .et

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


# ---------------------------------------------------------------- file readers


def _detect_format(data: bytes, filename: str) -> Literal["csv", "xlsx"]:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if data.startswith(_OLE_MAGIC) or ext in ("xls", "et"):
        raise Invalid(
            "roster_format",
            "不支持旧版 Excel（.xls）或加密的 Excel 文件；请取消密码，"
            "在 Excel/WPS 中另存为 .xlsx 或 CSV（UTF-8）后再上传",
        )
    if ext == "xlsx":
        raise Invalid("roster_format", "文件不是有效的 .xlsx 文件（可能已损坏），请重新保存后上传")
    return "csv"


def _decode_csv(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (BOM optional) first, then GB18030, both strict."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Invalid(
            "roster_encoding",
            "文件是 UTF-16（Unicode 文本）编码，暂不支持；请另存为“CSV UTF-8”或 .xlsx 后再上传",
        )
    try:
        text, encoding = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, encoding = data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise Invalid(
                "roster_encoding",
                "无法识别文件编码：既不是 UTF-8 也不是 GBK/GB18030；"
                "请在 Excel/WPS 中另存为“CSV UTF-8”或 .xlsx 后再上传",
            ) from None
    if "\x00" in text:
        raise Invalid(
            "roster_encoding",
            "文件中含有空字符，可能是 UTF-16 编码或并非文本文件；请另存为“CSV UTF-8”或 .xlsx 后再上传",
        )
    return text.lstrip("\ufeff"), encoding


def _csv_rows(text: str) -> Iterator[tuple[int, Sequence[object]]]:
    """(line, cells) per CSV record; comma or tab, whichever the start of the file uses more."""
    sample = text[:65536]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise Invalid(
                "roster_format", f"CSV 文件格式有误（第{line + 1}行附近），请检查引号是否配对"
            ) from exc
        line += 1
        yield line, cells


_CORRUPT_XLSX = "无法读取 Excel 文件（可能已损坏或不是 .xlsx 格式），请重新保存为 .xlsx 后上传"
# Cells beyond this column are ignored: a roster's columns are near the left, and a
# hostile file must not make every row a 16,384-wide list.
_MAX_XLSX_COLUMNS = 1024
_SPREADSHEET_NS = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",  # Transitional (Excel, WPS)
    "http://purl.oclc.org/ooxml/spreadsheetml/main",  # Strict
)
# Element names as expat reports them with namespace_separator=" ".
_TAG_CODES = {
    f"{ns} {local}": code
    for ns in _SPREADSHEET_NS
    for code, local in enumerate(("row", "c", "v", "f", "is", "t", "rPh", "si"))
}
_ROW, _C, _V, _F, _IS, _T, _RPH, _SI = range(8)


# What zipfile raises for damaged, encrypted or unsupported members.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError)


class _UseOpenpyxl(Exception):
    """The fast reader does not recognise this package layout; let openpyxl read it."""


class _CorruptXlsx(Exception):
    """The sheet data cannot be read."""


def _xlsx_rows(data: bytes, max_bytes: int) -> Iterator[tuple[int, Sequence[object]]]:
    """(row number, values) of the first worksheet, for rows present in the file.

    The sheet XML is streamed with expat (a few times faster than openpyxl's
    cell objects, which matters for 100,000-row rosters); a package whose
    layout the fast reader does not recognise is read by openpyxl instead.
    Values are what openpyxl's ``values_only`` gives, except that formulas are
    always "=..." text and date-formatted numbers stay numbers.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Invalid("roster_format", _CORRUPT_XLSX) from exc
    with archive:
        if unpacked > _MAX_UNZIP_RATIO * max_bytes:
            raise Invalid("roster_too_large", "Excel 文件解压后过大，请删除多余的工作表或分批导入")
        try:
            sheet_path, strings_path = _locate_first_sheet(archive)
            strings = _read_shared_strings(archive, strings_path) if strings_path else []
        except _UseOpenpyxl:
            yield from _openpyxl_rows(data)
            return
        except (_CorruptXlsx, KeyError, *_ZIP_ERRORS) as exc:
            raise Invalid("roster_format", _CORRUPT_XLSX) from exc
        if sheet_path is None:
            raise Invalid("roster_empty", "Excel 文件中没有工作表")
        rows = _sheet_rows(archive, sheet_path, strings)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except (_CorruptXlsx, *_ZIP_ERRORS) as exc:
                raise Invalid("roster_format", _CORRUPT_XLSX) from exc
            yield row


def _has(archive: zipfile.ZipFile, path: str) -> bool:
    try:
        archive.getinfo(path)
    except KeyError:
        return False
    return True


def _small_xml(archive: zipfile.ZipFile, path: str) -> ET.Element:
    """Parse a small package part (relationships, workbook); no DTDs allowed."""
    raw = archive.read(path)
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise _CorruptXlsx(path)
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise _CorruptXlsx(path) from exc


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, resolved path) of a part's relationships."""
    folder, name = posixpath.split(part)
    rels_path = posixpath.join(folder, "_rels", name + ".rels")
    if not _has(archive, rels_path):
        raise _UseOpenpyxl(rels_path)
    found: dict[str, tuple[str, str]] = {}
    for el in _small_xml(archive, rels_path):
        target = el.get("Target", "")
        if el.get("TargetMode") == "External" or not target:
            continue
        path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[el.get("Id", "")] = (el.get("Type", ""), posixpath.normpath(path))
    return found


def _locate_first_sheet(archive: zipfile.ZipFile) -> tuple[str | None, str | None]:
    """Paths of the first worksheet (skipping chart sheets) and of the shared strings."""
    office = [p for t, p in _relationships(archive, "").values() if t.endswith("/officeDocument")]
    if not office or not _has(archive, office[0]):
        raise _UseOpenpyxl("officeDocument")
    workbook_path = office[0]
    rels = _relationships(archive, workbook_path)
    workbook = _small_xml(archive, workbook_path)
    sheet_path = None
    for el in workbook.iter():
        if not el.tag.endswith("}sheet"):
            continue
        rel_id = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
        if rel_id is None or rel_id not in rels:
            raise _UseOpenpyxl("sheet relationship")
        rel_type, path = rels[rel_id]
        if rel_type.endswith("/worksheet") and _has(archive, path):
            sheet_path = path
            break
    strings = [p for t, p in rels.values() if t.endswith("/sharedStrings")]
    if strings and not _has(archive, strings[0]):
        raise _CorruptXlsx("sharedStrings")
    return sheet_path, strings[0] if strings else None


def _expat() -> xml.parsers.expat.XMLParserType:
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True

    def refuse_doctype(*_args: object) -> None:
        raise _CorruptXlsx("DOCTYPE in a spreadsheet part")

    parser.StartDoctypeDeclHandler = refuse_doctype
    return parser


def _feed(parser: xml.parsers.expat.XMLParserType, chunk: bytes, final: bool) -> None:
    try:
        parser.Parse(chunk, final)
    except xml.parsers.expat.ExpatError as exc:
        raise _CorruptXlsx(str(exc)) from exc


def _read_shared_strings(archive: zipfile.ZipFile, path: str) -> list[str]:
    """The shared string table: each item's text runs joined, phonetic guides left out."""
    strings: list[str] = []
    parts: list[str] = []
    state = {"text": False, "phonetic": False}
    codes = _TAG_CODES

    def start(name: str, _attrs: dict[str, str]) -> None:
        code = codes.get(name)
        if code == _T and not state["phonetic"]:
            state["text"] = True
        elif code == _RPH:
            state["phonetic"] = True
        elif code == _SI:
            parts.clear()

    def end(name: str) -> None:
        code = codes.get(name)
        if code == _T:
            state["text"] = False
        elif code == _RPH:
            state["phonetic"] = False
        elif code == _SI:
            strings.append("".join(parts))

    def text(data: str) -> None:
        if state["text"]:
            parts.append(data)

    parser = _expat()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    with archive.open(path) as stream:
        while chunk := stream.read(1 << 16):
            _feed(parser, chunk, False)
    _feed(parser, b"", True)
    return strings


@functools.lru_cache(maxsize=4096)
def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch.upper()) - 64)
    return index - 1


def _sheet_rows(
    archive: zipfile.ZipFile, path: str, strings: list[str]
) -> Iterator[tuple[int, list[object]]]:
    """Stream (row number, values) from a worksheet part."""
    done: list[tuple[int, list[object]]] = []
    buffer: list[str] = []
    codes = _TAG_CODES
    # The row and cell being read (closures over locals: the handlers run per element).
    row_number = 0
    values: list[object] = []
    col = 0
    kind = "n"
    v: str | None = None
    formula: str | None = None
    inline: list[str] | None = None
    capture = phonetic = False

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal row_number, values, col, kind, v, formula, inline, capture, phonetic
        code = codes.get(name)
        if code == _C:
            ref = attrs.get("r")
            col = _column_index(ref.rstrip("0123456789")) if ref else len(values)
            kind = attrs.get("t", "n")
            v = formula = inline = None
        elif code == _V or code == _F or (code == _T and not phonetic):
            buffer.clear()
            capture = True
        elif code == _ROW:
            r = attrs.get("r")
            row_number = int(r) if r else row_number + 1
            values = []
        elif code == _IS:
            inline = []
        elif code == _RPH:
            phonetic = True

    def end(name: str) -> None:
        nonlocal v, formula, capture, phonetic
        code = codes.get(name)
        if code == _C:
            if 0 <= col < _MAX_XLSX_COLUMNS:
                if col >= len(values):
                    values.extend([None] * (col + 1 - len(values)))
                values[col] = _cell_value(kind, v, formula, inline, strings)
        elif code == _V:
            v = "".join(buffer)
            capture = False
        elif code == _F:
            formula = "".join(buffer)
            capture = False
        elif code == _T and capture:
            if inline is not None:
                inline.append("".join(buffer))
            capture = False
        elif code == _ROW:
            done.append((row_number, values))
        elif code == _RPH:
            phonetic = False

    def text(data: str) -> None:
        if capture:
            buffer.append(data)

    parser = _expat()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    with archive.open(path) as stream:
        while chunk := stream.read(1 << 16):
            _feed(parser, chunk, False)
            yield from done
            done.clear()
    _feed(parser, b"", True)
    yield from done


def _cell_value(
    kind: str, v: str | None, formula: str | None, inline: list[str] | None, strings: list[str]
) -> object:
    """A cell's value as openpyxl's values_only would give it (see _xlsx_rows)."""
    if formula is not None:
        return "=" + formula
    if kind == "s":
        if v is None:
            return None
        try:
            return strings[int(v)]
        except (ValueError, IndexError) as exc:
            raise _CorruptXlsx("shared string index") from exc
    if kind == "inlineStr":
        return "".join(inline) if inline else None
    if v is None or v == "":
        return None
    if kind == "b":
        return v.strip() in ("1", "true")
    if kind in ("str", "e", "d"):
        return v
    try:
        return float(v) if ("." in v or "e" in v or "E" in v) else int(v)
    except ValueError:
        return v


def _openpyxl_rows(data: bytes) -> Iterator[tuple[int, Sequence[object]]]:
    """(row number, values) of the first worksheet read by openpyxl (the fallback)."""
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a malformed file
        raise Invalid("roster_format", _CORRUPT_XLSX) from exc
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise Invalid("roster_empty", "Excel 文件中没有工作表")
        sheet = sheets[0]
        # The stored dimension may be wrong (some generators write "A1"); read everything.
        sheet.reset_dimensions()
        values = sheet.iter_rows(values_only=True)
        line = 0
        while True:
            try:
                row = next(values)
            except StopIteration:
                return
            except Exception as exc:  # lazily parsed XML: corruption shows up here
                raise Invalid("roster_format", _CORRUPT_XLSX) from exc
            line += 1
            yield line, row
    finally:
        workbook.close()


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


def _is_formula(value: object) -> bool:
    return isinstance(value, (ArrayFormula, DataTableFormula)) or (
        isinstance(value, str) and value.startswith("=")
    )


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
    data: bytes,
    filename: str,
    *,
    max_bytes: int = 20 * 1024 * 1024,
    max_rows: int = 200_000,
    today: date | None = None,
) -> RosterParse:
    """Read a roster file (CSV or XLSX) and check every row; see the module docstring.

    Only the 姓名 and 身份证号 columns are required; 手机号, 工作单位 and 所属工会 are
    optional, other columns are ignored, rows blank in every recognised column are
    skipped. Raises :class:`Invalid` for file-level failures.
    """
    if len(data) > max_bytes:
        raise Invalid(
            "roster_too_large",
            f"文件太大（{len(data) / 1048576:.1f} MB），上限为 {max_bytes / 1048576:.0f} MB，请分批导入",
        )
    if not data.strip():
        raise Invalid("roster_empty", "文件是空的，没有任何内容")

    kind = _detect_format(data, filename)
    result = RosterParse(format=kind)
    if kind == "xlsx":
        source = _xlsx_rows(data, max_bytes)
    else:
        text, result.encoding = _decode_csv(data)
        source = _csv_rows(text)

    try:
        _read_rows(source, result, kind=kind, max_rows=max_rows, today=today or china_today())
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    return result


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
            continue
        rows.append(RosterRow(line, name, id_number, phone, employer, org))

    if result.total == 0:
        raise Invalid("roster_empty", "文件中只有表头，没有数据行")
