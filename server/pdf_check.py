"""A PDF upload checked for structure and active content, without rendering it.

The file is parsed with pypdf under tighter limits than its defaults (set for this call only,
through pypdf's context-local configuration): every object in the cross-reference table is
read and its dictionaries inspected, but no page content or image stream is decompressed, so a
stream that inflates to gigabytes costs nothing here (object streams, which hold objects, are
inflated, at most ``MAX_INFLATED`` bytes each). Refused: an encrypted file, a file that does
not parse or has no pages or more than ``MAX_PAGES``, and anything that acts or carries
another file: JavaScript, additional actions (``/AA``), launch/import/submit/remote-go-to and
rich-media actions, embedded and attached files, XFA forms, rich media, movies, sounds and 3D.

A file that passes is stored as uploaded, only cut after its last ``%%EOF`` (so nothing can
trail it): rewriting it through a PDF library would not make it safer than refusing what acts
and would risk changing what the applicant's proof shows.
"""
from __future__ import annotations

import io
import logging
import re
from typing import Any

from pypdf import PdfReader, apply_configuration
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from models.core.errors import AppError

MAX_PAGES = 50
#: The most bytes one object stream (or the cross-reference stream) may inflate to.
MAX_INFLATED = 8 * 1024 * 1024
#: The most indirect objects a proof may hold.
MAX_OBJECTS = 200_000

# Keys that hold scripts, triggers or other files, wherever they appear.
_ACTIVE_KEYS = {"/JS", "/JavaScript", "/AA", "/EmbeddedFile", "/EmbeddedFiles", "/EF", "/XFA", "/RichMediaContent",
                "/RichMediaSettings", "/Launch"}
# Action types (/S) that run something, fetch something or send something.
_ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/GoToE", "/GoToR", "/RichMediaExecute",
                   "/Rendition", "/Movie", "/Sound"}
# Annotation and object types that carry media or files.
_ACTIVE_TYPES = {"/FileAttachment", "/RichMedia", "/Movie", "/Sound", "/Screen", "/3D", "/EmbeddedFile"}
# The long names above as they may sit in the raw file, outside anything the cross-reference
# table lists (a viewer that rebuilds a broken table would find them).
_RAW_ACTIVE = re.compile(rb"/(?:JavaScript|EmbeddedFiles?|RichMedia\w*|Launch)(?=[\s/<>\[\]()%{}])")

# pypdf logs every oddity of a hostile file; the refusal says enough.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def _refuse(code: str, message: str) -> AppError:
    return AppError(code, message, status=400)


def _corrupt() -> AppError:
    return _refuse("upload_corrupt", "PDF 文件已损坏或不完整，无法识别；请重新导出后上传")


def _active() -> AppError:
    return _refuse("upload_pdf_active", "PDF 文件含有脚本、附件或其他动态内容，不能作为证明材料上传；请另存为普通 PDF 或拍照后上传")


def _is_active(obj: Any) -> bool:
    """Whether a direct object (a dictionary or array, walked without following references) acts."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, DictionaryObject):
            for key, value in item.items():
                if key in _ACTIVE_KEYS:
                    return True
                if isinstance(value, NameObject) and (
                        (key == "/S" and value in _ACTIVE_ACTIONS) or (key in ("/Subtype", "/Type") and value in _ACTIVE_TYPES)):
                    return True
                if isinstance(value, (DictionaryObject, ArrayObject)):
                    stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(v for v in item if isinstance(v, (DictionaryObject, ArrayObject)))
    return False


def _inspect(reader: PdfReader) -> None:
    """Refuse an encrypted file, a bad page count, or any object that acts."""
    if reader.is_encrypted:
        raise _refuse("upload_pdf_encrypted", "PDF 文件有密码保护或已加密，请取消密码后上传")
    pages = len(reader.pages)
    if pages == 0:
        raise _corrupt()
    if pages > MAX_PAGES:
        raise _refuse("upload_pdf_pages", f"PDF 文件超过 {MAX_PAGES} 页，请只上传需要的页面")
    if _is_active(reader.trailer):
        raise _active()
    numbers = [IndirectObject(num, gen, reader) for gen, table in reader.xref.items() for num in table]
    numbers += [IndirectObject(num, 0, reader) for num in reader.xref_objStm]
    if len(numbers) > MAX_OBJECTS:
        raise _corrupt()
    for ref in numbers:
        if _is_active(reader.get_object(ref)):
            raise _active()


def check_pdf(data: bytes) -> bytes:
    """The bytes to store for a PDF upload (as uploaded, up to the last ``%%EOF``), else an AppError."""
    end = data.rfind(b"%%EOF")
    if not data.startswith(b"%PDF-") or end < 0:
        raise _corrupt()
    data = data[:end + 5] + b"\n"
    if _RAW_ACTIVE.search(data):
        raise _active()
    try:
        with apply_configuration(
            zlib_maximum_output_length=MAX_INFLATED, lzw_maximum_output_length=MAX_INFLATED,
            run_length_maximum_output_length=MAX_INFLATED, brotli_maximum_output_length=MAX_INFLATED,
            jbig2_maximum_output_length=MAX_INFLATED, array_based_stream_maximum_output_length=MAX_INFLATED,
            zlib_maximum_recovery_input_length=1024 * 1024, stream_decoding_work_maximum_length=4 * MAX_INFLATED,
            page_tree_maximum_entries=10_000, jbig2dec_binary=None,
        ):
            _inspect(PdfReader(io.BytesIO(data), strict=False))
    except AppError:
        raise
    except Exception:  # noqa: BLE001 - a hostile file makes a parser raise anything; each is a corrupt file
        raise _corrupt() from None
    return data
