"""Hostile uploads made safe: the real type found from the content, images re-encoded, PDFs checked.

:func:`sanitise` takes an upload spooled to disk (a path or an open binary file) and answers
the bytes to store and their type, or raises an :class:`~models.core.errors.AppError` with a
stable code and a Chinese message; no input makes it raise anything else. Pure, synchronous
and CPU-bound: callers run it off the event loop (``self.offload``).

- The type is what the first bytes say (JPEG, PNG or PDF), never the file's name or the
  declared Content-Type; anything else is ``upload_type``.
- The size is checked on the file before a byte is read (``upload_too_large``); only a file
  within the limit is read into memory, once.
- Images: the header's dimensions are checked before any pixel is decoded (a pixel flood or a
  decompression bomb is ``upload_image_too_big`` at the cost of its header); a large JPEG is
  decoded at 1/2, 1/4 or 1/8 scale (libjpeg's draft mode) so at most ``MAX_DECODED_PIXELS``
  are ever in memory; a PNG keeps only its pixel chunks (IHDR, PLTE, tRNS, IDAT, IEND) before
  Pillow sees it, so no text, EXIF or colour-profile chunk is ever decompressed. The picture is
  turned upright by its EXIF orientation, scaled to ``MAX_SIDE`` at most, and written anew
  without any metadata: no EXIF (so no GPS), no XMP, no comment, and no ICC profile either
  (proofs need legibility, not colour fidelity; a profile is one more parser surface). Whatever
  trailed or hid in the original (a polyglot's HTML or ZIP) is not in the output. JPEG comes out
  as JPEG; PNG as JPEG too unless it has transparency (then PNG, flattened to JPEG on white if
  the PNG would exceed the limit).
- PDFs (:mod:`server.pdf_check`): kept as uploaded once they pass, cut after the last ``%%EOF``.
"""
from __future__ import annotations

import io
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps

from models.core.errors import AppError
from server.pdf_check import check_pdf

#: A picture above this many pixels (by its header) is refused without being decoded: 40 MP.
MAX_PIXELS = 40_000_000
#: The most pixels ever decoded at once (a JPEG is decoded at a reduced scale to stay under it).
MAX_DECODED_PIXELS = 12_000_000
#: The longest side of a re-encoded picture, in pixels.
MAX_SIDE = 4096
#: JPEG qualities tried in turn until the output fits the size limit.
JPEG_QUALITIES = (85, 70, 50)

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
MIME_TYPES = (JPEG, PNG, PDF)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The chunks a PNG's pixels need; every other one (text, EXIF, ICC, APNG frames) is dropped unread.
_PNG_KEPT = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
_PNG_MAX_CHUNKS = 100_000


@dataclass(frozen=True)
class Clean:
    """A sanitised upload: the bytes to store and their MIME type."""

    data: bytes
    mime: str


def _refuse(code: str, message: str, status: int = 400) -> AppError:
    return AppError(code, message, status=status)


def refuse_type() -> AppError:
    """The error for a file that is not a JPEG, PNG or PDF, whatever its name says."""
    return _refuse("upload_type", "只能上传 JPEG、PNG 图片或 PDF 文件", 415)


def _corrupt() -> AppError:
    return _refuse("upload_corrupt", "文件已损坏或格式不完整，无法识别；请重新拍照或重新导出后上传")


def _too_big_image() -> AppError:
    return _refuse("upload_image_too_big",
                   f"图片像素过多（JPEG 最多 {MAX_PIXELS // 10_000} 万像素，PNG 最多 {MAX_DECODED_PIXELS // 10_000} 万像素），"
                   "请缩小或截图后上传")


def sniff(head: bytes) -> str | None:
    """The MIME type the first bytes of a file announce (JPEG, PNG, PDF), else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(_PNG_SIGNATURE):
        return PNG
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def _size(file: BinaryIO) -> int:
    try:
        return os.fstat(file.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return file.seek(0, os.SEEK_END)


def read_limited(source: str | os.PathLike[str] | BinaryIO, max_bytes: int) -> bytes:
    """The whole file once its size (from the file system, nothing read) is within ``max_bytes``."""
    if isinstance(source, (str, os.PathLike)):
        with open(Path(source), "rb") as file:
            return read_limited(file, max_bytes)
    size = _size(source)
    if size > max_bytes:
        raise _refuse("upload_too_large", f"文件超过 {max_bytes // (1024 * 1024)} MB，请压缩后上传", 413)
    source.seek(0)
    data = source.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew meanwhile
        raise _refuse("upload_too_large", f"文件超过 {max_bytes // (1024 * 1024)} MB，请压缩后上传", 413)
    return data


def sanitise(source: str | os.PathLike[str] | BinaryIO, *, max_bytes: int) -> Clean:
    """The safe form of an uploaded file (see the module's docstring), or an ``upload_*`` AppError."""
    data = read_limited(source, max_bytes)
    mime = sniff(data[:16])
    if mime is None:
        raise refuse_type()
    if mime == PDF:
        return Clean(check_pdf(data), PDF)
    if mime == PNG:
        data = _png_pixels_only(data)
    return _reencode(data, mime, max_bytes)


def _png_pixels_only(data: bytes) -> bytes:
    """The PNG with only the chunks its pixels need, CRCs checked; ``upload_corrupt`` when malformed."""
    out = [_PNG_SIGNATURE]
    at, chunks, seen_end = len(_PNG_SIGNATURE), 0, False
    while at + 12 <= len(data) and not seen_end:
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        end = at + 12 + length
        chunks += 1
        if end > len(data) or chunks > _PNG_MAX_CHUNKS or (chunks == 1 and kind != b"IHDR"):
            raise _corrupt()
        body = data[at + 8:at + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4:end])[0]:
            raise _corrupt()
        if kind in _PNG_KEPT:
            out.append(data[at:end])
        seen_end = kind == b"IEND"
        at = end
    if not seen_end:
        raise _corrupt()
    return b"".join(out)


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info


def _reencode(data: bytes, mime: str, max_bytes: int) -> Clean:
    """Decode within the pixel limits and write a fresh JPEG (or PNG) without metadata."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as im:
            if im.format not in ("JPEG", "MPO", "PNG") or (im.format == "PNG") != (mime == PNG):
                raise refuse_type()
            width, height = im.size
            if width <= 0 or height <= 0:
                raise _corrupt()
            if width * height > MAX_PIXELS:
                raise _too_big_image()
            if im.format != "PNG":
                for scale in (1, 2, 4, 8):  # the smallest reduction that fits the decoding budget
                    size = (math.ceil(width / scale), math.ceil(height / scale))
                    if size[0] * size[1] <= MAX_DECODED_PIXELS:
                        break
                im.draft(None, size)
            if im.size[0] * im.size[1] > MAX_DECODED_PIXELS:
                raise _too_big_image()
            im.load()
            alpha = _has_alpha(im)
            target = "RGBA" if alpha else "L" if im.mode in ("L", "1") else "RGB"
            picture = im if im.mode == target else im.convert(target)  # no copy when none is needed
            ImageOps.exif_transpose(picture, in_place=True)
    except AppError:
        raise
    except Image.DecompressionBombError:
        raise _too_big_image() from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
            ZeroDivisionError, MemoryError):
        raise _corrupt() from None
    picture.info = {}
    if max(picture.size) > MAX_SIDE:
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    if alpha:
        out = io.BytesIO()
        picture.save(out, "PNG", optimize=False, compress_level=6)
        if out.tell() <= max_bytes:
            return Clean(out.getvalue(), PNG)
        white = Image.new("RGB", picture.size, (255, 255, 255))
        white.paste(picture, mask=picture.getchannel("A"))
        picture = white
    for quality in JPEG_QUALITIES:
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= max_bytes:
            return Clean(out.getvalue(), JPEG)
    raise _refuse("upload_too_large", "图片压缩后仍然过大，请缩小后上传", 413)
