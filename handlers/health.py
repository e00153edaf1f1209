"""Liveness and readiness probes, and the OpenAPI document."""
from __future__ import annotations

import os

from handlers.base import APIHandler
from models.core.policy import PUBLIC
from server.db import ping
from server.openapi import integer, op, string


class HealthHandler(APIHandler):
    """The process is up; touches nothing else. Says which worker answered (``serve --workers N``)."""

    access = {"get": PUBLIC}
    spec = {
        "get": op("进程存活检查（并说明由哪个工作进程应答）", auth=False, tags=["ops"],
                  responses={200: {"type": "object",
                                   "properties": {"status": string(), "worker": integer(), "pid": integer()},
                                   "required": ["status", "worker", "pid"]}})
    }

    async def get(self) -> None:
        """Answer that the process is up, with its worker number (0 to N-1) and process id."""
        self.write_json({"status": "ok", "worker": int(self.settings.get("worker", 0)), "pid": os.getpid()})


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
