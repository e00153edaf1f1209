"""Images of the mutual-aid service card: its QR code (PNG, SVG) and the printed ID-1 card (PDF, PNG).

Pure and synchronous: the functions only compute bytes. They are CPU-bound, so
callers run them off the event loop (``run_in_executor``).
"""
from __future__ import annotations

import functools
import io
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage
from qrcode.util import MODE_ALPHA_NUM, QRData
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

MAX_QR_VERSION = 10

# ID-1 (CR80) card, ISO/IEC 7810.
CARD_WIDTH_MM = 85.6
CARD_HEIGHT_MM = 53.98

TITLE = "职工互助服务卡"
NOTICE = "商家扫码时需核对持卡人身份证后四位"
LABEL_HOLDER = "持卡人"
LABEL_CARD_NO = "卡号"
LABEL_PRINTED_ON = "制卡日期"

FONT_ENV = "UNIONAID_CARD_FONT"
# Common places of CJK TrueType/OpenType fonts (Debian/Ubuntu, Fedora, Arch, Alpine).
SYSTEM_CJK_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
)

_PDF_CJK_FONT = "STSong-Light"
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


def qr_code(token: str, *, box_size: int = 8, border: int = 4) -> qrcode.QRCode:
    """The QR code of a card token: alphanumeric mode, error correction M, smallest version."""
    if not token:
        raise ValueError("empty token")
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    qr.add_data(QRData(token, mode=MODE_ALPHA_NUM))  # ValueError unless 0-9 A-Z and " $%*+-./:"
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
    """Standalone SVG (UTF-8, one path) of the token's QR code."""
    img = qr_code(token).make_image(image_factory=SvgPathImage)
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
        return self.printed_on.isoformat()


def _quiet_box_mm(modules: int) -> tuple[float, float, float]:
    """The QR's module size, and the left and top of its quiet-zone box, in mm."""
    module = _QR_MM / modules
    box = module * (modules + 2 * _QR_QUIET)
    return module, CARD_WIDTH_MM - _QR_RIGHT - box, _QR_TOP


# -- PDF ----------------------------------------------------------------------

def _register_pdf_font() -> None:
    if _PDF_CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_PDF_CJK_FONT))


def _pdf_fit(text: str, font: str, size: float, min_size: float, width: float) -> tuple[str, float]:
    """Shrink the font down to min_size, then cut the text, so it fits the width (points)."""
    while size > min_size and pdfmetrics.stringWidth(text, font, size) > width:
        size = max(min_size, size - 0.25)
    while len(text) > 1 and pdfmetrics.stringWidth(text, font, size) > width:
        text = text[:-2] + "…"
    return text, size


def printed_card_pdf(card: PrintedCard) -> bytes:
    """One ID-1 sized PDF page of the card, with the QR drawn as vector rectangles."""
    _register_pdf_font()
    width, height = CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=1)
    c.setTitle(TITLE)  # no personal data in the metadata
    c.setCreator("unionaid")

    def y(top_mm: float) -> float:
        return height - top_mm * mm

    c.setFillColorRGB(*(v / 255 for v in _RED))
    c.rect(0, y(_BAND_H), width, _BAND_H * mm, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    title = c.beginText(_MARGIN * mm, y(_TITLE_Y))
    title.setFont(_PDF_CJK_FONT, _TITLE_PT)
    title.setTextRenderMode(2)  # fill and stroke: a bolder title from a light font
    c.setStrokeColorRGB(1, 1, 1)
    c.setLineWidth(0.25)
    title.textOut(TITLE)
    c.drawText(title)

    c.setFillColorRGB(0, 0, 0)
    org, org_pt = _pdf_fit(card.org_name, _PDF_CJK_FONT, _ORG_PT, _ORG_MIN_PT, (_TEXT_RIGHT - _MARGIN) * mm)
    c.setFont(_PDF_CJK_FONT, org_pt)
    c.drawString(_MARGIN * mm, y(_ORG_Y), org)

    values = (
        (card.holder_masked, _PDF_CJK_FONT),
        (card.card_no_grouped, "Helvetica-Bold"),
        (card.printed_on_text, "Helvetica"),
    )
    for label, (value, font), top in zip((LABEL_HOLDER, LABEL_CARD_NO, LABEL_PRINTED_ON), values, _ROWS_Y):
        c.setFillColorRGB(*(v / 255 for v in _GREY))
        c.setFont(_PDF_CJK_FONT, _LABEL_PT)
        c.drawString(_MARGIN * mm, y(top), label)
        c.setFillColorRGB(0, 0, 0)
        text, size = _pdf_fit(value, font, _VALUE_PT, _LABEL_PT, (_TEXT_RIGHT - _VALUE_X) * mm)
        c.setFont(font, size)
        c.drawString(_VALUE_X * mm, y(top), text)

    c.setFillColorRGB(*(v / 255 for v in _GREY))
    c.setFont(_PDF_CJK_FONT, _NOTICE_PT)
    c.drawString(_MARGIN * mm, y(_NOTICE_Y), NOTICE)

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
    c.drawPath(path, stroke=0, fill=1, fillMode=canvas.FILL_NON_ZERO)

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


# -- fonts for Pillow ---------------------------------------------------------

_PROBE_TEXT = TITLE + NOTICE + LABEL_HOLDER + LABEL_CARD_NO + LABEL_PRINTED_ON
_UNMAPPED = "\U0010ffff"  # a noncharacter: no font maps it, so it renders as .notdef


def _glyph_bitmap(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    side = int(font.size) * 2
    im = Image.new("L", (side, side))
    ImageDraw.Draw(im).text((0, 0), ch, font=font, fill=255)
    return im.tobytes()


def _renders(font: ImageFont.FreeTypeFont, text: str) -> bool:
    """Whether the font has a glyph (not the tofu box) for every visible character."""
    notdef = _glyph_bitmap(font, _UNMAPPED)
    return all(_glyph_bitmap(font, ch) != notdef for ch in set(text) if not ch.isspace())


def _truetype(path: str, index: int, size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=size, index=index, layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=32)
def _cjk_face(path: str, mtime_ns: int, file_size: int) -> int | None:
    """Index of the face in the font file that renders the card's Chinese labels, if any."""
    faces: list[tuple[int, str]] = []
    for index in range(16):  # a .ttc holds several faces; prefer Simplified Chinese
        try:
            family, _ = _truetype(path, index, 16).getname()
        except OSError:
            break
        faces.append((index, family or ""))
    faces.sort(key=lambda face: 0 if " SC" in face[1] else 1)
    for index, _ in faces:
        if _renders(_truetype(path, index, 16), _PROBE_TEXT):
            return index
    return None


def find_cjk_font(font_path: str | None = None, *,
                  search: Sequence[str] | None = None) -> tuple[str, int] | None:
    """The first font (path, face index) that draws the card's Chinese text.

    Tried in order: ``font_path`` (or else ``$UNIONAID_CARD_FONT``), then ``search``
    (default: SYSTEM_CJK_FONTS). Missing files and fonts without CJK glyphs are skipped.
    """
    first = font_path if font_path is not None else os.environ.get(FONT_ENV)
    candidates = ([first] if first else []) + list(SYSTEM_CJK_FONTS if search is None else search)
    for path in candidates:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        index = _cjk_face(path, st.st_mtime_ns, st.st_size)
        if index is not None:
            return path, index
    return None


def cjk_font_available(font_path: str | None = None, *, search: Sequence[str] | None = None) -> bool:
    """Whether printed_card_png can draw the Chinese text (see find_cjk_font)."""
    return find_cjk_font(font_path, search=search) is not None


# -- PNG ----------------------------------------------------------------------

def _png_font(found: tuple[str, int] | None, text: str, size: int) -> ImageFont.FreeTypeFont | None:
    """The CJK font when it has every glyph of text, else the default font for digits, else None."""
    if found is not None:
        font = _truetype(found[0], found[1], size)
        if _renders(font, text):
            return font
    if text.isascii() and not any(ch.isalpha() for ch in text):
        default = ImageFont.load_default(size=size)
        if isinstance(default, ImageFont.FreeTypeFont):  # else Pillow was built without FreeType
            return default
    return None


def _png_fit(font: ImageFont.FreeTypeFont, text: str, min_size: int, width: int) -> tuple[ImageFont.FreeTypeFont, str]:
    """Shrink the font down to min_size, then cut the text, so it fits the width (pixels)."""
    while font.size > min_size and font.getlength(text) > width:
        font = font.font_variant(size=max(min_size, int(font.size) - 1))
    while len(text) > 1 and font.getlength(text) > width:
        shorter = text[:-2] + "…"
        if not _renders(font, shorter):
            shorter = text[:-1]
        text = shorter
    return font, text


def printed_card_png(card: PrintedCard, *, dpi: int = 300, font_path: str | None = None,
                     search: Sequence[str] | None = None) -> bytes:
    """The card as an RGB PNG of card size at ``dpi`` (100-1200).

    Chinese text needs a CJK font (see find_cjk_font); without one the Chinese
    labels and names are left off, never drawn as tofu boxes, and the card number
    and date use Pillow's default font.
    """
    if not 100 <= dpi <= 1200:
        raise ValueError("dpi must be between 100 and 1200")
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

    found = find_cjk_font(font_path, search=search)

    def text(x_mm: float, top_mm: float, value: str, points: float, fill: tuple[int, int, int], *,
             min_points: float | None = None, bold: bool = False) -> None:
        font = _png_font(found, value, pt(points))
        if font is None:
            return
        if min_points is not None:
            font, value = _png_fit(font, value, pt(min_points), text_right - px(x_mm))
        stroke = round(dpi / 300) if bold else 0
        draw.text((px(x_mm), px(top_mm)), value, font=font, fill=fill, anchor="ls",
                  stroke_width=stroke, stroke_fill=fill)

    text(_MARGIN, _TITLE_Y, TITLE, _TITLE_PT, _WHITE, bold=True)
    text(_MARGIN, _ORG_Y, card.org_name, _ORG_PT, _BLACK, min_points=_ORG_MIN_PT)
    labels = (LABEL_HOLDER, LABEL_CARD_NO, LABEL_PRINTED_ON)
    values = (card.holder_masked, card.card_no_grouped, card.printed_on_text)
    for i, (label, value, row_top) in enumerate(zip(labels, values, _ROWS_Y)):
        text(_MARGIN, row_top, label, _LABEL_PT, _GREY)
        text(_VALUE_X, row_top, value, _VALUE_PT, _BLACK, min_points=_LABEL_PT, bold=i == 1)
    text(_MARGIN, _NOTICE_Y, NOTICE, _NOTICE_PT, _GREY)

    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(dpi, dpi), optimize=True)
    return buf.getvalue()
