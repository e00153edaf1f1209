"""Hostile upload files, generated on demand: a reusable fixture for tests of anything that parses uploads.

Every generator is a pure function: no arguments (or plain values), no I/O, no
randomness beyond a fixed seed, and it returns the file's bytes. Files are small
on disk even when they unpack to hundreds of megabytes: a deflate stream of a
repeated chunk is built from one compressed copy of the chunk (see
:func:`deflate_repeat`), so building a 200 MB bomb costs a few hundred kilobytes
and a fraction of a second (the CRC of the expanded data is the only full pass).

Zip files are written by hand (:func:`zip_file`) rather than with
:class:`zipfile.ZipFile`, so that a member can lie: declare another size than its
data has, carry the "encrypted" flag, or use another compression method.

Sections:

- zip plumbing: :class:`Member`, :func:`deflate_repeat`, :func:`zip_file`
- XLSX building blocks: :func:`xlsx`, :func:`row`, :data:`HEADER_ROW`, :data:`DATA_ROW`
- zip bombs (XLSX that unpack to far more than they weigh)
- odd XLSX packages (structurally wrong in one way each)
- CSV bombs
- multipart request bodies for the upload routes (:data:`MULTIPART_CATALOGUE`)
- :data:`CATALOGUE`: every roster case with the error code ``parse_roster`` must give
"""
from __future__ import annotations

import bz2
import io
import random
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "CATALOGUE", "Case", "Content", "Member", "column", "deflate_repeat", "id_number", "row", "sheet_xml", "xlsx",
    "zip_file",
]

MB = 1024 * 1024
# What a bomb unpacks to (the size of the report that took the server to 530 MiB).
BOMB_BYTES = 200 * MB
_CHUNK = MB  # the repeated unit of a bomb

# A piece of content: bytes, or (bytes, times) pairs written one after the other.
Content = bytes | Sequence[tuple[bytes, int]]


# ---------------------------------------------------------------- zip plumbing


def _pieces(content: Content) -> Sequence[tuple[bytes, int]]:
    return [(content, 1)] if isinstance(content, bytes) else content


def deflate_repeat(content: Content, level: int = 9) -> tuple[bytes, int, int]:
    """Raw deflate data, CRC-32 and size of ``content``, each piece compressed once.

    Each piece is compressed by a fresh compressor ended with a full flush: its
    blocks refer to nothing before them, so they can be repeated as they are.
    """
    raw = bytearray()
    crc = size = 0
    for data, times in _pieces(content):
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        segment = compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
        raw += segment * times
        for _ in range(times):
            crc = zlib.crc32(data, crc)
        size += len(data) * times
    raw += zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # the final (empty) block
    return bytes(raw), crc, size


@dataclass(frozen=True)
class Member:
    """One zip member; the optional fields make it lie or use unusual features."""

    name: str
    content: Content
    method: int = 8  # 8 deflate, 0 stored, 12 bzip2
    flags: int = 0  # bit 0: encrypted
    declared_size: int | None = None  # written instead of the real uncompressed size
    level: int = 9  # deflate level (1 is much faster for large, varied content)

    def encode(self) -> tuple[bytes, int, int]:
        """(stored data, CRC-32, real uncompressed size)."""
        if self.method == 8:
            return deflate_repeat(self.content, self.level)
        data = b"".join(piece * times for piece, times in _pieces(self.content))
        crc = zlib.crc32(data)
        if self.method == 12:
            return bz2.compress(data), crc, len(data)
        return data, crc, len(data)


_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01


def zip_file(members: Sequence[Member], *, declared_entries: int | None = None) -> bytes:
    """A zip archive of ``members``, written field by field (see the module docstring)."""
    out = bytearray()
    directory = bytearray()
    for member in members:
        data, crc, size = member.encode()
        name = member.name.encode("utf-8")
        flags = member.flags | 0x800  # names in UTF-8
        declared = size if member.declared_size is None else member.declared_size
        offset = len(out)
        out += struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, flags, member.method, 0, _DOS_DATE,
            crc, len(data), declared, len(name), 0,
        )
        out += name + data
        directory += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, member.method, 0, _DOS_DATE,
            crc, len(data), declared, len(name), 0, 0, 0, 0, 0, offset,
        )
        directory += name
    count = len(members) if declared_entries is None else declared_entries
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
        len(directory), len(out), 0,
    )
    return bytes(out + directory + end)


# ---------------------------------------------------------------- XLSX building blocks

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _check_digit(first17: str) -> str:
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    return "10X98765432"[total % 11]


def id_number(seq: int) -> str:
    """A valid 18-character ID number (Beijing Dongcheng, born 1980-01-01)."""
    first17 = f"11010119800101{seq % 1000:03d}"
    return first17 + _check_digit(first17)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def column(index: int) -> str:
    """Excel's letters for a 0-based column: 0 "A", 25 "Z", 26 "AA", 16383 "XFD"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def row(number: int | None, *texts: str) -> bytes:
    """A ``<row>`` of inline-string cells (no ``r`` attributes when ``number`` is None)."""
    cells = []
    for col, text in enumerate(texts):
        ref = f' r="{column(col)}{number}"' if number is not None else ""
        cells.append(f'<c{ref} t="inlineStr"><is><t>{_escape(text)}</t></is></c>')
    attr = f' r="{number}"' if number is not None else ""
    return f"<row{attr}>{''.join(cells)}</row>".encode()


HEADER_ROW = row(1, "姓名", "身份证号")
DATA_ROW = row(2, "张三", id_number(1))
SHEET_HEAD = _XML_DECL + f'<worksheet xmlns="{MAIN}"><sheetData>'.encode()
SHEET_TAIL = b"</sheetData></worksheet>"
SST_HEAD = _XML_DECL + f'<sst xmlns="{MAIN}">'.encode()
SST_TAIL = b"</sst>"

CONTENT_TYPES = _XML_DECL + (
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    b'spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.sharedStrings+xml"/>'
    b"</Types>"
)
ROOT_RELS = _XML_DECL + (
    f'<Relationships xmlns="{_RELS_NS}">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
).encode()
WORKBOOK = _XML_DECL + (
    f'<workbook xmlns="{MAIN}" xmlns:r="{_DOC_RELS}">'
    '<sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>'
).encode()


def workbook_rels(sheet_target: str = "worksheets/sheet1.xml", *, shared: bool = True) -> bytes:
    """The workbook's relationships: the first sheet (rId1) and the shared strings (rId2)."""
    rels = f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="{_escape(sheet_target)}"/>'
    if shared:
        rels += f'<Relationship Id="rId2" Type="{_DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
    return _XML_DECL + f'<Relationships xmlns="{_RELS_NS}">{rels}</Relationships>'.encode()


def xlsx(
    sheet_data: Content = HEADER_ROW + DATA_ROW,
    *,
    shared: Content | None = None,
    parts: Mapping[str, Content | None] | None = None,
    declared: Mapping[str, int] | None = None,
    extra: Sequence[Member] = (),
    declared_entries: int | None = None,
    level: int = 9,
) -> bytes:
    """An XLSX laid out as Excel writes it, with the parts given.

    ``sheet_data`` goes inside ``<sheetData>`` (pieces are repeated as given);
    ``shared`` inside ``<sst>`` (no shared-strings part when None); ``parts``
    replaces whole parts by name (None drops one); ``declared`` gives a part a
    false uncompressed size; ``extra`` adds members as they are; ``declared_entries``
    is the member count written in the end record; ``level`` the deflate level.
    """
    files: dict[str, Content | None] = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": WORKBOOK,
        "xl/_rels/workbook.xml.rels": workbook_rels(shared=shared is not None),
        "xl/worksheets/sheet1.xml": [(SHEET_HEAD, 1), *_pieces(sheet_data), (SHEET_TAIL, 1)],
    }
    if shared is not None:
        files["xl/sharedStrings.xml"] = [(SST_HEAD, 1), *_pieces(shared), (SST_TAIL, 1)]
    files.update(parts or {})
    sizes = declared or {}
    members = [
        Member(name, content, declared_size=sizes.get(name), level=level)
        for name, content in files.items()
        if content is not None
    ]
    return zip_file([*members, *extra], declared_entries=declared_entries)


def sheet_xml(sheet_data: bytes) -> bytes:
    """A whole worksheet part around ``sheet_data`` (for parts built by hand)."""
    return SHEET_HEAD + sheet_data + SHEET_TAIL


# ---------------------------------------------------------------- zip bombs
# Each has an honest variant (the zip directory tells the truth: a reader can refuse
# before decompressing anything) and an "understated" one (the directory claims a
# size a reader would accept, so the reader must notice while streaming).

_UNDERSTATED = 10 * MB  # a plausible size, under every per-part limit


def _times(unit: bytes, total: int = BOMB_BYTES) -> int:
    return max(1, total // len(unit))


def _unit(piece: bytes) -> bytes:
    """``piece`` repeated to about one megabyte (the repeated unit of a bomb)."""
    return piece * max(1, _CHUNK // len(piece))


def cell_bomb(*, understated: bool = False) -> bytes:
    """One inline-string cell of 200 MB ("A"s), after a valid header row."""
    unit = b"A" * _CHUNK
    sheet = [
        (HEADER_ROW + b'<row r="2"><c r="A2" t="inlineStr"><is><t>', 1),
        (unit, _times(unit)),
        (b"</t></is></c></row>", 1),
    ]
    return xlsx(sheet, declared={"xl/worksheets/sheet1.xml": _UNDERSTATED} if understated else None)


def shared_string_bomb(*, understated: bool = False) -> bytes:
    """One shared string of 200 MB, used by a cell of the second row."""
    unit = "王".encode() * (_CHUNK // 3)
    shared = [("<si><t>姓名</t></si><si><t>身份证号</t></si><si><t>".encode(), 1), (unit, _times(unit)),
              (b"</t></si>", 1)]
    sheet = (
        b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        b'<row r="2"><c r="A2" t="s"><v>2</v></c></row>'
    )
    return xlsx(sheet, shared=shared,
                declared={"xl/sharedStrings.xml": _UNDERSTATED} if understated else None)


def many_rows_bomb(*, understated: bool = False) -> bytes:
    """A header, then 200 MB of rows without numbers (``<row/>``, about 35 million)."""
    unit = _unit(b"<row/>")
    sheet = [(HEADER_ROW, 1), (unit, _times(unit))]
    return xlsx(sheet, declared={"xl/worksheets/sheet1.xml": _UNDERSTATED} if understated else None)


def many_columns_bomb(*, understated: bool = False) -> bytes:
    """A header, then one row of 200 MB of empty cells without references (``<c/>``)."""
    unit = _unit(b"<c/>")
    sheet = [(HEADER_ROW + b'<row r="2">', 1), (unit, _times(unit)), (b"</row>", 1)]
    return xlsx(sheet, declared={"xl/worksheets/sheet1.xml": _UNDERSTATED} if understated else None)


def many_shared_strings_bomb(*, understated: bool = False) -> bytes:
    """About 20 million one-character shared strings (200 MB of ``<si><t>x</t></si>``)."""
    unit = _unit(b"<si><t>x</t></si>")
    shared = [("<si><t>姓名</t></si>".encode(), 1), (unit, _times(unit))]
    sheet = b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    return xlsx(sheet, shared=shared,
                declared={"xl/sharedStrings.xml": _UNDERSTATED} if understated else None)


def many_distinct_shared_strings(count: int = 400_000, width: int = 32) -> bytes:
    """``count`` distinct shared strings of ``width`` digits (12.8 million characters):
    they compress ~18:1, so no ratio check stops them, only a limit on what the string
    table may hold. Honest sizes."""
    shared = b"".join(b"<si><t>%0*d</t></si>" % (width, i) for i in range(count))
    return xlsx(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared=shared, level=1)


def whitespace_bomb(*, understated: bool = True) -> bytes:
    """A valid roster whose sheet has 200 MB of spaces between two rows (nothing to hold
    in memory: only a ratio or size check stops the reader spending seconds on it)."""
    unit = b" " * _CHUNK
    sheet = [(HEADER_ROW, 1), (unit, _times(unit)), (DATA_ROW, 1)]
    return xlsx(sheet, declared={"xl/worksheets/sheet1.xml": _UNDERSTATED} if understated else None)


def unrelated_member_bomb(*, understated: bool = False) -> bytes:
    """A valid roster plus a 200 MB deflate bomb in a part no reader needs (an image)."""
    unit = b"\0" * _CHUNK
    bomb = Member("xl/media/image1.png", [(unit, _times(unit))],
                  declared_size=_UNDERSTATED if understated else None)
    return xlsx(extra=[bomb])


def bzip2_bomb() -> bytes:
    """The sheet compressed with bzip2 (method 12): 45 MB of spaces in ~50 bytes, with an
    understated size. zipfile decompresses bzip2 without a size bound per call."""
    return zip_file([
        Member("[Content_Types].xml", CONTENT_TYPES),
        Member("_rels/.rels", ROOT_RELS),
        Member("xl/workbook.xml", WORKBOOK),
        Member("xl/_rels/workbook.xml.rels", workbook_rels(shared=False)),
        Member("xl/worksheets/sheet1.xml",
               [(SHEET_HEAD + HEADER_ROW, 1), (b" " * _CHUNK, 45), (DATA_ROW + SHEET_TAIL, 1)],
               method=12, declared_size=MB),
    ])


def many_members() -> bytes:
    """A valid roster plus 40,000 empty members (zipfile builds an object per member)."""
    return xlsx(extra=[Member(f"x/{i}", b"", method=0) for i in range(40_000)])


def huge_declared_size() -> bytes:
    """A valid roster whose sheet claims to unpack to 4 GB."""
    return xlsx(declared={"xl/worksheets/sheet1.xml": 0xFFFF_FFF0})


# ---------------------------------------------------------------- odd XLSX packages


def sheet_with(*rows: bytes) -> bytes:
    """An XLSX whose sheet holds the header row, then ``rows`` as given."""
    return xlsx(HEADER_ROW + b"".join(rows))


def row_ref(value: str) -> bytes:
    """A data row whose ``r`` attribute is ``value``."""
    return sheet_with(
        f'<row r="{value}"><c t="inlineStr"><is><t>张三</t></is></c>'
        f'<c t="inlineStr"><is><t>{id_number(1)}</t></is></c></row>'.encode()
    )


def cell_ref(value: str) -> bytes:
    """A data row whose first cell's ``r`` attribute is ``value``."""
    return sheet_with(
        f'<row r="2"><c r="{value}" t="inlineStr"><is><t>张三</t></is></c>'
        f'<c r="B2" t="inlineStr"><is><t>{id_number(1)}</t></is></c></row>'.encode()
    )


def shared_index(value: str) -> bytes:
    """A cell of type ``s`` whose value is ``value`` (the table holds two strings)."""
    sheet = (
        b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        + f'<row r="2"><c r="A2" t="s"><v>{value}</v></c>'.encode()
        + f'<c r="B2" t="inlineStr"><is><t>{id_number(1)}</t></is></c></row>'.encode()
    )
    return xlsx(sheet, shared="<si><t>姓名</t></si><si><t>身份证号</t></si>".encode())


def rows_out_of_order() -> bytes:
    """Row 3 before row 2."""
    return sheet_with(row(3, "李四", id_number(2)), row(2, "张三", id_number(1)))


def duplicate_row_number() -> bytes:
    """Row 2 twice."""
    return sheet_with(row(2, "张三", id_number(1)), row(2, "李四", id_number(2)))


def cell_outside_row() -> bytes:
    """A cell directly in ``<sheetData>``."""
    return sheet_with(b'<c r="A2" t="inlineStr"><is><t>x</t></is></c>')


def nested_row() -> bytes:
    """A row inside a row."""
    return sheet_with(b'<row r="2"><row r="3"/></row>')


def sheet_part_missing() -> bytes:
    """The workbook names a sheet whose part is not in the package."""
    return xlsx(parts={"xl/worksheets/sheet1.xml": None})


def no_sheets() -> bytes:
    """A workbook with an empty ``<sheets/>``."""
    workbook = _XML_DECL + f'<workbook xmlns="{MAIN}"><sheets/></workbook>'.encode()
    return xlsx(parts={"xl/workbook.xml": workbook})


def rels_not_xml() -> bytes:
    """The workbook's relationships part is not well-formed XML."""
    return xlsx(parts={"xl/_rels/workbook.xml.rels": b"<Relationships><Relationship"})


def rels_escaping_target() -> bytes:
    """The sheet relationship points outside the package (``../../../etc/passwd``)."""
    return xlsx(parts={"xl/_rels/workbook.xml.rels": workbook_rels("../../../etc/passwd", shared=False)})


def rels_missing() -> bytes:
    """No relationship parts at all (readers fall back to the content types)."""
    return xlsx(parts={"_rels/.rels": None, "xl/_rels/workbook.xml.rels": None})


def doctype_entities(part: str = "xl/worksheets/sheet1.xml") -> bytes:
    """A billion-laughs DOCTYPE at the top of ``part``, its entity used in a cell."""
    laughs = "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "ha"}">' for i in range(9)
    )
    doctype = f"<!DOCTYPE x [{laughs}]>".encode()
    if part == "xl/worksheets/sheet1.xml":
        body = doctype + sheet_xml(HEADER_ROW + b'<row r="2"><c t="inlineStr"><is><t>&l8;</t></is></c></row>')
        return xlsx(parts={part: _XML_DECL + body})
    original = {"xl/workbook.xml": WORKBOOK, "_rels/.rels": ROOT_RELS,
                "xl/_rels/workbook.xml.rels": workbook_rels(shared=False)}[part]
    head, rest = original.split(b"\n", 1)
    return xlsx(parts={part: head + b"\n" + doctype + rest})


def doctype_utf16_workbook() -> bytes:
    """The workbook part in UTF-16 with an entity-expanding DOCTYPE (a byte search for
    "<!DOCTYPE" does not see it)."""
    text = WORKBOOK.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    head, rest = text.split("\n", 1)
    body = head + "\n" + '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>' + rest
    return xlsx(parts={"xl/workbook.xml": body.encode("utf-16")})


def undefined_entity() -> bytes:
    """A cell using an entity that is never declared."""
    return sheet_with(b'<row r="2"><c t="inlineStr"><is><t>&bomb;</t></is></c></row>')


def invalid_utf8() -> bytes:
    """Bytes that are not UTF-8 inside a cell."""
    return sheet_with(b'<row r="2"><c t="inlineStr"><is><t>\xff\xfe\xc0\x80</t></is></c></row>')


def gbk_declared_xml() -> bytes:
    """A sheet declared and written in GBK (Excel writes UTF-8 only)."""
    text = sheet_xml(HEADER_ROW + DATA_ROW).decode().replace('encoding="UTF-8"', 'encoding="GBK"')
    return xlsx(parts={"xl/worksheets/sheet1.xml": text.encode("gbk")})


def deep_nesting(depth: int = 100_000) -> bytes:
    """Elements nested ``depth`` deep inside a cell (an XML parser keeps a stack of them).

    Under 1 MiB unpacked, so that no size or ratio check stops it first."""
    sheet = [(HEADER_ROW + b'<row r="2"><c r="A2"><v>', 1), (b"<x>" * 1000, depth // 1000),
             (b"</x>" * 1000, depth // 1000), (b"</v></c></row>", 1)]
    return xlsx(sheet)


def long_tag() -> bytes:
    """A start tag of 8 MB (an XML parser holds a tag whole until it ends)."""
    sheet = [(HEADER_ROW + b'<row r="2"><c r="A2" ', 1), (b'a="' + b"x" * 1000 + b'" ', 1),
             (_unit(b" "), 8), (b"/></row>", 1)]
    return xlsx(sheet)


def long_cell_text() -> bytes:
    """A cell of 100,000 distinct characters (over Excel's 32,767), honest and barely
    compressible, so no size or ratio check catches it: only a per-cell limit does."""
    rng = random.Random(1)
    text = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(100_000))
    return sheet_with(row(2, text, id_number(1)))


def long_row() -> bytes:
    """A row of 12 cells of 30,000 distinct characters each: every cell is under Excel's
    per-cell limit, the row is not (honest, barely compressible)."""
    rng = random.Random(2)
    texts = ["".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=30_000)) for _ in range(12)]
    return sheet_with(row(2, *texts))


def fallback(sheet_data: Content = HEADER_ROW + DATA_ROW, *, sheet_part: bytes | None = None) -> bytes:
    """A package without its root relationships (``_rels/.rels``): a reader that needs them
    must fall back to one that finds the workbook through ``[Content_Types].xml``
    (openpyxl does). ``sheet_part`` replaces the whole worksheet part."""
    parts: dict[str, Content | None] = {"_rels/.rels": None}
    if sheet_part is not None:
        parts["xl/worksheets/sheet1.xml"] = sheet_part
    return xlsx(sheet_data, shared=b"", parts=parts)


def fallback_doctype() -> bytes:
    """The fallback path with a billion-laughs DOCTYPE in the sheet."""
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "ha"}">' for i in range(9))
    body = f"<!DOCTYPE x [{laughs}]>".encode() + sheet_xml(
        HEADER_ROW + b'<row r="2"><c t="inlineStr"><is><t>&l8;</t></is></c></row>'
    )
    return fallback(sheet_part=_XML_DECL + body)


def fallback_too_large() -> bytes:
    """The fallback path with a 6 MB sheet (rows without numbers, barely compressible
    as stored: each hundred rows is compressed on its own)."""
    hundred = b"".join(row(None, "张三", id_number(n)) for n in range(100))
    return fallback([(HEADER_ROW, 1), (hundred, 500)])


def fallback_long_cell() -> bytes:
    """The fallback path with a cell of 40,000 distinct characters."""
    rng = random.Random(4)
    return fallback(HEADER_ROW + row(2, "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=40_000)), "x"))


def fallback_utf16() -> bytes:
    """The fallback path with the sheet in UTF-16 (not checked, so not handed on)."""
    text = sheet_xml(HEADER_ROW + DATA_ROW).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    return fallback(sheet_part=text.encode("utf-16"))


def truncated() -> bytes:
    """A valid roster cut in the middle."""
    data = xlsx()
    return data[: len(data) // 2]


def encrypted_member() -> bytes:
    """The sheet member carries the zip "encrypted" flag."""
    members = [
        Member("[Content_Types].xml", CONTENT_TYPES),
        Member("_rels/.rels", ROOT_RELS),
        Member("xl/workbook.xml", WORKBOOK),
        Member("xl/_rels/workbook.xml.rels", workbook_rels(shared=False)),
        Member("xl/worksheets/sheet1.xml", sheet_xml(HEADER_ROW + DATA_ROW), flags=0x1),
    ]
    return zip_file(members)


def bzip2_member() -> bytes:
    """A small valid roster whose sheet is compressed with bzip2 (Excel never does)."""
    return zip_file([
        Member("[Content_Types].xml", CONTENT_TYPES),
        Member("_rels/.rels", ROOT_RELS),
        Member("xl/workbook.xml", WORKBOOK),
        Member("xl/_rels/workbook.xml.rels", workbook_rels(shared=False)),
        Member("xl/worksheets/sheet1.xml", sheet_xml(HEADER_ROW + DATA_ROW), method=12),
    ])


def nested_archive_as_sheet() -> bytes:
    """The sheet part is itself a zip (holding a cell bomb)."""
    return xlsx(parts={"xl/worksheets/sheet1.xml": cell_bomb()})


def nested_archive_embedded() -> bytes:
    """A valid roster with an embedded object that is a zip bomb (stored, never opened)."""
    return xlsx(extra=[Member("xl/embeddings/oleObject1.bin", cell_bomb(), method=0)])


def zip_directory_lies() -> bytes:
    """The end record claims 60,000 members where there are five."""
    return xlsx(declared_entries=60_000)


# ---------------------------------------------------------------- CSV bombs

CSV_HEADER = "姓名,身份证号\n".encode()


def csv_enormous_line(size: int = 9 * MB) -> bytes:
    """A header, then one line of ``size`` bytes (``a,`` repeated) and no newline."""
    return CSV_HEADER + b"a," * (size // 2)


def csv_enormous_quoted_field(size: int = 9 * MB) -> bytes:
    """A header, then a field opened with a quote that never closes, over many lines."""
    return CSV_HEADER + "张三,\"".encode() + b"x" * 60 + (b"\n" + b"x" * 60) * (size // 61)


def csv_many_tiny_rows(count: int = 2_500_000) -> bytes:
    """A header, then ``count`` rows of ``a,1`` (4 bytes each)."""
    return CSV_HEADER + b"a,1\n" * count


def csv_many_blank_lines(count: int = 9_000_000) -> bytes:
    """``count`` empty lines, then a header and one row."""
    return b"\n" * count + CSV_HEADER + f"张三,{id_number(1)}\n".encode()


def csv_many_bad_rows(count: int = 150_000) -> bytes:
    """A header with every column, then ``count`` rows with a problem in every field
    (each would be listed: five problems per row)."""
    return "姓名,身份证号,手机号,工作单位,所属工会\n".encode() + b"1,=,=,=,=\n" * count


def csv_many_fields(count: int = 1_000_000) -> bytes:
    """A header whose line has ``count`` empty fields after it."""
    return "姓名,身份证号".encode() + b"," * count + f"\n张三,{id_number(1)}\n".encode()


def csv_binary_garbage(size: int = 2 * MB) -> bytes:
    """Seeded random bytes (not text in any encoding)."""
    return random.Random(3).randbytes(size)


def csv_nul_bytes() -> bytes:
    """A header and a row with NUL characters between (UTF-16 saved without a BOM looks so)."""
    return f"姓名,身份证号\n张三,{id_number(1)}\n".encode("utf-16-le")


def csv_mixed_encodings() -> bytes:
    """A UTF-8 header and GBK rows (a file pasted together from two sources)."""
    return CSV_HEADER + f"李四,{id_number(2)}\n王五,{id_number(3)}\n".encode("gbk")


# ---------------------------------------------------------------- multipart request bodies
# Hostile multipart/form-data bodies for the upload routes: each is (body, Content-Type).

BOUNDARY = b"XyZ"
_MULTIPART = "multipart/form-data; boundary=XyZ"
_FILE_PART = b'Content-Disposition: form-data; name="file"; filename="r.csv"\r\n\r\n\xe5\xa7\x93\xe5\x90\x8d'
_ORG_PART = b'Content-Disposition: form-data; name="org"\r\n\r\nK01'


def multipart(parts: list[bytes], *, boundary: bytes = BOUNDARY, final: bool = True) -> bytes:
    """A multipart body of raw parts (each its headers, a blank line and its content)."""
    out = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return out + (b"--" + boundary + b"--\r\n" if final else b"")


def multipart_no_final_boundary() -> tuple[bytes, str]:
    return multipart([_FILE_PART, _ORG_PART], final=False), _MULTIPART


def multipart_thousands_of_fields(count: int = 5000) -> tuple[bytes, str]:
    return multipart([b'Content-Disposition: form-data; name="f%d"\r\n\r\nx' % i for i in range(count)]), _MULTIPART


def multipart_no_boundary_parameter() -> tuple[bytes, str]:
    return multipart([_FILE_PART]), "multipart/form-data"


def multipart_part_without_headers() -> tuple[bytes, str]:
    return multipart([b"\r\n\r\nabc"]), _MULTIPART


def multipart_huge_part_header(size: int = 20_000) -> tuple[bytes, str]:
    return multipart([b'Content-Disposition: form-data; name="' + b"a" * size + b'"\r\n\r\nx']), _MULTIPART


def multipart_part_without_name() -> tuple[bytes, str]:
    return multipart([b"Content-Disposition: form-data\r\n\r\nx"]), _MULTIPART


def multipart_undecodable_disposition() -> tuple[bytes, str]:
    return multipart([b'Content-Disposition: form-data; name="\xff\xfe"\r\n\r\nx']), _MULTIPART


def multipart_garbage(size: int = 3000) -> tuple[bytes, str]:
    return bytes(random.Random(size).getrandbits(8) for _ in range(size)), _MULTIPART


#: Every hostile multipart body, by name; an upload route answers each with a 400.
MULTIPART_CATALOGUE = {
    "no final boundary": multipart_no_final_boundary,
    "thousands of fields": multipart_thousands_of_fields,
    "no boundary": multipart_no_boundary_parameter,
    "a part with no headers": multipart_part_without_headers,
    "a part header too large": multipart_huge_part_header,
    "a part with no name": multipart_part_without_name,
    "not utf-8 in the disposition": multipart_undecodable_disposition,
    "garbage": multipart_garbage,
}


# ---------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Case:
    """A hostile roster file and what ``parse_roster`` must do with it.

    ``code`` is the :class:`models.errors.Invalid` code expected, None when the file
    must parse (its hostility is in a part nobody needs to read). ``bomb`` marks the
    files meant to exhaust memory: those that unpack to far more than they weigh, and
    those that fill a limit to the brim (the memory test runs them).
    """

    name: str
    build: Callable[[], bytes]
    code: str | None
    filename: str = "roster.xlsx"
    bomb: bool = False


_TOO_LARGE = "roster_too_large"
_FORMAT = "roster_format"

CATALOGUE: list[Case] = [
    # zip bombs
    Case("cell_bomb", cell_bomb, _TOO_LARGE, bomb=True),
    Case("cell_bomb_understated", lambda: cell_bomb(understated=True), _TOO_LARGE, bomb=True),
    Case("shared_string_bomb", shared_string_bomb, _TOO_LARGE, bomb=True),
    Case("shared_string_bomb_understated", lambda: shared_string_bomb(understated=True), _TOO_LARGE, bomb=True),
    Case("many_rows_bomb", many_rows_bomb, _TOO_LARGE, bomb=True),
    Case("many_rows_bomb_understated", lambda: many_rows_bomb(understated=True), _TOO_LARGE, bomb=True),
    Case("many_columns_bomb", many_columns_bomb, _TOO_LARGE, bomb=True),
    Case("many_columns_bomb_understated", lambda: many_columns_bomb(understated=True), _TOO_LARGE, bomb=True),
    Case("many_shared_strings_bomb", many_shared_strings_bomb, _TOO_LARGE, bomb=True),
    Case("many_shared_strings_bomb_understated", lambda: many_shared_strings_bomb(understated=True),
         _TOO_LARGE, bomb=True),
    Case("many_distinct_shared_strings", many_distinct_shared_strings, _TOO_LARGE, bomb=True),
    Case("whitespace_bomb_understated", whitespace_bomb, _TOO_LARGE, bomb=True),
    Case("unrelated_member_bomb", unrelated_member_bomb, _TOO_LARGE, bomb=True),
    Case("unrelated_member_bomb_understated", lambda: unrelated_member_bomb(understated=True), None, bomb=True),
    Case("bzip2_bomb", bzip2_bomb, _FORMAT, bomb=True),
    Case("many_members", many_members, _TOO_LARGE, bomb=True),
    Case("huge_declared_size", huge_declared_size, _TOO_LARGE),
    # odd XLSX packages
    Case("row_ref_not_a_number", lambda: row_ref("abc"), _FORMAT),
    Case("row_ref_5000_digits", lambda: row_ref("9" * 5000), _FORMAT),
    Case("row_ref_negative", lambda: row_ref("-1"), _FORMAT),
    Case("row_ref_zero", lambda: row_ref("0"), _FORMAT),
    Case("row_ref_beyond_excel", lambda: row_ref("1048577"), _FORMAT),
    Case("row_ref_spaces", lambda: row_ref(" 2 "), _FORMAT),
    Case("rows_out_of_order", rows_out_of_order, _FORMAT),
    Case("duplicate_row_number", duplicate_row_number, _FORMAT),
    Case("cell_ref_letters_only", lambda: cell_ref("A"), _FORMAT),
    Case("cell_ref_digits_first", lambda: cell_ref("1A"), _FORMAT),
    Case("cell_ref_5000_letters", lambda: cell_ref("A" * 5000 + "2"), _FORMAT),
    Case("cell_ref_beyond_xfd", lambda: cell_ref("XFE2"), _FORMAT),
    Case("cell_ref_negative", lambda: cell_ref("A-2"), _FORMAT),
    Case("cell_outside_row", cell_outside_row, _FORMAT),
    Case("nested_row", nested_row, _FORMAT),
    Case("sheet_part_missing", sheet_part_missing, _FORMAT),
    Case("no_sheets", no_sheets, "roster_empty"),
    Case("rels_not_xml", rels_not_xml, _FORMAT),
    Case("rels_escaping_target", rels_escaping_target, _FORMAT),
    Case("rels_missing", rels_missing, _FORMAT),
    Case("shared_index_out_of_range", lambda: shared_index("7"), _FORMAT),
    Case("shared_index_negative", lambda: shared_index("-1"), _FORMAT),
    Case("shared_index_fraction", lambda: shared_index("1.0"), _FORMAT),
    Case("shared_index_text", lambda: shared_index("abc"), _FORMAT),
    Case("shared_index_empty", lambda: shared_index(""), _FORMAT),
    Case("shared_index_arabic_digit", lambda: shared_index("١"), _FORMAT),
    Case("shared_index_5000_digits", lambda: shared_index("1" * 5000), _FORMAT),
    Case("doctype_in_sheet", doctype_entities, _FORMAT),
    Case("doctype_in_workbook", lambda: doctype_entities("xl/workbook.xml"), _FORMAT),
    Case("doctype_in_rels", lambda: doctype_entities("xl/_rels/workbook.xml.rels"), _FORMAT),
    Case("doctype_utf16_workbook", doctype_utf16_workbook, _FORMAT),
    Case("undefined_entity", undefined_entity, _FORMAT),
    Case("invalid_utf8", invalid_utf8, _FORMAT),
    Case("gbk_declared_xml", gbk_declared_xml, _FORMAT),
    Case("deep_nesting", deep_nesting, _FORMAT, bomb=True),
    Case("long_tag", long_tag, _TOO_LARGE, bomb=True),
    Case("long_cell_text", long_cell_text, _TOO_LARGE),
    Case("long_row", long_row, _TOO_LARGE, bomb=True),
    Case("fallback_reads_a_good_file", fallback, None),
    Case("fallback_doctype", fallback_doctype, _FORMAT),
    Case("fallback_too_large", fallback_too_large, _TOO_LARGE),
    Case("fallback_long_cell", fallback_long_cell, _TOO_LARGE),
    Case("fallback_utf16", fallback_utf16, _FORMAT),
    Case("truncated_zip", truncated, _FORMAT),
    Case("encrypted_member", encrypted_member, _FORMAT),
    Case("bzip2_member", bzip2_member, _FORMAT),
    Case("nested_archive_as_sheet", nested_archive_as_sheet, _FORMAT),
    Case("nested_archive_embedded", nested_archive_embedded, None),
    Case("zip_directory_lies", zip_directory_lies, _TOO_LARGE),
    # CSV
    Case("csv_enormous_line", csv_enormous_line, _TOO_LARGE, "roster.csv", bomb=True),
    Case("csv_enormous_quoted_field", csv_enormous_quoted_field, _FORMAT, "roster.csv", bomb=True),
    Case("csv_many_tiny_rows", csv_many_tiny_rows, _TOO_LARGE, "roster.csv", bomb=True),
    Case("csv_many_blank_lines", csv_many_blank_lines, _TOO_LARGE, "roster.csv", bomb=True),
    Case("csv_many_bad_rows", csv_many_bad_rows, "roster_too_many_problems", "roster.csv", bomb=True),
    Case("csv_many_fields", csv_many_fields, _TOO_LARGE, "roster.csv", bomb=True),
    Case("csv_binary_garbage", csv_binary_garbage, "roster_encoding", "roster.csv"),
    Case("csv_nul_bytes", csv_nul_bytes, "roster_encoding", "roster.csv"),
    Case("csv_mixed_encodings", csv_mixed_encodings, "roster_headers", "roster.csv"),
]


# ---------------------------------------------------------------- attachments (proofs and photos)
#
# Pictures are made with Pillow; bombs and PDFs are written by hand, so that they can lie.


def _picture(fmt: str, width: int, height: int, mode: str = "RGB", **save: object) -> bytes:
    from PIL import Image

    rng = random.Random(7)
    im = Image.new(mode, (width, height), (40, 120, 200) if mode == "RGB" else None)
    for _ in range(50):  # some detail, so the encoder has something to keep
        x, y = rng.randrange(width), rng.randrange(height)
        im.putpixel((x, y), (255, 255, 255) if mode == "RGB" else (255, 0, 0, 128) if mode == "RGBA" else 255)
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def jpeg(width: int = 320, height: int = 240, **save: object) -> bytes:
    """A real small JPEG."""
    return _picture("JPEG", width, height, **save)


def png(width: int = 320, height: int = 240, mode: str = "RGB") -> bytes:
    """A real small PNG (``mode="RGBA"``: with transparency)."""
    return _picture("PNG", width, height, mode)


GPS_LATITUDE = (31.0, 14.0, 9.0)


def jpeg_with_gps() -> bytes:
    """A JPEG whose EXIF has a camera, an orientation (rotate 90°) and a GPS position; 320×240 stored."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: GPS_LATITUDE, 3: "E", 4: (121.0, 28.0, 3.0)}
    return jpeg(exif=exif.tobytes(), comment=b"<script>alert(1)</script>")


def png_with_metadata() -> bytes:
    """A PNG with a text chunk and an eXIf chunk carrying GPS."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: GPS_LATITUDE}
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (9, 9, 9)).save(buf, "PNG", pnginfo=info, exif=exif.tobytes())
    return buf.getvalue()


def html_named_png() -> bytes:
    """An HTML page (the test uploads it as ``proof.png``, ``image/png``)."""
    return b"<!DOCTYPE html><html><body><script>fetch('/api/v1/me')</script></body></html>"


def polyglot_jpeg_html() -> bytes:
    """A valid JPEG with an HTML page after its end."""
    return jpeg() + b"<html><body><script>alert(document.cookie)</script></body></html>"


def polyglot_jpeg_zip() -> bytes:
    """A valid JPEG with a zip archive (holding a script) after its end."""
    return jpeg() + zip_file([Member("payload.js", b"alert(1)" * 10)])


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 100_000, height: int = 100_000, rows: int = 2000) -> bytes:
    """A greyscale PNG of ``width``×``height`` pixels whose first ``rows`` rows of zeros fit in a few KB."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def jpeg_pixel_flood(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny JPEG whose header claims ``width``×``height`` pixels (its frame header patched)."""
    data = bytearray(jpeg(16, 16))
    at = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def png_text_bomb(chunks: int = 60) -> bytes:
    """A small PNG with ``chunks`` zTXt chunks that each inflate to 1 MB."""
    body = b"Comment\x00\x00" + zlib.compress(b"A" * MB, 9)
    raw = png(16, 16)
    end = raw.rfind(b"IEND") - 4
    return raw[:end] + _png_chunk(b"zTXt", body) * chunks + raw[end:]


def pdf_file(objects: Sequence[bytes], *, trailer: bytes = b"", xref: bool = True) -> bytes:
    """A PDF of the given object bodies (numbered from 1; object 1 is the catalog) with a classic xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    if xref:
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, start)
    return bytes(out)


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


_PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"
_CONTENT = _stream(b"", b"BT /F1 12 Tf 72 720 Td (proof) Tj ET")


def pdf_plain(catalog_extra: bytes = b"", page: bytes = _PAGE, extra: Sequence[bytes] = ()) -> bytes:
    """A one-page PDF; the catalog, the page and extra objects (numbered from 5) can be changed."""
    catalog = b"<< /Type /Catalog /Pages 2 0 R %s>>" % catalog_extra
    pages = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    return pdf_file([catalog, pages, page, _CONTENT, *extra])


def pdf_open_action_js() -> bytes:
    """A PDF that runs JavaScript when opened."""
    return pdf_plain(b"/OpenAction 5 0 R ", extra=[b"<< /Type /Action /S /JavaScript /JS (app.alert(1)) >>"])


def pdf_names_js_hex_escaped() -> bytes:
    """A PDF with a document-level script whose names are hex-escaped (``/J#61vaScript``, ``/J#53``)."""
    return pdf_plain(b"/Names << /J#61vaScript 5 0 R >> ",
                     extra=[b"<< /Names [(a) << /S /J#61vaScript /J#53 (app.alert(1)) >>] >>"])


def pdf_additional_actions() -> bytes:
    """A PDF whose page has an /AA (a page-open action)."""
    return pdf_plain(page=_PAGE[:-2] + b"/AA << /O 5 0 R >> >>", extra=[b"<< /S /Named /N /NextPage >>"])


def pdf_launch() -> bytes:
    """A PDF with a link annotation that launches a program."""
    annot = b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /Launch /F (cmd.exe) >> >>"
    return pdf_plain(page=_PAGE[:-2] + b"/Annots [5 0 R] >>", extra=[annot])


def pdf_embedded_file() -> bytes:
    """A PDF with an embedded file in its name tree."""
    spec = b"<< /Type /Filespec /F (a.exe) /EF << /F 6 0 R >> >>"
    return pdf_plain(b"/Names << /EmbeddedFiles << /Names [(a.exe) 5 0 R] >> >> ",
                     extra=[spec, _stream(b"/Type /EmbeddedFile", b"MZ" + b"\x00" * 64)])


def pdf_orphan_js() -> bytes:
    """A clean PDF with an extra object, listed nowhere, that holds JavaScript."""
    raw = pdf_plain()
    at = raw.find(b"xref")
    return raw[:at] + b"9 0 obj\n<< /S /JavaScript /JS (app.alert(1)) >>\nendobj\n" + raw[at:].replace(
        b"startxref\n%d" % at, b"startxref\n%d" % (at + 60))


def pdf_xfa() -> bytes:
    """A PDF with an XFA form."""
    return pdf_plain(b"/AcroForm << /Fields [] /XFA 5 0 R >> ", extra=[_stream(b"", b"<xdp:xdp/>")])


def pdf_encrypted() -> bytes:
    """A real PDF encrypted with a user password (by pypdf)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_plain())))
    writer.encrypt("secret", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def pdf_truncated() -> bytes:
    """The first two thirds of a PDF."""
    raw = pdf_plain()
    return raw[: len(raw) * 2 // 3]


def pdf_not_really() -> bytes:
    """A file that starts like a PDF and is an HTML page."""
    return b"%PDF-1.7\n<html><script>alert(1)</script></html>\n%%EOF\n"


def pdf_many_pages(count: int = 51) -> bytes:
    """A PDF of ``count`` pages sharing one content stream."""
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(count))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
               b"<< >>", _CONTENT, *[page] * count]
    return pdf_file(objects)


def _zlib_repeat(chunk: bytes, times: int) -> bytes:
    raw, _, _ = deflate_repeat([(chunk, times)])
    adler = 1
    for _ in range(times):
        adler = zlib.adler32(chunk, adler)
    return b"\x78\xda" + raw + struct.pack(">I", adler)


def pdf_stream_bomb() -> bytes:
    """A one-page PDF whose content stream is a few hundred KB and inflates to 200 MB."""
    data = _zlib_repeat(b"0 0 m\n" * (MB // 6), BOMB_BYTES // MB)
    page = _PAGE.replace(b"4 0 R", b"5 0 R")
    return pdf_plain(page=page, extra=[_stream(b"/Filter /FlateDecode", data)])


def pdf_object_stream_bomb(size: int = BOMB_BYTES) -> bytes:
    """A PDF whose catalog sits in an object stream that inflates to ``size`` bytes, through an xref stream."""
    header = b"1 0 "
    first = _zlib_repeat(header + b"<< /Type /Catalog /Pages 2 0 R >>" + b" " * (MB - 36), size // MB)
    objects = [b"", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", _PAGE, _CONTENT,
               _stream(b"/Type /ObjStm /N 1 /First %d /Filter /FlateDecode" % len(header), first)]
    out = bytearray(b"%PDF-1.7\n")
    offsets = {}
    for number, body in enumerate(objects, start=1):
        if number == 1:
            continue
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    rows = b"\x00\x00\x00\x00\x00\xff\xff" + b"\x02\x00\x00\x00\x05\x00\x00"
    rows += b"".join(b"\x01" + struct.pack(">IH", offsets[n], 0) for n in range(2, 6))
    rows += b"\x01" + struct.pack(">IH", start, 0)
    out += b"6 0 obj\n" + _stream(b"/Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R", rows) + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


#: Every hostile attachment and the code ``sanitise`` refuses it with (None: accepted, made clean).
ATTACHMENT_CATALOGUE: Mapping[str, tuple[Callable[[], bytes], str | None]] = {
    "html_named_png": (html_named_png, "upload_type"),
    "polyglot_jpeg_html": (polyglot_jpeg_html, None),
    "polyglot_jpeg_zip": (polyglot_jpeg_zip, None),
    "png_bomb": (png_bomb, "upload_image_too_big"),
    "png_bomb_within_pixels": (lambda: png_bomb(6000, 6000, 6000), "upload_image_too_big"),
    "png_bomb_within_decode_budget": (lambda: png_bomb(4000, 3000, 3000), None),  # 11 KB, 12 MP: decoded, made clean
    "png_text_bomb": (png_text_bomb, None),
    "jpeg_pixel_flood": (jpeg_pixel_flood, "upload_image_too_big"),
    "pdf_open_action_js": (pdf_open_action_js, "upload_pdf_active"),
    "pdf_names_js_hex_escaped": (pdf_names_js_hex_escaped, "upload_pdf_active"),
    "pdf_additional_actions": (pdf_additional_actions, "upload_pdf_active"),
    "pdf_launch": (pdf_launch, "upload_pdf_active"),
    "pdf_embedded_file": (pdf_embedded_file, "upload_pdf_active"),
    "pdf_orphan_js": (pdf_orphan_js, "upload_pdf_active"),
    "pdf_xfa": (pdf_xfa, "upload_pdf_active"),
    "pdf_encrypted": (pdf_encrypted, "upload_pdf_encrypted"),
    "pdf_truncated": (pdf_truncated, "upload_corrupt"),
    "pdf_not_really": (pdf_not_really, "upload_corrupt"),
    "pdf_many_pages": (pdf_many_pages, "upload_pdf_pages"),
    "pdf_stream_bomb": (pdf_stream_bomb, None),
    "pdf_object_stream_bomb": (pdf_object_stream_bomb, "upload_corrupt"),
    "garbage": (lambda: bytes(random.Random(3).randrange(256) for _ in range(4096)), "upload_type"),
    "empty": (lambda: b"", "upload_type"),
}
