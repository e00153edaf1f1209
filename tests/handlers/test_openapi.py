"""Every route is documented, and the document is valid OpenAPI."""
from __future__ import annotations

import tornado.web

from handlers.base import is_html
from server.app import ROUTES
from server.openapi import openapi_path

METHODS = ("get", "post", "put", "patch", "delete")


def _implemented(handler: type) -> set[str]:
    return {m for m in METHODS if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)}


async def test_every_route_and_method_is_documented(api):
    doc = (await api.get("/api/v1/openapi.json")).data
    assert doc["openapi"].startswith("3.1")
    for pattern, handler, *_ in ROUTES:
        path = openapi_path(pattern)
        if is_html(handler):  # the console's pages: HTML, never in the API document
            assert path not in doc["paths"], f"{path} is a console page"
            continue
        assert path in doc["paths"], f"{path} is not documented"
        documented = {m for m in doc["paths"][path] if m in METHODS}
        assert documented == _implemented(handler), f"{path}: {documented} vs {_implemented(handler)}"
        for method in documented:
            operation = doc["paths"][path][method]
            assert operation["summary"] and operation["responses"], f"{method} {path}"


async def test_document_refs_resolve(api):
    doc = (await api.get("/api/v1/openapi.json")).data

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                parts = node["$ref"].lstrip("#/").split("/")
                target = doc
                for part in parts:
                    target = target[part]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)


def test_path_conversion():
    assert openapi_path(r"/api/v1/cards/(?P<card_id>[0-9]+)/freeze") == "/api/v1/cards/{card_id}/freeze"
