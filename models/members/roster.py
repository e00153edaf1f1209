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
the rows it returns (see the limits section for each bound and why).

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

import codecs
import csv
import functools
import io
import itertools
import posixpath
import re
import struct
import unicodedata
import xml.parsers.expat
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from typing import BinaryIO, Literal

from openpyxl import load_workbook
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from models.core.errors import Invalid
from models.members.idcard import IdNumber, china_today, parse_id_number

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


# ---------------------------------------------------------------- limits
# Every limit bounds what a hostile file can make the parser hold or spend, with room
# to spare for real rosters: at most ~100,000 rows (``max_rows`` allows 200,000), a
# handful of columns, names and units of a few hundred characters at most. A file past
# any of them is refused (``roster_too_large`` unless it is malformed as well) as soon
# as the limit is crossed, so what was read before stays within these bounds: a
# hostile upload grows the process by a few megabytes, a real 100,000-row roster by
# what its rows take.

_MB = 1024 * 1024

# The zip package of an XLSX, checked on the central directory before anything is unpacked.
# zipfile builds a ~0.5 KB object per member when it opens an archive. A workbook has
# 10-30 members (a few hundred with many images); 512 KiB of directory is ~5,000 real
# entries, at most ~11,000 of the smallest possible ones (~5 MB of objects).
_MAX_ZIP_DIRECTORY_BYTES = 512 * 1024
_MAX_ZIP_MEMBERS = 5_000
# Unpacked size of one member, and of all members. The sheet of a 200,000-row roster in
# Excel's layout is ~60-80 MB; parts are streamed, so these bound time (expat reads
# ~50 MB a second), not memory.
_MAX_PART_BYTES = 128 * _MB
_MAX_UNZIPPED_BYTES = 192 * _MB
# For callers with a small ``max_bytes``: an XLSX may unpack to at most this multiple of it.
_MAX_UNZIP_RATIO = 25
# Deflate reaches ~1,000:1 on repeated bytes; spreadsheet XML compresses 5-20:1 (a
# 100,000-row sheet written by openpyxl: 9:1). Checked on the declared sizes of every
# member over 1 MiB, and again while reading (bytes out against compressed bytes in),
# since a member can declare sizes it does not have.
_MAX_COMPRESSION_RATIO = 100
_RATIO_FROM_BYTES = _MB
# Relationship and workbook parts: a few kilobytes in real files, parsed for a handful
# of elements (at most this many relationships or sheets are kept).
_MAX_SMALL_PART_BYTES = 4 * _MB
_MAX_PACKAGE_ENTRIES = 10_000
# The openpyxl fallback (a package the fast reader does not recognise: no real writer
# makes one) builds objects per cell and string, so it is given small packages only.
_MAX_FALLBACK_UNZIPPED_BYTES = 4 * _MB

# The XML inside. Excel's own limits: 32,767 characters a cell, 1,048,576 rows,
# 16,384 columns (XFD); no file Excel or WPS writes goes past them.
_MAX_XLSX_CELL_CHARS = 32_767
_MAX_SHEET_ROWS = 1_048_576
_MAX_SHEET_COLUMNS = 16_384
# Text made for one row (values, inline strings, formulas): eight cells at Excel's
# limit; a roster row is a few hundred characters.
_MAX_ROW_CHARS = 262_144
# Shared strings: a 100,000-row roster has ~300,000 distinct strings, ~3 million
# characters (ID numbers, phone numbers, names, units), ~5 million with an address
# column; these leave room for 200,000 rows. Stored packed (:class:`_StringTable`): at
# most 4 bytes a character and 8 bytes a string, so 48 MB in the very worst case (a
# character outside the BMP in every block), ~28 MB for Chinese text at the limits,
# ~8 MB for a real 100,000-row roster.
_MAX_SHARED_STRINGS = 1_000_000
_MAX_SHARED_CHARS = 10_000_000
# Bytes between two "<": expat holds a start tag whole until it ends (and builds a dict
# of its attributes), so this bounds that buffer. Real runs are at most one cell's text
# (32,767 characters, under 128 KiB in UTF-8).
_MAX_XML_RUN_BYTES = 256 * 1024
# Element nesting (expat keeps a stack): a worksheet goes 7 deep
# (worksheet/sheetData/row/c/is/r/t), extensions a few more.
_MAX_XML_DEPTH = 64
# zipfile reads compressed data in step with what is asked of it, so small reads keep
# the running ratio check close behind a bomb.
_READ_CHUNK = 16 * 1024

# CSV. One record (a line, or lines joined by a quoted field): a roster line is a few
# hundred characters, a line with several long remarks a few thousand.
_MAX_CSV_RECORD_CHARS = 100_000
# Lines, counted on the raw bytes before any decoding: Excel's row limit (a CSV saved
# from a sheet has no more), and a bound on blank-line spam.
_MAX_CSV_LINES = 1_048_576
# The encoding check decodes this much at a time (and keeps none of it).
_DECODE_CHUNK = _MB

# The result. Past this many row problems the file is refused outright: the list (and
# the JSON report built from it) would otherwise grow with every row of a file that is
# wrong throughout, e.g. an ID column saved as numbers; one example tells staff more.
_MAX_PROBLEMS = 10_000
# Distinct 工作单位/所属工会 values shared between rows (a unit repeats on many rows).
_MAX_POOLED_TEXTS = 10_000


def _too_large(message: str) -> Invalid:
    return Invalid("roster_too_large", message)


_UNZIPPED_TOO_LARGE = "Excel 文件解压后过大，请删除多余的工作表或分批导入"
_RATIO_TOO_HIGH = (
    f"Excel 文件解压后膨胀到压缩大小的 {_MAX_COMPRESSION_RATIO} 倍以上，不像正常的表格文件，已拒绝处理；"
    "请在 Excel/WPS 中重新保存为 .xlsx 后上传"
)


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


def _csv_encoding(data: bytes) -> str:
    """The codec that decodes the whole file strictly: "utf-8-sig" (BOM optional) first, then "gb18030".

    Checked a chunk at a time, keeping nothing: the text is decoded again as it is read.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Invalid(
            "roster_encoding",
            "文件是 UTF-16（Unicode 文本）编码，暂不支持；请另存为“CSV UTF-8”或 .xlsx 后再上传",
        )
    for codec in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(codec)("strict")
        try:
            for start in range(0, len(data), _DECODE_CHUNK):
                decoder.decode(data[start : start + _DECODE_CHUNK])
            decoder.decode(b"", True)
        except UnicodeDecodeError:
            continue
        break
    else:
        raise Invalid(
            "roster_encoding",
            "无法识别文件编码：既不是 UTF-8 也不是 GBK/GB18030；"
            "请在 Excel/WPS 中另存为“CSV UTF-8”或 .xlsx 后再上传",
        )
    if b"\x00" in data:  # both codecs are ASCII-compatible: a NUL byte is a NUL character
        raise Invalid(
            "roster_encoding",
            "文件中含有空字符，可能是 UTF-16 编码或并非文本文件；请另存为“CSV UTF-8”或 .xlsx 后再上传",
        )
    return codec


def _csv_rows(data: bytes, codec: str) -> Iterator[tuple[int, Sequence[object]]]:
    """(line, cells) per CSV record; comma or tab, whichever the start of the file uses more.

    The text is decoded as it is read, a line at a time, and no record may pass
    ``_MAX_CSV_RECORD_CHARS`` (nor the file ``_MAX_CSV_LINES``), so memory stays flat
    whatever the file holds. The csv module's own field limit is process-wide state
    and is left alone: the record limit is below it.
    """
    if max(data.count(b"\n"), data.count(b"\r")) > _MAX_CSV_LINES:
        raise _too_large(f"文件超过 {_MAX_CSV_LINES} 行，请删除空行或分批导入")
    sample = data[:65536]  # "," and tab are single bytes in UTF-8 and GB18030 alike
    delimiter = "\t" if sample.count(b"\t") > sample.count(b",") else ","
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=codec, errors="strict", newline="")
    line = 0
    pending = quotes = 0  # characters and quote marks of the record being read

    def lines() -> Iterator[str]:
        nonlocal pending, quotes
        text = stream.readline(_MAX_CSV_RECORD_CHARS + 1).lstrip("\ufeff")
        while text:
            pending += len(text)
            quotes += text.count('"')
            if pending > _MAX_CSV_RECORD_CHARS:
                if quotes % 2:  # a quoted field that never closes swallows the rest of the file
                    raise Invalid(
                        "roster_format", f"CSV 文件格式有误（第{line + 1}行附近），请检查引号是否配对"
                    )
                raise _too_large(f"第{line + 1}行超过 {_MAX_CSV_RECORD_CHARS} 个字符，文件内容可能有误")
            yield text
            text = stream.readline(_MAX_CSV_RECORD_CHARS + 1)

    reader = csv.reader(lines(), delimiter=delimiter)
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
        pending = quotes = 0
        yield line, cells


_CORRUPT_XLSX = "无法读取 Excel 文件（可能已损坏或不是 .xlsx 格式），请重新保存为 .xlsx 后上传"
_ENCRYPTED_XLSX = "Excel 文件中有加密的内容，无法读取；请取消加密，重新保存为 .xlsx 后上传"
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

# What zipfile raises for damaged or unsupported members (UnicodeDecodeError: a member
# name flagged UTF-8 that is not).
_ZIP_ERRORS = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError,
    UnicodeDecodeError, struct.error,
)


#: An upload: its bytes, or a seekable binary file holding them (a spooled upload).
_Source = bytes | BinaryIO


class _UseOpenpyxl(Exception):
    """The fast reader does not recognise this package layout; let openpyxl read it."""


class _CorruptXlsx(Exception):
    """The sheet data cannot be read."""


class _CountingFile:
    """The upload as a file (the bytes shared, not copied, or the spooled file) that counts reads.

    zipfile reads members' compressed data through it, so bytes out of a member can be
    set against compressed bytes in while streaming.
    """

    def __init__(self, source: _Source) -> None:
        self._file: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
        self._file.seek(0)
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = self._file.read(-1 if size is None else size)
        self.consumed += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def seekable(self) -> bool:
        return True


def _size_and_tail(source: _Source) -> tuple[int, bytes]:
    """The upload's size and its last bytes, enough to hold a zip's end records (ZIP64 too)."""
    if isinstance(source, bytes):
        return len(source), source
    size = source.seek(0, io.SEEK_END)
    start = max(0, size - 22 - 0xFFFF - 76)
    source.seek(start)
    return size, source.read(size - start)


def _zip_directory(data: bytes) -> tuple[int, int] | None:
    """(members, central directory bytes) as the end record states them (ZIP64 too), or None."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 0xFFFF))
    if end < 0 or len(data) - end < 22:
        return None
    entries, size = struct.unpack_from("<10xHL", data, end)
    # A ZIP64 end record sits just before its 20-byte locator, where zipfile looks for it.
    record = end - 20 - 56
    if record >= 0 and data[end - 20 : end - 16] == b"PK\x06\x07" and data[record : record + 4] == b"PK\x06\x06":
        entries64, size64 = struct.unpack_from("<32xQQ", data, record)
        entries, size = max(entries, entries64), max(size, size64)
    return entries, size


class _Package:
    """The zip package of an XLSX whose every read is bounded (see the limits above)."""

    def __init__(self, data: _Source, budget: int) -> None:
        size, tail = _size_and_tail(data)
        directory = _zip_directory(tail)
        if directory is not None and (
            directory[0] > _MAX_ZIP_MEMBERS or directory[1] > _MAX_ZIP_DIRECTORY_BYTES
        ):
            raise _too_large("Excel 文件中的组成部分过多，不像正常的表格文件；请重新保存为 .xlsx 后上传")
        self._file = _CountingFile(data)
        try:
            self._zip = zipfile.ZipFile(self._file)
        except (*_ZIP_ERRORS, ValueError) as exc:
            raise Invalid("roster_format", _CORRUPT_XLSX) from exc
        infos = self._zip.infolist()
        if len(infos) > _MAX_ZIP_MEMBERS:
            self.close()
            raise _too_large("Excel 文件中的组成部分过多，不像正常的表格文件；请重新保存为 .xlsx 后上传")
        self.unzipped = 0
        try:
            for info in infos:
                if info.flag_bits & 0x1:
                    raise Invalid("roster_format", _ENCRYPTED_XLSX)
                # bzip2 and LZMA members (never written by Excel) are decompressed by zipfile
                # without a bound per call: a few bytes can become gigabytes at once.
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise Invalid("roster_format", _CORRUPT_XLSX)
                if info.compress_size > size:
                    raise Invalid("roster_format", _CORRUPT_XLSX)
                if info.file_size > _MAX_PART_BYTES:
                    raise _too_large(_UNZIPPED_TOO_LARGE)
                if info.file_size > _RATIO_FROM_BYTES and (
                    info.file_size > _MAX_COMPRESSION_RATIO * info.compress_size
                ):
                    raise _too_large(_RATIO_TOO_HIGH)
                self.unzipped += info.file_size
            if self.unzipped > budget:
                raise _too_large(_UNZIPPED_TOO_LARGE)
        except Invalid:
            self.close()
            raise
        self._budget = budget

    def close(self) -> None:
        self._zip.close()

    def infos(self) -> list[zipfile.ZipInfo]:
        return self._zip.infolist()

    def has(self, path: str) -> bool:
        try:
            self._zip.getinfo(path)
        except KeyError:
            return False
        return True

    def chunks(self, member: str | zipfile.ZipInfo, limit: int = _MAX_PART_BYTES) -> Iterator[bytes]:
        """A member's bytes as they are unpacked; refused past ``limit`` or the package's budget.

        zipfile never returns more than a member's declared size; the count here holds
        whatever the declaration, and the ratio of bytes out to compressed bytes in is
        checked as they come (a member may declare a modest size and ratio it does not have).
        """
        try:
            info = member if isinstance(member, zipfile.ZipInfo) else self._zip.getinfo(member)
        except KeyError as exc:
            raise _CorruptXlsx("missing part") from exc
        if info.file_size > limit:
            raise _too_large(_UNZIPPED_TOO_LARGE)
        try:
            stream = self._zip.open(info)
        except (*_ZIP_ERRORS, ValueError) as exc:  # ValueError: a header offset out of the file
            raise _CorruptXlsx("cannot open part") from exc
        start = self._file.consumed
        produced = 0
        with stream:
            while True:
                try:
                    chunk = stream.read(_READ_CHUNK)
                except (*_ZIP_ERRORS, ValueError) as exc:
                    raise _CorruptXlsx("damaged part") from exc
                if not chunk:
                    return
                produced += len(chunk)
                self._budget -= len(chunk)
                if produced > limit or self._budget < 0:
                    raise _too_large(_UNZIPPED_TOO_LARGE)
                if produced > _RATIO_FROM_BYTES and (
                    produced > _MAX_COMPRESSION_RATIO * (self._file.consumed - start)
                ):
                    raise _too_large(_RATIO_TOO_HIGH)
                yield chunk


def _xlsx_rows(data: _Source, max_bytes: int) -> Iterator[tuple[int, Sequence[object]]]:
    """(row number, values) of the first worksheet, for rows present in the file.

    The sheet XML is streamed with expat (a few times faster than openpyxl's
    cell objects, which matters for 100,000-row rosters); a package whose
    layout the fast reader does not recognise is read by openpyxl instead.
    Values are what openpyxl's ``values_only`` gives, except that formulas are
    always "=..." text and date-formatted numbers stay numbers.
    """
    package = _Package(data, min(_MAX_UNZIPPED_BYTES, _MAX_UNZIP_RATIO * max_bytes))
    try:
        try:
            sheet_path, strings_path = _locate_first_sheet(package)
            strings = _read_shared_strings(package, strings_path) if strings_path else _StringTable()
        except _UseOpenpyxl:
            package.close()
            yield from _openpyxl_rows(data)
            return
        except _CorruptXlsx as exc:
            raise Invalid("roster_format", _CORRUPT_XLSX) from exc
        if sheet_path is None:
            raise Invalid("roster_empty", "Excel 文件中没有工作表")
        rows = _sheet_rows(package, sheet_path, strings)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except _CorruptXlsx as exc:
                raise Invalid("roster_format", _CORRUPT_XLSX) from exc
            yield row
    finally:
        package.close()


# ---------------------------------------------------------------- XML, bounded


def _expat() -> xml.parsers.expat.XMLParserType:
    """An expat parser for one package part: UTF-8 whatever the part declares, no DTD.

    Excel writes UTF-8 only; forcing it also means a ``<`` byte is always a ``<``
    character, which :func:`_parse_chunks` relies on.
    """
    parser = xml.parsers.expat.ParserCreate(encoding="UTF-8", namespace_separator=" ")
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


def _parse_chunks(parser: xml.parsers.expat.XMLParserType, chunks: Iterator[bytes]) -> Iterator[None]:
    """Feed ``chunks`` to ``parser``, yielding after each; refuse a run of bytes with no "<" in it.

    expat holds an unfinished tag whole; bounding the distance between "<" bytes bounds it.
    """
    run = 0
    for chunk in chunks:
        first = chunk.find(b"<")
        if first < 0:
            run += len(chunk)
        elif run + first > _MAX_XML_RUN_BYTES:
            run += first
        else:
            run = len(chunk) - chunk.rfind(b"<") - 1
        if run > _MAX_XML_RUN_BYTES:
            raise _too_large("Excel 文件中有超长的内容（单元格或标记过长），不像正常的表格文件，已拒绝处理")
        _feed(parser, chunk, False)
        yield
    _feed(parser, b"", True)


def _scan_xml(chunks: Iterator[bytes], on_start: Callable[[str, dict[str, str]], None] | None = None) -> None:
    """Parse XML chunks with nesting bounded, calling ``on_start(name, attributes)`` for each element."""
    parser = _expat()
    depth = 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > _MAX_XML_DEPTH:
            raise _CorruptXlsx("nesting")
        if on_start is not None:
            on_start(name, attrs)

    def end(_name: str) -> None:
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    for _ in _parse_chunks(parser, chunks):
        pass


def _scan_part(
    package: _Package, path: str, on_start: Callable[[str, dict[str, str]], None]
) -> None:
    """Parse a small part, calling ``on_start(name, attributes)`` for each element."""
    _scan_xml(package.chunks(path, _MAX_SMALL_PART_BYTES), on_start)


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


def _relationships(package: _Package, part: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, resolved path) of a part's relationships."""
    folder, name = posixpath.split(part)
    rels_path = posixpath.join(folder, "_rels", name + ".rels")
    if not package.has(rels_path):
        raise _UseOpenpyxl(rels_path)
    found: dict[str, tuple[str, str]] = {}

    def on_start(tag: str, attrs: dict[str, str]) -> None:
        if _local(tag) != "Relationship":
            return
        target = attrs.get("Target", "")
        if attrs.get("TargetMode") == "External" or not target:
            return
        path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[attrs.get("Id", "")] = (attrs.get("Type", ""), posixpath.normpath(path))
        if len(found) > _MAX_PACKAGE_ENTRIES:
            raise _CorruptXlsx("too many relationships")

    _scan_part(package, rels_path, on_start)
    return found


def _locate_first_sheet(package: _Package) -> tuple[str | None, str | None]:
    """Paths of the first worksheet (skipping chart sheets) and of the shared strings."""
    office = [p for t, p in _relationships(package, "").values() if t.endswith("/officeDocument")]
    if not office or not package.has(office[0]):
        raise _UseOpenpyxl("officeDocument")
    workbook_path = office[0]
    rels = _relationships(package, workbook_path)
    sheet_ids: list[str | None] = []

    def on_start(tag: str, attrs: dict[str, str]) -> None:
        if _local(tag) == "sheet":
            sheet_ids.append(next((v for k, v in attrs.items() if k.endswith(" id")), None))
            if len(sheet_ids) > _MAX_PACKAGE_ENTRIES:
                raise _CorruptXlsx("too many sheets")

    _scan_part(package, workbook_path, on_start)
    sheet_path = None
    for rel_id in sheet_ids:
        if rel_id is None or rel_id not in rels:
            raise _UseOpenpyxl("sheet relationship")
        rel_type, path = rels[rel_id]
        if rel_type.endswith("/worksheet"):
            if not package.has(path):
                raise _CorruptXlsx("worksheet part missing")
            sheet_path = path
            break
    strings = [p for t, p in rels.values() if t.endswith("/sharedStrings")]
    if strings and not package.has(strings[0]):
        raise _CorruptXlsx("sharedStrings")
    return sheet_path, strings[0] if strings else None


_BLOCK_SHIFT = 10  # a _StringTable block holds 1,024 strings


class _StringTable:
    """The shared strings, packed: blocks of 1,024 strings joined, and where each string is in its block.

    A list of str costs ~60 bytes of object per string on top of its characters;
    packed, a string costs its characters and 8 bytes, and each lookup
    (``blocks[i >> _BLOCK_SHIFT][starts[i]:ends[i]]``) slices a new str.
    """

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.starts = array("I")
        self.ends = array("I")
        self._pending: list[str] = []
        self._pending_chars = 0

    def append(self, text: str) -> None:
        self.starts.append(self._pending_chars)
        self._pending_chars += len(text)
        self.ends.append(self._pending_chars)
        self._pending.append(text)
        if len(self._pending) == 1 << _BLOCK_SHIFT:
            self.finish()

    def finish(self) -> _StringTable:
        if self._pending:
            self.blocks.append("".join(self._pending))
            self._pending = []
            self._pending_chars = 0
        return self

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> str:
        return self.blocks[index >> _BLOCK_SHIFT][self.starts[index] : self.ends[index]]


def _read_shared_strings(package: _Package, path: str) -> _StringTable:
    """The shared string table: each item's text runs joined, phonetic guides left out."""
    table = _StringTable()
    parts: list[str] = []
    codes = _TAG_CODES
    depth = size = total = 0  # size: characters of the current item
    in_text = phonetic = False

    def start(name: str, _attrs: dict[str, str]) -> None:
        nonlocal depth, size, in_text, phonetic
        depth += 1
        if depth > _MAX_XML_DEPTH:
            raise _CorruptXlsx("nesting")
        code = codes.get(name)
        if code == _T and not phonetic:
            in_text = True
        elif code == _RPH:
            phonetic = True
        elif code == _SI:
            parts.clear()
            size = 0

    def end(name: str) -> None:
        nonlocal depth, total, in_text, phonetic
        depth -= 1
        code = codes.get(name)
        if code == _T:
            in_text = False
        elif code == _RPH:
            phonetic = False
        elif code == _SI:
            total += size
            if len(table) >= _MAX_SHARED_STRINGS or total > _MAX_SHARED_CHARS:
                raise _too_large("Excel 文件中的文字内容过多（共享字符串超出上限），请分批导入")
            table.append("".join(parts))
            parts.clear()

    def text(data: str) -> None:
        nonlocal size
        if in_text:
            size += len(data)
            if size > _MAX_XLSX_CELL_CHARS:
                raise _too_large(f"Excel 文件中有超过 {_MAX_XLSX_CELL_CHARS} 个字符的单元格，已拒绝处理")
            parts.append(data)

    parser = _expat()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    for _ in _parse_chunks(parser, package.chunks(path)):
        pass
    return table.finish()


def _column_index(letters: str) -> int:
    """0-based column of "A".."XFD" (any case); -1 for anything else."""
    # The length check comes first so that the cache only ever holds short keys.
    return _letters_index(letters) if 0 < len(letters) <= 3 else -1


@functools.lru_cache(maxsize=4096)
def _letters_index(letters: str) -> int:
    if not (letters.isascii() and letters.isalpha()):
        return -1
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch.upper()) - 64)
    return index - 1 if index <= _MAX_SHEET_COLUMNS else -1


def _row_ref(text: str) -> int:
    """The row number in ``text`` (1-1048576, plain ASCII digits, no sign or spaces), or 0."""
    if 0 < len(text) <= 7 and text.isascii() and text.isdigit() and text[0] != "0":
        number = int(text)
        if number <= _MAX_SHEET_ROWS:
            return number
    return 0


def _sheet_rows(
    package: _Package, path: str, strings: _StringTable
) -> Iterator[tuple[int, list[object]]]:
    """Stream (row number, values) from a worksheet part."""
    done: list[tuple[int, list[object]]] = []
    buffer: list[str] = []
    codes = _TAG_CODES
    # The row and cell being read (closures over locals: the handlers run per element).
    depth = 0
    row_number = 0
    row_suffix = ""  # str(row_number): cell references end with it
    in_row = False
    values: list[object] = []
    cells = row_chars = 0  # cells and characters of text in the current row
    col = -1
    chars = 0  # characters of text in the current cell
    kind = "n"
    v: str | None = None
    formula: str | None = None
    inline: list[str] | None = None
    capture = phonetic = False

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, row_number, row_suffix, in_row, values, cells, row_chars, col, chars
        nonlocal kind, v, formula, inline, capture, phonetic
        depth += 1
        if depth > _MAX_XML_DEPTH:
            raise _CorruptXlsx("nesting")
        code = codes.get(name)
        if code == _C:
            if not in_row:
                raise _CorruptXlsx("cell outside a row")
            cells += 1
            if cells > _MAX_SHEET_COLUMNS:
                raise _too_large(f"Excel 第{row_number}行的单元格超过 {_MAX_SHEET_COLUMNS} 个，已拒绝处理")
            ref = attrs.get("r")
            if ref is None:
                col += 1
            else:
                # Letters then the row's number, as Excel writes it; another row number
                # (never written by Excel) is tolerated when well formed.
                letters = ref[: len(ref) - len(row_suffix)] if ref.endswith(row_suffix) else ""
                col = _column_index(letters)
                if col < 0:
                    digits = ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
                    col = _column_index(ref[: len(ref) - len(digits)]) if _row_ref(digits) else -1
                    if col < 0:
                        raise _CorruptXlsx("cell reference")
            kind = attrs.get("t", "n")
            v = formula = inline = None
            chars = 0
        elif code == _V or code == _F or (code == _T and not phonetic):
            buffer.clear()
            capture = True
        elif code == _ROW:
            if in_row:
                raise _CorruptXlsx("row inside a row")
            r = attrs.get("r")
            if r is None:
                number = row_number + 1
                if number > _MAX_SHEET_ROWS:
                    raise _too_large(f"Excel 工作表超过 {_MAX_SHEET_ROWS} 行，已拒绝处理")
            else:
                number = _row_ref(r)
                if not number:
                    raise _CorruptXlsx("row number")
            if number <= row_number:
                raise _CorruptXlsx("rows out of order")
            row_number = number
            row_suffix = str(number)
            in_row = True
            values = []
            cells = row_chars = 0
            col = -1
        elif code == _IS:
            inline = []
        elif code == _RPH:
            phonetic = True

    def end(name: str) -> None:
        nonlocal depth, v, formula, capture, phonetic, in_row
        depth -= 1
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
            in_row = False
        elif code == _RPH:
            phonetic = False

    def text(data: str) -> None:
        nonlocal chars, row_chars
        if capture:
            n = len(data)
            chars += n
            row_chars += n
            if chars > _MAX_XLSX_CELL_CHARS:
                raise _too_large(f"Excel 第{row_number}行有超过 {_MAX_XLSX_CELL_CHARS} 个字符的单元格，已拒绝处理")
            if row_chars > _MAX_ROW_CHARS:
                raise _too_large(f"Excel 第{row_number}行的内容超过 {_MAX_ROW_CHARS} 个字符，已拒绝处理")
            buffer.append(data)

    parser = _expat()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    for _ in _parse_chunks(parser, package.chunks(path)):
        yield from done
        done.clear()
    yield from done


def _cell_value(
    kind: str, v: str | None, formula: str | None, inline: list[str] | None, strings: _StringTable
) -> object:
    """A cell's value as openpyxl's values_only would give it (see _xlsx_rows)."""
    if formula is not None:
        return "=" + formula
    if kind == "s":
        if v is None:
            return None
        if len(v) < 10 and v.isascii() and v.isdigit():
            index = int(v)
            if index < len(strings.starts):
                return strings.blocks[index >> _BLOCK_SHIFT][strings.starts[index] : strings.ends[index]]
        raise _CorruptXlsx("shared string index")
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


def _check_for_openpyxl(package: _Package) -> None:
    """Refuse a package openpyxl should not be given: XML with a DTD, deep nesting or
    overlong tags, or in UTF-16 (which these checks do not read). Its size is bounded
    by the package's budget."""
    for info in package.infos():
        if info.is_dir():
            continue
        chunks = package.chunks(info, _MAX_FALLBACK_UNZIPPED_BYTES)
        first = next(chunks, b"")
        head = first[:4]
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            raise _CorruptXlsx("UTF-16 or binary XML")
        if not first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            chunks.close()  # not XML (an image, say): openpyxl does not parse it
            continue
        _scan_xml(itertools.chain([first], chunks))


def _openpyxl_rows(data: _Source) -> Iterator[tuple[int, Sequence[object]]]:
    """(row number, values) of the first worksheet read by openpyxl (the fallback).

    Only for small packages whose XML passed the fast reader's checks; the values it
    gives are held to the same limits as the fast reader's.
    """
    package = _Package(data, _MAX_FALLBACK_UNZIPPED_BYTES)
    try:
        _check_for_openpyxl(package)
    except _CorruptXlsx as exc:
        raise Invalid("roster_format", _CORRUPT_XLSX) from exc
    finally:
        package.close()
    try:
        if not isinstance(data, bytes):
            data.seek(0)
        workbook = load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data, read_only=True,
                                 data_only=False)
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
            texts = [len(value) for value in row if isinstance(value, str)]
            if line > _MAX_SHEET_ROWS or len(row) > _MAX_SHEET_COLUMNS or sum(texts) > _MAX_ROW_CHARS or (
                texts and max(texts) > _MAX_XLSX_CELL_CHARS
            ):
                raise _too_large(f"Excel 第{line}行超出了单元格、列数或行数的上限，已拒绝处理")
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
    data: bytes | BinaryIO,
    filename: str,
    *,
    max_bytes: int = 20 * 1024 * 1024,
    max_rows: int = 200_000,
    today: date | None = None,
) -> RosterParse:
    """Read a roster file (CSV or XLSX) and check every row; see the module docstring.

    ``data`` is the file's bytes or a seekable binary file (a spooled upload): an XLSX is
    then read from the file (only the parts it needs, never the whole into memory); a CSV,
    whose rows take more memory than its bytes anyway, is read whole. Only the 姓名 and
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
        head = data.read(len(_ZIP_MAGIC))
        data.seek(0)
        if not head.startswith(_ZIP_MAGIC):
            data = data.read()
    if isinstance(data, bytes) and (not data or data.isspace()):  # (not data.strip(): that copies the upload)
        raise Invalid("roster_empty", "文件是空的，没有任何内容")

    kind = "xlsx" if not isinstance(data, bytes) else _detect_format(data, filename)
    result = RosterParse(format=kind)
    if kind == "xlsx":
        source = _xlsx_rows(data, max_bytes)
    else:
        assert isinstance(data, bytes)
        codec = _csv_encoding(data)
        result.encoding = "utf-8" if codec == "utf-8-sig" else codec
        source = _csv_rows(data, codec)

    try:
        _read_rows(source, result, kind=kind, max_rows=max_rows, today=today or china_today())
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
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
