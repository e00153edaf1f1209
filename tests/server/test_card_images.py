"""The service card's QR code (PNG, SVG) and the printed ID-1 card (PDF, PNG).

The printed card needs a CJK TrueType font (CI installs fonts-wqy-microhei) and the PDF
checks read it with poppler (poppler-utils): locally a test without them skips, with
CI=true it fails.
"""
from __future__ import annotations

import base64
import dataclasses
import io
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from collections import Counter
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import pytest
import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_ALPHA_NUM, QRData

from server import card_images
from server.card_images import (
    LATIN_FONT,
    CardFontMissing,
    Face,
    PrintedCard,
    card_font,
    find_cjk_font,
    font_report,
    printable_face,
    printed_card_pdf,
    printed_card_png,
    qr_code,
    qr_png,
    qr_svg,
)
from server.config import load_config
from server.qr_tokens import load_signer

MM = 72 / 25.4  # points per mm
MISSING_FONT = "/nonexistent/fonts/wqy-microhei.ttc"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SVG = "{http://www.w3.org/2000/svg}"
EXPECTED_TEXT = ("职工互助服务卡", "某某市总工会职工服务中心", "持卡人", "张*明", "卡号", "6201 2345 6789 0123",
                 "制卡日期", "2025-03-14", "商家扫码时需核对持卡人身份证后四位")
# The card's fixed text and the names the tests use: a font made of these glyphs lacks "*".
SUBSET_TEXT = "职工互助服务卡商家扫码时需核对持卡人身份证后四位卡号制卡日期张明某市总会中心"


def need(what: str) -> None:
    """Skip without ``what`` here; fail under CI, which installs it."""
    if IN_CI:
        pytest.fail(f"CI=true and {what} (.ci/run installs fonts-wqy-microhei and poppler-utils)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def cjk() -> Face:
    """The CJK face the cards use here (the configured card_font, else an installed one)."""
    face = find_cjk_font(load_config().card_font or None)
    if face is None:
        need(f"no CJK TrueType font here (apt-get install fonts-wqy-microhei, or set {card_images.FONT_ENV})")
    assert face is not None
    return face


@pytest.fixture(scope="session")
def poppler() -> None:
    missing = [tool for tool in ("pdftotext", "pdftoppm", "pdffonts") if shutil.which(tool) is None]
    if missing:
        need(f"no {', '.join(missing)} here (apt-get install poppler-utils)")


@pytest.fixture(scope="session")
def no_star_font(cjk: Face, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real CJK TrueType font (a subset of the installed one) without "*", digits or any Latin glyph."""
    subset = pytest.importorskip("fontTools.subset")
    from fontTools.ttLib import TTFont

    font = TTFont(cjk.path, fontNumber=cjk.index)
    subsetter = subset.Subsetter(subset.Options(notdef_outline=True, name_IDs=["*"], name_languages=["*"]))
    subsetter.populate(text=SUBSET_TEXT)
    subsetter.subset(font)
    path = tmp_path_factory.mktemp("fonts") / "cjk-no-star.ttf"
    font.save(str(path))
    return str(path)


@pytest.fixture(scope="session")
def bare_fontconfig(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment in which fontconfig (so poppler) sees no font at all: a machine with no CJK font."""
    where = tmp_path_factory.mktemp("no-fonts")
    conf = where / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
                    f"<fontconfig><cachedir>{where / 'cache'}</cachedir></fontconfig>\n")
    return {**os.environ, "FONTCONFIG_FILE": str(conf), "FONTCONFIG_PATH": str(where)}


@pytest.fixture
def tokens(tmp_path: Path) -> tuple[str, str]:
    """Two real tokens with the largest field values (the longest token there is)."""
    signer = load_signer(tmp_path)
    return signer.sign(2**32 - 1, 65535, 2**32 - 1), signer.sign(2**32 - 1, 65535, 2**32 - 1)


def make_card(token: str, **changes: object) -> PrintedCard:
    card = PrintedCard(card_no="6201234567890123", holder_masked="张*明", org_name="某某市总工会职工服务中心",
                       token=token, printed_on=date(2025, 3, 14))
    return dataclasses.replace(card, **changes)  # type: ignore[arg-type]


def reference_matrix(token: str, border: int = 0) -> list[list[bool]]:
    """The module matrix straight from qrcode (not through the module under test), encoded as the product does:
    alphanumeric mode for the whole token, M, smallest version."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    qr.add_data(QRData(token, mode=MODE_ALPHA_NUM))
    qr.make(fit=True)
    return [list(map(bool, row)) for row in qr.get_matrix()]


def sample_grid(img: Image.Image, left: int, top: int, module: int, n: int) -> list[list[bool]]:
    """Dark (True) or light at the centre of each module of an n x n grid."""
    grey = img.convert("L")
    half = module // 2
    return [[grey.getpixel((left + c * module + half, top + r * module + half)) < 128  # type: ignore[operator]
             for c in range(n)] for r in range(n)]


def run(args: list[str], data: bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(args, input=data, capture_output=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done


def pdf_text(data: bytes, env: dict[str, str] | None = None) -> list[str]:
    """The lines poppler extracts from the PDF."""
    out = run(["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], data, env).stdout.decode()
    return [line.strip() for line in out.splitlines() if line.strip()]


def pdf_page_png(data: bytes, env: dict[str, str] | None = None, dpi: int = 150) -> tuple[Image.Image, bytes]:
    """The page as poppler draws it, and what poppler said while drawing."""
    with tempfile.TemporaryDirectory() as where:
        done = run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-", f"{where}/page"], data, env)
        with Image.open(f"{where}/page.png") as page:
            return page.convert("RGB"), done.stderr


def pdf_fonts(data: bytes, tmp_path: Path) -> list[dict[str, str]]:
    """pdffonts' table: name, type, emb, sub, uni of each font."""
    path = tmp_path / "card.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines()[2:]:
        m = re.match(r"(\S+)\s+(.+?)\s+(\S+)\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$", line)
        assert m, line
        rows.append(dict(zip(("name", "type", "encoding", "emb", "sub", "uni"), m.groups())))
    return rows


# -- QR code ------------------------------------------------------------------

def test_token_fits_a_small_qr_code_in_alphanumeric_mode_at_m(tokens: tuple[str, str]) -> None:
    token = tokens[0]
    assert len(token) == 135
    qr = qr_code(token)
    assert qr.error_correction == ERROR_CORRECT_M
    assert [d.mode for d in qr.data_list] == [MODE_ALPHA_NUM]
    assert qr.version <= 10
    assert len(reference_matrix(token)) == 17 + 4 * qr.version


def test_reference_encodes_a_run_of_digits_as_the_product_does() -> None:
    # Base32 has the digits 2-7: a long run of them once made qrcode pick numeric mode for the
    # reference (so another symbol) while the product forces alphanumeric: about 1 token in 400.
    token = "ABCD" + "234567" * 7 + "EFGHIJ" * 14 + "KLMNO"
    assert len(token) == 135
    assert qr_code(token, border=0).get_matrix() == reference_matrix(token)
    auto = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    auto.add_data(token)
    auto.make(fit=True)
    assert auto.get_matrix() != reference_matrix(token)  # what the old reference drew


def test_qr_refuses_text_outside_the_alphanumeric_set() -> None:
    with pytest.raises(ValueError):
        qr_code("lower-case token")
    with pytest.raises(ValueError):
        qr_code("")


@pytest.mark.parametrize("box_size,border", [(8, 4), (3, 2)])
def test_qr_png_is_the_tokens_module_matrix(tokens: tuple[str, str], box_size: int, border: int) -> None:
    token = tokens[0]
    data = qr_png(token, box_size=box_size, border=border)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG" and img.mode in ("1", "L")
    expected = reference_matrix(token, border=border)
    n = len(expected)
    assert img.size == (n * box_size, n * box_size)
    assert sample_grid(img, 0, 0, box_size, n) == expected
    assert len(data) < 4000


def test_qr_svg_is_the_tokens_matrix_on_white_with_a_quiet_zone(tokens: tuple[str, str]) -> None:
    token = tokens[0]
    data = qr_svg(token)
    assert data.startswith((b"<?xml", b"<svg"))
    root = ElementTree.fromstring(data)
    assert root.tag == f"{SVG}svg"
    x0, y0, side, side_y = map(float, root.attrib["viewBox"].split())
    assert (x0, y0) == (0, 0) and side == side_y
    expected = reference_matrix(token)
    n = len(expected)
    unit = side / (n + 8)  # four modules of quiet zone on each side
    # A white square under everything, the whole viewBox: it scans on a dark page too.
    first = root[0]
    assert first.tag == f"{SVG}rect" and first.attrib["fill"] in ("white", "#fff", "#ffffff")
    assert (first.attrib["x"], first.attrib["y"], first.attrib["width"], first.attrib["height"]) == (
        "0", "0", "100%", "100%")
    (path,) = root.iter(f"{SVG}path")
    assert path.attrib["fill"] == "#000000"
    found = [[False] * n for _ in range(n)]
    cells = [(float(x), float(y)) for x, y in re.findall(r"M([\d.]+),([\d.]+)", path.attrib["d"])]
    assert min(x for x, _ in cells) == pytest.approx(4 * unit) and min(y for _, y in cells) == pytest.approx(4 * unit)
    for x, y in cells:
        found[round(y / unit) - 4][round(x / unit) - 4] = True
    assert found == expected


def test_two_tokens_give_different_images(tokens: tuple[str, str], cjk: Face) -> None:
    a, b = tokens
    assert a != b
    assert qr_png(a) != qr_png(b)
    assert qr_svg(a) != qr_svg(b)
    assert printed_card_pdf(make_card(a), font_path=cjk.path) != printed_card_pdf(make_card(b), font_path=cjk.path)
    assert printed_card_png(make_card(a), font_path=cjk.path) != printed_card_png(make_card(b), font_path=cjk.path)


# -- fonts --------------------------------------------------------------------

def test_a_configured_font_is_the_only_one_tried(cjk: Face) -> None:
    assert card_font(cjk.path, search=()) == cjk
    assert find_cjk_font(search=(MISSING_FONT, cjk.path)) == cjk
    # The operator's choice is not replaced behind their back by another installed font.
    assert find_cjk_font(MISSING_FONT, search=(cjk.path,)) is None
    with pytest.raises(CardFontMissing) as refused:
        card_font(MISSING_FONT, search=(cjk.path,))
    assert refused.value.missing == "" and MISSING_FONT in refused.value.detail
    assert "fonts-wqy-microhei" in refused.value.message and "UNIONAID_CARD_FONT" in refused.value.message


def test_latin_only_and_postscript_fonts_are_not_taken_for_cjk(tmp_path: Path) -> None:
    assert Path(LATIN_FONT).is_file()
    assert find_cjk_font(LATIN_FONT, search=()) is None
    with pytest.raises(CardFontMissing, match="no glyphs for the card's Chinese labels"):
        card_font(LATIN_FONT)
    # An OpenType font with PostScript (CFF) outlines, as Noto CJK is: reportlab cannot embed it.
    otf = tmp_path / "cff.otf"
    otf.write_bytes(b"OTTO" + bytes(252))
    with pytest.raises(CardFontMissing, match="PostScript"):
        card_font(str(otf))
    # A damaged file is a reason given, not a crash (at start-up it is only reported).
    for n, junk in enumerate((b"\x00\x01\x00\x00" + bytes(8), b"ttcf\x00\x01\x00\x00\xff\xff\xff\xff", b"")):
        path = tmp_path / f"junk{n}.ttf"
        path.write_bytes(junk)
        with pytest.raises(CardFontMissing, match="TrueType font"):
            card_font(str(path))


def test_font_report_says_in_one_line_which_font_or_why_none(cjk: Face, tmp_path: Path) -> None:
    line = font_report(load_config(env={card_images.FONT_ENV: cjk.path}))
    assert "\n" not in line and line.startswith("printed cards: ")
    assert cjk.family in line and cjk.path in line and "embedded" in line
    off = font_report(load_config(env={card_images.FONT_ENV: MISSING_FONT}))
    assert "\n" not in off and "DISABLED" in off and MISSING_FONT in off and "no such file" in off
    assert "card_font_missing" in off and "fonts-wqy-microhei" in off


def test_missing_font_refuses_the_card_rather_than_print_it_wrong(tokens: tuple[str, str]) -> None:
    card = make_card(tokens[0])
    for render in (printed_card_pdf, printed_card_png):
        with pytest.raises(CardFontMissing) as refused:
            render(card, font_path=MISSING_FONT)
        assert refused.value.missing == ""
        with pytest.raises(CardFontMissing):
            render(card, search=())  # nothing configured, nothing installed
        with pytest.raises(CardFontMissing):
            render(card, font_path=LATIN_FONT)


def test_a_character_no_font_has_refuses_the_card(tokens: tuple[str, str], cjk: Face, no_star_font: str) -> None:
    rare = "\U00020000"  # CJK Extension B: in neither the installed font nor Vera
    assert not cjk.has(rare)
    for render in (printed_card_pdf, printed_card_png):
        for card in (make_card(tokens[0], holder_masked=f"{rare}*明"), make_card(tokens[0], org_name=f"{rare}工会")):
            with pytest.raises(CardFontMissing) as refused:
                render(card, font_path=cjk.path)
            assert refused.value.missing == rare and rare in refused.value.message
    # A font with the labels but not this holder's name: "李" is not in the subset.
    with pytest.raises(CardFontMissing) as refused:
        printable_face("李*", "某某市总工会", font_path=no_star_font)
    assert refused.value.missing == "李"


# -- printed card: PDF --------------------------------------------------------

def pdf_streams(data: bytes) -> list[bytes]:
    """Every stream, decoded (reportlab writes Flate, and ASCII85 + Flate for the page)."""
    out = []
    for m in re.finditer(rb"<<([^<>]*?/Length (\d+)[^<>]*?)>>\s*stream\r?\n", data):
        raw = data[m.end():m.end() + int(m.group(2))]
        if b"ASCII85Decode" in m.group(1):
            raw = base64.a85decode(raw.strip(), adobe=True)
        if b"FlateDecode" in m.group(1):
            raw = zlib.decompress(raw)
        out.append(raw)
    return out


def pdf_content(data: bytes) -> str:
    (stream,) = [s for s in pdf_streams(data) if b" Tf" in s and b" re" in s]
    return stream.decode("latin-1")


def unescape_literal(body: str) -> bytes:
    """A PDF literal string's bytes (without its parentheses)."""
    out = bytearray()
    i = 0
    simple = {"n": 10, "r": 13, "t": 9, "b": 8, "f": 12, "(": 40, ")": 41, "\\": 92}
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ord(ch))
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt.isdigit():
            digits = re.match(r"[0-7]{1,3}", body[i + 1:]).group(0)  # type: ignore[union-attr]
            out.append(int(digits, 8) & 0xFF)
            i += 1 + len(digits)
        else:  # line continuation
            i += 2
    return bytes(out)


def pdf_info(data: bytes) -> dict[str, str]:
    """The document information dictionary, decoded."""
    (ref,) = re.findall(rb"/Info (\d+) 0 R", data)
    obj = re.search(rb"\n" + ref + rb" 0 obj\s*<<(.*?)>>\s*endobj", data, re.S)
    assert obj is not None
    info = {}
    for key, body in re.findall(r"/(\w+) \(((?:\\.|[^\\)])*)\)", obj.group(1).decode("latin-1")):
        raw = unescape_literal(body)
        info[key] = raw[2:].decode("utf-16-be") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")
    return info


def test_pdf_is_one_page_of_id1_card_size(tokens: tuple[str, str], cjk: Face) -> None:
    data = printed_card_pdf(make_card(tokens[0]), font_path=cjk.path)
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b(?!s)", data)) == 1
    (box,) = re.findall(rb"/MediaBox \[ *([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) *\]", data)
    x0, y0, width, height = map(float, box)
    assert (x0, y0) == (0, 0)
    assert width == pytest.approx(85.6 * MM, abs=0.01)
    assert height == pytest.approx(53.98 * MM, abs=0.01)


def test_pdf_shows_the_card_fields(tokens: tuple[str, str], cjk: Face, poppler: None) -> None:
    lines = pdf_text(printed_card_pdf(make_card(tokens[0]), font_path=cjk.path))
    words = [w for line in lines for w in re.split(r"\s{2,}", line)]
    for expected in EXPECTED_TEXT:
        assert expected in words, lines


def test_pdf_embeds_a_subset_of_every_font_it_uses(tokens: tuple[str, str], cjk: Face, poppler: None,
                                                    tmp_path: Path) -> None:
    fonts = pdf_fonts(printed_card_pdf(make_card(tokens[0]), font_path=cjk.path), tmp_path)
    assert fonts, "no font at all"
    for font in fonts:
        assert (font["type"], font["emb"], font["sub"], font["uni"]) == ("TrueType", "yes", "yes", "yes"), font
        assert re.match(r"[A-Z]{6}\+", font["name"]), font  # a subset's tag
    names = [f["name"].split("+", 1)[1] for f in fonts]
    assert any(name.startswith(cjk.ps_name) for name in names), names  # the CJK face itself, not a stand-in
    assert not any("STSong" in name or "Helvetica" in name for name in names)


def test_pdf_reads_right_on_a_machine_with_no_cjk_font(tokens: tuple[str, str], cjk: Face, poppler: None,
                                                       bare_fontconfig: dict[str, str]) -> None:
    if shutil.which("fc-list"):
        listed = subprocess.run(["fc-list"], capture_output=True, text=True, env=bare_fontconfig, check=True)
        assert listed.stdout.strip() == "", "the bare fontconfig still lists fonts"
    # The control: a PDF naming the non-embedded CID font STSong-Light, as the cards used to, loses its text.
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    old = canvas.Canvas(buf, pagesize=(200, 60), invariant=1)
    old.setFont("STSong-Light", 20)
    old.drawString(10, 20, "职工互助服务卡")
    old.save()
    old_page, complaint = pdf_page_png(buf.getvalue(), bare_fontconfig)
    assert b"Couldn't find a font for 'STSong-Light'" in complaint
    assert old_page.convert("L").getextrema() == (255, 255)  # a blank page: nothing drawn

    data = printed_card_pdf(make_card(tokens[0]), font_path=cjk.path)
    words = [w for line in pdf_text(data, bare_fontconfig) for w in re.split(r"\s{2,}", line)]
    for expected in EXPECTED_TEXT:
        assert expected in words
    bare, said = pdf_page_png(data, bare_fontconfig)
    assert b"font" not in said.lower(), said
    # Drawn exactly as on this machine with its fonts: nothing came from the system.
    assert bare.tobytes() == pdf_page_png(data)[0].tobytes()
    # And the glyphs are there: the white title in the red band, ink in the holder's name.
    band = bare.crop((0, 0, bare.width, round(bare.height * 10 / 53.98)))
    assert sum(n for n, color in band.getcolors(1 << 16) or [] if min(color) > 240) > 200
    per_mm = 150 / 25.4
    box = tuple(round(v * per_mm) for v in (15.5, 20.5, 30, 25.5))
    name = bare.convert("L").crop(box)
    assert name.getextrema()[0] < 80


def test_pdf_qr_is_the_tokens_matrix_large_with_a_quiet_zone(tokens: tuple[str, str], cjk: Face) -> None:
    token = tokens[0]
    expected = reference_matrix(token)
    n = len(expected)
    content = pdf_content(printed_card_pdf(make_card(token), font_path=cjk.path))
    rects = [tuple(map(float, r)) for r in re.findall(r"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re", content)]
    module = Counter(round(h, 4) for _, _, _, h in rects).most_common(1)[0][0]
    modules = [r for r in rects if abs(r[3] - module) < 1e-3]
    left = min(x for x, _, _, _ in modules)
    top = max(y + h for _, y, _, h in modules)
    found = [[False] * n for _ in range(n)]
    for x, y, w, h in modules:
        row, col = round((top - y - h) / module), round((x - left) / module)
        for c in range(col, col + round(w / module)):
            found[row][c] = True
    assert found == expected
    assert module * n >= 22 * MM
    # A white square around the symbol keeps at least four modules clear on every side.
    quiet = 4 * module - 0.01
    assert any(w == h and x <= left - quiet and x + w >= left + n * module + quiet
               and y <= top - n * module - quiet and y + h >= top + quiet
               for x, y, w, h in rects if (x, y, w, h) not in modules)


def test_pdf_metadata_has_a_title_and_no_personal_data(tokens: tuple[str, str], cjk: Face, poppler: None) -> None:
    card = make_card(tokens[0])
    data = printed_card_pdf(card, font_path=cjk.path)
    info = pdf_info(data)
    assert info["Title"] == "职工互助服务卡"
    for value in info.values():
        assert card.holder_masked not in value and card.card_no[:4] not in value and card.token[:8] not in value
    # The card carries no ID or phone number; nothing long enough to be one is written anywhere.
    assert {f.name for f in dataclasses.fields(PrintedCard)} == {
        "card_no", "holder_masked", "org_name", "token", "printed_on"}
    dates = ("CreationDate", "ModDate")
    for text in [*pdf_text(data), *(v for k, v in info.items() if k not in dates)]:
        assert not re.search(r"\d{11}", text), text


def test_pdf_is_deterministic(tokens: tuple[str, str], cjk: Face) -> None:
    card = make_card(tokens[0])
    assert printed_card_pdf(card, font_path=cjk.path) == printed_card_pdf(card, font_path=cjk.path)
    other_day = make_card(tokens[0], printed_on=date(2025, 3, 15))
    assert printed_card_pdf(card, font_path=cjk.path) != printed_card_pdf(other_day, font_path=cjk.path)


def test_long_organisation_names_are_fitted_left_of_the_qr(tokens: tuple[str, str], cjk: Face,
                                                          poppler: None) -> None:
    card = make_card(tokens[0], org_name="某某省某某市某某区总工会职工服务中心困难职工帮扶中心互助保障部")
    out = run(["pdftotext", "-bbox-layout", "-enc", "UTF-8", "-", "-"],
              printed_card_pdf(card, font_path=cjk.path)).stdout.decode()
    lines = re.findall(r'<line xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</line>', out, re.S)
    (org,) = [(float(x0), float(x1), float(y1) - float(y0), "".join(re.findall(r">([^<]*)</word>", body)))
              for x0, y0, x1, y1, body in lines if "某某省" in body]
    x0, x1, height, text = org
    assert text.startswith("某某省") and text.endswith("…")
    assert x0 == pytest.approx(4 * MM, abs=0.5) and x1 <= 52 * MM + 0.01
    assert height >= 5 * 0.8  # shrunk to no less than 5 pt


def test_whitespace_and_invisible_characters_in_names_are_drawn_on_one_line(
        tokens: tuple[str, str], cjk: Face, poppler: None) -> None:
    card = make_card(tokens[0], org_name="某某市\n总工会\u200b职工服务中心")
    assert printed_card_png(card, font_path=cjk.path).startswith(b"\x89PNG")
    assert "某某市 总工会职工服务中心" in pdf_text(printed_card_pdf(card, font_path=cjk.path))


def test_card_number_is_16_digits_shown_in_groups_of_four(tokens: tuple[str, str]) -> None:
    assert make_card(tokens[0]).card_no_grouped == "6201 2345 6789 0123"
    for bad in ("620123456789012", "62012345678901234", "620123456789012X", "６２０１２３４５６７８９０１２３"):
        with pytest.raises(ValueError):
            make_card(tokens[0], card_no=bad)


def test_pdf_draws_a_character_the_cjk_font_lacks_from_the_fallback(tokens: tuple[str, str], no_star_font: str,
                                                                     poppler: None, tmp_path: Path,
                                                                     bare_fontconfig: dict[str, str]) -> None:
    face = find_cjk_font(no_star_font, search=())
    assert face is not None and not face.has("*")
    data = printed_card_pdf(make_card(tokens[0]), font_path=no_star_font)
    assert any("张*明" in line for line in pdf_text(data, bare_fontconfig))
    assert all(f["emb"] == "yes" for f in pdf_fonts(data, tmp_path))


# -- printed card: PNG --------------------------------------------------------

@pytest.mark.parametrize("dpi,size", [(300, (1011, 638)), (150, (506, 319))])
def test_printed_png_has_card_size_and_the_tokens_qr(tokens: tuple[str, str], cjk: Face,
                                                     dpi: int, size: tuple[int, int]) -> None:
    token = tokens[0]
    img = Image.open(io.BytesIO(printed_card_png(make_card(token), dpi=dpi, font_path=cjk.path)))
    assert img.format == "PNG"
    assert img.size == size
    assert img.info["dpi"] == pytest.approx((dpi, dpi), abs=0.1)
    # The symbol is the only pure black right of the text column (52 mm) and below the title band.
    width, height = img.size
    region = (round(width * 52 / 85.6) + 1, round(height * 0.25), width, height)
    black = img.crop(region).convert("L").point(lambda v: 255 if v == 0 else 0)
    bbox = black.getbbox()
    assert bbox is not None
    expected = reference_matrix(token)
    n = len(expected)
    side = bbox[2] - bbox[0]
    assert side == bbox[3] - bbox[1] and side % n == 0
    assert side / dpi * 25.4 >= 22
    assert sample_grid(img, region[0] + bbox[0], region[1] + bbox[1], side // n, n) == expected


def holder_cells(png: bytes, face: Face, name: str, dpi: int = 300) -> tuple[Image.Image, Image.Image, list]:
    """The holder's name as drawn on the card, the same name drawn one character at a time with the
    face that has it (else Vera), and each character's cell (left, right) in pixels."""
    per_mm = dpi / 25.4
    x, base, size = float(round(15.5 * per_mm)), round(24.5 * per_mm), round(8.5 * dpi / 72)
    box = (round(x) - 4, base - size, round(52 * per_mm), base + size // 2)
    card = Image.open(io.BytesIO(png)).convert("L").crop(box)
    fonts = {True: face.pil(size), False: ImageFont.truetype(LATIN_FONT, size=size,
                                                             layout_engine=ImageFont.Layout.BASIC)}
    drawn = Image.new("L", (box[2], box[3]), 255)
    draw = ImageDraw.Draw(drawn)
    cells = []
    for ch in name:
        font = fonts[face.has(ch)]
        draw.text((x, base), ch, font=font, fill=0, anchor="ls")
        cells.append((round(x) - box[0], round(x + font.getlength(ch)) - box[0]))
        x += font.getlength(ch)
    return card, drawn.crop(box), cells


def test_png_draws_every_character_of_a_masked_name_even_one_the_font_lacks(
        tokens: tuple[str, str], no_star_font: str) -> None:
    face = find_cjk_font(no_star_font, search=())
    assert face is not None and not face.has("*") and face.has("张") and face.has("明")
    png = printed_card_png(make_card(tokens[0], holder_masked="张*明"), font_path=no_star_font)
    card, expected, cells = holder_cells(png, face, "张*明")
    ink = card.point(lambda v: 255 if v < 128 else 0)
    for (left, right), ch in zip(cells, "张*明"):
        assert ink.crop((left + 1, 0, right - 1, ink.height)).getbbox() is not None, f"{ch} is not drawn"
    # Each character is its own glyph at its place: the "*" is Vera's, not a box, not a gap.
    assert ink.tobytes() == expected.point(lambda v: 255 if v < 128 else 0).tobytes()


def test_png_with_the_installed_font_draws_the_chinese_text(tokens: tuple[str, str], cjk: Face) -> None:
    card = make_card(tokens[0])
    with_font = printed_card_png(card, font_path=cjk.path)
    img = Image.open(io.BytesIO(with_font)).convert("RGB")
    band = img.crop((0, 0, img.width, round(img.height * 10 / 53.98)))
    assert (255, 255, 255) in {color for _, color in band.getcolors(1 << 16) or []}  # the white title
    name, _, cells = holder_cells(with_font, cjk, "张*明")
    ink = name.point(lambda v: 255 if v < 128 else 0)
    for left, right in cells:
        assert ink.crop((left + 1, 0, right - 1, ink.height)).getbbox() is not None
    other_names = make_card(tokens[0], holder_masked="李*", org_name="另一个工会")
    assert printed_card_png(other_names, font_path=cjk.path) != with_font


def test_dpi_out_of_range_is_refused(tokens: tuple[str, str], cjk: Face) -> None:
    with pytest.raises(ValueError):
        printed_card_png(make_card(tokens[0]), dpi=10, font_path=cjk.path)
