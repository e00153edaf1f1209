"""Base handlers: request ids, security headers, the fixed error shape, JSON bodies, bearer auth."""
from __future__ import annotations

import asyncio
import functools
import logging
import re
import uuid
from concurrent.futures import Executor
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Awaitable, BinaryIO, Callable, ClassVar, Iterable, TypeVar

import orjson
import tornado.web
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tornado.iostream import StreamClosedError

from handlers.uploads import Form, UploadedFile, split_form, spool_file
from models.access import callers, targets
from models.core import policy
from models.core.actors import Actor
from models.core.errors import AppError, Forbidden, Unauthorized
from models.core.policy import Access
from models.identity.sessions import hash_token
from server import db
from server.attachments import inline_headers
from server.config import Config
from server.console import cookie_authenticated
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
_T = TypeVar("_T")
_DB_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, ConnectionError, OSError)


def json_default(value: Any) -> Any:
    """Encode what plain JSON cannot: a datetime as ISO 8601 with a trailing Z."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# Datetimes (and dates) go through json_default, as they did with json.dumps: a datetime in the API's
# form, a date refused. Integer keys become strings, as json.dumps made them.
_ORJSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def encode_json(payload: Any) -> bytes:
    """An answer's JSON as UTF-8 bytes (orjson: about a tenth of json.dumps's time on a queue page)."""
    return orjson.dumps(payload, default=json_default, option=_ORJSON)


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
    #: The body spooled to a temporary file (see `spools_body`), and the form split from it.
    _spool: BinaryIO | None = None
    _form: Form | None = None

    def initialize(self, **_kwargs: Any) -> None:
        """Start the request with no body chunks received."""
        self._chunks = []
        self._received = 0

    @property
    def config(self) -> Config:
        """The app's configuration."""
        return self.settings["config"]  # type: ignore[no-any-return]

    @property
    def engine(self) -> AsyncEngine:
        """The app's async database engine."""
        return self.settings["engine"]  # type: ignore[no-any-return]

    @property
    def cipher(self) -> PiiCipher:
        """The cipher that encrypts and decrypts personal data (ID numbers, names, phones)."""
        return self.settings["cipher"]  # type: ignore[no-any-return]

    @property
    def signer(self) -> QrSigner:
        """The signer of the QR tokens printed on cards."""
        return self.settings["signer"]  # type: ignore[no-any-return]

    @property
    def request_id(self) -> str:
        """The request's id: the client's X-Request-Id when well formed, else a fresh random one."""
        if self._request_id is None:
            incoming = self.request.headers.get("X-Request-Id", "")
            self._request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        return self._request_id

    def set_default_headers(self) -> None:
        """Set the request id and the security headers on every response; drop the Server header."""
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
        """Count each body chunk against the limit (413 once past it) and keep it in memory or the spool."""
        if self._finished:
            return
        self._received += len(chunk)
        if self._received > self.body_limit():
            # A chunked body that grew past the limit: answer now; the connection closes.
            self._chunks.clear()
            self._drop_spool()
            err = self._too_large()
            self.send_error(413, exc_info=(AppError, err, None))
            return
        if self.spools_body():
            if self._spool is None:
                self._spool = spool_file(self.config.data_dir)
            self._spool.write(chunk)  # into the page cache: no wait worth leaving the loop for
            return
        self._chunks.append(chunk)

    # --- uploads spooled to disk ---------------------------------------------------------

    def spools_body(self) -> bool:
        """Whether this request's body goes to a temporary file rather than memory (uploads)."""
        return False

    def spooled_body(self) -> BinaryIO | None:
        """The spooled body (complete once the handler's method runs), or None when there was none."""
        if self._spool is not None:
            self._spool.flush()
        return self._spool

    def _drop_spool(self) -> None:
        """Remove the spooled body and every file split from it."""
        if self._form is not None:
            self._form.close()
            self._form = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def on_finish(self) -> None:
        """Remove the spooled body and its split files when the request ends."""
        self._drop_spool()

    def on_connection_close(self) -> None:
        """Remove the spooled body and its split files when the client goes away."""
        self._drop_spool()
        super().on_connection_close()

    # --- work off the event loop, and the two kinds of transaction ---------------------------

    @property
    def executor(self) -> Executor | None:
        """The app's bounded pool for CPU-bound work (None: the loop's default, outside the app)."""
        return self.settings.get("executor")

    async def offload(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run ``fn(*args, **kwargs)`` in the app's worker pool, so the event loop keeps serving."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    async def send_stored(self, key: str, *, purpose: str, mime: str, name: str) -> None:
        """Answer a file from the attachment store inline (decrypted off the loop)."""
        data = await self.offload(self.settings["attachments"].get, key, purpose=purpose)
        for header, value in inline_headers(mime, name=name).items():
            self.set_header(header, value)
        self.finish(data)

    def reading(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A read-only transaction (deferred on SQLite: it blocks no writer)."""
        return db.reading(self.engine)

    def writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A transaction that writes (IMMEDIATE on SQLite: writers queue), committed on success."""
        return db.writing(self.engine)

    def raw_body(self) -> bytes:
        """The whole request body (complete once the handler's method runs)."""
        if len(self._chunks) != 1:
            self._chunks[:] = [b"".join(self._chunks)]
        return self._chunks[0]

    def _body_unread(self) -> bool:
        """Whether this answer goes out before the request's body was read (yet, or ever).

        Tornado then closes the connection after the answer: it cannot know where the next request
        begins. That holds for a request that declared no body too (a GET refused in ``prepare()``),
        since a streaming handler's body is read only after ``prepare()`` succeeded; so the answer
        says ``Connection: close`` and a client never writes its next request into a closing socket.
        """
        future = getattr(self.request, "_body_future", None)
        return future is not None and not future.done()

    def write_json(self, payload: Any, status: int = 200) -> None:
        """Finish the response with the payload as UTF-8 JSON and the given status."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(encode_json(payload))

    def error_payload(self, exc: BaseException | None, status: int) -> tuple[int, dict[str, Any]]:
        """The status and the error body (without request id) for ``exc``; sets the headers it carries."""
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
        """Answer an error in the fixed shape with the request id, Allow on 405, Connection: close if unread."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        status, body = self.error_payload(exc, status_code)
        body["request_id"] = self.request_id
        if status == 405:
            allowed = [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if self._implements(m)]
            self.set_header("Allow", ", ".join(allowed))
        if self._body_unread():
            # The body was never read: the connection cannot carry another request.
            self.set_header("Connection", "close")
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(encode_json({"error": body}))

    def _implements(self, method: str) -> bool:
        own = getattr(type(self), method.lower(), None)
        return own is not None and own is not getattr(tornado.web.RequestHandler, method.lower(), None)

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        """Log a refusal or HTTP error as info, a database outage as a warning, anything else as an error."""
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

    def check_xsrf_cookie(self) -> None:
        """Cookie-authenticated requests must carry the XSRF token; bearer-token API calls need none."""
        if not cookie_authenticated(self.request):
            return
        try:
            super().check_xsrf_cookie()
        except tornado.web.HTTPError:
            raise Forbidden("xsrf_failed", "页面已过期或来源不明，请刷新页面后重试") from None


class APIHandler(BaseHandler):
    """A JSON API handler: bounded bodies, ids and query strings checked against the published
    schema, the caller loaded from the bearer token.

    Bodies are parsed only when the handler asks (``json_body``, ``uploaded``), after it has
    checked who is calling, so a wrong audience hears 401/403 before anything about the body.
    """

    spec: ClassVar[dict[str, Any]] = {}
    #: True for the staff console's pages (handlers/console/): HTML answers, left out of the API document.
    html: ClassVar[bool] = False
    #: "json" for JSON bodies, "multipart" for uploads, "none" when no body is read.
    accepts: ClassVar[str] = "json"
    #: The most parts a multipart upload may have (the file and a few fields).
    max_parts: ClassVar[int] = 8
    principal: tuple[str, int] | None = None
    _body: Any = None
    _typed_body: BaseModel | None = None
    _query: BaseModel | None = None

    def body_limit(self) -> int:
        """The upload limit for a multipart handler, the JSON limit otherwise."""
        return int(self.config.max_upload_bytes if self.accepts == "multipart" else self.config.max_json_bytes)

    def spools_body(self) -> bool:
        """Spool the body to disk when the handler takes multipart uploads."""
        return self.accepts == "multipart"

    async def prepare(self) -> None:
        """Refuse what the headers alone rule out, check the path ids, then identify and authorize the caller."""
        self._guard_request()
        self._check_path_ids()
        await self._identify_and_authorize()

    def _reading_caller(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """The connection ``prepare`` reads the caller and the target on (``reading_once``). Given back
        before the body is read, so a slow body holds no connection."""
        return self.reading_once()

    def reading_once(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads that need no snapshot shared between statements (one statement, or
        statements each complete by itself): on MySQL one of the app's autocommit twin
        (``server/db.py:autocommit_twin``), which needs no ROLLBACK round trip to give back; else a read
        transaction."""
        twin: AsyncEngine | None = self.settings.get("autocommit_engine")
        return twin.connect() if twin is not None else self.reading()

    def _check_path_ids(self) -> None:
        """Every numeric path id is an int within what an id column holds, else 404 (no such row)."""
        for name, value in list(self.path_kwargs.items()):
            if name.endswith("_id") and isinstance(value, str) and value.isascii() and value.isdigit():
                if len(value) > 16 or not 1 <= int(value) <= ID_MAX:
                    raise AppError("not_found", "找不到请求的内容", status=404)
                self.path_kwargs[name] = int(value)  # type: ignore[assignment]

    def _operation(self) -> dict[str, Any]:
        operation: dict[str, Any] = self.spec.get((self.request.method or "").lower(), {})
        return operation

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

    async def form(self, model: type[Q]) -> tuple[Q, dict[str, list[UploadedFile]]]:
        """An upload's text fields as the operation's declared form model, and its files."""
        self._declared(model, "form")
        arguments, files = await self.uploaded()
        return validate(model, query_values(model, arguments, code="invalid_body")), files

    async def uploaded(self) -> tuple[dict[str, list[bytes]], dict[str, list[UploadedFile]]]:
        """The form fields and files of a multipart upload; a malformed one is ``invalid_multipart``.

        The body was spooled to a temporary file as it came; it is split off the event loop,
        each file into a temporary file of its own (removed when the request ends).
        """
        self._require_caller()
        if self._content_type() != "multipart/form-data":
            raise AppError("unsupported_media_type", "请以 multipart/form-data 上传文件", status=415)
        if self._form is None:
            body = self.spooled_body()
            if body is None:
                raise AppError("invalid_multipart", "上传内容格式不对（multipart/form-data 不完整或字段过多）",
                               status=400)
            self._form = await self.offload(split_form, body, self.request.headers.get("Content-Type", ""),
                                            self.config.data_dir, max_parts=self.max_parts)
        return self._form.fields, self._form.files

    # --- the caller and declared access ------------------------------------------------------
    #: Who may call each method: ``{"get": Access("member.view", Target("member", "member_id"))}``.
    #: Every method a handler implements must be declared (``check_declarations``, run by make_app).
    access: ClassVar[dict[str, Access]] = {}
    #: The one Actor of this request (None for an anonymous caller), built in ``prepare``.
    current_actor: Actor | None = None
    #: What the caller's query found besides the Actor (the cashier's merchant, the reference data's stamp).
    current_caller: callers.Caller | None = None
    #: Set by ``@idempotent(one_transaction=True)``: takes the savepoint a later refusal rolls back to.
    before_writes: Callable[[], Awaitable[None]] | None = None

    def declaration(self) -> Access | None:
        """This request's declared access (None for OPTIONS, which Tornado answers 405 itself)."""
        method = (self.request.method or "GET").lower()
        if method == "head":
            method = "get"
        rule = type(self).access.get(method)
        if rule is None and method != "options":
            raise AppError("forbidden", "没有权限进行此操作", status=403)  # make_app refuses such a route
        return rule

    def _bearer(self) -> str | None:
        """The bearer token the request carries; a malformed Authorization header is refused (401)."""
        header = self.request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS:
            raise Unauthorized("token_invalid", "登录凭证无效，请重新登录")
        return token

    async def _identify_and_authorize(self) -> None:
        """Build the request's Actor from the token (one query), then enforce the declaration: the caller's
        kind and role first, then the target, looked up so that one out of reach answers like a missing one."""
        token = self._bearer()
        rule = self.declaration()
        if token is None and (rule is None or rule.target is None):
            if rule is not None:
                policy.authorize(None, rule.action)
            return
        async with self._reading_caller() as conn:  # one connection for the caller and the target
            if token is not None:
                found = await callers.resolve(conn, hash_token(token), request_id=self.request_id,
                                              ip=self.request.remote_ip)
                self.current_actor = found.actor
                self.current_caller = found
                self.principal = (found.actor.kind, int(found.actor.id or 0))
            if rule is None:
                return
            policy.authorize(self.current_actor, rule.action)
            if rule.target is not None:
                actor = self.current_actor
                assert actor is not None  # authorize refuses an anonymous caller of a targeted action
                kind = rule.target.kind
                ident = self.path_kwargs.get(rule.target.arg) if rule.target.arg else None
                located = await targets.locate(conn, actor, kind, ident)
                if located is None or not policy.in_reach(actor, rule.action, located):
                    raise targets.missing(kind, ident)
                policy.check_record(actor, rule.action, located)

    def caller(self) -> Actor:
        """The logged-in caller (the declaration has already let them through); 401 when anonymous."""
        if self.current_actor is None:
            raise Unauthorized()
        return self.current_actor

    def user_id(self) -> int:
        """The WeChat user behind the caller (for a worker's or a merchant's own routes)."""
        actor = self.caller()
        if actor.user_id is None:
            raise AppError("forbidden", "没有权限进行此操作", status=403)
        return actor.user_id

    def require(self, kind: str) -> int:
        """The caller's id when they are logged in as ``kind`` ("user" or "staff")."""
        actor = self.caller()
        if actor.kind != kind:
            raise AppError("forbidden", "没有权限进行此操作", status=403)
        assert actor.id is not None
        return actor.id

    # --- idempotency (handlers/idempotency.py's ``@idempotent`` asks this) ------------------

    async def idempotency_scope(self, conn: Any) -> str:
        """Whose Idempotency-Keys this request's key is among: the logged-in caller.

        Runs in the claiming transaction before the key or the body is looked at, so a
        handler that narrows the caller (e.g. to a cashier) refuses a wrong one first.
        """
        if self.principal is None:
            raise Unauthorized()
        return f"{self.principal[0]}:{self.principal[1]}"

    # ---------------------------------------------------------------------------------------

    def bearer_token(self) -> str | None:
        """The bearer token of the Authorization header, or None when there is none."""
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class NotFoundHandler(BaseHandler):
    """Every unknown path: 404 in the fixed shape, whatever the method."""

    def prepare(self) -> None:
        """Answer 404 before any body is read."""
        connection = self.request.connection
        if connection is not None and hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(_TRANSPORT_BODY_LIMIT)
        raise tornado.web.HTTPError(404)

    def check_xsrf_cookie(self) -> None:
        """Skip the XSRF check: an unknown path answers 404 whatever the request carries."""
        return None


_METHODS = ("get", "post", "put", "patch", "delete")


def is_html(handler: Any) -> bool:
    """Whether a route's handler is a page of the staff console (HTML, cookie session, not in the API document)."""
    return isinstance(handler, type) and bool(getattr(handler, "html", False))


def check_declarations(routes: Iterable[tuple[Any, ...]]) -> None:
    """Refuse a route table in which an API handler's method has no access declaration, or a declaration
    names an unknown action, an unknown kind of target or a path argument the route does not have."""
    problems: list[str] = []
    for route in routes:
        pattern, handler = route[0], route[1]
        if not (isinstance(handler, type) and issubclass(handler, APIHandler)):
            continue
        groups = set(re.findall(r"\(\?P<(\w+)>", pattern))
        if is_html(handler) != pattern.startswith("/console/"):
            problems.append(f"{pattern}: the console's pages (html = True) and only they live under /console/")
        if is_html(handler) and handler.spec:
            problems.append(f"{pattern}: a console page is HTML, not in the API document: no spec")
        for method in _METHODS:
            own = getattr(handler, method, None)
            if own is None or own is getattr(tornado.web.RequestHandler, method):
                continue
            rule = handler.access.get(method)
            if rule is None:
                problems.append(f"{method.upper()} {pattern}: no access declaration")
                continue
            if rule.action not in policy.ACTIONS:
                problems.append(f"{method.upper()} {pattern}: unknown action {rule.action}")
            published = handler.spec.get(method)
            if published is not None and rule.action in policy.ACTIONS:
                # The document's "login needed" is the declaration's, said twice: they must agree.
                public = "anyone" in policy.ACTIONS[rule.action]
                if public == ("security" in published):
                    problems.append(f"{method.upper()} {pattern}: declared {'public' if public else 'for callers'}"
                                    f" but published {'with' if public else 'without'} a login (op(auth=...))")
            target = rule.target
            if target is not None:
                if not targets.known(target.kind):
                    problems.append(f"{method.upper()} {pattern}: unknown target kind {target.kind}")
                if target.arg is not None and target.arg not in groups:
                    problems.append(f"{method.upper()} {pattern}: no path argument {target.arg}")
                if target.arg is None and target.kind not in targets.OWN:
                    problems.append(f"{method.upper()} {pattern}: target {target.kind} needs a path argument")
        for method in handler.access:
            if method not in _METHODS:
                problems.append(f"{pattern}: access declared for unknown method {method}")
    if problems:
        raise TypeError("access declarations: " + "; ".join(problems))
