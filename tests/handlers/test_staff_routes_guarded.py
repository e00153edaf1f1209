"""Every staff route, found in the route table, refuses the anonymous (401) and workers (403)."""
from __future__ import annotations

import re

from server.app import ROUTES
from tests.handlers.test_openapi import _implemented


def _staff_calls():
    for pattern, handler, *_ in ROUTES:
        if not pattern.startswith("/api/v1/staff/"):
            continue
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: "G1" if "code" in m.group(1) else "1", pattern)
        for method in sorted(_implemented(handler)):
            yield method.upper(), path, getattr(handler, "accepts", "json")


async def test_every_staff_route_needs_a_staff_login(api):
    calls = list(_staff_calls())
    assert len(calls) >= 12
    worker = await api.login("wally.1")
    for method, path, accepts in calls:
        headers = {"Content-Type": "multipart/form-data; boundary=x"} if accepts == "multipart" else {}
        body = None if method == "GET" or accepts == "multipart" else {}
        for token, status in ((None, 401), (worker, 403)):
            resp = await api.request(method, path, json_body=body, headers=dict(headers), token=token)
            assert resp.status == status, (method, path, token is not None, resp.data)
