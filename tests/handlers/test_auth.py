"""Worker login with WeChat, tokens, phone numbers: over HTTP, through the sandbox."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from models.core.clock import utcnow
from models.identity.sessions import hash_token
from models.identity.tables import auth_tokens, users


async def test_new_worker_logs_in_as_visitor(api, engine):
    resp = await api.post("/api/v1/auth/wechat", {"code": "alice.1"})
    assert resp.status == 200
    assert resp.data["user"]["roles"] == ["visitor"]
    assert resp.data["user"]["member"] is None
    assert "session_key" not in resp.body.decode()
    token = resp.data["token"]
    me = await api.get("/api/v1/me", token=token)
    assert me.status == 200
    assert me.data["user"]["id"] == resp.data["user"]["id"]
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(auth_tokens.c.token_hash))).scalars().all()
        row = (await conn.execute(sa.select(users))).one()
    assert stored == [hash_token(token)]  # only the hash is kept
    assert row.session_key_enc and ":" in row.session_key_enc


async def test_same_person_new_code_same_user(api):
    first = await api.post("/api/v1/auth/wechat", {"code": "alice.1"})
    second = await api.post("/api/v1/auth/wechat", {"code": "alice.2"})
    other = await api.post("/api/v1/auth/wechat", {"code": "bob.1"})
    assert first.data["user"]["id"] == second.data["user"]["id"]
    assert other.data["user"]["id"] != first.data["user"]["id"]
    assert first.data["token"] != second.data["token"]


async def test_unionid_is_kept(api, engine):
    await api.post("/api/v1/auth/wechat", {"code": "u-carol.1"})
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(users))).one()
    assert row.unionid


async def test_concurrent_first_logins_make_one_user(api, engine):
    results = await asyncio.gather(*(api.post("/api/v1/auth/wechat", {"code": f"dora.{i}"}) for i in range(6)))
    assert all(r.status == 200 for r in results), [r.data for r in results]
    assert len({r.data["user"]["id"] for r in results}) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(users))).scalar_one() == 1


async def test_replayed_code_is_refused(api):
    assert (await api.post("/api/v1/auth/wechat", {"code": "erin.1"})).status == 200
    again = await api.post("/api/v1/auth/wechat", {"code": "erin.1"})
    assert again.status == 400
    assert again.error_code == "wechat_code_used"


async def test_unknown_code_is_the_users_400(api):
    resp = await api.post("/api/v1/auth/wechat", {"code": "invalid-xyz"})
    assert resp.status == 400
    assert resp.error_code == "wechat_code_invalid"
    assert resp.data["error"]["message"]


async def test_wechat_busy_is_502_with_retry_hint(api, wechat):
    wechat.state.inject("jscode2session", -1, times=5)
    resp = await api.post("/api/v1/auth/wechat", {"code": "frank.1"})
    assert resp.status == 502
    assert resp.error_code == "wechat_busy"
    assert int(resp.headers["Retry-After"]) > 0


async def test_wechat_rate_limit_is_502(api, wechat):
    wechat.state.inject("jscode2session", 45011)
    resp = await api.post("/api/v1/auth/wechat", {"code": "gina.1"})
    assert resp.status == 502
    assert resp.error_code == "wechat_rate_limited"
    assert "Retry-After" in resp.headers


async def test_wechat_garbage_is_502_never_500(api, wechat):
    wechat.state.inject("jscode2session", garbage=True)
    resp = await api.post("/api/v1/auth/wechat", {"code": "hank.1"})
    assert resp.status == 502
    assert resp.error_code == "wechat_bad_response"


async def test_wechat_timeout_is_502(api, wechat):
    wechat.state.inject("jscode2session", delay=4.0)
    resp = await api.post("/api/v1/auth/wechat", {"code": "ivy.1"})
    assert resp.status == 502
    assert resp.error_code == "wechat_timeout"


async def test_login_body_errors(api):
    missing = await api.post("/api/v1/auth/wechat", {})
    assert (missing.status, missing.error_code) == (400, "invalid_body")
    assert missing.data["error"]["details"][0]["field"] == "code"
    wrong_type = await api.post("/api/v1/auth/wechat", {"code": 12345})
    assert (wrong_type.status, wrong_type.error_code) == (400, "invalid_body")
    empty = await api.post("/api/v1/auth/wechat", {"code": ""})
    assert empty.status == 400
    extra = await api.post("/api/v1/auth/wechat", {"code": "a.1", "openid": "forged"})
    assert (extra.status, extra.error_code) == (400, "invalid_body")
    not_object = await api.request("POST", "/api/v1/auth/wechat", body="[1,2]",
                                    headers={"Content-Type": "application/json"})
    assert not_object.status == 400


async def test_malformed_json(api):
    resp = await api.request("POST", "/api/v1/auth/wechat", body='{"code": ',
                             headers={"Content-Type": "application/json"})
    assert (resp.status, resp.error_code) == (400, "invalid_json")
    bad_utf8 = await api.request("POST", "/api/v1/auth/wechat", body=b'{"code": "\xff\xfe"}',
                                 headers={"Content-Type": "application/json"})
    assert (bad_utf8.status, bad_utf8.error_code) == (400, "invalid_json")
    deep = await api.request("POST", "/api/v1/auth/wechat", body="[" * 5000 + "]" * 5000,
                             headers={"Content-Type": "application/json"})
    assert deep.status == 400


async def test_wrong_content_type(api):
    resp = await api.request("POST", "/api/v1/auth/wechat", body="code=abc",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (resp.status, resp.error_code) == (415, "unsupported_media_type")


async def test_oversized_body(api, config):
    big = '{"code": "' + "a" * (config.max_json_bytes + 10) + '"}'
    resp = await api.request("POST", "/api/v1/auth/wechat", body=big, headers={"Content-Type": "application/json"})
    assert (resp.status, resp.error_code) == (413, "body_too_large")


async def test_forged_and_malformed_tokens(api):
    for header in ("Bearer forged-token-value", "Bearer " + "x" * 500, "Basic abc", "Bearer "):
        resp = await api.get("/api/v1/me", headers={"Authorization": header})
        assert resp.status == 401, header
        assert resp.error_code == "token_invalid"
    anonymous = await api.get("/api/v1/me")
    assert (anonymous.status, anonymous.error_code) == (401, "unauthorized")


async def test_expired_token(api, engine):
    token = await api.login("jack.1")
    async with engine.begin() as conn:
        await conn.execute(auth_tokens.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    resp = await api.get("/api/v1/me", token=token)
    assert (resp.status, resp.error_code) == (401, "token_expired")


async def test_logout_revokes_the_token(api):
    token = await api.login("kate.1")
    out = await api.post("/api/v1/auth/logout", token=token)
    assert out.status == 200 and out.data["revoked"] is True
    resp = await api.get("/api/v1/me", token=token)
    assert (resp.status, resp.error_code) == (401, "token_invalid")
    assert (await api.post("/api/v1/auth/logout")).status == 401


async def test_phone_is_stored_encrypted_and_shown_masked(api, engine):
    token = await api.login("liam.1")
    resp = await api.post("/api/v1/me/phone", {"code": "13812345678"}, token=token)
    assert resp.status == 200
    assert resp.data == {"phone_masked": "138****5678", "phone_country": "86"}
    me = await api.get("/api/v1/me", token=token)
    assert me.data["user"]["phone_masked"] == "138****5678"
    assert "13812345678" not in me.body.decode()
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(users))).one()
    assert "13812345678" not in row.phone_enc
    assert row.phone_bidx and len(row.phone_bidx) >= 32


async def test_phone_needs_login_and_a_valid_code(api):
    assert (await api.post("/api/v1/me/phone", {"code": "13812345678"})).status == 401
    token = await api.login("mia.1")
    bad = await api.post("/api/v1/me/phone", {"code": "invalid-phone-code"}, token=token)
    assert (bad.status, bad.error_code) == (400, "wechat_code_invalid")


async def test_session_key_is_never_logged_nor_returned(api, engine, running, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        resp = await api.post("/api/v1/auth/wechat", {"code": "nina.1"})
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(users))).one()
    session_key = running.settings["cipher"].decrypt(row.session_key_enc, purpose="wechat_session_key")
    assert len(session_key) >= 16
    assert session_key not in resp.body.decode()
    assert session_key not in caplog.text
