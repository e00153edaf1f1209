"""A console form that must act once per form shown (a payment, a batch of payments): the form carries a key
made when it was shown, and the action is kept under it exactly as the API's ``@idempotent`` keeps an answer
(``models/core/idempotency.py``), so a double submit, or a resubmit after a lost answer, acts once."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from handlers.console.base import ConsoleHandler
from models.core import idempotency
from models.core.errors import AppError

FIELD = "idempotency_key"


def new_key() -> str:
    """The key of a form being shown (a new one each time the form is shown)."""
    return uuid.uuid4().hex


class OnceHandler(ConsoleHandler):
    """A console page whose POST acts once per form shown (see the module's docstring)."""

    async def once(self, key: str | None, body: BaseModel,
                   act: Callable[[Any], Awaitable[dict[str, Any]]]) -> None:
        """Run ``act`` in a transaction with the kept answer, unless this form's key already acted: then its
        kept outcome stands (a kept refusal is raised again). Another body under the same key is refused."""
        key = idempotency.check_key(key)
        digest = idempotency.body_hash(body.model_dump(mode="json"))
        async with self.writing() as conn:
            scope = f"{await self.idempotency_scope(conn)}:{hashlib.sha256(self.request.path.encode()).hexdigest()[:24]}"
            replay = await idempotency.claim(conn, scope, key, digest)
        if replay is not None:
            if replay.status < 400:
                return
            error = replay.body.get("error", {})
            raise AppError(str(error.get("code", "refused")), str(error.get("message", "")), status=replay.status,
                           details=error.get("details"))
        try:
            async with self.writing() as conn:
                await idempotency.finish(conn, scope, key, 200, await act(conn))
        except AppError as exc:
            _, error = self.error_payload(exc, exc.status)
            async with self.writing() as conn:
                await idempotency.finish(conn, scope, key, exc.status, {"error": error})
            raise
        except BaseException:
            async with self.writing() as conn:
                await idempotency.release(conn, scope, key)
            raise
