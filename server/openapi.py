"""The OpenAPI 3.1 document, assembled from each handler's ``spec`` and the shared schemas.

Handlers declare ``spec = {"post": op(..., body=SomeBody, query=SomeQuery)}`` with pydantic
models (models/core/typed.py): the document publishes the schemas generated from them, and the
base handler validates with the very same models, so what is published is what is checked.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from pydantic import BaseModel

from models.core.typed import FEN_MAX, ID_MAX, INT32_MAX

__all__ = ["FEN_MAX", "ID_MAX", "INT32_MAX", "ERROR_REF", "Operation", "op", "build_document", "openapi_path"]
REF_TEMPLATE = "#/components/schemas/{model}"

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


def integer(minimum: int = 0, maximum: int = INT32_MAX, *, nullable: bool = False, **kw: Any) -> dict[str, Any]:
    """An integer schema; every integer a request carries is bounded to fit its column."""
    return {"type": ["integer", "null"] if nullable else "integer", "minimum": minimum, "maximum": maximum, **kw}


def id_schema(*, nullable: bool = False) -> dict[str, Any]:
    """A row id as a request names it."""
    return integer(1, ID_MAX, nullable=nullable)


def ref(name: str) -> dict[str, str]:
    """A reference to a shared schema under components/schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def binary(description: str, types: Iterable[str]) -> dict[str, Any]:
    """A response that is a file itself (an image, a PDF) of one of ``types``."""
    return {"description": description, "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                    for t in types}}


def obj(properties: dict[str, Any], required: Iterable[str] = (), *, extra: bool = False) -> dict[str, Any]:
    """A JSON object schema; unknown fields are refused unless ``extra``."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": list(required)}
    if not extra:
        schema["additionalProperties"] = False
    return schema


def string(*, min_len: int = 0, max_len: int | None = None, pattern: str | None = None, **kw: Any) -> dict[str, Any]:
    """A string schema (responses)."""
    schema: dict[str, Any] = {"type": "string", "minLength": min_len, **kw}
    if max_len is not None:
        schema["maxLength"] = max_len
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema, or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def page(item: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A page of a list: ``{"items": [...], "next": cursor or null}`` (and any fields beside them)."""
    return obj({"items": {"type": "array", "items": item},
                "next": {"type": ["string", "null"], "description": "下一页的游标（?cursor=），没有更多时为 null"},
                **more}, ["items", "next", *more])


class Operation(dict[str, Any]):
    """One published operation, remembering the models its body and query were declared with."""

    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    form: type[BaseModel] | None = None
    defs: dict[str, Any]


def model_schema(model: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a model; the models it nests are added to ``defs`` (components/schemas)."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    defs.update(schema.pop("$defs", {}))
    return schema


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is text or absent, never null: drop the null branch of an optional field."""
    alternatives = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
    if "anyOf" in schema and len(alternatives) == 1:
        outer = {k: v for k, v in schema.items() if k not in ("anyOf", "default", "title")}
        return {**alternatives[0], **outer}
    return {k: v for k, v in schema.items() if k != "title" and not (k == "default" and v is None)}


def query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The query parameters a query model publishes, one per field."""
    schema = model_schema(model, defs)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": _not_null(prop)}
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return params


def op(
    summary: str,
    *,
    responses: dict[int, Any],
    body: type[BaseModel] | dict[str, Any] | None = None,
    query: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    files: Iterable[str] = (),
    auth: bool = True,
    description: str = "",
    tags: Iterable[str] = (),
    parameters: list[dict[str, Any]] | None = None,
    content_type: str = "application/json",
) -> Operation:
    """One operation. ``body`` and ``query`` are the pydantic models the request is validated with
    (an upload: ``form`` types its text fields, ``files`` names its file fields); ``responses`` maps
    status to a schema (JSON), ``ERROR_REF`` or a full response; ``parameters`` holds headers only."""
    out = Operation(summary=summary, tags=list(tags), responses={})
    out.defs = {}
    if description:
        out["description"] = description
    if auth:
        out["security"] = [{"bearer": []}]
    params = list(parameters or [])
    if query is not None:
        out.query = query
        params += query_parameters(query, out.defs)
    if params:
        out["parameters"] = params
    if form is not None:
        out.form = form
        schema = model_schema(form, out.defs)
        schema["properties"] = {**{f: {"type": "string", "format": "binary"} for f in files}, **schema["properties"]}
        schema["required"] = [*files, *schema.get("required", [])]
        schema.pop("additionalProperties", None)
        out["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    if body is not None:
        if isinstance(body, dict):
            schema = body
        else:
            out.body = body
            schema = model_schema(body, out.defs)
        out["requestBody"] = {"required": True, "content": {content_type: {"schema": schema}}}
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
    defs: dict[str, Any] = {}
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
        for operation in spec.values():
            for name, schema in getattr(operation, "defs", {}).items():
                if defs.setdefault(name, schema) != schema:
                    raise ValueError(f"two request models are both named {name}")
    components = {**COMPONENTS, "schemas": {**COMPONENTS["schemas"], **extra_schemas, **defs}}
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
