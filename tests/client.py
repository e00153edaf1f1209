"""An HTTP client for tests that validates every JSON answer against the OpenAPI document."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from tornado.httpclient import AsyncHTTPClient, HTTPRequest


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes
    data: Any = field(default=None)

    @property
    def error_code(self) -> str | None:
        if isinstance(self.data, dict) and isinstance(self.data.get("error"), dict):
            return self.data["error"].get("code")
        return None


class ApiClient:
    def __init__(self, base_url: str, document: dict[str, Any]) -> None:
        self.base_url = base_url
        self.document = document
        self.client = AsyncHTTPClient()
        self.validated: set[tuple[str, str, str]] = set()
        self._paths = [
            (re.compile("^" + re.sub(r"\{\w+\}", r"[^/]+", p) + "$"), p) for p in document["paths"]
        ]

    def _template(self, path: str) -> str | None:
        for regex, template in self._paths:
            if regex.match(path):
                return template
        return None

    def check(self, method: str, path: str, resp: Response) -> None:
        """Validate one answer against the documented schema for its path, method and status."""
        template = self._template(path.split("?")[0])
        ctype = resp.headers.get("Content-Type", "")
        if template is None:
            # Undocumented paths must still answer errors in the fixed shape.
            if resp.status >= 400:
                self._validate({"$ref": "#/components/schemas/Error"}, resp.data)
            return
        operation = self.document["paths"][template].get(method.lower())
        assert operation is not None, f"{method} {template} is not documented"
        responses = operation["responses"]
        spec = responses.get(str(resp.status)) or responses.get("default")
        assert spec is not None, f"{method} {template} answered {resp.status}, which is not documented"
        if "$ref" in spec:
            spec = self.document["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
        content = spec.get("content", {})
        if "application/json" in ctype:
            schema = content.get("application/json", {}).get("schema")
            assert schema is not None, f"{method} {template} {resp.status} answered JSON not documented"
            self._validate(schema, resp.data)
        self.validated.add((method.upper(), template, str(resp.status)))

    def _validate(self, schema: dict[str, Any], data: Any) -> None:
        Draft202012Validator({**schema, "components": self.document["components"]}).validate(data)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        validate: bool = True,
        timeout: float = 30.0,
    ) -> Response:
        hdrs = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False)
            hdrs.setdefault("Content-Type", "application/json")
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if body is None and method.upper() in ("POST", "PUT", "PATCH"):
            body = b""
        req = HTTPRequest(
            self.base_url + path, method=method.upper(), headers=hdrs, body=body,
            request_timeout=timeout, allow_nonstandard_methods=True,
        )
        raw = await self.client.fetch(req, raise_error=False)
        resp = Response(raw.code, raw.headers, raw.body or b"")
        if "application/json" in raw.headers.get("Content-Type", ""):
            resp.data = json.loads(resp.body.decode("utf-8"))
        if validate:
            self.check(method, path, resp)
        return resp

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json_body: Any = None, **kw: Any) -> Response:
        return await self.request("POST", path, json_body=json_body, **kw)

    async def login(self, code: str = "alice.1") -> str:
        """Log a worker in through the sandbox; returns the bearer token."""
        resp = await self.post("/api/v1/auth/wechat", {"code": code})
        assert resp.status == 200, resp.data
        return str(resp.data["token"])
