"""Fixtures for the server tests: a WeChat sandbox on a free port, a database cache, gateways."""
from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from models.catalog import metadata
from server.config import Config, load_config, replace
from server.db import make_engine
from server.shared_cache import DatabaseCache, SharedCache
from server.wechat import WeChatGateway
from server.wechat_sandbox import Sandbox, SandboxState, start_sandbox


@pytest.fixture
async def wx_sandbox() -> AsyncIterator[Sandbox]:
    """The WeChat sandbox on 127.0.0.1 and a free port; slow answers take 2 s."""
    box = await start_sandbox(port=0, state=SandboxState(slow_seconds=2.0))
    try:
        yield box
    finally:
        await box.stop()


@pytest.fixture
def wx_config(tmp_path: Path, wx_sandbox: Sandbox) -> Config:
    """Config pointing at the sandbox with a short WeChat timeout."""
    return load_config(env={}, data_dir=tmp_path, wechat_api_base=wx_sandbox.url, wechat_timeout=0.5)


@pytest.fixture
async def wx_engine(wx_config: Config) -> AsyncIterator[AsyncEngine]:
    """A fresh SQLite database with every table."""
    eng = make_engine(wx_config)
    async with eng.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def wx_cache(wx_engine: AsyncEngine) -> DatabaseCache:
    return DatabaseCache(wx_engine)


@pytest.fixture
async def make_wx_gateway(
    wx_config: Config, wx_cache: DatabaseCache
) -> AsyncIterator[Callable[..., WeChatGateway]]:
    """A factory of gateways (closed at the end); default: the sandbox config and the DB cache."""
    made: list[WeChatGateway] = []

    def factory(config: Config | None = None, cache: SharedCache | None = None, **changes: Any) -> WeChatGateway:
        cfg = config or wx_config
        if changes:
            cfg = replace(cfg, **changes)
        gw = WeChatGateway(cfg, cache or wx_cache)
        made.append(gw)
        return gw

    yield factory
    for gw in made:
        gw.close()


@pytest.fixture
def wx_gateway(make_wx_gateway: Callable[..., WeChatGateway]) -> WeChatGateway:
    return make_wx_gateway()
