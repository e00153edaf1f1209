"""The one error type of the service, raised by models, handlers and the CLI.

Handlers render it as ``{"error": {"code", "message", "request_id"}}``;
``code`` is stable English for programs, ``message`` Chinese for people.
"""
from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error meant for the caller: a stable code, an HTTP status, a Chinese message."""

    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(
        self,
        code: str | None = None,
        message: str | None = None,
        *,
        status: int | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code or type(self).code
        self.message = message or type(self).message
        self.status = status or type(self).status
        self.details = details
        self.headers = headers or {}
        super().__init__(f"{self.code}: {self.message}")


class Invalid(AppError):
    """A request whose content is wrong (400)."""

    status = 400
    code = "invalid"
    message = "请求内容有误"


class Unauthorized(AppError):
    """A caller who is not logged in, or whose token is no good (401)."""

    status = 401
    code = "unauthorized"
    message = "请先登录"


class Forbidden(AppError):
    """A caller who may not do this (403)."""

    status = 403
    code = "forbidden"
    message = "没有权限进行此操作"


class NotFound(AppError):
    """Something that does not exist, or is out of the caller's reach (404)."""

    status = 404
    code = "not_found"
    message = "找不到请求的内容"


class Conflict(AppError):
    """A request that clashes with the current state; refresh and retry (409)."""

    status = 409
    code = "conflict"
    message = "操作冲突，请刷新后重试"


class Unprocessable(AppError):
    """A well-formed request that cannot be carried out (422)."""

    status = 422
    code = "unprocessable"
    message = "请求无法处理"


class RateLimited(AppError):
    """Too many tries in too short a time; wait and retry (429)."""

    status = 429
    code = "rate_limited"
    message = "操作过于频繁，请稍后再试"


class Upstream(AppError):
    """A service we depend on (WeChat) failed; the caller may retry later."""

    status = 502
    code = "upstream_unavailable"
    message = "微信服务暂时不可用，请稍后重试"


class Unavailable(AppError):
    """The service cannot answer right now; retry later (503)."""

    status = 503
    code = "service_unavailable"
    message = "服务暂时不可用，请稍后重试"
