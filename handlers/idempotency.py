"""``@idempotent``: the Idempotency-Key of a POST as one declaration on the handler method.

Declared on a method of an ``APIHandler``::

    class RefundHandler(APIHandler):
        @idempotent()
        async def post(self, conn, redemption_id: int) -> dict[str, Any]:
            return {...}   # or (201, {...})

The decorated method runs inside the transaction that also keeps its answer, and
returns that answer instead of writing it. Around it:

1. in a first transaction: the caller's scope (``APIHandler.idempotency_scope``, which
   may refuse the caller before anything about the request is read), the key, the
   body's hash, the claim, and ``on_claim`` (work that must commit even when the
   method is then refused, e.g. spending a scan session);
2. the same key and body already answered: that answer again (status and body, with
   ``Idempotent-Replayed: true``); another body: 422; still running: 409;
3. in a second transaction: the method and the kept answer (both or neither). A
   refusal (``AppError``) is kept too; any other failure frees the key for a retry.

With ``one_transaction=True`` (the counter's redemptions) all of it runs in one transaction:
``on_claim``, a savepoint, the method, and the key claimed with the kept answer in one insert
(``idempotency.keep``, no claim up front). A refusal rolls back to the savepoint (``on_claim``'s
work stays) and is kept; any other failure rolls everything back. A duplicate is found either
by ``on_claim`` refusing it (the redemption's scan is spent; a live duplicate waits on the scan's
lock first) or by the insert meeting the first request's key (waiting for its commit); either
way everything it did rolls back, and the first answer is read and replayed (422 for another
body). On SQLite, writers queue anyway. With ``optional=True`` a request without the header simply runs the
method once in a transaction of its own (the relief draft's creation: a phone may send a key); ``before``
runs before any transaction on every request (the draft's content check, a call to WeChat). A method that raises its
refusals before it writes may say so (``refusals_before_writes=True``): the savepoint is then
taken only when it calls ``handler.before_writes()``, which it does before a write that a
refusal could follow (the redemption: only when it takes more than one programme's quota).
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from handlers.base import encode_json
from models.core import idempotency
from models.core.errors import AppError, Conflict

if TYPE_CHECKING:
    from handlers.base import APIHandler

HEADER = "Idempotency-Key"
#: The header as an OpenAPI parameter, for the spec of every idempotent operation.
IDEMPOTENCY_HEADER = {"name": HEADER, "in": "header", "required": True,
                      "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{8,64}$"}}
#: ... for an operation that takes it when the client sends it (``idempotent(optional=True)``).
OPTIONAL_IDEMPOTENCY_HEADER = {**IDEMPOTENCY_HEADER, "required": False}

Answer = dict[str, Any] | tuple[int, dict[str, Any]]
Work = Callable[..., Awaitable[Answer]]
# The connection is typed Any: handlers import nothing of SQLAlchemy (.importlinter).
OnClaim = Callable[[Any, Any], Awaitable[None]]
Before = Callable[[Any], Awaitable[None]]


def idempotent(*, on_claim: OnClaim | None = None, one_transaction: bool = False,
               refusals_before_writes: bool = False, optional: bool = False,
               before: Before | None = None) -> Callable[[Work], Callable[..., Awaitable[None]]]:
    """Declare a handler method idempotent by its ``Idempotency-Key`` header (see the module's docstring).

    ``optional``: without the header the method simply runs once in a transaction of its own (an operation
    that took no key before, whose clients may now send one). ``before(handler)`` runs first, outside any
    transaction (work that must not hold a connection, such as a call to WeChat), on every request.
    """

    def declare(method: Work) -> Callable[..., Awaitable[None]]:
        @functools.wraps(method)
        async def run(self: APIHandler, *args: Any, **kwargs: Any) -> None:
            if before is not None:
                await before(self)
            if optional and not self.request.headers.get(HEADER):
                async with self.engine.begin() as conn:
                    result = await method(self, conn, *args, **kwargs)
                status, body = _status_and_body(result)
                self.write_json(body, status)
                return
            if one_transaction:
                path_digest = hashlib.sha256(self.request.path.encode("utf-8")).hexdigest()[:24]
                await _run_in_one(self, method, on_claim, args, kwargs, path_digest, lazy=refusals_before_writes)
                return
            await _run_once(self, method, on_claim, args, kwargs)

        run.idempotent = True  # type: ignore[attr-defined]
        return run

    return declare


def _status_and_body(result: Answer) -> tuple[int, dict[str, Any]]:
    """A method's answer as (status, body): a bare body is a 200."""
    return result if isinstance(result, tuple) else (200, result)


def is_idempotent(handler: type, method: str) -> bool:
    """Whether ``handler`` declares ``method`` (e.g. "post") idempotent."""
    return bool(getattr(getattr(handler, method, None), "idempotent", False))


async def _run_once(handler: APIHandler, method: Work, on_claim: OnClaim | None, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> None:
    # Per caller and path, the path hashed so the scope fits its 64-character column for any ids.
    path_digest = hashlib.sha256(handler.request.path.encode("utf-8")).hexdigest()[:24]
    async with handler.engine.begin() as conn:
        scope = f"{await handler.idempotency_scope(conn)}:{path_digest}"
        key = idempotency.check_key(handler.request.headers.get(HEADER))
        digest = idempotency.body_hash(handler.json_body())
        replay = await idempotency.claim(conn, scope, key, digest)
        if replay is None and on_claim is not None:
            await on_claim(handler, conn)
    if replay is not None:
        handler.set_header("Idempotent-Replayed", "true")
        handler.write_json(replay.body, replay.status)  # a kept refusal too: its body is already the error shape
        return
    try:
        async with handler.engine.begin() as conn:
            result = await method(handler, conn, *args, **kwargs)
            status, body = _status_and_body(result)
            # As the client sees it (times as ISO strings), so that a replay is byte-for-byte the same.
            answer = orjson.loads(encode_json(body))
            await idempotency.finish(conn, scope, key, status, answer)
    except AppError as exc:
        _, error = handler.error_payload(exc, exc.status)  # the body write_error will send, kept for replays
        error["request_id"] = handler.request_id
        async with handler.engine.begin() as conn:
            await idempotency.finish(conn, scope, key, exc.status, {"error": error})
        raise
    except BaseException:
        async with handler.engine.begin() as conn:
            await idempotency.release(conn, scope, key)
        raise
    handler.write_json(answer, status)


_SAVEPOINT = "idempotent_work"


async def _run_in_one(handler: APIHandler, method: Work, on_claim: OnClaim | None, args: tuple[Any, ...],
                      kwargs: dict[str, Any], path_digest: str, *, lazy: bool) -> None:
    refusal: AppError | None = None
    scope = key = digest = None
    try:
        async with handler.writing() as conn:
            taken: list[bool] = []

            async def savepoint() -> None:
                # By hand (no RELEASE: the commit ends it), one round trip on the way that succeeds.
                if not taken:
                    await conn.exec_driver_sql(f"SAVEPOINT {_SAVEPOINT}")
                    taken.append(True)

            handler.before_writes = savepoint
            scope = f"{await handler.idempotency_scope(conn)}:{path_digest}"
            key = idempotency.check_key(handler.request.headers.get(HEADER))
            digest = idempotency.body_hash(handler.json_body())
            # No claim up front: the key is claimed with the answer (``keep``), one statement.
            if on_claim is not None:
                await on_claim(handler, conn)
            if not lazy:
                await savepoint()
            try:
                result = await method(handler, conn, *args, **kwargs)
            except AppError as exc:
                if taken:  # else the method refused before it wrote anything
                    await conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                _, error = handler.error_payload(exc, exc.status)
                error["request_id"] = handler.request_id
                await idempotency.keep(conn, scope, key, digest, exc.status, {"error": error})
                refusal = exc
            else:
                status, body = _status_and_body(result)
                answer = orjson.loads(encode_json(body))
                await idempotency.keep(conn, scope, key, digest, status, answer)
    except (AppError, idempotency.KeyTaken) as exc:
        # Rolled back. A duplicate of a request already answered is refused by ``on_claim`` (its scan is
        # spent) or meets the key's row (``keep``, after waiting for that request's commit): replay it.
        if scope is None or key is None or digest is None:
            raise  # refused before the key was read
        async with handler.reading() as conn:
            replay = await idempotency.kept(conn, scope, key, digest)
        if replay is None:
            if isinstance(exc, idempotency.KeyTaken):  # its row went meanwhile (purged): try again
                raise Conflict("request_in_progress", "同一请求正在处理中，请稍候查看结果") from None
            raise
        handler.set_header("Idempotent-Replayed", "true")
        handler.write_json(replay.body, replay.status)
        return
    if refusal is not None:
        raise refusal
    handler.write_json(answer, status)
