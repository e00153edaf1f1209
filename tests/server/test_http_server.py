"""The server's graceful stop: requests in flight are answered, then every connection is closed."""
from __future__ import annotations

import asyncio

import tornado.netutil
import tornado.web

from server.config import load_config
from server.http_server import make_http_server


async def _serve(tmp_path, go: asyncio.Event):
    class Slow(tornado.web.RequestHandler):
        async def get(self) -> None:
            await go.wait()
            self.write("done")

    class Fast(tornado.web.RequestHandler):
        def get(self) -> None:
            self.write("fast")

    app = tornado.web.Application([(r"/slow", Slow), (r"/fast", Fast)])
    server = make_http_server(app, load_config(env={}, data_dir=tmp_path))
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


async def _request(port: int, path: str):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def _until(check) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never came")


async def test_a_stopping_server_answers_its_requests_in_flight_then_closes(tmp_path):
    go = asyncio.Event()
    server, port = await _serve(tmp_path, go)
    slow_reader, slow_writer = await _request(port, "/slow")
    idle_reader, idle_writer = await _request(port, "/fast")  # answered, then kept alive, idle
    assert b"fast" in await idle_reader.readuntil(b"fast")
    await _until(lambda: server.in_flight == 1)
    server.stop()
    drain = asyncio.ensure_future(server.drain())
    for _ in range(5):
        await asyncio.sleep(0.02)
    assert not drain.done()  # it waits for the slow request
    try:
        await asyncio.open_connection("127.0.0.1", port)
        raise AssertionError("a stopped server accepted a connection")
    except OSError:
        pass
    go.set()
    answer = await slow_reader.read()  # to the end: the server closes after answering
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"done")
    assert b"\r\nConnection: close\r\n" in answer
    assert await drain == 0
    assert await idle_reader.read() == b""  # the idle connection was closed
    for writer in (slow_writer, idle_writer):
        writer.close()


async def test_a_request_still_running_at_the_deadline_is_cut(tmp_path):
    go = asyncio.Event()
    server, port = await _serve(tmp_path, go)
    reader, writer = await _request(port, "/slow")
    await _until(lambda: server.in_flight == 1)
    server.stop()
    assert await server.drain(timeout=0.1) == 1
    assert await reader.read() == b""
    assert server.in_flight == 0
    writer.close()
    go.set()
