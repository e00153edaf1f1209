"""The HTTP base: the fixed error shape everywhere, request ids, security headers, probes."""
from __future__ import annotations

import json
import logging

import pytest


async def test_unknown_path_is_404_in_fixed_shape(api):
    for method in ("GET", "POST", "DELETE"):
        resp = await api.request(method, "/no/such/path")
        assert resp.status == 404
        assert resp.error_code == "not_found"
        assert resp.data["error"]["request_id"] == resp.headers["X-Request-Id"]


async def test_wrong_method_is_405(api):
    resp = await api.request("DELETE", "/api/v1/me", validate=False)
    assert resp.status == 405
    assert resp.error_code == "method_not_allowed"
    assert "GET" in resp.headers["Allow"]
    api._validate({"$ref": "#/components/schemas/Error"}, resp.data)


async def test_uncaught_exception_is_a_clean_500(api, caplog):
    with caplog.at_level(logging.ERROR, logger="unionaid.http"):
        resp = await api.get("/__test__/boom", headers={"X-Request-Id": "req-boom-12345"})
    assert resp.status == 500
    assert resp.error_code == "internal_error"
    text = resp.body.decode()
    assert "secret internal detail" not in text and "Traceback" not in text
    assert resp.data["error"]["request_id"] == "req-boom-12345"
    assert any("req-boom-12345" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_request_id_generated_or_echoed(api):
    fresh = await api.get("/healthz")
    assert len(fresh.headers["X-Request-Id"]) >= 16
    echoed = await api.get("/healthz", headers={"X-Request-Id": "abcdef12-3456"})
    assert echoed.headers["X-Request-Id"] == "abcdef12-3456"
    hostile = await api.get("/healthz", headers={"X-Request-Id": "<script>alert(1)</script>"})
    assert "<" not in hostile.headers["X-Request-Id"]


async def test_security_headers(api):
    resp = await api.get("/api/v1/me")
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert name in resp.headers
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Server" not in resp.headers


async def test_probes(api, engine):
    import os

    # The test app is one process, worker 0 (serve --workers N numbers them 0 to N-1).
    assert (await api.get("/healthz")).data == {"status": "ok", "worker": 0, "pid": os.getpid()}
    ready = await api.get("/readyz")
    assert ready.status == 200 and ready.data["database"] == engine.dialect.name


async def test_structured_access_log(api, caplog):
    with caplog.at_level(logging.INFO, logger="unionaid.access"):
        await api.get("/healthz", headers={"X-Request-Id": "access-log-test-1"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "unionaid.access"]  # a JSON object each
    assert any(line["request_id"] == "access-log-test-1" and line["status"] == 200 and line["path"] == "/healthz"
               for line in lines)


async def test_lost_database_connection_is_503_then_recovers(api, backend):
    if backend != "mysql":
        pytest.skip("killing a server connection needs MySQL")
    resp = await api.get("/__test__/kill-db")
    assert resp.status == 503
    assert resp.error_code == "database_unavailable"
    assert "Retry-After" in resp.headers
    for _ in range(3):
        ready = await api.get("/readyz")
        assert ready.status == 200
