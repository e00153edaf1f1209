"""Base handlers: request ids, security headers, the fixed error shape, JSON bodies, bearer auth."""
from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import tornado.httputil
import tornado.web
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine
from tornado.iostream import StreamClosedError

from pydantic import BaseModel

from models.core.errors import AppError, Unauthorized
from models.identity import sessions as auth_tokens
from server.config import Config
from server.crypto import PiiCipher
from server.openapi import ID_MAX
from server.qr_tokens import QrSigner
from server.validation import decode_json, query_values, validate

log = logging.getLogger("unionaid.http")
B = TypeVar("B", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_HTTP_CODES = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限进行此操作"),
    404: ("not_found", "找不到请求的内容"),
    405: ("method_not_allowed", "不支持此请求方法"),
    413: ("body_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请求内容类型不支持"),
    431: ("headers_too_large", "请求头过大"),
    500: ("internal_error", "服务器内部错误，请稍后重试"),
    503: ("service_unavailable", "服务暂时不可用，请稍后重试"),
}
#: A bearer token is 43 characters; anything far longer is refused before any lookup.
_MAX_TOKEN_CHARS = 256
#: Every body is counted here, not by Tornado (whose refusals are bare, unshaped 400s).
_TRANSPORT_BODY_LIMIT = 2**62
_DB_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, ConnectionError, OSError)


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _db_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _DB_DOWN)


@tornado.web.stream_request_body
class BaseHandler(tornado.web.RequestHandler):
    """Every handler: request id, security headers, errors in the fixed shape, bounded bodies.

    Every handler streams its body (``stream_request_body``), so the size limit, the
    refusal of a method the route lacks, and every early error are answered here in the
    fixed shape before any of the body is read, and no body is held past its limit.
    """

    _request_id: str | None = None
    _chunks: list[bytes]
    _received = 0

    def initialize(self, **_kwargs: Any) -> None:
        self._chunks = []
        self._received = 0

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

    # --- the body, counted as it streams -------------------------------------------------

    def body_limit(self) -> int:
        """The most bytes of body this request may carry."""
        return int(self.config.max_json_bytes) if self.settings.get("config") is not None else 65536

    def _guard_request(self) -> None:
        """Refuse from the headers alone: a method the route lacks, a body declared too large."""
        connection = self.request.connection
        if connection is not None and hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(_TRANSPORT_BODY_LIMIT)
        method = (self.request.method or "").upper()
        if method != "OPTIONS" and not self._implements(method if method != "HEAD" else "GET"):
            raise tornado.web.HTTPError(405)
        declared = self.request.headers.get("Content-Length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit() and len(declared) <= 18):
                raise AppError("bad_request", "Content-Length 不对", status=400)
            if int(declared) > self.body_limit():
                raise self._too_large()

    def _too_large(self) -> AppError:
        return AppError("body_too_large", f"请求内容过大（上限 {self.body_limit() // 1024} KB）", status=413)

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._received += len(chunk)
        if self._received > self.body_limit():
            # A chunked body that grew past the limit: answer now; the connection closes.
            self._chunks.clear()
            err = self._too_large()
            self.send_error(413, exc_info=(AppError, err, None))
            return
        self._chunks.append(chunk)

    def raw_body(self) -> bytes:
        """The whole request body (complete once the handler's method runs)."""
        if len(self._chunks) != 1:
            self._chunks[:] = [b"".join(self._chunks)]
        return self._chunks[0]

    def _body_unread(self) -> bool:
        """Whether the request declared a body that has not been read (yet, or ever)."""
        headers = self.request.headers
        declared = headers.get("Content-Length", "0") not in ("", "0") or "Transfer-Encoding" in headers
        future = getattr(self.request, "_body_future", None)
        return declared and future is not None and not future.done()

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
        if self._body_unread():
            # The body was never read: the connection cannot carry another request.
            self.set_header("Connection", "close")
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
        elif isinstance(value, StreamClosedError):
            log.info("request %s: the client went away", self.request_id)
        elif value is not None and _db_unavailable(value):
            log.warning("request %s: database unavailable: %s", self.request_id, type(value).__name__,
                        exc_info=value)
        else:
            log.error("request %s: uncaught %s", self.request_id, typ.__name__ if typ else "error",
                      exc_info=value)


class APIHandler(BaseHandler):
    """A JSON API handler: bounded bodies, ids and query strings checked against the published
    schema, the caller loaded from the bearer token.

    Bodies are parsed only when the handler asks (``json_body``, ``uploaded``), after it has
    checked who is calling, so a wrong audience hears 401/403 before anything about the body.
    """

    spec: ClassVar[dict[str, Any]] = {}
    #: "json" for JSON bodies, "multipart" for uploads, "none" when no body is read.
    accepts: ClassVar[str] = "json"
    #: The most parts a multipart upload may have (the file and a few fields).
    max_parts: ClassVar[int] = 8
    principal: tuple[str, int] | None = None
    token_expires_at: datetime | None = None
    _body: Any = None
    _typed_body: BaseModel | None = None
    _query: BaseModel | None = None
    _upload: tuple[dict[str, list[bytes]], dict[str, list[Any]]] | None = None

    def body_limit(self) -> int:
        return int(self.config.max_upload_bytes if self.accepts == "multipart" else self.config.max_json_bytes)

    async def prepare(self) -> None:
        self._guard_request()
        self._check_path_ids()
        await self._load_principal()

    def _check_path_ids(self) -> None:
        """Every numeric path id is an int within what an id column holds, else 404 (no such row)."""
        for name, value in list(self.path_kwargs.items()):
            if name.endswith("_id") and isinstance(value, str) and value.isascii() and value.isdigit():
                if len(value) > 16 or not 1 <= int(value) <= ID_MAX:
                    raise AppError("not_found", "找不到请求的内容", status=404)
                self.path_kwargs[name] = int(value)  # type: ignore[assignment]

    def _operation(self) -> dict[str, Any]:
        return self.spec.get((self.request.method or "").lower(), {})

    def _content_type(self) -> str:
        return self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def _require_caller(self) -> None:
        """No body is read for an anonymous caller of an operation that needs a login."""
        if self.principal is None and self._operation().get("security"):
            raise Unauthorized()

    def _declared(self, model: type[BaseModel], part: str) -> None:
        """A handler reads its body or query with the model its operation publishes, and no other."""
        declared = getattr(self._operation(), part, None)
        if model is not declared:
            raise TypeError(f"{type(self).__name__} reads its {part} as {model.__name__}, "
                            f"but its operation declares {getattr(declared, '__name__', None)}")

    def json_body(self) -> dict[str, Any]:
        """The request body as decoded JSON, after it passed this operation's body model."""
        self._require_caller()
        if self._body is None:
            raw = self.raw_body()
            if not raw:
                self._body = {}
            elif self._content_type() != "application/json":
                raise AppError("unsupported_media_type", "请以 application/json 提交", status=415)
            else:
                self._body = decode_json(raw)
        model: type[BaseModel] | None = getattr(self._operation(), "body", None)
        if model is not None and self._typed_body is None:
            self._typed_body = validate(model, self._body)
        if not isinstance(self._body, dict):
            raise AppError("invalid_json", "请求体应为 JSON 对象", status=400)
        body: dict[str, Any] = self._body
        return body

    def body(self, model: type[B]) -> B:
        """The request body as the operation's declared model (``invalid_body`` names the bad fields)."""
        self._declared(model, "body")
        self.json_body()
        assert isinstance(self._typed_body, model)
        return self._typed_body

    def query(self, model: type[Q]) -> Q:
        """The query parameters as the operation's declared model (``invalid_query`` otherwise)."""
        self._declared(model, "query")
        if self._query is None:
            values = query_values(model, self.request.query_arguments)
            self._query = validate(model, values, code="invalid_query")
        assert isinstance(self._query, model)
        return self._query

    def form(self, model: type[Q]) -> tuple[Q, dict[str, list[Any]]]:
        """An upload's text fields as the operation's declared form model, and its files."""
        self._declared(model, "form")
        arguments, files = self.uploaded()
        return validate(model, query_values(model, arguments, code="invalid_body")), files

    def uploaded(self) -> tuple[dict[str, list[bytes]], dict[str, list[Any]]]:
        """The form fields and files of a multipart upload; a malformed one is ``invalid_multipart``."""
        self._require_caller()
        if self._upload is not None:
            return self._upload
        if self._content_type() != "multipart/form-data":
            raise AppError("unsupported_media_type", "请以 multipart/form-data 上传文件", status=415)
        arguments: dict[str, list[bytes]] = {}
        files: dict[str, list[Any]] = {}
        config = tornado.httputil.ParseBodyConfig(
            multipart=tornado.httputil.ParseMultipartConfig(max_parts=self.max_parts, max_part_header_size=4096))
        try:
            tornado.httputil.parse_body_arguments(
                self.request.headers.get("Content-Type", ""), self.raw_body(), arguments, files,
                self.request.headers, config=config,
            )
        except tornado.httputil.HTTPInputError:
            raise AppError("invalid_multipart", "上传内容格式不对（multipart/form-data 不完整或字段过多）",
                           status=400) from None
        self._upload = (arguments, files)
        return self._upload

    async def _load_principal(self) -> None:
        header = self.request.headers.get("Authorization", "")
        if not header:
            return
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS:
            raise Unauthorized("token_invalid", "登录凭证无效，请重新登录")
        async with self.engine.connect() as conn:
            found = await auth_tokens.resolve(conn, token)
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
        connection = self.request.connection
        if connection is not None and hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(_TRANSPORT_BODY_LIMIT)
        raise tornado.web.HTTPError(404)

    def check_xsrf_cookie(self) -> None:
        return None
