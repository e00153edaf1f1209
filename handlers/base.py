"""Base handlers: request ids, security headers, the fixed error shape, JSON bodies, bearer auth."""
from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime
from typing import Any, ClassVar

import tornado.httputil
import tornado.web
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from models import auth_tokens
from models.errors import AppError, Unauthorized
from server.config import Config
from server.crypto import PiiCipher
from server.qr_tokens import QrSigner
from server.validation import BodyValidator

log = logging.getLogger("unionaid.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_HTTP_CODES = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限进行此操作"),
    404: ("not_found", "找不到请求的内容"),
    405: ("method_not_allowed", "不支持此请求方法"),
    413: ("body_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请求内容类型不支持"),
    500: ("internal_error", "服务器内部错误，请稍后重试"),
    503: ("service_unavailable", "服务暂时不可用，请稍后重试"),
}
_DB_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, ConnectionError, OSError)


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _db_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _DB_DOWN)


class BaseHandler(tornado.web.RequestHandler):
    """Every handler: request id, security headers, errors in the fixed shape."""

    _request_id: str | None = None

    @property
    def config(self) -> Config:
        return self.settings["config"]  # type: ignore[no-any-return]

    @property
    def engine(self) -> AsyncEngine:
        return self.settings["engine"]  # type: ignore[no-any-return]

    @property
    def cipher(self) -> PiiCipher:
        return self.settings["cipher"]  # type: ignore[no-any-return]

    @property
    def signer(self) -> QrSigner:
        return self.settings["signer"]  # type: ignore[no-any-return]

    @property
    def request_id(self) -> str:
        if self._request_id is None:
            incoming = self.request.headers.get("X-Request-Id", "")
            self._request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        return self._request_id

    def set_default_headers(self) -> None:
        self.set_header("X-Request-Id", self.request_id)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cross-Origin-Resource-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        if self.settings.get("config") is not None and self.config.behind_https:
            self.set_header("Strict-Transport-Security", "max-age=31536000")
        self.clear_header("Server")

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(payload, ensure_ascii=False, default=json_default))

    def _error_payload(self, exc: BaseException | None, status: int) -> tuple[int, dict[str, Any]]:
        if isinstance(exc, AppError):
            body: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.details:
                body["details"] = exc.details
            for name, value in exc.headers.items():
                self.set_header(name, value)
            return exc.status, body
        if exc is not None and _db_unavailable(exc):
            self.set_header("Retry-After", "2")
            return 503, {"code": "database_unavailable", "message": "数据库暂时不可用，请稍后重试"}
        if isinstance(exc, tornado.web.HTTPError):
            status = exc.status_code
        code, message = _HTTP_CODES.get(status, ("http_error", "请求失败"))
        return status, {"code": code, "message": message}

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        status, body = self._error_payload(exc, status_code)
        body["request_id"] = self.request_id
        if status == 405:
            allowed = [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if self._implements(m)]
            self.set_header("Allow", ", ".join(allowed))
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": body}, ensure_ascii=False))

    def _implements(self, method: str) -> bool:
        own = getattr(type(self), method.lower(), None)
        return own is not None and own is not getattr(tornado.web.RequestHandler, method.lower(), None)

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        if isinstance(value, AppError):
            log.info("request %s refused: %s (%s)", self.request_id, value.code, value.status)
        elif isinstance(value, tornado.web.HTTPError):
            log.info("request %s: HTTP %s", self.request_id, value.status_code)
        elif value is not None and _db_unavailable(value):
            log.warning("request %s: database unavailable: %s", self.request_id, type(value).__name__,
                        exc_info=value)
        else:
            log.error("request %s: uncaught %s", self.request_id, typ.__name__ if typ else "error",
                      exc_info=value)


class APIHandler(BaseHandler):
    """A JSON API handler: checks body size and type, parses and validates the body, loads the caller."""

    spec: ClassVar[dict[str, Any]] = {}
    #: "json" for JSON bodies, "multipart" for uploads, "none" when no body is read.
    accepts: ClassVar[str] = "json"
    principal: tuple[str, int] | None = None
    token_expires_at: datetime | None = None
    _body: Any = None

    async def prepare(self) -> None:
        if self.request.method in ("POST", "PUT", "PATCH"):
            self._check_body()
        await self._load_principal()

    def _check_body(self) -> None:
        body = self.request.body or b""
        limit = self.config.max_upload_bytes if self.accepts == "multipart" else self.config.max_json_bytes
        try:
            declared = int(self.request.headers.get("Content-Length", "0"))
        except ValueError:
            raise AppError("bad_request", "Content-Length 不对", status=400) from None
        if max(len(body), declared) > limit:
            raise AppError("body_too_large", f"请求内容过大（上限 {limit // 1024} KB）", status=413)
        ctype = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if self.accepts == "json":
            if not body:
                self._body = {}
                return
            if ctype != "application/json":
                raise AppError("unsupported_media_type", "请以 application/json 提交", status=415)
            try:
                self._body = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise AppError("invalid_json", "请求体不是有效的 JSON", status=400) from None
        elif self.accepts == "multipart":
            if ctype != "multipart/form-data":
                raise AppError("unsupported_media_type", "请以 multipart/form-data 上传文件", status=415)
            if getattr(self, "_stream_request_body", False):
                # Streamed uploads: refused from the headers above when too large, and the
                # connection never reads past the limit (chunked bodies included).
                self.request.connection.set_max_body_size(limit)  # type: ignore[union-attr]
                self._chunks: list[bytes] = []

    def data_received(self, chunk: bytes) -> None:
        """Collect a streamed upload (handlers decorated with ``tornado.web.stream_request_body``)."""
        self._chunks.append(chunk)

    def uploaded(self) -> tuple[dict[str, list[bytes]], dict[str, list[Any]]]:
        """The form fields and files of a streamed multipart upload."""
        arguments: dict[str, list[bytes]] = {}
        files: dict[str, list[Any]] = {}
        tornado.httputil.parse_body_arguments(
            self.request.headers.get("Content-Type", ""), b"".join(self._chunks), arguments, files,
            self.request.headers,
        )
        return arguments, files

    def json_body(self) -> dict[str, Any]:
        """The request body, validated against this operation's published schema."""
        method = (self.request.method or "").lower()
        schema = self.spec.get(method, {}).get("requestBody", {}).get("content", {}).get("application/json", {})
        validators: dict[Any, BodyValidator] = self.settings["body_validators"]
        key = (type(self), method)
        if key not in validators and "schema" in schema:
            validators[key] = BodyValidator(schema["schema"], self.settings["openapi"]["components"])
        body = self._body if self._body is not None else {}
        if key in validators:
            validators[key].validate(body)
        if not isinstance(body, dict):
            raise AppError("invalid_json", "请求体应为 JSON 对象", status=400)
        return body

    async def _load_principal(self) -> None:
        header = self.request.headers.get("Authorization", "")
        if not header:
            return
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("token_invalid", "登录凭证无效，请重新登录")
        async with self.engine.connect() as conn:
            found = await auth_tokens.resolve(conn, token.strip())
        self.principal = (found.subject_kind, found.subject_id)
        self.token_expires_at = found.expires_at

    def require(self, kind: str) -> int:
        """The caller's id when they are logged in as ``kind`` ("user" or "staff")."""
        if self.principal is None:
            raise Unauthorized()
        if self.principal[0] != kind:
            raise AppError("forbidden", "没有权限进行此操作", status=403)
        return self.principal[1]

    def bearer_token(self) -> str | None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class NotFoundHandler(BaseHandler):
    """Every unknown path: 404 in the fixed shape, whatever the method."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)

    def check_xsrf_cookie(self) -> None:
        return None
