"""The OpenAPI 3.1 document, assembled from each handler's ``spec`` and the shared schemas.

Handlers declare ``spec = {"post": op(...)}``; request bodies are validated
against the same schema the document publishes (server/validation.py).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

ERROR_REF = {"$ref": "#/components/responses/Error"}

COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "request_id"],
                    "properties": {
                        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                        "message": {"type": "string"},
                        "request_id": {"type": "string"},
                        "details": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "field": {"type": ["string", "null"]},
                                    "reason": {"type": "string"},
                                },
                            },
                        },
                    },
                }
            },
        },
    },
    "responses": {
        "Error": {
            "description": "错误：`{\"error\": {\"code\", \"message\", \"request_id\"}}`",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    },
    "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "登录后得到的不透明令牌"}
    },
}


#: The largest id a path, query or body may name: every id column is a 64-bit integer, and
#: JSON clients (JavaScript) hold integers exactly only up to 2**53 - 1.
ID_MAX = 2**53 - 1
#: The largest value of a 32-bit INT column (MariaDB refuses more; SQLite would store it).
INT32_MAX = 2**31 - 1
#: The largest amount of money, in fen, any request may carry (one hundred million yuan).
FEN_MAX = 10**10


def integer(minimum: int = 0, maximum: int = INT32_MAX, *, nullable: bool = False, **kw: Any) -> dict[str, Any]:
    """An integer schema; every integer a request carries is bounded to fit its column."""
    return {"type": ["integer", "null"] if nullable else "integer", "minimum": minimum, "maximum": maximum, **kw}


def id_schema(*, nullable: bool = False) -> dict[str, Any]:
    """A row id as a request names it."""
    return integer(1, ID_MAX, nullable=nullable)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: Iterable[str] = (), *, extra: bool = False) -> dict[str, Any]:
    """A JSON object schema; unknown fields are refused unless ``extra``."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": list(required)}
    if not extra:
        schema["additionalProperties"] = False
    return schema


def string(*, min_len: int = 0, max_len: int | None = None, pattern: str | None = None, **kw: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": min_len, **kw}
    if max_len is not None:
        schema["maxLength"] = max_len
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def op(
    summary: str,
    *,
    responses: dict[int, Any],
    body: dict[str, Any] | None = None,
    auth: bool = True,
    description: str = "",
    tags: Iterable[str] = (),
    parameters: list[dict[str, Any]] | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    """One operation. ``responses`` maps status to a schema (JSON), ``ERROR_REF`` or a full response."""
    out: dict[str, Any] = {"summary": summary, "tags": list(tags), "responses": {}}
    if description:
        out["description"] = description
    if auth:
        out["security"] = [{"bearer": []}]
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = {"required": True, "content": {content_type: {"schema": body}}}
    for status, schema in responses.items():
        if schema is ERROR_REF or (isinstance(schema, dict) and "description" in schema):
            out["responses"][str(status)] = schema
        else:
            out["responses"][str(status)] = {
                "description": "成功" if status < 300 else "响应",
                "content": {"application/json": {"schema": schema}},
            }
    if auth and "401" not in out["responses"]:
        out["responses"]["401"] = ERROR_REF
    out["responses"].setdefault("default", ERROR_REF)
    return out


_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def openapi_path(pattern: str) -> str:
    """Turn a Tornado route regex like ``/a/(?P<id>[0-9]+)`` into ``/a/{id}``."""
    path = _GROUP.sub(lambda m: "{" + m.group(1) + "}", pattern)
    return path.rstrip("$")


def build_document(routes: Iterable[tuple[Any, ...]], extra_schemas: dict[str, Any]) -> dict[str, Any]:
    """The whole document from the route table; every route must declare a ``spec``."""
    paths: dict[str, Any] = {}
    for route in routes:
        pattern, handler = route[0], route[1]
        spec = getattr(handler, "spec", None)
        if not spec:
            continue
        item = paths.setdefault(openapi_path(pattern), {})
        params = re.findall(r"\(\?P<(\w+)>([^)]*)\)", pattern)
        if params:
            item["parameters"] = [
                {"name": name, "in": "path", "required": True,
                 "schema": id_schema() if group == "[0-9]+" else {"type": "string", "pattern": f"^{group}$"}}
                for name, group in params
            ]
        item.update(spec)
    components = {**COMPONENTS, "schemas": {**COMPONENTS["schemas"], **extra_schemas}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "UnionAid 职工维权帮扶中心 API",
            "version": "1",
            "description": "金额一律以分为单位的整数；时间为 UTC ISO 8601。错误统一为 "
            "`{\"error\": {\"code\", \"message\", \"request_id\"}}`。",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": components,
    }
