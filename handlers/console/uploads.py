"""The console's file uploads (visit photos, roster imports, ...): a multipart form streamed to disk as the API's
uploads are, with the XSRF token checked from the form itself.

A console page's ordinary form is small and read whole, so Tornado checks its ``_xsrf`` field before
``prepare``. An upload streams: when Tornado would check, none of the body has arrived. So an
``UploadHandler`` checks the ``X-XSRFToken`` header at once when a script sent one, and otherwise the
``_xsrf`` field of the multipart body, in ``upload()``, before the handler looks at anything else the
body carries. Every ``post`` of an ``UploadHandler`` starts with ``fields, files = await self.upload()``.
"""
from __future__ import annotations

from typing import Any, ClassVar

import tornado.web

from handlers.console.base import ConsoleHandler
from models.core.errors import AppError, Forbidden
from handlers.uploads import UploadedFile


class UploadHandler(ConsoleHandler):
    """A console page that takes a multipart upload (spooled to disk, split off the loop, size-limited)."""

    _stream_request_body = True
    accepts: ClassVar[str] = "multipart"
    _xsrf_deferred = False
    _xsrf_checked = False
    _method_running = False

    def body_limit(self) -> int:
        """The upload limit of the API's uploads."""
        return int(self.config.max_upload_bytes)

    async def prepare(self) -> None:
        """The console's checks; then the page's method runs (and must call ``upload()`` first)."""
        await super().prepare()
        self._method_running = not self._finished

    def check_xsrf_cookie(self) -> None:
        """With the header: checked now. Without it: checked from the body's ``_xsrf`` field in ``upload()``."""
        if self.request.headers.get("X-Xsrftoken") or self.request.headers.get("X-Csrftoken"):
            super().check_xsrf_cookie()
            self._xsrf_checked = True
        else:
            self._xsrf_deferred = True

    async def upload(self) -> tuple[dict[str, str], dict[str, list[UploadedFile]]]:
        """The form's text fields (decoded, ``_xsrf`` checked and left out) and its files."""
        try:
            arguments, files = await self.uploaded()
        except AppError:
            if not self._xsrf_checked:  # a body we cannot read carries no token we could trust
                raise Forbidden("xsrf_failed", "页面已过期或来源不明，请刷新页面后重试") from None
            raise
        if not self._xsrf_checked:
            token = (arguments.get("_xsrf") or [b""])[-1]
            self.request.arguments["_xsrf"] = [token]
            try:
                tornado.web.RequestHandler.check_xsrf_cookie(self)
            except tornado.web.HTTPError:
                raise Forbidden("xsrf_failed", "页面已过期或来源不明，请刷新页面后重试") from None
            self._xsrf_checked = True
        fields: dict[str, str] = {}
        for name, values in arguments.items():
            if name != "_xsrf" and values:
                fields[name] = values[-1].decode("utf-8", "replace").strip()
        return fields, files

    def finish(self, chunk: Any = None) -> Any:
        """An upload that succeeded must have had its XSRF token checked (``upload()``), or it is a bug."""
        if self._method_running and self._xsrf_deferred and not self._xsrf_checked and self.get_status() < 400:
            raise RuntimeError(f"{type(self).__name__}.post answered without calling upload() first")
        return super().finish(chunk)
