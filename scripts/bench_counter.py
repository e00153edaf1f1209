"""Benchmark the counter over HTTP against MariaDB: the card's QR code, scans, redemptions.

    python -m scripts.bench_counter [--mysql mysql+aiomysql://root@127.0.0.1:3306/test]
        [--concurrency 32] [--requests 3000] [--cards 2000] [--rounds 3] [--workers N]
        [--driver aiomysql|asyncmy] [--profile qr|scan|redeem [--profile-out FILE]]

(needs the bench extra: pip install -e '.[bench]'; with the fast extra too, '.[bench,fast]', the service
runs as a deployment with it would: uvloop and asyncmy)

Builds a scratch database (members with bound WeChat users and cards, a pharmacy
with one cashier per client, the seeds' drug programmes), starts the service in a
subprocess, and in another subprocess a bare Tornado app: a constant JSON handler
(the framework's ceiling here), a bare transaction (one conditional UPDATE and
one INSERT through aiomysql), and the floor of a scan: only what a scan must do on the bare
transaction's footing (the code's signature, the service's own four statements and the commit,
nothing of SQLAlchemy or of the service's handlers), once as it is and once with each token's caller
read only once (what a cache of callers could give at best). A client in this process drives each at the given
concurrency and prints throughput, p50 and p99, and each phase's ratio to the bare transaction (the
counter's aims: QR >= 60 %, scan >= 50 %, redemption >= 35 %, p99 < 100 ms) and to the constant JSON,
and the CPU time each request cost the server process(es) and the database (from /proc): the service's
phases are one process at 100 % of a core, so its CPU per request is what sets their rate.
With ``--profile qr|scan|redeem`` py-spy samples the server through that phase's first round and writes
collapsed stacks to ``--profile-out``. BENCH_BARE_UVLOOP=1 runs the bare app on uvloop.
With ``--workers N`` (N > 1) the service's phases run twice, against one process and then against
N processes on the one port (``server/workers.py``, as ``serve --workers N``), and a table of the
scaling follows. The server and the client share the machine's cores; the figures are this machine's.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

WARMUP = 200


# --- the two servers, each run as `python -m scripts.bench_counter _serve|_bare ...` ---

def _config(data_dir: str, url: str, port: int) -> Any:
    from server.config import load_config

    # The counter never calls WeChat; a dead local address keeps the gateway off WeChat's own API
    # (which it refuses to call with the sandbox's credentials).
    return load_config(env={}, data_dir=Path(data_dir), database_url=url, port=port, db_pool_size=20,
                       db_max_overflow=20, log_level="WARNING", wechat_api_base="http://127.0.0.1:9")


def _loop_name() -> str:
    from server import loop

    uvloop = os.environ.get("BENCH_UVLOOP", "1") == "1" and loop.has_uvloop()
    return "uvloop" if uvloop else "asyncio's loop"


def _default_driver() -> str:
    """asyncmy when installed (the fast extra), else aiomysql: the service as a deployment would run it."""
    import importlib.util

    return "asyncmy" if importlib.util.find_spec("asyncmy") is not None else "aiomysql"


def add_driver_option(parser: argparse.ArgumentParser) -> None:
    """``--driver``: the service's MySQL driver in a benchmark (this one and bench_relief)."""
    parser.add_argument("--driver", choices=("aiomysql", "asyncmy"), default=_default_driver(),
                        help="the service's MySQL driver (default: asyncmy when the fast extra is installed)")


def _run_loop(main: Any) -> None:
    """The served app's loop: uvloop's when installed (the fast extra), unless BENCH_UVLOOP=0."""
    from server import loop

    loop.run(main, use_uvloop=os.environ.get("BENCH_UVLOOP", "1") == "1")


def _serve_workers(data_dir: str, url: str, port: int, workers: int) -> int:
    """The service in ``workers`` processes on one port; each says ready (its first line) once it serves."""
    import tornado.netutil

    from server.workers import run_workers, unblock

    sockets = tornado.netutil.bind_sockets(port, "127.0.0.1")

    def child(_task: int) -> int:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # the bench's stop ends a worker at once
        unblock()
        _run_loop(_serve(data_dir, url, port, sockets))
        return 0

    return run_workers(workers, child, sockets=sockets)


async def _serve(data_dir: str, url: str, port: int, sockets: list[Any] | None = None) -> None:
    import logging

    from server.app import make_app
    from server.db import make_engine
    from server.http_server import make_http_server
    from server.shared_cache import DatabaseCache
    from server.wechat import WeChatGateway

    logging.getLogger("unionaid.access").setLevel(logging.WARNING)
    config = _config(data_dir, url, port)
    engine = make_engine(config)
    app = make_app(config, engine, gateway=WeChatGateway(config, DatabaseCache(engine)))
    server = make_http_server(app, config)
    if sockets is None:
        server.listen(port, "127.0.0.1")
    else:
        server.add_sockets(sockets)
    sys.stdout.write("ready\n")  # one write: the lines of several workers never mix
    sys.stdout.flush()
    await asyncio.Event().wait()


async def _bare(url: str, port: int, data_dir: str) -> None:
    import aiomysql
    import tornado.web

    parts = make_url(url)
    pool = await aiomysql.create_pool(host=parts.host, port=parts.port or 3306, user=parts.username,
                                      password=parts.password or "", db=parts.database, minsize=20, maxsize=40,
                                      autocommit=False)

    class Constant(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(b'{"ok": true}')

    class Transaction(tornado.web.RequestHandler):
        async def post(self) -> None:
            row = int(self.get_query_argument("row"))
            async with pool.acquire() as conn:
                async with conn.cursor() as cur:
                    await conn.begin()
                    await cur.execute("UPDATE bench_quota SET used = used + 1 WHERE id = %s AND used < 1000000000",
                                      (row,))
                    if cur.rowcount != 1:
                        await conn.rollback()
                        raise tornado.web.HTTPError(409)
                    await cur.execute("INSERT INTO bench_log (quota_id, amount) VALUES (%s, %s)", (row, 100))
                    await conn.commit()
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(b'{"ok": true}')

    tornado.web.Application([(r"/bare", Constant), (r"/bare-tx", Transaction),
                             (r"/bare-scan", _bare_scan(pool, data_dir))]).listen(port, "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


def _bare_scan(pool: Any, data_dir: str) -> Any:
    """The floor of a scan: only what a scan must do, on the bare transaction's footing (Tornado's bare
    handler, aiomysql's pool, no SQLAlchemy, none of the service's handler layers): the code's signature
    checked, and the service's own statements (compiled once, for MySQL): the caller by the token's hash,
    the card with its holder and usage, the session claiming the code, its audit row, the commit. What it
    leaves out favours it: the programmes' offers, request ids, headers, logs, error shapes."""
    import hashlib
    import secrets as secrets_
    from datetime import datetime, timedelta, timezone

    import tornado.web
    from sqlalchemy.dialects.mysql import aiomysql as mysql_aiomysql

    from models.access.callers import _CALLER
    from models.core.tables import audit_log
    from models.counter.scanning import _HOLDER_USAGE
    from models.counter.tables import scan_sessions
    from models.db.sql import insert_ignore
    from server.qr_tokens import load_signer

    dialect = mysql_aiomysql.dialect()
    signer = load_signer(Path(data_dir))

    def compiled(statement: Any, keys: list[str] | None = None) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        c = statement.compile(dialect=dialect, column_keys=keys)
        return c.string, tuple(c.positiontup or ()), dict(c.params)  # the statement's own constants

    caller_sql = compiled(_CALLER)
    holder_sql = compiled(_HOLDER_USAGE)
    # Each column's position in the driver's rows, from the statements themselves (not counted by hand).
    c = {column.key: i for i, column in enumerate(_CALLER.selected_columns)}
    h = {column.key: i for i, column in enumerate(_HOLDER_USAGE.selected_columns)}
    session_keys = ["id", "card_id", "card_version", "member_id", "cashier_id", "store_id", "merchant_id", "nonce",
                    "printed", "created_at", "expires_at", "claimed_nonce"]
    claim_sql = compiled(insert_ignore(scan_sessions), session_keys)
    audit_keys = ["created_at", "actor_kind", "actor_id", "actor_role", "action", "target_kind", "target_id",
                  "org_path", "summary", "request_id", "ip"]
    audit_sql = compiled(audit_log.insert(), audit_keys)

    def args(sql: tuple[str, tuple[str, ...], dict[str, Any]], values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] if name in values else sql[2][name] for name in sql[1])

    callers: dict[str, Any] = {}  # with ?cached=1: the caller read once per token, never again

    class Scan(tornado.web.RequestHandler):
        async def post(self) -> None:
            bearer = self.request.headers.get("Authorization", "")[len("Bearer "):]
            cached = self.get_query_argument("cached", "") == "1"
            qr = json.loads(self.request.body)["qr"]
            code = signer.verify(qr)
            if code.issued_at + 300 < time.time():
                raise tornado.web.HTTPError(422)
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            today = date.today()
            async with pool.acquire() as conn:
                async with conn.cursor() as cur:
                    caller = callers.get(bearer) if cached else None
                    if caller is None:
                        await cur.execute(caller_sql[0], args(caller_sql, {
                            "token_hash": hashlib.sha256(bearer.encode()).hexdigest()}))
                        caller = callers[bearer] = await cur.fetchone()
                    if caller is None or caller[c["merchant_staff_id"]] is None:  # no token, or no cashier behind it
                        await conn.rollback()
                        raise tornado.web.HTTPError(403)
                    merchant_staff_id, store_id, merchant_id, merchant_org_id = (
                        caller[c["merchant_staff_id"]], caller[c["store_id"]], caller[c["merchant_id"]],
                        caller[c["merchant_org_id"]])
                    await cur.execute(holder_sql[0], args(holder_sql, {
                        "card_id": code.card_id, "merchant_org_id": merchant_org_id,
                        "month": today.strftime("%Y-%m"), "year": today.strftime("%Y")}))
                    rows = await cur.fetchall()
                    if not rows or rows[0][h["status"]] != "active" or rows[0][h["version"]] != code.card_version:
                        await conn.rollback()
                        raise tornado.web.HTTPError(422)
                    holder = rows[0]
                    scan_id = secrets_.token_urlsafe(18)
                    await cur.execute(claim_sql[0], args(claim_sql, dict(
                        id=scan_id, card_id=holder[h["id"]], card_version=holder[h["version"]], member_id=holder[h["member_id"]],
                        cashier_id=merchant_staff_id, store_id=store_id, merchant_id=merchant_id,
                        nonce=code.nonce.hex(), printed=0, created_at=now, expires_at=now + timedelta(seconds=300),
                        claimed_nonce=code.nonce.hex())))
                    if cur.rowcount != 1:
                        await conn.rollback()
                        raise tornado.web.HTTPError(409)
                    await cur.execute(audit_sql[0], args(audit_sql, dict(
                        created_at=now, actor_kind="user", actor_id=caller[c["subject_id"]], actor_role="cashier",
                        action="counter.scan", target_kind="card", target_id=str(holder[h["id"]]), org_path=holder[h["merchant_path"]],
                        summary=json.dumps({"card_id": holder[h["id"]], "store_id": store_id}), request_id=None,
                        ip=None)))
                    await conn.commit()
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps({"scan_id": scan_id, "card": {"holder": holder[h["name"]][:1] + "*",
                                                                 "status": holder[h["status"]]}, "benefits": []}))

    return Scan


# --- the data ---

@dataclass
class Scene:
    workers: list[str]  # worker bearer tokens
    cards: list[tuple[int, int]]  # (card id, version), in the workers' order
    cashiers: list[str]


async def _build(url: str, data_dir: Path, cards: int, cashiers: int) -> Scene:
    from models.cards import usecases as card_flows
    from models.core import actors
    from models.core.actors import SYSTEM, Actor
    from models.core.clock import utcnow
    from models.core.typed import FEN_MAX
    from models.db import schema
    from models.identity import sessions as auth_tokens
    from models.identity.tables import users
    from models.members.roster import parse_roster
    from models.network import tree as orgs
    from models.partners import invites
    from models.partners import partnership as merchants
    from models.partners import programmes as benefits
    from scripts.bench_import import make_roster
    from server.crypto import PiiCipher, load_keyring
    from server.db import make_engine

    config = _config(str(data_dir), url, 1)
    engine = make_engine(config)
    await schema.upgrade(engine)
    cipher = PiiCipher(load_keyring(config))
    parsed = parse_roster(make_roster(cards, "csv"), "roster.csv")
    async with engine.begin() as conn:
        city = await orgs.create(conn, SYSTEM, code="B", name="基准市总工会", type_="city", parent_code=None)
        unit = await orgs.create(conn, SYSTEM, code="B1", name="基准工会", type_="grassroots", parent_code="B")
        await card_flows.import_roster(conn, cipher, SYSTEM, parsed, org=unit)
        admin = Actor(kind="staff", id=0, roles=frozenset({"admin"}), org_id=city.id, org_path=city.path)
        merchant = await merchants.create(conn, admin, name="基准大药房", type="pharmacy", org_id=city.id,
                                          agreement_from=date(2020, 1, 1), agreement_to=date(2099, 12, 31))
        store = await merchants.add_store(conn, admin, merchant.id, name="本店", address="基准路 1 号")
        for preset, extra in (("pharmacy_drug_card", {"eligibility": "all_members", "hardship_categories": [],
                                                      "money_quota": FEN_MAX}),
                              ("discount_pharmacy", {})):
            program = await benefits.create(conn, admin, city.id, benefits.ProgramDraft.of(
                {"preset": preset, "valid_from": "2020-01-01", "valid_to": "2099-12-31", **extra}))
            await benefits.set_merchants(conn, admin, program.id, [merchant.id])
    now = utcnow()
    scene = Scene([], [], [])
    async with engine.begin() as conn:
        member_ids = (await conn.execute(sa.text("SELECT id FROM members ORDER BY id"))).scalars().all()
        for i, member_id in enumerate(member_ids):
            user_id = (await conn.execute(users.insert().values(openid=f"bench-worker-{i}", created_at=now,
                                                                last_login_at=now))).inserted_primary_key[0]  # type: ignore[index]
            await conn.execute(sa.text("UPDATE members SET user_id = :u, bound_at = :t WHERE id = :m"),
                               {"u": user_id, "t": now, "m": member_id})
            card = await _issue(conn, member_id)
            scene.workers.append((await auth_tokens.issue(conn, "user", user_id, ttl=86400)).token)
            scene.cards.append(card)
        for i in range(cashiers):
            user_id = (await conn.execute(users.insert().values(openid=f"bench-cashier-{i}", created_at=now,
                                                                last_login_at=now))).inserted_primary_key[0]  # type: ignore[index]
            invite = await invites.create(conn, cipher, admin, merchant.id, role="cashier", store_id=store["id"])
            await invites.bind(conn, actors.worker(user_id), invite.code)
            scene.cashiers.append((await auth_tokens.issue(conn, "user", user_id, ttl=86400)).token)
        await conn.execute(sa.text("CREATE TABLE bench_quota (id INT PRIMARY KEY, used BIGINT NOT NULL)"))
        await conn.execute(sa.text("CREATE TABLE bench_log (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                                   "quota_id INT NOT NULL, amount BIGINT NOT NULL, created_at TIMESTAMP(6) "
                                   "DEFAULT CURRENT_TIMESTAMP(6))"))
        await conn.execute(sa.text("INSERT INTO bench_quota (id, used) VALUES (:i, 0)"),
                           [{"i": i} for i in range(cards)])
    await engine.dispose()
    return scene


async def _issue(conn: Any, member_id: int) -> tuple[int, int]:
    from models.cards import lifecycle as cards
    from models.core.actors import SYSTEM

    card = await cards.issue(conn, SYSTEM, member_id)
    return card.id, card.version


# --- the client ---

@dataclass
class Result:
    name: str
    count: int
    seconds: float
    latencies: list[float]
    errors: int
    #: CPU seconds the phase cost the serving process(es) and the database server (None where unreadable).
    server_cpu: float | None = None
    db_cpu: float | None = None

    def merged(self, other: Result) -> Result:
        """This phase's figures and another round's of it, together."""
        return Result(self.name, self.count + other.count, self.seconds + other.seconds,
                      self.latencies + other.latencies, self.errors + other.errors,
                      _plus(self.server_cpu, other.server_cpu), _plus(self.db_cpu, other.db_cpu))

    def per_request_ms(self, seconds: float | None) -> str:
        return "-" if seconds is None else f"{1000 * seconds / self.count:.3f}"

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _cpu_seconds(pids: list[int]) -> float | None:
    """The CPU time (user and system) the processes and their children have used so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        for pid in pids:
            for task in [pid, *_children(pid)]:
                fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    except (OSError, ValueError, IndexError):
        return None
    return total / ticks


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _database_pids() -> list[int]:
    """The database server's process, when it runs on this machine (MariaDB's or MySQL's)."""
    for name in ("mariadbd", "mysqld"):
        found = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout.split()
        if found:
            return [int(p) for p in found]
    return []


async def _drive(name: str, total: int, concurrency: int, call: Callable[[int, int], Awaitable[bool]],
                 server: list[int] | None = None, database: list[int] | None = None) -> Result:
    """Run ``call(client, n)`` ``total`` times from ``concurrency`` clients; time each call, and count the
    CPU time it cost the ``server`` processes and the ``database``'s."""
    latencies: list[float] = []
    errors = 0

    async def client(k: int) -> None:
        nonlocal errors
        for n in range(k, total, concurrency):  # a fixed share per client: client k redeems its own scans
            started = time.perf_counter()
            ok = await call(k, n)
            latencies.append(time.perf_counter() - started)
            errors += 0 if ok else 1

    server_before, db_before = _cpu_seconds(server or []), _cpu_seconds(database or [])
    began = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(concurrency)))
    seconds = time.perf_counter() - began
    server_after, db_after = _cpu_seconds(server or []), _cpu_seconds(database or [])
    return Result(name, total, seconds, latencies, errors,
                  None if server is None or server_before is None or server_after is None else server_after - server_before,
                  None if database is None or db_before is None or db_after is None else db_after - db_before)


async def _run(args: argparse.Namespace) -> None:
    import aiohttp

    from server.qr_tokens import load_signer

    server_url = make_url(args.mysql)
    name = f"unionaid_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server_url)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    # The service on the chosen driver; the bare transaction stays on aiomysql (the issue's baseline).
    url = server_url.set(database=name, drivername=f"mysql+{args.driver}").render_as_string(hide_password=False)
    procs: list[subprocess.Popen[str]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            scene = await _build(url, Path(tmp), args.cards, args.concurrency)
            print(f"setup: {args.cards} cards, {args.concurrency} cashiers in {time.perf_counter() - started:.1f} s; "
                  f"the service on {args.driver}, {_loop_name()}")
            bare_port = _free_port()
            bare_proc = _spawn(["_bare", url, str(bare_port), tmp])
            procs.append(bare_proc)
            signer = load_signer(Path(tmp))
            bare = f"http://127.0.0.1:{bare_port}"
            by_workers: dict[int, dict[str, Result]] = {}
            for workers in sorted({1, args.workers}):
                app_port = _free_port()
                server = _spawn(["_serve", tmp, url, str(app_port), str(workers)], ready=workers)
                procs.append(server)
                by_workers[workers] = await _phases(aiohttp, args, scene, signer, f"http://127.0.0.1:{app_port}",
                                                    bare, {"app": [server.pid], "bare": [bare_proc.pid]})
                server.terminate()
                server.wait(timeout=30)
            results = by_workers[1]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        async with admin.begin() as conn:
            await conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        await admin.dispose()
    _report(results, args)
    if args.workers > 1:
        _report_scaling(by_workers, args.workers)


def _report_scaling(by_workers: dict[int, dict[str, Result]], workers: int) -> None:
    """The service's phases at one process and at ``workers`` processes, and the ratio."""
    print(f"\nscaling: 1 process vs {workers} processes on one port (same client, same machine)")
    print(f"{'phase':30} {'1 proc':>9} {f'{workers} procs':>9} {'ratio':>7}")
    for label in ("GET /me/card/qr", "POST /merchant/scan", "POST /merchant/redemptions"):
        one, many = by_workers[1][label].rate, by_workers[workers][label].rate
        print(f"{label:30} {one:9.0f} {many:9.0f} {many / one:6.2f}x")


async def _phases(aiohttp: Any, args: argparse.Namespace, scene: Scene, signer: Any, app: str,
                  bare: str, pids: dict[str, list[int]]) -> dict[str, Result]:
    conc, total = args.concurrency, args.requests
    connector = aiohttp.TCPConnector(limit=conc * 2)
    out: dict[str, Result] = {}
    scans: list[list[str]] = [[] for _ in range(conc)]
    async with aiohttp.ClientSession(connector=connector) as http:

        async def get(url: str, token: str | None = None) -> bool:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.get(url, headers=headers) as resp:
                await resp.read()
                return resp.status == 200

        async def post(url: str, body: Any, token: str | None, key: str | None = None) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if key:
                headers["Idempotency-Key"] = key
            async with http.post(url, json=body, headers=headers) as resp:
                data = await resp.read()
                return resp.status, data

        async def qr(k: int, n: int) -> bool:
            return await get(f"{app}/api/v1/me/card/qr", scene.workers[n % len(scene.workers)])

        async def scan(k: int, n: int) -> bool:
            card_id, version = scene.cards[n % len(scene.cards)]
            token = signer.sign(card_id, version, int(time.time()))
            status, data = await post(f"{app}/api/v1/merchant/scan", {"qr": token}, scene.cashiers[k])
            if status == 200:
                scans[k].append(json.loads(data)["scan_id"])
            return status == 200

        async def redeem(k: int, n: int) -> bool:
            if not scans[k]:
                return False
            body = {"scan_id": scans[k].pop(), "items": [{"category": "drug", "amount": 12800 + n % 1000}]}
            status, _ = await post(f"{app}/api/v1/merchant/redemptions", body, scene.cashiers[k],
                                   key=f"bench-{k}-{n}-{uuid.uuid4().hex[:8]}")
            return status == 200

        async def bare_scan(k: int, n: int, query: str = "") -> bool:
            card_id, version = scene.cards[n % len(scene.cards)]
            token = signer.sign(card_id, version, int(time.time()))
            status, _ = await post(f"{bare}/bare-scan{query}", {"qr": token}, scene.cashiers[k])
            return status == 200

        async def bare_scan_cached(k: int, n: int) -> bool:
            return await bare_scan(k, n, "?cached=1")

        async def constant(k: int, n: int) -> bool:
            return await get(f"{bare}/bare")

        async def transaction(k: int, n: int) -> bool:
            status, _ = await post(f"{bare}/bare-tx?row={n % len(scene.cards)}", {}, None)
            return status == 200

        phases = (("bare constant JSON", constant, "bare"), ("bare transaction", transaction, "bare"),
                  ("GET /me/card/qr", qr, "app"), ("POST /merchant/scan", scan, "app"),
                  ("POST /merchant/redemptions", redeem, "app"), ("bare scan (the floor)", bare_scan, "bare"),
                  ("bare scan, caller kept", bare_scan_cached, "bare"))
        database = _database_pids()
        for _, call, _ in phases:
            await _drive("warm-up", WARMUP, conc, call)  # the redemptions use the warm-up scans
        # In rounds, each phase in turn: the machine's load drifts (other work shares its cores), and a
        # drift then weighs on every phase alike instead of on whichever ran when it came.
        rounds = max(1, args.rounds)
        for r in range(rounds):
            share = total // rounds + (1 if r < total % rounds else 0)
            for k in range(conc):
                scans[k].clear()
            for label, call, served_by in phases:
                profiler = _profile(args, label, pids[served_by]) if r == 0 else None
                part = await _drive(label, share, conc, call, pids[served_by], database)
                _profile_done(profiler)
                out[label] = part if label not in out else out[label].merged(part)
    return out


PROFILED = {"qr": "GET /me/card/qr", "scan": "POST /merchant/scan", "redeem": "POST /merchant/redemptions"}


def _profile(args: argparse.Namespace, label: str, pids: list[int]) -> subprocess.Popen[bytes] | None:
    """With ``--profile``, py-spy (the bench extra) samples the server's first process through the first
    round of that phase, writing collapsed stacks (one line a stack, its sample count last) to ``--profile-out``."""
    if args.profile is None or PROFILED[args.profile] != label:
        return None
    spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or "py-spy"  # the venv's, if any
    proc = subprocess.Popen([spy, "record", "--pid", str(pids[0]), "--format", "raw", "--rate", "250",
                             "--output", args.profile_out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)  # py-spy attaches before the phase begins
    return proc


def _profile_done(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        out, _ = proc.communicate(timeout=60)
        for line in out.decode(errors="replace").splitlines():  # where it wrote and how many samples, or why not
            if "Wrote" in line or ("rror" in line and "Errors: 0" not in line):
                print(line, file=sys.stderr)


def _report(results: dict[str, Result], args: argparse.Namespace) -> None:
    ceiling = results["bare constant JSON"].rate
    floor = results["bare transaction"].rate
    print(f"\n{args.concurrency} concurrent clients, {args.requests} requests a phase in {args.rounds} rounds, MariaDB, "
          "one server process")
    print(f"{'phase':30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  {'of bare tx':>10}  {'of ceiling':>10}"
          f"  {'server CPU ms/req':>17}  {'db CPU ms/req':>13}")
    for label, result in results.items():
        # The issue's aims are ratios to the bare transaction (one conditional UPDATE and one INSERT).
        print(f"{label:30} {result.rate:9.0f} {result.quantile(0.50):8.2f} {result.quantile(0.99):8.2f} "
              f"{result.errors:7d}  {100 * result.rate / floor:8.1f} %  {100 * result.rate / ceiling:8.1f} %"
              f"  {result.per_request_ms(result.server_cpu):>17}  {result.per_request_ms(result.db_cpu):>13}")
    pair = 1 / (1 / results["POST /merchant/scan"].rate + 1 / results["POST /merchant/redemptions"].rate)
    print(f"{'scan then redeem (pairs/s)':30} {pair:9.0f}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(argv: list[str], ready: int = 1) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "scripts.bench_counter", *argv], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    for _ in range(ready):  # one line from each process serving
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"server {argv[0]} did not start: {line!r}")
    return proc


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_serve":
        if int(argv[4]) > 1:
            return _serve_workers(argv[1], argv[2], int(argv[3]), int(argv[4]))
        _run_loop(_serve(argv[1], argv[2], int(argv[3])))
        return 0
    if argv and argv[0] == "_bare":
        if os.environ.get("BENCH_BARE_UVLOOP") == "1":  # the bare app on uvloop too (a floor at its best)
            import uvloop
            uvloop.run(_bare(argv[1], int(argv[2]), argv[3]))
        else:
            asyncio.run(_bare(argv[1], int(argv[2]), argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mysql", default="mysql+aiomysql://root@127.0.0.1:3306/test")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="run the phases in turn this many times")
    add_driver_option(parser)
    parser.add_argument("--workers", type=int, default=1,
                        help="also run the service's phases with this many processes and print the scaling")
    parser.add_argument("--profile", choices=sorted(PROFILED),
                        help="sample the server with py-spy through this phase's first round")
    parser.add_argument("--profile-out", default="bench-profile.txt",
                        help="where --profile writes its collapsed stacks (default: bench-profile.txt)")
    args = parser.parse_args(argv)
    asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
