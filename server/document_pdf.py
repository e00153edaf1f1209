"""A4 documents with Chinese text for the paper archive: headings, label/value lists, tables, notes and
embedded images, flowing over as many pages as they need.

Pure and synchronous (CPU-bound: callers offload it). The fonts are the printed card's
(``card_images.pdf_faces``: the configured ``card_font`` or an installed CJK TrueType font, with Vera for
what it lacks), embedded as subsets. A character neither face has is written as ``[U+XXXX]``: an
archive keeps every character visible rather than refusing the whole file. No CJK font at all raises
``card_images.CardFontMissing``.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image as PilImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from server.card_images import Face, _visible, pdf_faces

MARGIN = 18 * mm
WIDTH = A4[0] - 2 * MARGIN
MAX_IMAGE_HEIGHT = 110 * mm


@dataclass(frozen=True)
class Heading:
    """A section's title."""

    text: str


@dataclass(frozen=True)
class Fields:
    """Label and value pairs, one a row."""

    rows: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Rows:
    """A table with a header row."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Note:
    """A paragraph of text."""

    text: str


@dataclass(frozen=True)
class Picture:
    """A JPEG or PNG, scaled to fit the page, with a caption under it."""

    data: bytes
    caption: str


Block = Heading | Fields | Rows | Note | Picture


class _Text:
    """Paragraph markup in the CJK face, runs the face lacks in the Latin one."""

    def __init__(self, cjk: Face, latin: Face) -> None:
        self.cjk, self.latin = cjk, latin
        self.body = ParagraphStyle("body", fontName=cjk.pdf_name, fontSize=9.5, leading=13.5, wordWrap="CJK")
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8.5, leading=11.5)
        self.heading = ParagraphStyle("heading", parent=self.body, fontSize=13, leading=18, spaceBefore=8,
                                      spaceAfter=4, textColor=colors.HexColor("#b0102e"))
        self.title = ParagraphStyle("title", parent=self.body, fontSize=17, leading=24, alignment=1, spaceAfter=6)

    def markup(self, text: str) -> str:
        """The text as Paragraph markup: escaped, newlines kept, each character in a face that has it."""
        out: list[str] = []
        for line in text.split("\n"):
            parts = []
            for ch in _visible(line):
                if self.cjk.has(ch):
                    parts.append(escape(ch))
                elif self.latin.has(ch):
                    parts.append(f'<font name="{self.latin.pdf_name}">{escape(ch)}</font>')
                else:
                    parts.append(f"[U+{ord(ch):04X}]")
            out.append("".join(parts))
        return "<br/>".join(out)

    def para(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        """A paragraph of plain text."""
        return Paragraph(self.markup(text), style or self.body)


_GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)])


def _picture(block: Picture, text: _Text) -> list[Any]:
    with PilImage.open(io.BytesIO(block.data)) as img:
        width, height = img.size
    scale = min(WIDTH / width, MAX_IMAGE_HEIGHT / height, 1.0 * mm * 0.5)  # at most 0.5 mm a pixel
    image = Image(io.BytesIO(block.data), width=width * scale, height=height * scale)
    image.hAlign = "LEFT"
    return [image, text.para(block.caption, text.small), Spacer(1, 4)]


def _flowables(block: Block, text: _Text) -> list[Any]:
    if isinstance(block, Heading):
        return [text.para(block.text, text.heading)]
    if isinstance(block, Note):
        return [text.para(block.text), Spacer(1, 3)]
    if isinstance(block, Fields):
        if not block.rows:
            return []
        table = Table([[text.para(k, text.small), text.para(v)] for k, v in block.rows],
                      colWidths=[0.26 * WIDTH, 0.74 * WIDTH], style=_GRID)
        table.setStyle([("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2"))])
        return [table, Spacer(1, 4)]
    if isinstance(block, Rows):
        data = [[text.para(h, text.small) for h in block.header]]
        data += [[text.para(c, text.small) for c in row] for row in block.rows]
        table = Table(data, colWidths=[WIDTH / len(block.header)] * len(block.header), style=_GRID, repeatRows=1)
        table.setStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2"))])
        return [table, Spacer(1, 4)]
    return _picture(block, text)


def document_pdf(title: str, blocks: Sequence[Block], *, footer: str = "", font_path: str | None = None) -> bytes:
    """The A4 PDF of the blocks under a title; every page numbered with ``footer``. No personal data in
    the metadata (the title given should hold none)."""
    cjk, latin = pdf_faces(font_path)
    text = _Text(cjk, latin)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title=title, author="unionaid", creator="unionaid",
                            invariant=1, initialFontName=latin.pdf_name)

    def page(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(cjk.pdf_name, 8)
        canvas.drawString(MARGIN, MARGIN / 2, footer)
        canvas.drawRightString(A4[0] - MARGIN, MARGIN / 2, f"第 {canvas.getPageNumber()} 页")
        canvas.restoreState()

    story: list[Any] = [text.para(title, text.title)]
    for block in blocks:
        story += _flowables(block, text)
    doc.build(story, onFirstPage=page, onLaterPages=page)
    return buf.getvalue()
