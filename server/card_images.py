"""Images of the mutual-aid service card: its QR code (PNG, SVG) and the printed ID-1 card (PDF, PNG).

Pure and synchronous: the functions only compute bytes. They are CPU-bound, so
callers run them off the event loop (``run_in_executor``).

A printed card's Chinese text needs a CJK font with TrueType outlines
(``card_font``): the PDF embeds a subset of it, so the card reads the same on a
machine that has no Chinese font, and the PNG is drawn with the same face. A
character the CJK font lacks (the ``*`` of a masked name, in some fallback fonts)
is drawn from Bitstream Vera, which ships with reportlab; the card number and date
are set in Vera too. A character in neither font makes the card refused
(``CardFontMissing``): a card is never printed with a box or a gap in its text.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import stat
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import qrcode
import reportlab
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathFillImage
from qrcode.util import MODE_ALPHA_NUM, QRData
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFile
from reportlab.pdfgen import canvas

from server.config import setting_name

if TYPE_CHECKING:
    from server.config import Config

MAX_QR_VERSION = 10

# ID-1 (CR80) card, ISO/IEC 7810.
CARD_WIDTH_MM = 85.6
CARD_HEIGHT_MM = 53.98

TITLE = "职工互助服务卡"
NOTICE = "商家扫码时需核对持卡人身份证后四位"
LABEL_HOLDER = "持卡人"
LABEL_CARD_NO = "卡号"
LABEL_PRINTED_ON = "制卡日期"

FONT_ENV = setting_name("card_font")  # named in messages; the value comes from Config.card_font
# CJK fonts with TrueType outlines where distributions install them (Debian/Ubuntu, Fedora, Arch,
# Alpine). reportlab cannot embed PostScript (CFF) outlines, so Noto CJK (.otf, .ttc) is not here.
SYSTEM_CJK_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
# Shipped inside reportlab, so always there: the Latin fallback, and the card number and date.
LATIN_FONT = str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf")
LATIN_BOLD_FONT = str(Path(reportlab.__file__).parent / "fonts" / "VeraBd.ttf")

NO_FONT_MESSAGE = (
    "服务器没有可嵌入实体卡的中文字体，无法制卡（不会印出缺字的卡）。请管理员在服务器上安装文泉驿微米黑"
    "（Debian/Ubuntu：apt-get install fonts-wqy-microhei），或把 UNIONAID_CARD_FONT 设为含中文的 TrueType 字体文件"
    "（.ttf/.ttc；PostScript 轮廓的 .otf 不能嵌入）后重启服务。"
)

_RED = (200, 16, 46)
_GREY = (90, 90, 90)
_BLACK = (0, 0, 0)
_WHITE = (255, 255, 255)

# Layout in mm from the card's top-left corner (the PDF flips y); sizes in points.
_MARGIN = 4.0
_VALUE_X = 15.5
_BAND_H = 11.0
_TITLE_Y, _TITLE_PT = 7.4, 11.0
_ORG_Y, _ORG_PT, _ORG_MIN_PT = 16.2, 7.5, 5.0
_ROWS_Y = (24.5, 31.0, 37.5)  # holder, card number, print date
_LABEL_PT, _VALUE_PT = 6.5, 8.5
_NOTICE_Y, _NOTICE_PT = 48.6, 5.5
_QR_MM = 25.0  # the symbol without its quiet zone; scanners need >= 22 mm
_QR_QUIET = 4  # modules
_QR_RIGHT, _QR_TOP = 3.0, 13.0
_TEXT_RIGHT = 52.0  # text stays left of the QR's quiet zone


def qr_code(token: str, *, box_size: int = 8, border: int = 4) -> qrcode.QRCode[Any]:
    """The QR code of a card token: alphanumeric mode, error correction M, smallest version."""
    if not token:
        raise ValueError("empty token")
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    # The stubs know QRData(bytes) only; qrcode takes a str with an explicit mode too.
    qr.add_data(QRData(token, mode=MODE_ALPHA_NUM))  # type: ignore[call-overload]  # ValueError unless 0-9 A-Z and " $%*+-./:"
    qr.make(fit=True)
    if qr.version > MAX_QR_VERSION:
        raise ValueError(f"token too long for a QR code of version {MAX_QR_VERSION}")
    return qr


def qr_png(token: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """PNG (1-bit, black on white) of the token's QR code."""
    qr = qr_code(token, box_size=box_size, border=border)
    img = qr.make_image(image_factory=PilImage, fill_color="black", back_color="white")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def qr_svg(token: str) -> bytes:
    """Standalone SVG (UTF-8) of the token's QR code: one black path on a white square with a 4-module quiet zone.

    The white background makes it scan on a dark page too.
    """
    img = qr_code(token, border=_QR_QUIET).make_image(image_factory=SvgPathFillImage)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue()


@dataclass(frozen=True)
class PrintedCard:
    """What the printed card shows; deliberately nothing more (no ID or phone number)."""

    card_no: str  # 16 digits
    holder_masked: str
    org_name: str
    token: str
    printed_on: date

    def __post_init__(self) -> None:
        if len(self.card_no) != 16 or not (self.card_no.isascii() and self.card_no.isdigit()):
            raise ValueError("card_no must be 16 digits")

    @property
    def card_no_grouped(self) -> str:
        """The card number in groups of four: 6201 2345 6789 0123."""
        return " ".join(self.card_no[i:i + 4] for i in range(0, 16, 4))

    @property
    def printed_on_text(self) -> str:
        """The print date as printed on the card: YYYY-MM-DD."""
        return self.printed_on.isoformat()


def _quiet_box_mm(modules: int) -> tuple[float, float, float]:
    """The QR's module size, and the left and top of its quiet-zone box, in mm."""
    module = _QR_MM / modules
    box = module * (modules + 2 * _QR_QUIET)
    return module, CARD_WIDTH_MM - _QR_RIGHT - box, _QR_TOP


# -- fonts ----------------------------------------------------------------------

class CardFontMissing(Exception):
    """A printed card cannot be drawn without losing text.

    ``message`` is Chinese, for the staff member and the operator (no file paths); ``detail``
    is English, for the log; ``missing`` holds the characters no font has ("" when there is no
    usable CJK font at all).
    """

    def __init__(self, message: str, detail: str, *, missing: str = "") -> None:
        super().__init__(detail)
        self.message = message
        self.detail = detail
        self.missing = missing


@dataclass(frozen=True)
class Face:
    """One TrueType face: reportlab embeds it (registered as ``pdf_name``) and Pillow draws it."""

    path: str
    index: int
    family: str
    ps_name: str = field(compare=False)  # the PostScript name, as an embedded subset is named in the PDF
    pdf_name: str = field(compare=False)
    codepoints: frozenset[int] = field(compare=False, repr=False)

    def has(self, ch: str) -> bool:
        """Whether the face maps the character to a glyph of its own."""
        return ord(ch) in self.codepoints

    def pil(self, size: int) -> ImageFont.FreeTypeFont:
        """A new Pillow font of this face (FreeType faces must not be shared between threads)."""
        return ImageFont.truetype(self.path, size=size, index=self.index, layout_engine=ImageFont.Layout.BASIC)

    def describe(self) -> str:
        """The face as the log names it: family, file and face index."""
        return f"{self.family} ({self.path}, face {self.index})"


_FileVersion = tuple[int, int]  # st_mtime_ns, st_size: a replaced font file is read again
_PROBE_TEXT = TITLE + NOTICE + LABEL_HOLDER + LABEL_CARD_NO + LABEL_PRINTED_ON
_LOAD_LOCK = threading.Lock()
# reportlab shares embedded faces by PostScript name; which face of ours took each name.
_PS_NAMES: dict[bytes, tuple[str, int, _FileVersion]] = {}


def _text(name: bytes) -> str:
    ustr = getattr(name, "ustr", None)
    return ustr if isinstance(ustr, str) else bytes(name).decode("latin-1")


@functools.lru_cache(maxsize=16)
def _load_face(path: str, index: int, version: _FileVersion) -> Face:
    """Parse one face and register it with reportlab, once per file version. Raises TTFError, OSError."""
    key = (path, index, version)
    tag = hashlib.sha256(repr(key).encode()).hexdigest()[:10]
    with _LOAD_LOCK:
        font = TTFont(f"UnionAid-{tag}", path, subfontIndex=index)
        owner = _PS_NAMES.setdefault(bytes(font.face.name), key)
        if owner != key:  # another file with this PostScript name is registered: keep them apart
            font.face.name = bytes(font.face.name) + b"-" + tag.encode()
            _PS_NAMES[font.face.name] = key
        pdfmetrics.registerFont(font)
    return Face(path=path, index=index, family=_text(font.face.familyName), ps_name=_text(font.face.name),
                pdf_name=font.fontName,
                codepoints=frozenset(font.face.charToGlyph))


def _version(path: str) -> _FileVersion | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if stat.S_ISREG(st.st_mode) else None


@functools.lru_cache(maxsize=32)
def _cjk_face(path: str, version: _FileVersion) -> Face | str:
    """The face of the file that has every glyph of the card's fixed Chinese text, else why none has."""
    # Any file may be named here: whatever reportlab makes of a broken one is a reason, not a crash.
    try:
        first = TTFontFile(path, charInfo=0)
        families = [_text(first.familyName)]
        for index in range(1, getattr(first, "numSubfonts", 1)):
            families.append(_text(TTFontFile(path, charInfo=0, subfontIndex=index).familyName))
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    except Exception as exc:  # noqa: BLE001 - TTFError, or struct and index errors from a damaged file
        if "postscript outlines" in str(exc).lower():
            return "PostScript (CFF) outlines, which reportlab cannot embed: use a TrueType-outlined font"
        return f"not a usable TrueType font ({exc})"
    # A collection may hold one face per region; prefer Simplified Chinese.
    order = sorted(range(len(families)), key=lambda i: 0 if " SC" in families[i] else 1)
    why = "has no glyphs for the card's Chinese labels"
    for index in order:
        try:
            face = _load_face(path, index, version)
        except Exception as exc:  # noqa: BLE001 - as above, e.g. a face that forbids embedding
            why = f"face {index} is not usable ({exc})"
            continue
        if all(face.has(ch) for ch in _PROBE_TEXT):
            return face
    return why


def _latin_face(bold: bool = False) -> Face:
    path = LATIN_BOLD_FONT if bold else LATIN_FONT
    version = _version(path)
    if version is None:
        raise CardFontMissing(NO_FONT_MESSAGE, f"{path}: reportlab's own font is missing")
    return _load_face(path, 0, version)


def _resolve(font_path: str | None, search: Sequence[str] | None) -> tuple[Face | None, str]:
    """The CJK face to use, else None and why (English)."""
    if font_path:  # the operator chose this file: no other is used in its place
        version = _version(font_path)
        found = _cjk_face(font_path, version) if version else "no such file"
        return (found, "") if isinstance(found, Face) else (None, f"{FONT_ENV}={font_path}: {found}")
    places = SYSTEM_CJK_FONTS if search is None else tuple(search)
    why = []
    for path in places:
        version = _version(path)
        if version is None:
            continue
        found = _cjk_face(path, version)
        if isinstance(found, Face):
            return found, ""
        why.append(f"{path}: {found}")
    return None, "; ".join(why) or f"no CJK TrueType font in any of {len(places)} known places"


def find_cjk_font(font_path: str | None = None, *, search: Sequence[str] | None = None) -> Face | None:
    """The CJK face for printed cards, if any.

    ``font_path`` (the configured ``UNIONAID_CARD_FONT``) is the only one tried when given;
    else the first usable of ``search`` (default: SYSTEM_CJK_FONTS). Usable: TrueType outlines,
    embedding allowed, and a glyph for every character of the card's fixed Chinese text.
    """
    return _resolve(font_path, search)[0]


def card_font(font_path: str | None = None, *, search: Sequence[str] | None = None) -> Face:
    """Like find_cjk_font, but raises CardFontMissing (saying why) when there is none."""
    face, why = _resolve(font_path, search)
    if face is None:
        raise CardFontMissing(NO_FONT_MESSAGE, why)
    return face


def pdf_faces(font_path: str | None = None) -> tuple[Face, Face]:
    """The CJK face and the Latin fallback any PDF with Chinese text is drawn with (CardFontMissing when none)."""
    return card_font(font_path), _latin_face()


def font_report(config: Config) -> str:
    """One line for the start-up output: the font printed cards use, or why they are refused."""
    try:
        face = card_font(config.card_font or None)
        _latin_face(), _latin_face(bold=True)
    except CardFontMissing as exc:
        return (f"printed cards: DISABLED, print and download answer 503 card_font_missing ({exc.detail}); "
                f"install fonts-wqy-microhei or set {FONT_ENV} to a TrueType .ttf/.ttc with Chinese glyphs")
    return f"printed cards: font {face.describe()}, a subset embedded in each PDF"


def _visible(text: str) -> str:
    """The text as drawn on one line: any whitespace a space, invisible control and format characters left out."""
    return "".join(" " if ch.isspace() else ch for ch in text
                   if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf"))


def _missing(text: str, chain: Sequence[Face]) -> str:
    """The characters of text (once each, in order) that no face of the chain has."""
    return "".join(dict.fromkeys(ch for ch in text if not any(face.has(ch) for face in chain)))


def _runs(text: str, chain: Sequence[Face]) -> list[tuple[Face, str]]:
    """The text cut into runs, each drawn by the first face of the chain that has its characters."""
    runs: list[tuple[Face, str]] = []
    for ch in text:
        face = next((f for f in chain if f.has(ch)), None)
        if face is None:  # callers check first (printable_face); never leave a gap or a box
            raise CardFontMissing(NO_FONT_MESSAGE, f"no glyph for {ch!r}", missing=ch)
        if runs and runs[-1][0] == face:
            runs[-1] = (face, runs[-1][1] + ch)
        else:
            runs.append((face, ch))
    return runs


def printable_face(holder_masked: str, org_name: str, *, font_path: str | None = None,
                   search: Sequence[str] | None = None) -> Face:
    """The CJK face a card with this holder and organisation is printed with.

    Raises CardFontMissing when there is no usable CJK font (see find_cjk_font), or when a
    character of the card's text is in neither that font nor the Latin fallback.
    """
    face = card_font(font_path, search=search)
    text = _PROBE_TEXT + _visible(holder_masked) + _visible(org_name)
    missing = _missing(text, (face, _latin_face()))
    if missing:
        shown = "、".join(missing)
        raise CardFontMissing(
            f"实体卡上的“{shown}”在服务器的字体（{face.family}）里没有字形，无法制作此卡（不会印出缺字的卡）。"
            f"请管理员把 UNIONAID_CARD_FONT 设为包含这些字的 TrueType 字体文件（.ttf/.ttc）后重启服务。",
            f"{face.describe()} and {LATIN_FONT} have no glyph for {missing!r}", missing=missing)
    return face


@dataclass(frozen=True)
class _Fields:
    """Each text of the card with the chain of faces that draws it."""

    cjk: tuple[Face, ...]
    digits: tuple[Face, ...]
    digits_bold: tuple[Face, ...]


def _fields(card: PrintedCard, font_path: str | None, search: Sequence[str] | None) -> _Fields:
    face = printable_face(card.holder_masked, card.org_name, font_path=font_path, search=search)
    latin = _latin_face()
    return _Fields(cjk=(face, latin), digits=(latin,), digits_bold=(_latin_face(bold=True),))


# -- PDF ----------------------------------------------------------------------

def _pdf_width(text: str, chain: Sequence[Face], size: float) -> float:
    return sum(pdfmetrics.stringWidth(run, face.pdf_name, size) for face, run in _runs(text, chain))


def _pdf_fit(text: str, chain: Sequence[Face], size: float, min_size: float, width: float) -> tuple[str, float]:
    """Shrink the font down to min_size, then cut the text, so it fits the width (points)."""
    while size > min_size and _pdf_width(text, chain, size) > width:
        size = max(min_size, size - 0.25)
    while len(text) > 1 and _pdf_width(text, chain, size) > width:
        text = text[:-2] + "…"
    return text, size


def _pdf_text(c: canvas.Canvas, x: float, y: float, text: str, chain: Sequence[Face], size: float,
              *, bold: bool = False) -> None:
    """One line of text from its baseline's left end, each run in its own face."""
    obj = c.beginText(x, y)
    if bold:
        obj.setTextRenderMode(2)  # fill and stroke: a bolder line from a regular face
    for face, run in _runs(text, chain):
        obj.setFont(face.pdf_name, size)
        obj.textOut(run)
    c.drawText(obj)


def printed_card_pdf(card: PrintedCard, *, font_path: str | None = None,
                     search: Sequence[str] | None = None) -> bytes:
    """One ID-1 sized PDF page of the card, its fonts embedded (subsets), the QR as vector rectangles.

    Raises CardFontMissing rather than print a card that would lose text.
    """
    fields = _fields(card, font_path, search)
    width, height = CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm
    buf = io.BytesIO()
    # An embedded initial font, or reportlab names Helvetica, which a bare machine lacks.
    c = canvas.Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=1,
                      initialFontName=fields.digits[0].pdf_name)  # type: ignore[arg-type]  # stubs: a name
    c.setTitle(TITLE)  # no personal data in the metadata
    c.setCreator("unionaid")

    def y(top_mm: float) -> float:
        return height - top_mm * mm

    c.setFillColorRGB(*(v / 255 for v in _RED))
    c.rect(0, y(_BAND_H), width, _BAND_H * mm, stroke=0, fill=1)
    c.saveState()
    c.setFillColorRGB(1, 1, 1)
    c.setStrokeColorRGB(1, 1, 1)
    c.setLineWidth(0.25)
    _pdf_text(c, _MARGIN * mm, y(_TITLE_Y), TITLE, fields.cjk, _TITLE_PT, bold=True)
    c.restoreState()

    c.setFillColorRGB(0, 0, 0)
    org, org_pt = _pdf_fit(_visible(card.org_name), fields.cjk, _ORG_PT, _ORG_MIN_PT, (_TEXT_RIGHT - _MARGIN) * mm)
    _pdf_text(c, _MARGIN * mm, y(_ORG_Y), org, fields.cjk, org_pt)

    values = (
        (_visible(card.holder_masked), fields.cjk),
        (card.card_no_grouped, fields.digits_bold),
        (card.printed_on_text, fields.digits),
    )
    for label, (value, chain), top in zip((LABEL_HOLDER, LABEL_CARD_NO, LABEL_PRINTED_ON), values, _ROWS_Y):
        c.setFillColorRGB(*(v / 255 for v in _GREY))
        _pdf_text(c, _MARGIN * mm, y(top), label, fields.cjk, _LABEL_PT)
        c.setFillColorRGB(0, 0, 0)
        text, size = _pdf_fit(value, chain, _VALUE_PT, _LABEL_PT, (_TEXT_RIGHT - _VALUE_X) * mm)
        _pdf_text(c, _VALUE_X * mm, y(top), text, chain, size)

    c.setFillColorRGB(*(v / 255 for v in _GREY))
    _pdf_text(c, _MARGIN * mm, y(_NOTICE_Y), NOTICE, fields.cjk, _NOTICE_PT)

    matrix = qr_code(card.token, border=0).get_matrix()
    n = len(matrix)
    module_mm, box_left, box_top = _quiet_box_mm(n)
    box = module_mm * (n + 2 * _QR_QUIET) * mm
    c.setFillColorRGB(1, 1, 1)
    c.rect(box_left * mm, y(box_top) - box, box, box, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    module = module_mm * mm
    left = box_left * mm + _QR_QUIET * module
    top = y(box_top) - _QR_QUIET * module
    path = c.beginPath()
    for row, cells in enumerate(matrix):
        for start, length in _dark_runs(cells):
            path.rect(left + start * module, top - (row + 1) * module, length * module, module)
    c.drawPath(path, stroke=0, fill=1, fillMode=canvas.FILL_NON_ZERO)  # type: ignore[attr-defined]  # not in stubs

    c.showPage()
    c.save()
    return buf.getvalue()


def _dark_runs(cells: Sequence[bool]) -> list[tuple[int, int]]:
    """(start, length) of each run of dark modules in a row."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, dark in enumerate([*cells, False]):
        if dark and start is None:
            start = i
        elif not dark and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


# -- PNG ----------------------------------------------------------------------

class _PilFonts:
    """Pillow fonts of one rendering, by face and pixel size."""

    def __init__(self) -> None:
        self._fonts: dict[tuple[Face, int], ImageFont.FreeTypeFont] = {}

    def get(self, face: Face, size: int) -> ImageFont.FreeTypeFont:
        font = self._fonts.get((face, size))
        if font is None:
            font = self._fonts[(face, size)] = face.pil(size)
        return font

    def width(self, text: str, chain: Sequence[Face], size: int) -> float:
        return sum(self.get(face, size).getlength(run) for face, run in _runs(text, chain))


def printed_card_png(card: PrintedCard, *, dpi: int = 300, font_path: str | None = None,
                     search: Sequence[str] | None = None) -> bytes:
    """The card as an RGB PNG of card size at ``dpi`` (100-1200).

    Every character is drawn, from the CJK face or else the Latin fallback; raises
    CardFontMissing rather than leave text out.
    """
    if not 100 <= dpi <= 1200:
        raise ValueError("dpi must be between 100 and 1200")
    fields = _fields(card, font_path, search)
    fonts = _PilFonts()
    per_mm = dpi / 25.4

    def px(v_mm: float) -> int:
        return round(v_mm * per_mm)

    def pt(points: float) -> int:
        return max(1, round(points * dpi / 72))

    width, height = px(CARD_WIDTH_MM), px(CARD_HEIGHT_MM)
    img = Image.new("RGB", (width, height), _WHITE)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width - 1, px(_BAND_H) - 1), fill=_RED)

    # The QR on whole pixels per module so every module is crisp, at least 22 mm wide.
    matrix = qr_code(card.token, border=0).get_matrix()
    n = len(matrix)
    module = max(1, round(px(_QR_MM) / n))
    while module * n < 22 * per_mm:
        module += 1
    box = module * (n + 2 * _QR_QUIET)
    box_left = width - px(_QR_RIGHT) - box
    box_top = min(px(_QR_TOP), height - px(2) - box)
    draw.rectangle((box_left, box_top, box_left + box - 1, box_top + box - 1), fill=_WHITE)
    left, top = box_left + _QR_QUIET * module, box_top + _QR_QUIET * module
    for row, cells in enumerate(matrix):
        for start, length in _dark_runs(cells):
            x0, y0 = left + start * module, top + row * module
            draw.rectangle((x0, y0, x0 + length * module - 1, y0 + module - 1), fill=_BLACK)
    text_right = min(px(_TEXT_RIGHT), box_left - px(1))

    def text(x_mm: float, top_mm: float, value: str, chain: Sequence[Face], points: float,
             fill: tuple[int, int, int], *, min_points: float | None = None, bold: bool = False) -> None:
        size = pt(points)
        if min_points is not None:  # shrink down to min_points, then cut the text, to fit left of the QR
            room = text_right - px(x_mm)
            while size > pt(min_points) and fonts.width(value, chain, size) > room:
                size -= 1
            while len(value) > 1 and fonts.width(value, chain, size) > room:
                value = value[:-2] + "…"
        x = float(px(x_mm))
        stroke = round(dpi / 300) if bold else 0
        for face, run in _runs(value, chain):
            font = fonts.get(face, size)
            draw.text((x, px(top_mm)), run, font=font, fill=fill, anchor="ls",
                      stroke_width=stroke, stroke_fill=fill)
            x += font.getlength(run)

    text(_MARGIN, _TITLE_Y, TITLE, fields.cjk, _TITLE_PT, _WHITE, bold=True)
    text(_MARGIN, _ORG_Y, _visible(card.org_name), fields.cjk, _ORG_PT, _BLACK, min_points=_ORG_MIN_PT)
    labels = (LABEL_HOLDER, LABEL_CARD_NO, LABEL_PRINTED_ON)
    values = ((_visible(card.holder_masked), fields.cjk), (card.card_no_grouped, fields.digits_bold),
              (card.printed_on_text, fields.digits))
    for label, (value, chain), row_top in zip(labels, values, _ROWS_Y):
        text(_MARGIN, row_top, label, fields.cjk, _LABEL_PT, _GREY)
        text(_VALUE_X, row_top, value, chain, _VALUE_PT, _BLACK, min_points=_LABEL_PT)
    text(_MARGIN, _NOTICE_Y, NOTICE, fields.cjk, _NOTICE_PT, _GREY)

    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(dpi, dpi), optimize=True)
    return buf.getvalue()
