"""The ``unionaid`` command: serve, migrate, wechat-sandbox and the operational verbs."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any, Awaitable, Callable

from models.core.errors import AppError
from models.db import schema
from scripts import admin
from server.config import Config, ConfigError, load_config, replace, secure_data_dir
from server.db import make_engine

log = logging.getLogger("unionaid")


def _setup_logging(config: Config) -> None:
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # urllib3 logs request URLs at DEBUG, and WeChat's carry the app secret.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


async def _ensure_schema(config: Config, engine: Any) -> None:
    """Migrate the embedded database on start; a server database must be migrated explicitly."""
    current = await schema.current_revision(engine)
    if current == schema.head_revision():
        return
    if config.is_sqlite:
        await schema.upgrade(engine)
        log.info("embedded database migrated to %s", schema.head_revision())
        return
    raise ConfigError(
        f"UNIONAID_DATABASE_URL: the database is at revision {current or 'empty'}, "
        f"this code needs {schema.head_revision()}: run `unionaid migrate` first"
    )


async def _serve(config: Config, demo: bool) -> None:
    from server import jobs
    from server.app import make_app
    from server.audit_checkpoints import load_checkpoints
    from server.http_server import make_http_server
    from server.shared_cache import make_cache
    from server.wechat import WeChatGateway

    sandbox = None
    if demo:
        from server.wechat_sandbox import start_sandbox

        sandbox = await start_sandbox(port=0)
        config = replace(config, wechat_api_base=sandbox.url)
    engine = make_engine(config)
    try:
        await _ensure_schema(config, engine)
        if demo:
            from scripts.demo import load_demo

            counter = await load_demo(config, engine)
        cache = make_cache(engine, config.redis_url)
        gateway = WeChatGateway(config, cache)
        checkpoints = load_checkpoints(config.data_dir, key=config.audit_key, key_id=config.audit_key_id)
        app = make_app(config, engine, gateway=gateway, checkpoints=checkpoints)
        background = jobs.start(engine, gateway, config, checkpoints=checkpoints)
        server = make_http_server(app, config)
        server.listen(config.port, config.host)
        base = f"http://{config.host}:{config.port}"
        print(f"UnionAid listening on {base} (database: {engine.dialect.name})", flush=True)
        from server.card_images import font_report
        print(font_report(config), flush=True)
        if sandbox is not None:
            from scripts.demo import demo_help

            print(demo_help(base, sandbox.url, counter), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        print("shutting down", flush=True)
        server.stop()
        await server.close_all_connections()
        await background.stop()  # after the last request: seals and checkpoints the audit chain once more
        gateway.close()
        await cache.close()
    finally:
        await engine.dispose()
        if sandbox is not None:
            await sandbox.stop()


async def _migrate(config: Config) -> None:
    engine = make_engine(config)
    try:
        before = await schema.current_revision(engine)
        await schema.upgrade(engine)
        after = await schema.current_revision(engine)
        print(f"database {engine.dialect.name}: {before or 'empty'} -> {after}")
    finally:
        await engine.dispose()


async def _demo_data(config: Config) -> None:
    from models.core import actors
    from scripts.demo import load_demo

    engine = make_engine(config)
    actor = actors.command("demo-data")
    try:
        await _ensure_schema(config, engine)
        try:
            done = await load_demo(config, engine, actor=actor)
        finally:
            await admin.seal_own(config, engine, actor)
        print("demo data loaded" if done["created"] else "demo data already present: nothing changed")
    finally:
        await engine.dispose()


async def _demo_tour() -> int:
    from scripts.demo_tour import run

    return await run()


def _sandbox(port: int, host: str) -> None:
    from server.wechat_sandbox import run_sandbox_forever

    run_sandbox_forever(port, host)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unionaid", description="UnionAid 职工维权帮扶中心 back end")
    parser.add_argument("--config", help="a TOML configuration file (settings as in UNIONAID_* without the prefix)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--demo", action="store_true", help="start the WeChat sandbox in-process and load demo data")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    sub.add_parser("migrate", help="create or upgrade the database")
    sub.add_parser("demo-data", help="load a realistic demo: union network, staff, members, a difficult worker")
    sub.add_parser("demo-tour", help="play the demo story (worker, staff, cashier) against a scratch service of its "
                   "own and show every request and answer")
    sandbox = sub.add_parser("wechat-sandbox", help="run the WeChat sandbox alone")
    sandbox.add_argument("--port", type=int, default=8001)
    sandbox.add_argument("--host", default="127.0.0.1")
    admin.add_parsers(sub)  # create-org, create-staff, audit-verify, audit-checkpoint, ... (scripts/admin.py)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Everything the service writes (database, -wal/-shm, keys) is for its own user only.
    os.umask(0o077)
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, port=getattr(args, "port", None) if args.command == "serve" else None)
    except ConfigError as exc:
        print(f"unionaid: configuration error: {exc}", file=sys.stderr)
        return 2
    _setup_logging(config)
    # The sandbox has no data; the tour keeps its own in a scratch dir.
    if args.command not in ("wechat-sandbox", "demo-tour"):
        try:
            tightened = secure_data_dir(config.data_dir)
        except OSError as exc:
            print(f"unionaid: configuration error: UNIONAID_DATA_DIR: {exc}", file=sys.stderr)
            return 2
        if tightened:
            log.warning("data dir was readable by others; tightened %s", "; ".join(tightened))
    commands: dict[str, Callable[[], Awaitable[Any] | None]] = {
        "serve": lambda: _serve(config, args.demo),
        "migrate": lambda: _migrate(config),
        "demo-data": lambda: _demo_data(config),
        "demo-tour": _demo_tour,
        "wechat-sandbox": lambda: _sandbox(args.port, args.host),
        **admin.commands(config, args),
    }
    try:
        result = commands[args.command]()
        if asyncio.iscoroutine(result):
            code = asyncio.run(result)
            return int(code or 0)
        return 0
    except ConfigError as exc:
        print(f"unionaid: configuration error: {exc}", file=sys.stderr)
        return 2
    except AppError as exc:
        print(f"unionaid: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
