"""Splitting a spooled multipart body: fields in memory, files into files of their own, whatever the blocks."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from handlers import uploads
from handlers.uploads import split_form
from models.core.errors import AppError

BOUNDARY = "----b0undary"
TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _body(*parts: tuple[str, str | None, bytes], preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    out = [preamble]
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n")
    out.append(f"--{BOUNDARY}--\r\n".encode() + epilogue)
    return b"".join(out)


def _split(body: bytes, tmp_path: Path, **kw: int) -> uploads.Form:
    return split_form(io.BytesIO(body), TYPE, tmp_path, max_parts=kw.get("max_parts", 8))


@pytest.mark.parametrize("size", [0, 1, uploads._READ - 3, uploads._READ, 3 * uploads._READ + 17])
def test_fields_and_a_file_across_read_blocks(tmp_path: Path, size: int) -> None:
    # The file holds what looks like a delimiter's start, and the delimiter falls across blocks.
    content = (os.urandom(size // 2) + f"\r\n--{BOUNDARY[:-2]}".encode() + os.urandom(size))[:max(size, 0)]
    form = _split(_body(("org", None, "长沙".encode()), ("file", "名单.xlsx", content), ("strict", None, b"1"),
                        preamble=b"ignored\r\n", epilogue=b"also ignored"), tmp_path)
    try:
        assert form.fields == {"org": ["长沙".encode()], "strict": [b"1"]}
        [upload] = form.files["file"]
        assert (upload.filename, upload.size, upload.file.read()) == ("名单.xlsx", len(content), content)
    finally:
        form.close()
    assert upload.file.closed


@pytest.mark.parametrize("body", [
    b"",
    b"no delimiter at all",
    _body(("file", "a.csv", b"x"))[:-10],  # cut off before the closing delimiter
    _body(("org", None, b"x")).replace(b"Content-Disposition", b"Content-Dispositio\r\n"),
    _body(("org", None, b"x" * (uploads.MAX_FIELD_BYTES + 1))),
    _body(("org", None, b"x")).replace(b"form-data;", b"form-data;" + b" " * uploads.MAX_PART_HEADER_BYTES),
    _body(*[("f", None, b"x")] * 9),
    _body(("org", None, b"x")).replace(b'; name="org"', b""),
])
def test_malformed_bodies_are_invalid_multipart(tmp_path: Path, body: bytes) -> None:
    with pytest.raises(AppError) as refused:
        _split(body, tmp_path)
    assert (refused.value.code, refused.value.status) == ("invalid_multipart", 400)


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=",
                                          "multipart/form-data; boundary=" + "x" * 71])
def test_a_missing_or_bad_boundary_is_invalid_multipart(tmp_path: Path, content_type: str) -> None:
    with pytest.raises(AppError) as refused:
        split_form(io.BytesIO(_body(("org", None, b"x"))), content_type, tmp_path, max_parts=8)
    assert refused.value.code == "invalid_multipart"


def test_the_spool_dir_is_private(tmp_path: Path) -> None:
    with uploads.spool_file(tmp_path / "data") as spool:
        spool.write(b"x")
        assert list((tmp_path / "data" / "tmp").iterdir()) == []  # no name to find it by
    assert oct((tmp_path / "data" / "tmp").stat().st_mode & 0o777) == "0o700"
