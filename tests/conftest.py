"""Fixtures: the same suite runs on SQLite and on MariaDB/MySQL, over real HTTP, with the WeChat sandbox.

MySQL: URL of a server from UNIONAID_TEST_MYSQL_URL (default the local one); a
fresh database is created for the run and dropped after. Locally the MySQL half
skips when no server answers; with CI=true it fails instead.
"""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import hypothesis
import pytest
import sqlalchemy as sa
import tornado.netutil
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from models.catalog import metadata
from models.core.audit import GENESIS
from models.core.tables import audit_head
from models.db import schema
from models.members.tables import hardship_records
from models.network.tables import orgs
from server.app import make_app
from server.config import Config, load_config
from server.crypto import load_keyring
from server.db import make_engine
from server.http_server import make_http_server
from server.shared_cache import DatabaseCache
from server.wechat import WeChatGateway
from server.wechat_sandbox import start_sandbox
from tests.client import ApiClient

MYSQL_URL = os.environ.get("UNIONAID_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# -- Runs that pass every time, in any order ------------------------------------------------------
# Hypothesis: no per-example deadline anywhere (2 shared cores make timings noise) and no
# too_slow health check; in CI (or HYPOTHESIS_PROFILE=ci) the examples derive from each test's
# name, not from a random seed or a local example database. Loaded before test modules import, so
# their @settings(...) inherit it. Test order: pytest-randomly shuffles it; the seed is printed
# at the end of every run; replay one with `--randomly-seed=N` (`-n 0` for the exact order, since
# xdist hands tests to workers as they come free), or keep file order with `-p no:randomly`.
hypothesis.settings.register_profile("dev", deadline=None, print_blob=True,
                                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev")
hypothesis.settings.load_profile(HYPOTHESIS_PROFILE)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(f"test order: --randomly-seed={seed} replays it; "
                                    f"hypothesis profile: {HYPOTHESIS_PROFILE}")


def _mysql_answers(url: str) -> bool:
    u = make_url(url)
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 3306), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Staff passwords hashed with argon2id at its lowest cost within the suite, which makes hundreds of staff
    accounts (at the production cost each is a quarter of a second of CPU). Verifying reads the cost from the
    hash, so the service's code path is the same; tests/server/test_passwords.py pins the production cost."""
    from argon2 import PasswordHasher

    from server import passwords

    saved = passwords.ARGON2._hasher, passwords.ARGON2._dummy
    passwords.ARGON2._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    passwords.ARGON2._dummy = passwords.ARGON2._hasher.hash("unionaid-dummy-password")
    yield
    passwords.ARGON2._hasher, passwords.ARGON2._dummy = saved


@pytest.fixture(scope="session", params=["sqlite", "mysql"])
def backend(request: Any) -> str:
    if request.param == "mysql" and not _mysql_answers(MYSQL_URL):
        why = f"no MySQL/MariaDB server answers at {make_url(MYSQL_URL).render_as_string(hide_password=True)}"
        if IN_CI:
            pytest.fail(f"CI=true and {why}")
        pytest.skip(why + " (set UNIONAID_TEST_MYSQL_URL)")
    return str(request.param)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: Any) -> Path:
    return Path(tmp_path_factory.mktemp("unionaid-data"))


@pytest.fixture(scope="session")
async def database_url(backend: str, data_dir: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{data_dir / 'test.sqlite3'}"
        return
    name = f"unionaid_t_{uuid.uuid4().hex[:10]}"
    server = create_async_engine(MYSQL_URL)
    async with server.begin() as conn:
        await conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    try:
        yield make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with server.begin() as conn:
            await conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        await server.dispose()


@pytest.fixture(scope="session")
def base_config(database_url: str, data_dir: Path) -> Config:
    return load_config(env={}, data_dir=data_dir, database_url=database_url, wechat_timeout=2.0)


@pytest.fixture(scope="session")
async def engine(base_config: Config) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(base_config)
    await schema.upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture(autouse=True)
async def _clean_tables(request: Any) -> AsyncIterator[None]:
    """Every test starts from empty tables (when it uses the database)."""
    yield
    if "engine" not in request.fixturenames:
        return
    eng: AsyncEngine = request.getfixturevalue("engine")
    async with eng.begin() as conn:
        # InnoDB checks the orgs -> orgs foreign key row by row: cut the tree first.
        await conn.execute(orgs.update().values(parent_id=None))
        # ... and the register's links between a record and its re-check.
        await conn.execute(hardship_records.update().values(supersedes_id=None, superseded_by_id=None))
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
        # The audit chain starts again from its genesis head, as after the migration.
        await conn.execute(audit_head.insert().values(id=1, last_id=0, last_hash=GENESIS))


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[Any]:
    sb = await start_sandbox(port=0)
    yield sb
    await sb.stop()


@pytest.fixture
def wechat(sandbox: Any) -> Iterator[Any]:
    """The sandbox, reset for this test."""
    sandbox.state.reset()
    yield sandbox
    sandbox.state.reset()


@pytest.fixture(scope="session")
def config(base_config: Config, sandbox: Any) -> Config:
    from server.config import replace

    return replace(base_config, wechat_api_base=sandbox.url)


class RunningApp:
    """The app served on a real port, with what tests need to reach inside."""

    def __init__(self, app: Any, url: str, server: Any, gateway: WeChatGateway) -> None:
        self.app = app
        self.url = url
        self.server = server
        self.gateway = gateway

    @property
    def settings(self) -> dict[str, Any]:
        return self.app.settings  # type: ignore[no-any-return]


async def serve_app(config: Config, engine: AsyncEngine, extra_routes: list[Any] | None = None) -> RunningApp:
    gateway = WeChatGateway(config, DatabaseCache(engine))
    app = make_app(config, engine, gateway=gateway, keyring=load_keyring(config), extra_routes=extra_routes or [])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = make_http_server(app, config)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    return RunningApp(app, f"http://127.0.0.1:{port}", server, gateway)


@pytest.fixture(scope="session")
async def running(config: Config, engine: AsyncEngine) -> AsyncIterator[RunningApp]:
    from tests.test_routes import TEST_ROUTES

    app = await serve_app(config, engine, TEST_ROUTES)
    yield app
    app.server.stop()
    app.gateway.close()


@pytest.fixture
def api(running: RunningApp, wechat: Any, engine: AsyncEngine) -> ApiClient:
    """An HTTP client for the running app that checks every answer against the OpenAPI document."""
    return ApiClient(running.url, running.settings["openapi"])
