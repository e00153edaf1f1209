"""Liveness and readiness probes, and the OpenAPI document."""
from __future__ import annotations

from handlers.base import APIHandler
from models.core.policy import PUBLIC
from server.db import ping
from server.openapi import op, string


class HealthHandler(APIHandler):
    """The process is up; touches nothing else."""

    access = {"get": PUBLIC}
    spec = {
        "get": op("进程存活检查", auth=False, tags=["ops"],
                  responses={200: {"type": "object", "properties": {"status": string()}, "required": ["status"]}})
    }

    async def get(self) -> None:
        """Answer that the process is up."""
        self.write_json({"status": "ok"})


class ReadyHandler(APIHandler):
    """The database answers; 503 otherwise."""

    access = {"get": PUBLIC}
    spec = {
        "get": op("就绪检查（数据库可用）", auth=False, tags=["ops"],
                  responses={200: {"type": "object", "properties": {"status": string(), "database": string()},
                                   "required": ["status", "database"]}, 503: {"$ref": "#/components/responses/Error"}})
    }

    async def get(self) -> None:
        """Answer that the process is up and the database answers (503 when it does not)."""
        self.write_json({"status": "ok", "database": await ping(self.engine)})


class OpenAPIHandler(APIHandler):
    """The published OpenAPI 3.1 document of this API."""

    access = {"get": PUBLIC}
    spec = {"get": op("本 API 的 OpenAPI 3.1 文档", auth=False, tags=["ops"], responses={200: {"type": "object"}})}

    async def get(self) -> None:
        """Serve the OpenAPI document built when the app started."""
        self.write_json(self.settings["openapi"])


routes = [
    (r"/healthz", HealthHandler),
    (r"/readyz", ReadyHandler),
    (r"/api/v1/openapi.json", OpenAPIHandler),
]
