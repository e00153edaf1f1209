"""The service card's QR code (PNG, SVG) and the printed ID-1 card (PDF, PNG)."""
from __future__ import annotations

import base64
import dataclasses
import io
import re
import zlib
from collections import Counter
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import pytest
import qrcode
import reportlab
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_ALPHA_NUM
from reportlab.pdfbase import pdfmetrics

from server import card_images
from server.card_images import (
    PrintedCard, cjk_font_available, find_cjk_font, printed_card_pdf, printed_card_png, qr_code, qr_png, qr_svg,
)
from server.qr_tokens import load_signer

MM = 72 / 25.4  # points per mm
MISSING_FONT = "/nonexistent/fonts/NotoSansCJK-Regular.ttc"
LATIN_ONLY_FONT = str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf")  # shipped with reportlab


@pytest.fixture
def tokens(tmp_path: Path) -> tuple[str, str]:
    """Two real tokens with the largest field values (the longest token there is)."""
    signer = load_signer(tmp_path)
    return signer.sign(2**32 - 1, 65535, 2**32 - 1), signer.sign(2**32 - 1, 65535, 2**32 - 1)


@pytest.fixture
def no_env_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(card_images.FONT_ENV, raising=False)


def make_card(token: str, **changes: object) -> PrintedCard:
    card = PrintedCard(card_no="6201234567890123", holder_masked="张*明", org_name="某某市总工会职工服务中心",
                       token=token, printed_on=date(2025, 3, 14))
    return dataclasses.replace(card, **changes)  # type: ignore[arg-type]


def reference_matrix(token: str, border: int = 0) -> list[list[bool]]:
    """The module matrix straight from qrcode, not through the module under test."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    qr.add_data(token)
    qr.make(fit=True)
    return [list(map(bool, row)) for row in qr.get_matrix()]


def sample_grid(img: Image.Image, left: int, top: int, module: int, n: int) -> list[list[bool]]:
    """Dark (True) or light at the centre of each module of an n x n grid."""
    grey = img.convert("L")
    half = module // 2
    return [[grey.getpixel((left + c * module + half, top + r * module + half)) < 128  # type: ignore[operator]
             for c in range(n)] for r in range(n)]


# -- QR code ------------------------------------------------------------------

def test_token_fits_a_small_qr_code_in_alphanumeric_mode_at_m(tokens: tuple[str, str]) -> None:
    token = tokens[0]
    assert len(token) == 135
    qr = qr_code(token)
    assert qr.error_correction == ERROR_CORRECT_M
    assert [d.mode for d in qr.data_list] == [MODE_ALPHA_NUM]
    assert qr.version <= 10
    assert len(reference_matrix(token)) == 17 + 4 * qr.version


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


def test_qr_svg_is_xml_of_the_tokens_module_matrix(tokens: tuple[str, str]) -> None:
    token = tokens[0]
    data = qr_svg(token)
    assert data.startswith((b"<?xml", b"<svg"))
    root = ElementTree.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _, _, side, _ = map(float, root.attrib["viewBox"].split())
    expected = reference_matrix(token)
    n = len(expected)
    unit = side / (n + 8)  # qrcode's default border: 4 modules
    (path,) = root.iter("{http://www.w3.org/2000/svg}path")
    found = [[False] * n for _ in range(n)]
    for x, y in re.findall(r"M([\d.]+),([\d.]+)", path.attrib["d"]):
        found[round(float(y) / unit) - 4][round(float(x) / unit) - 4] = True
    assert found == expected


def test_two_tokens_give_different_images(tokens: tuple[str, str], no_env_font: None) -> None:
    a, b = tokens
    assert a != b
    assert qr_png(a) != qr_png(b)
    assert qr_svg(a) != qr_svg(b)
    assert printed_card_pdf(make_card(a)) != printed_card_pdf(make_card(b))
    assert printed_card_png(make_card(a), search=()) != printed_card_png(make_card(b), search=())


# -- printed card: PDF --------------------------------------------------------

def pdf_streams(data: bytes) -> list[bytes]:
    """Every stream decoded (reportlab writes ASCII85 + Flate)."""
    out = []
    for m in re.finditer(rb"/Filter\s*\[?([^\]>]*?)\]?\s*/Length \d+\s*>>\s*stream\r?\n(.*?)endstream", data, re.S):
        filters, raw = m.group(1), m.group(2).strip()
        if b"ASCII85Decode" in filters:
            raw = base64.a85decode(raw, adobe=True)
        if b"FlateDecode" in filters:
            raw = zlib.decompress(raw)
        out.append(raw)
    return out


def pdf_content(data: bytes) -> str:
    (stream,) = [s for s in pdf_streams(data) if b" Tf" in s]
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


def pdf_shown(data: bytes) -> list[tuple[float, str, float, str]]:
    """(x, font, size, text) of each string the page shows, decoded per font (UTF-16BE for the CID font)."""
    cid_fonts = set(re.findall(r"/Encoding /UniGB-UCS2-H /Name /(F\d+)", data.decode("latin-1")))
    shown, x, font, size = [], 0.0, "", 0.0
    ops = r"1 0 0 1 (-?[\d.]+) -?[\d.]+ Tm|/(F\d+) ([\d.]+) Tf|\(((?:\\.|[^\\)])*)\) Tj"
    for m in re.finditer(ops, pdf_content(data), re.S):
        if m.group(1):
            x = float(m.group(1))
        elif m.group(2):
            font, size = m.group(2), float(m.group(3))
        else:
            raw = unescape_literal(m.group(4))
            shown.append((x, font, size, raw.decode("utf-16-be") if font in cid_fonts else raw.decode("latin-1")))
    return shown


def pdf_texts(data: bytes) -> list[str]:
    return [text for _, _, _, text in pdf_shown(data)]


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


def test_pdf_is_one_page_of_id1_card_size(tokens: tuple[str, str]) -> None:
    data = printed_card_pdf(make_card(tokens[0]))
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b(?!s)", data)) == 1
    (box,) = re.findall(rb"/MediaBox \[ *([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) *\]", data)
    x0, y0, width, height = map(float, box)
    assert (x0, y0) == (0, 0)
    assert width == pytest.approx(85.6 * MM, abs=0.01)
    assert height == pytest.approx(53.98 * MM, abs=0.01)


def test_pdf_shows_the_card_fields(tokens: tuple[str, str]) -> None:
    texts = pdf_texts(printed_card_pdf(make_card(tokens[0])))
    for expected in ("职工互助服务卡", "某某市总工会职工服务中心", "持卡人", "张*明", "卡号", "6201 2345 6789 0123",
                     "制卡日期", "2025-03-14", "商家扫码时需核对持卡人身份证后四位"):
        assert expected in texts


def test_pdf_qr_is_the_tokens_matrix_large_with_a_quiet_zone(tokens: tuple[str, str]) -> None:
    token = tokens[0]
    expected = reference_matrix(token)
    n = len(expected)
    content = pdf_content(printed_card_pdf(make_card(token)))
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


def test_pdf_metadata_has_a_title_and_no_personal_data(tokens: tuple[str, str]) -> None:
    card = make_card(tokens[0])
    data = printed_card_pdf(card)
    info = pdf_info(data)
    assert info["Title"] == "职工互助服务卡"
    for value in info.values():
        assert card.holder_masked not in value and card.card_no[:4] not in value and card.token[:8] not in value
    # The card carries no ID or phone number; nothing long enough to be one is written anywhere.
    assert {f.name for f in dataclasses.fields(PrintedCard)} == {
        "card_no", "holder_masked", "org_name", "token", "printed_on"}
    dates = ("CreationDate", "ModDate")
    for text in [*pdf_texts(data), *(v for k, v in info.items() if k not in dates)]:
        assert not re.search(r"\d{11}", text), text


def test_pdf_is_deterministic(tokens: tuple[str, str]) -> None:
    card = make_card(tokens[0])
    assert printed_card_pdf(card) == printed_card_pdf(card)
    assert printed_card_pdf(card) != printed_card_pdf(make_card(tokens[0], printed_on=date(2025, 3, 15)))


def test_long_organisation_names_are_fitted_left_of_the_qr(tokens: tuple[str, str]) -> None:
    card = make_card(tokens[0], org_name="某某省某某市某某区总工会职工服务中心困难职工帮扶中心互助保障部")
    (org,) = [entry for entry in pdf_shown(printed_card_pdf(card)) if entry[3].startswith("某某省")]
    x, _, size, text = org
    assert text.endswith("…") and size >= 5
    assert x + pdfmetrics.stringWidth(text, "STSong-Light", size) <= 52 * MM + 0.01


def test_card_number_is_16_digits_shown_in_groups_of_four(tokens: tuple[str, str]) -> None:
    assert make_card(tokens[0]).card_no_grouped == "6201 2345 6789 0123"
    for bad in ("620123456789012", "62012345678901234", "620123456789012X", "６２０１２３４５６７８９０１２３"):
        with pytest.raises(ValueError):
            make_card(tokens[0], card_no=bad)


# -- printed card: PNG --------------------------------------------------------

@pytest.mark.parametrize("dpi,size", [(300, (1011, 638)), (150, (506, 319))])
def test_printed_png_has_card_size_and_the_tokens_qr(tokens: tuple[str, str], no_env_font: None,
                                                     dpi: int, size: tuple[int, int]) -> None:
    token = tokens[0]
    img = Image.open(io.BytesIO(printed_card_png(make_card(token), dpi=dpi, search=())))
    assert img.format == "PNG"
    assert img.size == size
    assert img.info["dpi"] == pytest.approx((dpi, dpi), abs=0.1)
    # The symbol is the only pure black right of the text column and below the title band.
    width, height = img.size
    region = (round(width * 0.56), round(height * 0.25), width, height)
    black = img.crop(region).convert("L").point(lambda v: 255 if v == 0 else 0)
    bbox = black.getbbox()
    assert bbox is not None
    expected = reference_matrix(token)
    n = len(expected)
    side = bbox[2] - bbox[0]
    assert side == bbox[3] - bbox[1] and side % n == 0
    assert side / dpi * 25.4 >= 22
    assert sample_grid(img, region[0] + bbox[0], region[1] + bbox[1], side // n, n) == expected


def test_printed_png_without_cjk_font_leaves_chinese_off(tokens: tuple[str, str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(card_images.FONT_ENV, MISSING_FONT)
    assert not cjk_font_available(search=())
    assert not cjk_font_available(MISSING_FONT, search=())
    card = make_card(tokens[0])
    plain = printed_card_png(card, font_path=MISSING_FONT, search=())
    # Names and labels are not drawn at all (no tofu): other names give the very same picture...
    other_names = make_card(tokens[0], holder_masked="李*", org_name="另一个工会")
    assert printed_card_png(other_names, font_path=MISSING_FONT, search=()) == plain
    # ...while the digits are drawn: another card number or date changes it.
    assert printed_card_png(make_card(tokens[0], card_no="6201234567890124"), search=()) != plain
    assert printed_card_png(make_card(tokens[0], printed_on=date(2026, 1, 1)), search=()) != plain
    # The title band is plain red: no title drawn.
    img = Image.open(io.BytesIO(plain)).convert("RGB")
    band = img.crop((0, 0, img.width, round(img.height * 10 / 53.98)))
    assert band.getcolors() == [(band.width * band.height, (200, 16, 46))]


def test_latin_only_font_is_not_taken_for_cjk(tokens: tuple[str, str], no_env_font: None) -> None:
    assert Path(LATIN_ONLY_FONT).is_file()
    assert not cjk_font_available(LATIN_ONLY_FONT, search=())
    assert find_cjk_font(LATIN_ONLY_FONT, search=()) is None
    card = make_card(tokens[0])
    assert printed_card_png(card, font_path=LATIN_ONLY_FONT, search=()) == printed_card_png(card, search=())


def test_printed_png_with_cjk_font_draws_the_chinese_text(tokens: tuple[str, str]) -> None:
    found = find_cjk_font()
    if found is None:
        pytest.skip(f"no CJK font here (install fonts-wqy-microhei or set {card_images.FONT_ENV})")
    path, _ = found
    assert cjk_font_available(path, search=())
    card = make_card(tokens[0])
    with_font = printed_card_png(card, font_path=path, search=())
    assert with_font != printed_card_png(card, font_path=MISSING_FONT, search=())
    other_names = make_card(tokens[0], holder_masked="李*", org_name="另一个工会")
    assert printed_card_png(other_names, font_path=path, search=()) != with_font
    img = Image.open(io.BytesIO(with_font)).convert("RGB")
    band = img.crop((0, 0, img.width, round(img.height * 10 / 53.98)))
    assert (255, 255, 255) in {color for _, color in band.getcolors(1 << 16) or []}  # the white title


def test_font_from_environment_is_used(tokens: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    found = find_cjk_font()
    if found is None:
        pytest.skip("no CJK font here")
    monkeypatch.setenv(card_images.FONT_ENV, found[0])
    assert find_cjk_font(search=()) == found
    monkeypatch.setenv(card_images.FONT_ENV, MISSING_FONT)
    assert find_cjk_font(search=()) is None
    assert find_cjk_font(search=(MISSING_FONT, found[0])) == found


def test_dpi_out_of_range_is_refused(tokens: tuple[str, str]) -> None:
    with pytest.raises(ValueError):
        printed_card_png(make_card(tokens[0]), dpi=10, search=())
