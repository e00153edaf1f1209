"""Multipart uploads spooled to disk: the body goes to a private temporary file as it streams,
and its parts are split from that file, each uploaded file into a file of its own.

Nothing here holds more than a read buffer and the small form fields in memory, whatever the
size of the upload (up to ``max_upload_bytes``).
"""
from __future__ import annotations

import email.message
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from models.core.errors import AppError
from server.config import make_private_dir

#: How much of the spooled body is read at a time.
_READ = 64 * 1024
#: The most bytes of one part's headers, and of one plain (non-file) form field.
MAX_PART_HEADER_BYTES = 4096
MAX_FIELD_BYTES = 64 * 1024


def _invalid() -> AppError:
    return AppError("invalid_multipart", "上传内容格式不对（multipart/form-data 不完整或字段过多）", status=400)


def spool_dir(data_dir: Path) -> Path:
    """The private (0700) directory in the data dir where request bodies are spooled."""
    path = data_dir / "tmp"
    make_private_dir(path)
    return path


def spool_file(data_dir: Path) -> BinaryIO:
    """A new anonymous temporary file (0600, gone once closed, even if the process dies)."""
    return tempfile.TemporaryFile(dir=spool_dir(data_dir))


@dataclass
class UploadedFile:
    """One file of a multipart upload: its name, type, size and its bytes in a temporary file."""

    filename: str
    content_type: str
    file: BinaryIO
    size: int = 0


@dataclass
class Form:
    """A multipart form split from a spooled body: the plain fields, and the files (on disk)."""

    fields: dict[str, list[bytes]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)

    def close(self) -> None:
        """Remove every file's temporary file."""
        for uploads in self.files.values():
            for upload in uploads:
                upload.file.close()


def boundary_of(content_type: str) -> bytes:
    """The multipart boundary named by a Content-Type header, else ``invalid_multipart``."""
    message = email.message.Message()
    message["Content-Type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70 or not boundary.isascii():
        raise _invalid()
    return boundary.encode("ascii")


def _disposition(headers: bytes) -> tuple[str, str | None, str]:
    """(field name, file name or None, content type) from one part's headers."""
    message = email.message.Message()
    for line in headers.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep:
            raise _invalid()
        message[name.strip()] = value.strip()
    if message.get_content_disposition() != "form-data":
        raise _invalid()
    field_name = message.get_param("name", header="Content-Disposition")
    if not isinstance(field_name, str):
        raise _invalid()
    return field_name, message.get_filename(), message.get("Content-Type", "application/octet-stream")


class _Reader:
    """The spooled body read forward in blocks, with what was read but not yet used kept."""

    def __init__(self, body: BinaryIO) -> None:
        self.body = body
        self.buffer = b""
        self.eof = False

    def fill(self) -> bool:
        """Read one more block; False at the end of the body."""
        if self.eof:
            return False
        block = self.body.read(_READ)
        if not block:
            self.eof = True
            return False
        self.buffer += block
        return True

    def until(self, marker: bytes, limit: int) -> bytes:
        """The bytes before ``marker`` (consumed with it), at most ``limit`` of them."""
        while True:
            at = self.buffer.find(marker)
            if 0 <= at <= limit:
                found, self.buffer = self.buffer[:at], self.buffer[at + len(marker):]
                return found
            if at > limit or len(self.buffer) > limit + len(marker) or not self.fill():
                raise _invalid()

    def copy_until(self, marker: bytes, out: BinaryIO | None, limit: int) -> tuple[int, bytes]:
        """Copy the bytes before ``marker`` to ``out`` (or keep them, up to ``limit``); consume the marker."""
        kept: list[bytes] = []
        size = 0
        keep = len(marker) - 1
        while True:
            at = self.buffer.find(marker)
            if at >= 0:
                piece, self.buffer = self.buffer[:at], self.buffer[at + len(marker):]
            else:
                cut = max(0, len(self.buffer) - keep)
                piece, self.buffer = self.buffer[:cut], self.buffer[cut:]
            size += len(piece)
            if out is not None:
                out.write(piece)
            else:
                if size > limit:
                    raise _invalid()
                kept.append(piece)
            if at >= 0:
                return size, b"".join(kept)
            if not self.fill():
                raise _invalid()


def split_form(body: BinaryIO, content_type: str, data_dir: Path, *, max_parts: int) -> Form:
    """Split a spooled multipart body into its fields and files; ``invalid_multipart`` when malformed.

    Blocking file I/O: run it off the event loop.
    """
    delimiter = b"\r\n--" + boundary_of(content_type)
    body.seek(0)
    reader = _Reader(body)
    reader.buffer = b"\r\n"  # the first delimiter has no line break of its own before it
    form = Form()
    try:
        reader.copy_until(delimiter, None, MAX_FIELD_BYTES)  # the preamble, ignored
        parts = 0
        while True:
            while len(reader.buffer) < 2 and reader.fill():
                pass
            if reader.buffer.startswith(b"--"):
                return form  # the closing delimiter; anything after it is ignored
            if not reader.buffer.startswith(b"\r\n"):
                raise _invalid()
            reader.buffer = reader.buffer[2:]
            parts += 1
            if parts > max_parts:
                raise _invalid()
            name, filename, kind = _disposition(reader.until(b"\r\n\r\n", MAX_PART_HEADER_BYTES))
            if filename is None:
                _, value = reader.copy_until(delimiter, None, MAX_FIELD_BYTES)
                form.fields.setdefault(name, []).append(value)
                continue
            upload = UploadedFile(filename=filename, content_type=kind, file=spool_file(data_dir))
            form.files.setdefault(name, []).append(upload)
            upload.size, _ = reader.copy_until(delimiter, upload.file, 0)
            upload.file.flush()
            upload.file.seek(0)
    except BaseException:
        form.close()
        raise
