"""``@idempotent`` on its own, over HTTP, through a test-only handler that does nothing else.

The counter routes that use it are tested in test_redemptions.py; here: the declaration's
promises for any route (replay with status and body, 422, 409, per caller, refusals kept,
crashes forgotten), and that every declared route publishes the header in its schema.
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from handlers.idempotency import HEADER, is_idempotent
from handlers.merchant import RedemptionsHandler, RefundHandler, ScanHandler
from models.core import idempotency
from models.core.tables import notifications
from server.app import ROUTES
from tests.redeem_helpers import new_key, refused

ECHO = "/__test__/idempotent"


async def post(api, token, body, key):
    return await api.post(ECHO, body, token=token, headers={HEADER: key} if key else {})


async def runs(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(notifications)
                                       .where(notifications.c.kind == "card.echo"))).scalar_one())


async def test_same_key_and_body_replay_status_and_body_once(api, engine):
    token, key = await api.login("idem.1"), new_key()
    first = await post(api, token, {"n": 1}, key)
    assert first.status == 201 and first.data["echo"] == {"n": 1}, first.data
    assert "Idempotent-Replayed" not in first.headers
    again = await post(api, token, {"n": 1}, key)
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.data == first.data
    assert await runs(engine) == 1
    refused(await post(api, token, {"n": 2}, key), 422, "idempotency_key_reused")
    assert await runs(engine) == 1


async def test_keys_are_per_caller(api, engine):
    one, two, key = await api.login("idem.1"), await api.login("other.1"), new_key()
    a, b = await post(api, one, {"n": 1}, key), await post(api, two, {"n": 1}, key)
    assert (a.status, b.status) == (201, 201)
    assert "Idempotent-Replayed" not in b.headers and a.data["notice_id"] != b.data["notice_id"]
    assert await runs(engine) == 2


async def test_a_refusal_leaves_nothing_and_is_replayed(api, engine):
    token, key = await api.login("idem.1"), new_key()
    first = await post(api, token, {"refuse": True}, key)
    refused(first, 409, "test_refused")
    again = await post(api, token, {"refuse": True}, key)
    refused(again, 409, "test_refused")
    assert again.headers.get("Idempotent-Replayed") == "true" and again.data == first.data
    assert await runs(engine) == 0


async def test_a_crash_frees_the_key_for_a_retry(api, engine):
    token, key = await api.login("idem.1"), new_key()
    crashed = await post(api, token, {"crash": True}, key)
    assert crashed.status == 500 and crashed.error_code == "internal_error"
    assert await runs(engine) == 0
    # Nothing was kept: the same key and body are evaluated afresh (and crash afresh).
    again = await post(api, token, {"crash": True}, key)
    assert again.status == 500 and "Idempotent-Replayed" not in again.headers
    # ... and another body is not "another request for a used key" either.
    ok = await post(api, token, {"n": 3}, key)
    assert ok.status == 201 and "Idempotent-Replayed" not in ok.headers, ok.data


async def test_a_live_duplicate_is_409(api, engine):
    token, key = await api.login("idem.1"), new_key()
    user_id = (await api.get("/api/v1/me", token=token)).data["user"]["id"]
    scope = f"user:{user_id}:" + hashlib.sha256(ECHO.encode()).hexdigest()[:24]
    async with engine.begin() as conn:  # the first request with this key is still running
        assert await idempotency.claim(conn, scope, key, idempotency.body_hash({"n": 1})) is None
    refused(await post(api, token, {"n": 1}, key), 409, "request_in_progress")
    refused(await post(api, token, {"n": 2}, key), 422, "idempotency_key_reused")
    assert await runs(engine) == 0


async def test_the_caller_first_then_the_key(api, engine):
    refused(await post(api, None, {"n": 1}, new_key()), 401, "unauthorized")
    token = await api.login("idem.1")
    refused(await post(api, token, {"n": 1}, None), 400, "idempotency_key_required")
    refused(await post(api, token, {"n": 1}, "bad key"), 400, "idempotency_key_format")
    assert await runs(engine) == 0


def test_declared_where_published():
    """A route is declared idempotent exactly when its schema asks for the header."""
    assert is_idempotent(RedemptionsHandler, "post") and is_idempotent(RefundHandler, "post")
    assert not is_idempotent(RedemptionsHandler, "get") and not is_idempotent(ScanHandler, "post")
    for _, handler, *_ in ROUTES:
        for method, operation in getattr(handler, "spec", {}).items():
            published = any(p.get("name") == HEADER for p in operation.get("parameters", []))
            assert published == is_idempotent(handler, method), (handler.__name__, method)


# --- one_transaction=True: the claim, on_claim, the method and the answer in one transaction ---------

async def _kinds(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(notifications.c.kind, sa.func.count()).group_by(notifications.c.kind)))
        return {kind: int(n) for kind, n in rows.all()}


async def test_one_transaction_keeps_on_claim_and_the_refusal_but_not_the_method_s_writes(api, engine):
    token = await api.login("idem.1")
    for path in ("/__test__/idempotent-one", "/__test__/idempotent-lazy"):
        key = new_key()
        before = await _kinds(engine)
        first = await api.post(path, {"refuse": True}, token=token, headers={HEADER: key})
        refused(first, 409, "test_refused")
        after = await _kinds(engine)
        assert after.get("card.claim", 0) == before.get("card.claim", 0) + 1, path  # on_claim's work stays
        assert after.get("card.echo", 0) == before.get("card.echo", 0), path  # rolled back to the savepoint
        again = await api.post(path, {"refuse": True}, token=token, headers={HEADER: key})
        refused(again, 409, "test_refused")
        assert again.headers.get("Idempotent-Replayed") == "true" and await _kinds(engine) == after, path


async def test_one_transaction_refused_before_any_write_needs_no_savepoint(api, engine):
    token, key = await api.login("idem.1"), new_key()
    path = "/__test__/idempotent-lazy"
    refused(await api.post(path, {"refuse_first": True}, token=token, headers={HEADER: key}), 409, "test_refused")
    again = await api.post(path, {"refuse_first": True}, token=token, headers={HEADER: key})
    refused(again, 409, "test_refused")
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (await _kinds(engine)).get("card.claim") == 1 and "card.echo" not in await _kinds(engine)


async def test_one_transaction_success_replays_and_a_crash_keeps_nothing(api, engine):
    token = await api.login("idem.1")
    for path in ("/__test__/idempotent-one", "/__test__/idempotent-lazy"):
        key = new_key()
        first = await api.post(path, {"n": 1}, token=token, headers={HEADER: key})
        assert first.status == 201, first.data
        again = await api.post(path, {"n": 1}, token=token, headers={HEADER: key})
        assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true" and again.data == first.data
        crash_key, before = new_key(), await _kinds(engine)
        crashed = await api.post(path, {"crash": True}, token=token, headers={HEADER: crash_key})
        assert crashed.status == 500
        assert await _kinds(engine) == before, path  # the claim, on_claim and the method: all rolled back
        ok = await api.post(path, {"n": 2}, token=token, headers={HEADER: crash_key})
        assert ok.status == 201 and "Idempotent-Replayed" not in ok.headers, ok.data
