"""Console pages that take a file (a roster, visit photos): the body streamed to disk as the API's uploads are
(``handlers/uploads.py``), bounded by ``max_upload_bytes``, and the XSRF token checked before the page acts.

A urlencoded console form is read whole and Tornado checks its ``_xsrf`` field before ``prepare``. A multipart
body cannot be read then (it streams in after the access checks), so the token is checked once the body has been
split: from the ``X-XSRFToken`` header at once when the request carries it (htmx), else from the form's ``_xsrf``
field. A page implements ``received`` instead of ``post``; ``post`` splits the body, checks the token, then calls it,
so no page can act on an unchecked upload.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import tornado.web

from handlers.console.base import ConsoleHandler
from handlers.uploads import UploadedFile
from models.core.errors import Forbidden, Invalid


@dataclass
class Upload:
    """A console upload: its text fields (each its last value, trimmed) and its files (each on disk)."""

    values: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)

    def file(self, name: str) -> UploadedFile | None:
        """The one non-empty file sent as ``name`` (None when none was chosen)."""
        chosen = [f for f in self.files.get(name, []) if f.filename or f.size]
        if len(chosen) > 1:
            raise Invalid("file_required", "请只选择一个文件", details=[{"field": name, "reason": "请只选择一个文件"}])
        return chosen[0] if chosen else None


class ConsoleUploadHandler(ConsoleHandler):
    """A console page whose POST is a multipart form with files: streamed to a private temporary file as it
    comes (counted against ``max_upload_bytes``: 413 past it), split off the event loop, the XSRF token checked,
    then ``received(upload, **path)``. The GET of the page (its form) is an ordinary console page."""

    _stream_request_body = True
    accepts: ClassVar[str] = "multipart"
    #: The file and a few fields (the XSRF token among them).
    max_parts: ClassVar[int] = 8
    _xsrf_checked = False

    def body_limit(self) -> int:
        """An upload may be as large as the API's (``max_upload_bytes``)."""
        return int(self.config.max_upload_bytes)

    def spools_body(self) -> bool:
        """The body goes to a temporary file, never memory."""
        return True

    def check_xsrf_cookie(self) -> None:
        """Run by Tornado before ``prepare``, when the multipart body has not been read: the header is checked
        now; without it the form's ``_xsrf`` field is checked in ``post`` before the page acts."""
        headers = self.request.headers
        if headers.get("X-Xsrftoken") or headers.get("X-Csrftoken") or self.get_query_argument("_xsrf", None):
            super().check_xsrf_cookie()
            self._xsrf_checked = True

    def _check_form_token(self, fields: dict[str, list[bytes]]) -> None:
        """The form's ``_xsrf`` field against the cookie, by Tornado's own check."""
        token = fields.get("_xsrf", [b""])[-1]
        if not token:
            raise Forbidden("xsrf_failed", "页面已过期或来源不明，请刷新页面后重试")
        self.request.body_arguments["_xsrf"] = [token]
        self.request.arguments.setdefault("_xsrf", []).append(token)
        try:
            tornado.web.RequestHandler.check_xsrf_cookie(self)
        except tornado.web.HTTPError:
            raise Forbidden("xsrf_failed", "页面已过期或来源不明，请刷新页面后重试") from None
        self._xsrf_checked = True

    async def upload(self) -> Upload:
        """The split form, once its XSRF token has been checked (``invalid_multipart`` when malformed)."""
        fields, files = await self.uploaded()
        if not self._xsrf_checked:
            self._check_form_token(fields)
        values: dict[str, str] = {}
        for name, items in fields.items():
            if name == "_xsrf" or not items:
                continue
            try:
                values[name] = items[-1].decode("utf-8").strip()
            except UnicodeDecodeError:
                raise Invalid("invalid_body", f"{name} 含有无效的字符",
                              details=[{"field": name, "reason": "含有无效的字符"}]) from None
        # what form_values() and form_list() read on an urlencoded page
        self.request.body_arguments.update({k: v for k, v in fields.items() if k != "_xsrf"})
        return Upload(values, files)

    async def post(self, *args: Any, **kwargs: Any) -> None:
        """Split the body and check its XSRF token, then let the page act on it."""
        await self.received(await self.upload(), *args, **kwargs)

    async def received(self, upload: Upload, *args: Any, **kwargs: Any) -> None:
        """What the page does with the upload (the XSRF token already checked)."""
        raise NotImplementedError
