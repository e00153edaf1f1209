"""The HTTP server: Tornado's, made to answer every request it reads, oversized headers included,
and to finish the requests it has begun when it stops.

Tornado closes a connection whose request headers exceed ``max_header_size`` without a word;
a client (or a proxy) then cannot tell a refusal from a network fault. Here such a request
gets ``431`` in the fixed error shape before the connection closes.

Tornado's ``close_all_connections`` closes every connection at once, a request half-answered
included. ``drain`` waits first for the requests in flight (read, not yet answered) to end, up to
``DRAIN_SECONDS``, answering them with ``Connection: close``, and only then closes what is left.
"""
from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import Any

import tornado.httpserver
import tornado.web
from tornado import httputil
from tornado.iostream import IOStream, UnsatisfiableReadError

from server.config import Config

#: The most bytes of request line and headers a request may have (a bearer token is 43).
MAX_HEADER_BYTES = 16 * 1024
#: How long, and how much, a refused connection is drained before it closes.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 4 * 1024 * 1024
#: How long a stopping server waits for its requests in flight before it closes their connections
#: (under the 30 s a process manager usually allows between SIGTERM and SIGKILL).
DRAIN_SECONDS = 25.0


def _refusal(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message, "request_id": uuid.uuid4().hex}},
                      ensure_ascii=False).encode("utf-8")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    return head.encode("ascii") + body


_HEADERS_TOO_LARGE = _refusal(431, "Request Header Fields Too Large", "headers_too_large", "请求头过大")
_MALFORMED = _refusal(400, "Bad Request", "bad_request", "请求格式不对")


async def _linger(sock: socket.socket) -> None:
    """Read and drop what the client still sends, then close: closing a socket with unread
    input sends a TCP reset, which can destroy the answer before the client reads it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _LINGER_SECONDS
    drained = 0
    try:
        sock.setblocking(False)
        while drained < _LINGER_BYTES and loop.time() < deadline:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), deadline - loop.time())
            if not chunk:
                break
            drained += len(chunk)
    except (OSError, asyncio.TimeoutError):
        pass
    finally:
        sock.close()


def _answer_before_close(stream: IOStream, header_limit: int, lingering: set[asyncio.Future[None]]) -> None:
    """Send a shaped refusal when the stream is closed for an unsatisfiable (too long) read."""
    close = stream.close

    def close_with_answer(exc_info: Any = False) -> None:
        error = exc_info[1] if isinstance(exc_info, tuple) else exc_info
        if isinstance(error, UnsatisfiableReadError) and not stream.closed() and stream.socket is not None:
            # Header lines are read with max_bytes=header_limit; a chunk-size line with 64.
            limit = getattr(stream, "_read_max_bytes", None) or 0
            answer = _HEADERS_TOO_LARGE if limit >= header_limit else _MALFORMED
            try:
                stream.socket.send(answer)
                stream.socket.shutdown(socket.SHUT_WR)
                # A second descriptor keeps the connection open while the rest is drained.
                task = asyncio.ensure_future(_linger(stream.socket.dup()))
                lingering.add(task)
                task.add_done_callback(lingering.discard)
            except OSError:
                pass
        close(exc_info)

    stream.close = close_with_answer  # type: ignore[method-assign]


class _Counted(httputil.HTTPMessageDelegate):
    """Marks its request in flight from its headers until its answer is written (or the connection goes)."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, request_conn: Any, server: HTTPServer) -> None:
        self.delegate = delegate
        self.request_conn = request_conn
        self.server = server

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Any:
        self.server._begin(self.request_conn)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()

    def on_connection_close(self) -> None:
        self.server._end(self.request_conn)
        self.delegate.on_connection_close()


class HTTPServer(tornado.httpserver.HTTPServer):
    """Tornado's HTTP server whose connections answer oversized headers with 431, and which drains."""

    _lingering: set[asyncio.Future[None]]
    _in_flight: set[Any]
    _draining: bool

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        """Serve a new connection whose oversized headers are answered 431 before it closes."""
        if not hasattr(self, "_lingering"):
            self._lingering = set()
        _answer_before_close(stream, MAX_HEADER_BYTES, self._lingering)
        super().handle_stream(stream, address)

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        """The app's delegate for one request, counted while the request is in flight."""
        return _Counted(super().start_request(server_conn, request_conn), request_conn, self)

    @property
    def in_flight(self) -> int:
        """How many requests have been read and are not answered yet."""
        return len(getattr(self, "_in_flight", ()))

    def _begin(self, request_conn: Any) -> None:
        if not hasattr(self, "_in_flight"):
            self._in_flight = set()
        self._in_flight.add(request_conn)
        if getattr(self, "_draining", False):
            request_conn._disconnect_on_finish = True
        # Resolved once the answer is written and flushed, or the connection is gone (Tornado 6).
        finished = getattr(request_conn, "_finish_future", None)
        if finished is not None:
            finished.add_done_callback(lambda _f: self._end(request_conn))

    def _end(self, request_conn: Any) -> None:
        getattr(self, "_in_flight", set()).discard(request_conn)

    async def drain(self, timeout: float = DRAIN_SECONDS) -> int:
        """After ``stop()``: let the requests in flight finish (at most ``timeout`` seconds), each answered
        with ``Connection: close``, then close every connection; how many were cut at the deadline."""
        self._draining = True
        self.conn_params.no_keep_alive = True  # requests read from now on end their connection
        for request_conn in getattr(self, "_in_flight", ()):
            request_conn._disconnect_on_finish = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.in_flight and loop.time() < deadline:
            await asyncio.sleep(0.02)
        cut = self.in_flight
        await self.close_all_connections()
        return cut


def make_http_server(app: tornado.web.Application, config: Config) -> HTTPServer:
    """The server for ``app``: bounded headers; bodies are bounded per route by the handlers."""
    return HTTPServer(app, max_header_size=MAX_HEADER_BYTES,
                      max_body_size=config.max_upload_bytes + 1024 * 1024, xheaders=config.trust_proxy)
