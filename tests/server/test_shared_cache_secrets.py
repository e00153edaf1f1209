"""The shared cache keeps its values (the WeChat access token) encrypted at rest, in the database and in Redis.

A stored value that no longer decrypts (key lost or rotated away, or a plaintext
left by an older version) is a cache miss: the gateway fetches a new token.
"""
from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta
from typing import AsyncIterator, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models.core.clock import utcnow
from models.core.tables import shared_cache
from server.config import Config
from server.crypto import Keyring, PiiCipher, load_keyring
from server.shared_cache import DatabaseCache, RedisCache, SharedCache, value_purpose
from server.wechat import WeChatGateway
from server.wechat_sandbox import Sandbox

REDIS_URL = "redis://127.0.0.1:6379/15"

GatewayFactory = Callable[..., WeChatGateway]


def stranger_cipher() -> PiiCipher:
    """A cipher with the same key id as ours and another key: a lost or replaced keyring."""
    return PiiCipher(Keyring("k1", {"k1": bytes(range(32))}, bytes(32), bytes(32)))


async def raw_db_value(engine: AsyncEngine, name: str) -> str | None:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(shared_cache.c.value).where(shared_cache.c.name == name))).scalar()


async def put_raw_db_value(engine: AsyncEngine, name: str, value: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(shared_cache.delete().where(shared_cache.c.name == name))
        await conn.execute(shared_cache.insert().values(name=name, value=value,
                                                        expires_at=utcnow() + timedelta(hours=1)))


def variants_of(token: str) -> list[str]:
    """Forms the token must not take at rest."""
    return [token, base64.b64encode(token.encode()).decode(), base64.urlsafe_b64encode(token.encode()).decode()]


# -- the database ------------------------------------------------------------------

async def test_token_is_encrypted_in_the_database(
    wx_gateway: WeChatGateway, wx_engine: AsyncEngine, wx_config: Config, wx_sandbox: Sandbox
) -> None:
    token = await wx_gateway.access_token()
    raw = await raw_db_value(wx_engine, wx_gateway.token_key)
    assert raw and all(form not in raw for form in variants_of(token)), raw
    # Encrypted like other secrets: the service's keyring, the entry's name bound as associated data.
    cipher = PiiCipher(load_keyring(wx_config))
    assert cipher.decrypt(raw, purpose=value_purpose(wx_gateway.token_key)) == token
    assert await wx_gateway.access_token() == token and wx_sandbox.state.token_fetches == 1


async def test_a_value_moved_to_another_name_does_not_decrypt(
    wx_gateway: WeChatGateway, wx_engine: AsyncEngine, wx_cache: DatabaseCache
) -> None:
    await wx_gateway.access_token()
    raw = await raw_db_value(wx_engine, wx_gateway.token_key)
    assert raw
    await put_raw_db_value(wx_engine, "another:secret", raw)
    assert await wx_cache.get("another:secret") is None


@pytest.mark.parametrize("stored", ["plaintext-token-from-an-older-version", "k1:not-base64!", "k9:AAAA",
                                    "lost-key"])
async def test_an_undecryptable_token_is_a_miss_and_is_fetched_again(
    wx_gateway: WeChatGateway, wx_engine: AsyncEngine, wx_sandbox: Sandbox, stored: str
) -> None:
    if stored == "lost-key":
        stored = stranger_cipher().encrypt("token-under-a-lost-key", purpose=value_purpose(wx_gateway.token_key))
    await put_raw_db_value(wx_engine, wx_gateway.token_key, stored)
    token = await wx_gateway.access_token()
    assert token != stored and "lost" not in token
    assert wx_sandbox.state.token_fetches == 1
    # The refetched token replaced the dead value and is used from then on.
    assert await wx_gateway.access_token() == token and wx_sandbox.state.token_fetches == 1
    await wx_gateway.phone_number("13812345678")
    assert wx_sandbox.state.token_fetches == 1


async def test_a_cache_without_a_cipher_refuses_to_store(wx_engine: AsyncEngine) -> None:
    cache = DatabaseCache(wx_engine)
    with pytest.raises(RuntimeError):
        await cache.set("wechat:access_token:x", "secret", 60)
    assert await raw_db_value(wx_engine, "wechat:access_token:x") is None


async def test_an_undecryptable_token_over_http_is_refetched_not_a_500(api, running, engine, wechat) -> None:
    """The phone-number route needs the access token: a dead cached one costs a refetch, not an error."""
    gateway: WeChatGateway = running.gateway
    await put_raw_db_value(engine, gateway.token_key,
                           stranger_cipher().encrypt("dead", purpose=value_purpose(gateway.token_key)))
    token = await api.login("alice.1")
    resp = await api.post("/api/v1/me/phone", {"code": "13900001111"}, token=token)
    assert resp.status == 200, resp.data


# -- Redis ---------------------------------------------------------------------------

@pytest.fixture
async def redis_cache(wx_config: Config) -> AsyncIterator[RedisCache]:
    """A RedisCache on database 15 under a fresh key prefix; skipped without Redis."""
    prefix = f"unionaid-test-{uuid.uuid4().hex}:"
    cache = RedisCache(REDIS_URL, prefix=prefix)
    try:
        await asyncio.wait_for(cache.redis.ping(), 1.0)
    except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
        await cache.close()
        pytest.skip(f"Redis at {REDIS_URL} does not answer ({type(exc).__name__})")
    try:
        yield cache
    finally:
        keys = [k async for k in cache.redis.scan_iter(match=prefix + "*")]
        if keys:
            await cache.redis.delete(*keys)
        await cache.close()


async def test_token_is_encrypted_in_redis(
    make_wx_gateway: GatewayFactory, redis_cache: RedisCache, wx_config: Config
) -> None:
    gateway = make_wx_gateway(cache=redis_cache)
    token = await gateway.access_token()
    raw = await redis_cache.redis.get(redis_cache.prefix + gateway.token_key)
    assert raw and all(form not in raw for form in variants_of(token)), raw
    cipher = PiiCipher(load_keyring(wx_config))
    assert cipher.decrypt(raw, purpose=value_purpose(gateway.token_key)) == token


async def test_an_undecryptable_token_in_redis_is_a_miss(
    make_wx_gateway: GatewayFactory, redis_cache: RedisCache, wx_sandbox: Sandbox
) -> None:
    gateway = make_wx_gateway(cache=redis_cache)
    for stored in ("plaintext-token", stranger_cipher().encrypt("lost", purpose=value_purpose(gateway.token_key))):
        await redis_cache.redis.set(redis_cache.prefix + gateway.token_key, stored, ex=3600)
        fetches = wx_sandbox.state.token_fetches
        token = await gateway.access_token()
        assert token != stored and wx_sandbox.state.token_fetches == fetches + 1
        assert await gateway.access_token() == token


async def test_every_backend_seals(wx_engine: AsyncEngine, redis_cache: RedisCache, wx_config: Config) -> None:
    """Both backends: what goes in comes back, and what is stored is not it."""
    cipher = PiiCipher(load_keyring(wx_config))
    caches: list[SharedCache] = [DatabaseCache(wx_engine, cipher=cipher), redis_cache]
    redis_cache.use_cipher(cipher)
    for cache in caches:
        await cache.set("some:secret", "s3cret-value", 60)
        assert await cache.get("some:secret") == "s3cret-value"
    assert "s3cret-value" not in (await raw_db_value(wx_engine, "some:secret") or "s3cret-value")
    assert "s3cret-value" not in (await redis_cache.redis.get(redis_cache.prefix + "some:secret") or "s3cret-value")
