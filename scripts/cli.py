"""The ``unionaid`` command: serve, migrate, wechat-sandbox and the operational verbs."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from typing import Any, Awaitable, Callable

from models.core.errors import AppError
from models.db import schema
from scripts import admin
from server.config import Config, ConfigError, load_config, replace, secure_data_dir
from server.db import make_engine
from server.http_server import DRAIN_SECONDS

log = logging.getLogger("unionaid")


def _setup_logging(config: Config) -> None:
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # urllib3 logs request URLs at DEBUG, and WeChat's carry the app secret.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def _say(line: str) -> None:
    """One line on stdout in one write: the lines of several workers never mix."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


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


async def _serve(config: Config, demo: bool, *, sockets: list[socket.socket] | None = None,
                 worker: int | None = None) -> None:
    """Serve until SIGTERM or SIGINT: alone (``listen``), or as worker ``worker`` on the parent's ``sockets``."""
    from server import jobs
    from server.app import make_app
    from server.audit_checkpoints import load_checkpoints
    from server.http_server import make_http_server
    from server.shared_cache import make_cache
    from server.wechat import WeChatGateway
    from server.workers import HANGUP, unblock

    sandbox = None
    if demo:
        from server.wechat_sandbox import start_sandbox

        sandbox = await start_sandbox(port=0)
        config = replace(config, wechat_api_base=sandbox.url)
    engine = make_engine(config)
    try:
        if worker is None:
            await _ensure_schema(config, engine)  # the parent of several workers did it before forking
        if demo:
            from scripts.demo import load_demo

            counter = await load_demo(config, engine)
        cache = make_cache(engine, config.redis_url)
        gateway = WeChatGateway(config, cache)
        checkpoints = load_checkpoints(config.data_dir, key=config.audit_key, key_id=config.audit_key_id)
        app = make_app(config, engine, gateway=gateway, checkpoints=checkpoints)
        app.settings["worker"] = worker or 0
        background = jobs.start(engine, gateway, config, checkpoints=checkpoints)
        server = make_http_server(app, config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, log.warning, HANGUP)  # not a stop (by default it killed, no drain)
        unblock()  # a worker starts with them blocked: one sent meanwhile arrives now
        if sockets is None:
            server.listen(config.port, config.host)
            base = f"http://{config.host}:{config.port}"
            print(f"UnionAid listening on {base} (database: {engine.dialect.name})", flush=True)
            from server.card_images import font_report
            print(font_report(config), flush=True)
            if sandbox is not None:
                from scripts.demo import demo_help

                print(demo_help(base, sandbox.url, counter), flush=True)
        else:
            server.add_sockets(sockets)
            _say(f"worker {worker} (pid {os.getpid()}) serving")
        await stop.wait()
        _say("shutting down" if worker is None else f"worker {worker} (pid {os.getpid()}) shutting down")
        server.stop()
        cut = await server.drain()  # the requests in flight are answered, then the connections closed
        if cut:
            log.warning("%d requests were still running after %.0f s and were cut", cut, DRAIN_SECONDS)
        await background.stop()  # after the last request: seals and checkpoints the audit chain once more
        gateway.close()
        await cache.close()
    finally:
        await engine.dispose()
        if sandbox is not None:
            await sandbox.stop()


def _serve_workers(config: Config, demo: bool, workers: int) -> int:
    """``serve --workers N`` with N > 1: check and prepare in this process, bind, fork N workers, supervise them."""
    import tornado.netutil

    from server.audit_checkpoints import load_checkpoints
    from server.card_images import font_report
    from server.config import check_wechat_ready
    from server.crypto import load_keyring
    from server.qr_tokens import load_signer
    from server.workers import EXIT_CONFIG, run_workers

    if demo:
        raise ConfigError("--demo runs one process (its WeChat sandbox lives in it): leave out --workers, or run "
                          "`unionaid wechat-sandbox` and point UNIONAID_WECHAT_API_BASE at it")
    if config.is_sqlite:
        raise ConfigError("--workers above 1 needs MySQL/MariaDB: the embedded SQLite database serves one process "
                          "(set UNIONAID_DATABASE_URL)")

    async def check_schema() -> None:
        engine = make_engine(config)
        try:
            await _ensure_schema(config, engine)
        finally:
            await engine.dispose()

    # What would stop every worker stops the start here, once; the schema check runs before any
    # fork, in a loop closed again before it: nothing async survives into the children.
    check_wechat_ready(config)
    asyncio.run(check_schema())
    # Keys made once here, so the workers read the same files instead of each making its own.
    load_keyring(config)
    load_signer(config.data_dir, key=config.qr_key, key_id=config.qr_key_id)
    load_checkpoints(config.data_dir, key=config.audit_key, key_id=config.audit_key_id)
    sockets = tornado.netutil.bind_sockets(config.port, config.host)
    print(f"UnionAid listening on http://{config.host}:{config.port} (database: mysql, {workers} workers)", flush=True)
    print(font_report(config), flush=True)

    def worker(task: int) -> int:
        try:
            asyncio.run(_serve(config, False, sockets=sockets, worker=task))
        except ConfigError as exc:  # not mended by a restart: the parent stops them all
            print(f"unionaid: configuration error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        return 0

    code = run_workers(workers, worker, sockets=sockets)
    print("all workers stopped" if code == 0 else "workers stopped, not all cleanly", flush=True)
    return code


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


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError("from 1 to 64")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unionaid", description="UnionAid 职工维权帮扶中心 back end")
    parser.add_argument("--config", help="a TOML configuration file (settings as in UNIONAID_* without the prefix)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--demo", action="store_true", help="start the WeChat sandbox in-process and load demo data")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=_workers, default=1,
                       help="processes serving the one port (default 1; above 1 needs MySQL/MariaDB)")
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
    commands: dict[str, Callable[[], Awaitable[Any] | int | None]] = {
        "serve": lambda: (_serve(config, args.demo) if args.workers == 1
                          else _serve_workers(config, args.demo, args.workers)),
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
        return result if isinstance(result, int) else 0
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
