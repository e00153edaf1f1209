"""Spreadsheets in and out: a bounded reader for uploaded CSV/XLSX files, and the CSV/XLSX writer of exports.

Reading (:func:`read_rows`) yields ``(line, cells)`` of the first worksheet (XLSX) or of
the file (CSV), for a caller that checks the rows itself (the member roster today). A
file is refused with :class:`Refused`, an :class:`~models.core.errors.Invalid` whose
``kind`` is one of these (callers map it to their own codes, e.g. ``roster_format``):

- ``too_large``  an XLSX that unpacks to too much or at too high a ratio, too many zip
  members, shared strings, rows or cells, a cell or row or XML tag too long; a CSV with
  too many lines or a record too long
- ``format``     an old .xls, a corrupt or structurally odd .xlsx (bad zip, encrypted or
  bzip2/LZMA members, XML not well-formed or not UTF-8, a DOCTYPE, nesting too deep, row
  or cell references Excel would not write, rows out of order, a missing part, a bad
  shared-string index), or a CSV the csv module rejects (an unclosed quote)
- ``encoding``   a CSV that is neither UTF-8 (BOM optional) nor GB18030/GBK
- ``empty``      an XLSX without a worksheet

A hostile file raises that and nothing else, as soon as it crosses a limit: no file makes
the reader hold more than a few megabytes beyond the rows it yields (see the limits
section for each bound and why).

XLSX: the first worksheet. Its XML is streamed with expat rather than through openpyxl's
cell objects, which take 10 s or more for 100,000 rows; a package the fast reader does
not recognise falls back to openpyxl's ``load_workbook(..., read_only=True,
data_only=False)``. Formula cells come back as openpyxl's ``ArrayFormula`` /
``DataTableFormula`` or as text starting with "=", for the caller to refuse.

Writing (:func:`write_csv`, :func:`write_xlsx`) turns a :class:`Table` into bytes: money
(:class:`Money`) exact from integer fen, text that no spreadsheet program runs as a formula,
a header block of labelled values above the table when given; the same table, stamped
with the same moment, gives the same bytes whenever it is written (XLSX too).
"""
from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import os
import posixpath
import struct
import xml.parsers.expat
import zipfile
import zlib
from array import array
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, BinaryIO, Literal, Union

from openpyxl import load_workbook

from models.core.clock import LOCAL_TZ
from models.core.errors import Invalid
from models.core.money import yuan, yuan_decimal


class Refused(Invalid):
    """A file the reader will not read; ``kind`` says why (too_large, format, encoding, empty)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"spreadsheet_{kind}", message)
        self.kind = kind


Rows = Iterator[tuple[int, Sequence[object]]]

ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / WPS .et


@dataclass
class Upload:
    """An uploaded spreadsheet being read: its format, a CSV's encoding, and its rows (close when done)."""

    format: Literal["csv", "xlsx"]
    encoding: str | None  # "utf-8" or "gb18030" for a CSV
    rows: Rows

    def close(self) -> None:
        """Release the package (an XLSX's zip) even when the rows were not all read."""
        close = getattr(self.rows, "close", None)
        if close is not None:
            close()


def read_rows(data: Source, filename: str, *, max_bytes: int) -> Upload:
    """Open an uploaded CSV or XLSX; the format is checked now, the rows are read as they are asked for.

    ``data`` is the bytes or a seekable binary file (a spooled upload): an XLSX is read
    from the file, only the parts it needs; a CSV, whose rows take more memory than its
    bytes anyway, is read whole. ``max_bytes`` is the upload's own limit: an XLSX may
    unpack to at most ``_MAX_UNZIP_RATIO`` times it (and never past ``_MAX_UNZIPPED_BYTES``).
    """
    if not isinstance(data, bytes):
        data.seek(0)
        head = data.read(len(ZIP_MAGIC))
        data.seek(0)
        if head.startswith(ZIP_MAGIC):
            return Upload("xlsx", None, _xlsx_rows(data, max_bytes))
        data = data.read()
    kind = _detect_format(data, filename)
    if kind == "xlsx":
        return Upload("xlsx", None, _xlsx_rows(data, max_bytes))
    codec = _csv_encoding(data)
    return Upload("csv", "utf-8" if codec == "utf-8-sig" else codec, _csv_rows(data, codec))

# ---------------------------------------------------------------- limits
# Every limit bounds what a hostile file can make the parser hold or spend, with room
# to spare for real rosters: at most ~100,000 rows (``max_rows`` allows 200,000), a
# handful of columns, names and units of a few hundred characters at most. A file past
# any of them is refused (``too_large`` unless it is malformed as well) as soon
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

def _too_large(message: str) -> Refused:
    return Refused("too_large", message)


_UNZIPPED_TOO_LARGE = "Excel 文件解压后过大，请删除多余的工作表或分批导入"
_RATIO_TOO_HIGH = (
    f"Excel 文件解压后膨胀到压缩大小的 {_MAX_COMPRESSION_RATIO} 倍以上，不像正常的表格文件，已拒绝处理；"
    "请在 Excel/WPS 中重新保存为 .xlsx 后上传"
)


# ---------------------------------------------------------------- file readers


def _detect_format(data: bytes, filename: str) -> Literal["csv", "xlsx"]:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if data.startswith(ZIP_MAGIC):
        return "xlsx"
    if data.startswith(_OLE_MAGIC) or ext in ("xls", "et"):
        raise Refused("format", "不支持旧版 Excel（.xls）或加密的 Excel 文件；请取消密码，"
            "在 Excel/WPS 中另存为 .xlsx 或 CSV（UTF-8）后再上传",
        )
    if ext == "xlsx":
        raise Refused("format", "文件不是有效的 .xlsx 文件（可能已损坏），请重新保存后上传")
    return "csv"


def _csv_encoding(data: bytes) -> str:
    """The codec that decodes the whole file strictly: "utf-8-sig" (BOM optional) first, then "gb18030".

    Checked a chunk at a time, keeping nothing: the text is decoded again as it is read.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Refused("encoding", "文件是 UTF-16（Unicode 文本）编码，暂不支持；请另存为“CSV UTF-8”或 .xlsx 后再上传",
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
        raise Refused("encoding", "无法识别文件编码：既不是 UTF-8 也不是 GBK/GB18030；"
            "请在 Excel/WPS 中另存为“CSV UTF-8”或 .xlsx 后再上传",
        )
    if b"\x00" in data:  # both codecs are ASCII-compatible: a NUL byte is a NUL character
        raise Refused("encoding", "文件中含有空字符，可能是 UTF-16 编码或并非文本文件；请另存为“CSV UTF-8”或 .xlsx 后再上传",
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
                    raise Refused("format", f"CSV 文件格式有误（第{line + 1}行附近），请检查引号是否配对"
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
            raise Refused("format", f"CSV 文件格式有误（第{line + 1}行附近），请检查引号是否配对"
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


class _UseOpenpyxl(Exception):
    """The fast reader does not recognise this package layout; let openpyxl read it."""


class _CorruptXlsx(Exception):
    """The sheet data cannot be read."""


#: An upload: its bytes, or a seekable binary file holding them (a spooled upload).
Source = Union[bytes, BinaryIO]


class _CountingFile:
    """The upload as a file (the bytes shared, not copied, or the spooled file) that counts reads.

    zipfile reads members' compressed data through it, so bytes out of a member can be
    set against compressed bytes in while streaming.
    """

    def __init__(self, source: Source) -> None:
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


def _size_and_tail(source: Source) -> tuple[int, bytes]:
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

    def __init__(self, data: Source, budget: int) -> None:
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
            raise Refused("format", _CORRUPT_XLSX) from exc
        infos = self._zip.infolist()
        if len(infos) > _MAX_ZIP_MEMBERS:
            self.close()
            raise _too_large("Excel 文件中的组成部分过多，不像正常的表格文件；请重新保存为 .xlsx 后上传")
        self.unzipped = 0
        try:
            for info in infos:
                if info.flag_bits & 0x1:
                    raise Refused("format", _ENCRYPTED_XLSX)
                # bzip2 and LZMA members (never written by Excel) are decompressed by zipfile
                # without a bound per call: a few bytes can become gigabytes at once.
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise Refused("format", _CORRUPT_XLSX)
                if info.compress_size > size:
                    raise Refused("format", _CORRUPT_XLSX)
                if info.file_size > _MAX_PART_BYTES:
                    raise _too_large(_UNZIPPED_TOO_LARGE)
                if info.file_size > _RATIO_FROM_BYTES and (
                    info.file_size > _MAX_COMPRESSION_RATIO * info.compress_size
                ):
                    raise _too_large(_RATIO_TOO_HIGH)
                self.unzipped += info.file_size
            if self.unzipped > budget:
                raise _too_large(_UNZIPPED_TOO_LARGE)
        except Refused:
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

    def chunks(self, member: str | zipfile.ZipInfo, limit: int = _MAX_PART_BYTES) -> Generator[bytes, None, None]:
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


def _xlsx_rows(data: Source, max_bytes: int) -> Iterator[tuple[int, Sequence[object]]]:
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
            raise Refused("format", _CORRUPT_XLSX) from exc
        if sheet_path is None:
            raise Refused("empty", "Excel 文件中没有工作表")
        rows = _sheet_rows(package, sheet_path, strings)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except _CorruptXlsx as exc:
                raise Refused("format", _CORRUPT_XLSX) from exc
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
        if not info.filename:  # no writer makes one (and zipfile's is_dir() fails on it)
            raise _CorruptXlsx("a part without a name")
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


def _openpyxl_rows(data: Source) -> Iterator[tuple[int, Sequence[object]]]:
    """(row number, values) of the first worksheet read by openpyxl (the fallback).

    Only for small packages whose XML passed the fast reader's checks; the values it
    gives are held to the same limits as the fast reader's.
    """
    package = _Package(data, _MAX_FALLBACK_UNZIPPED_BYTES)
    try:
        _check_for_openpyxl(package)
    except _CorruptXlsx as exc:
        raise Refused("format", _CORRUPT_XLSX) from exc
    finally:
        package.close()
    try:
        if not isinstance(data, bytes):
            data.seek(0)
        workbook = load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data, read_only=True,
                                 data_only=False)
    except Exception as exc:  # openpyxl raises many types for a malformed file
        raise Refused("format", _CORRUPT_XLSX) from exc
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise Refused("empty", "Excel 文件中没有工作表")
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
                raise Refused("format", _CORRUPT_XLSX) from exc
            line += 1
            texts = [len(value) for value in row if isinstance(value, str)]
            if line > _MAX_SHEET_ROWS or len(row) > _MAX_SHEET_COLUMNS or sum(texts) > _MAX_ROW_CHARS or (
                texts and max(texts) > _MAX_XLSX_CELL_CHARS
            ):
                raise _too_large(f"Excel 第{line}行超出了单元格、列数或行数的上限，已拒绝处理")
            yield line, row
    finally:
        workbook.close()




# ---------------------------------------------------------------- writing

# A text cell starting with one of these is taken for a formula by spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CSV_TIME = "%Y-%m-%d %H:%M:%S"
_XLSX_TIME = "yyyy-mm-dd hh:mm:ss"
_XLSX_MONEY = "0.00"


@dataclass(frozen=True)
class Money:
    """A money cell: yuan with two decimals from integer fen (text in CSV, an exact number in XLSX)."""

    fen: int


Cell = Union[str, int, datetime, Money, None]


@dataclass(frozen=True)
class Table:
    """One sheet to write: a header row, body rows, an optional totals row (bold money in XLSX).

    ``title`` is a bold first line of the XLSX only; ``preamble`` is a block of (label, value)
    lines above the table, then an empty line (a CSV starts with it, or with its header);
    ``widths`` are XLSX column widths from the first column. Datetimes are written as given
    (naive, in the reader's time zone). ``stamp`` (aware) is the XLSX's creation and
    modification time and its zip entries' time, so that the file does not depend on when it
    was written (now when not given).
    """

    sheet: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    footer: Sequence[Cell] | None = None
    title: str | None = None
    widths: Sequence[float] = ()
    preamble: Sequence[tuple[str, Cell]] = ()
    stamp: datetime | None = None


def safe_text(text: str) -> str:
    """A CSV text cell that spreadsheet programs will not run as a formula (a leading apostrophe)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Money):
        return yuan(value.fen)
    if isinstance(value, datetime):
        return value.strftime(_CSV_TIME)
    if isinstance(value, int):
        return str(value)
    return safe_text(value)


def write_csv(table: Table) -> bytes:
    """The table as CSV: UTF-8 with a BOM so Excel reads it, CRLF lines, header, rows, totals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for label, value in table.preamble:
        writer.writerow([label, _csv_cell(value)])
    if table.preamble:
        writer.writerow([])
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_csv_cell(v) for v in row])
    if table.footer is not None:
        writer.writerow([_csv_cell(v) for v in table.footer])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def write_xlsx(table: Table) -> bytes:
    """The table as an Excel workbook; every text cell is stored as text, never as a formula."""
    return write_xlsx_book([table])


def write_xlsx_book(tables: Sequence[Table]) -> bytes:
    """The tables as one Excel workbook, a worksheet each in order (counts as numbers, money exact)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for table in tables:
        _sheet(wb.create_sheet(table.sheet), table, Font, get_column_letter)
    # openpyxl's save() writes the time of saving into docProps and every zip entry: write the
    # package ourselves, with the first table's own moment in both (a stamped table exports the same bytes).
    stamp = next((t.stamp for t in tables if t.stamp is not None), None) or datetime.now(timezone.utc)
    wb.properties.created = wb.properties.modified = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    out = io.BytesIO()
    with _StampedZip(out, stamp) as archive:
        ExcelWriter(wb, archive).save()
    return out.getvalue()


def _sheet(ws: Any, table: Table, Font: Any, get_column_letter: Any) -> None:
    """Write one table on the worksheet ``ws``."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def put(row: int, col: int, value: Cell, *, bold: bool = False) -> None:
        if value is None:
            return
        cell = ws.cell(row=row, column=col)
        if isinstance(value, Money):
            cell.value = yuan_decimal(value.fen)
            cell.number_format = _XLSX_MONEY
        elif isinstance(value, datetime):
            cell.value = value
            cell.number_format = _XLSX_TIME
        elif isinstance(value, int) and not isinstance(value, bool):
            cell.value = value
        else:
            # Control characters XML 1.0 cannot carry (a merchant's name may hold one): shown as U+FFFD.
            cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value))
            cell.data_type = "s"  # a text cell, never a formula, whatever it starts with
        if bold:
            cell.font = Font(bold=True)

    line = 1
    if table.title is not None:
        put(line, 1, table.title)
        ws.cell(row=line, column=1).font = Font(bold=True, size=14)
        line += 1
    for label, value in table.preamble:
        put(line, 1, label, bold=True)
        put(line, 2, value)
        line += 1
    if table.preamble:
        line += 1
    for col, name in enumerate(table.header, 1):
        put(line, col, name, bold=True)
    for row in table.rows:
        line += 1
        for col, value in enumerate(row, 1):
            put(line, col, value)
    if table.footer is not None:
        line += 1
        for col, value in enumerate(table.footer, 1):
            put(line, col, value, bold=isinstance(value, Money))
    for col, width in enumerate(table.widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = width


class _StampedZip(zipfile.ZipFile):
    """A zip being written whose entries all carry one time (Beijing's wall clock at ``stamp``)."""

    def __init__(self, file: BinaryIO, stamp: datetime) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        local = stamp.astimezone(LOCAL_TZ)
        self._date_time = max((local.year, local.month, local.day, local.hour, local.minute, local.second),
                              (1980, 1, 1, 0, 0, 0))  # the earliest time a zip entry can carry

    def writestr(self, zinfo_or_arcname: str | zipfile.ZipInfo, data: bytes | str,  # type: ignore[override]
                 compress_type: int | None = None, compresslevel: int | None = None) -> None:
        """Write an entry, stamped."""
        name = zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, zipfile.ZipInfo) else zinfo_or_arcname
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = self.compression
        info.external_attr = 0o600 << 16
        super().writestr(info, data, compress_type, compresslevel)

    def write(self, filename: str | os.PathLike[str], arcname: str | None = None,  # type: ignore[override]
              compress_type: int | None = None, compresslevel: int | None = None) -> None:
        """Write a file's bytes (openpyxl's worksheet, spooled to a temporary file) as a stamped entry."""
        with open(filename, "rb") as f:
            self.writestr(arcname or os.fspath(filename), f.read(), compress_type, compresslevel)
