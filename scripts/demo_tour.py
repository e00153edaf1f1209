"""`unionaid demo-tour`: the demo's story at the counter, played over HTTP, every request and answer shown.

The tour starts its own scratch service: a temporary data dir with the embedded
SQLite database, the WeChat sandbox in-process, the demo data of `serve --demo`,
on a free port of 127.0.0.1, all removed when it ends. So it needs nothing else
running, never touches `./var` or a configured database, and always starts from
the same data: a login code not yet used, 张秀英 not yet bound, her quotas full.
(Against a `serve --demo` that a newcomer has already walked through, the same
story would stumble on exactly those.) The walkthrough `serve --demo` prints is the
same story as bash lines, to type against a server that stays up.
"""
from __future__ import annotations

import json
import logging
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import tornado.httpclient
import tornado.netutil

from models.db import schema
from scripts.demo import COUNTER, DEMO_MEMBER, DEMO_PASSWORD, load_demo
from server.config import Config, replace

#: Strings longer than this are cut in what the tour prints (images, QR tokens).
MAX_STRING = 64
#: Width a JSON value may take on one line before it is spread over several.
WIDTH = 100


class TourFailed(Exception):
    """An answer was not what the story needs; the message says which and why."""


def _cut(text: str) -> str:
    if len(text) <= MAX_STRING:
        return text
    kind = "PNG" if text.startswith("iVBORw0KGgo") else "JPEG" if text.startswith("/9j/") else ""
    what = f"a {kind} image in base64, " if kind else ""
    return f"{text[:40]}…[{what}{len(text):,} characters]"


def _short(value: Any) -> Any:
    """The value with every long string cut."""
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, list):
        return [_short(v) for v in value]
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    return value


def pretty(value: Any, indent: int = 0) -> str:
    """JSON for people: a value that fits the width stays on one line, a bigger one is spread out."""
    one_line = json.dumps(value, ensure_ascii=False)
    if len(one_line) + indent <= WIDTH or not isinstance(value, (dict, list)) or not value:
        return one_line
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        inner = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {pretty(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(inner) + "\n" + " " * indent + "}"
    inner = [pad + pretty(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(inner) + "\n" + " " * indent + "]"


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class Answer:
    step: int
    status: int
    headers: dict[str, str]
    data: Any


class Tour:
    """Plays the steps against ``base``, printing each request and answer to ``out``."""

    def __init__(self, base: str, out: TextIO) -> None:
        self.base = base
        self.out = out
        self.client = tornado.httpclient.AsyncHTTPClient()
        self.tokens: dict[str, str] = {}
        self.step = 0

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    async def call(self, side: str, what: str, method: str, path: str, body: Any = None, *, who: str | None = None,
                   headers: dict[str, str] | None = None, expect: int = 200,
                   check: Callable[[Any], bool] = lambda data: True, why: str = "",
                   again: Answer | None = None) -> Answer:
        """One request of the story, shown with its answer; TourFailed when the answer is not ``expect``."""
        self.step += 1
        self.say(f"── {self.step}. [{side}] {what}")
        sent = {"Content-Type": "application/json"} if body is not None else {}
        self.say(f"{method} {path}")
        if who is not None:
            sent["Authorization"] = f"Bearer {self.tokens[who]}"
            self.say(f"Authorization: Bearer <{who}'s token>")
        for name, value in (headers or {}).items():
            sent[name] = value
            self.say(f"{name}: {value}")
        if body is not None:
            self.say(pretty(_short(body)))
        response = await self.client.fetch(
            self.base + path, method=method, headers=sent, raise_error=False, request_timeout=30,
            body=json.dumps(body, ensure_ascii=False) if body is not None else None)
        if response.code == 599:
            raise TourFailed(f"{method} {path}: no answer ({response.error})")
        try:
            data = json.loads(response.body)
        except ValueError:
            data = response.body.decode("utf-8", "replace")
        shown = {k: v for k, v in response.headers.items() if k in ("Idempotent-Replayed",)}
        self.say(f"← {response.code} {response.reason}" + "".join(f"  ({k}: {v})" for k, v in shown.items()))
        if again is not None and data == again.data:
            self.say(f"(the very answer of step {again.step})")
        else:
            self.say(pretty(_short(data)))
        self.say()
        try:
            right = response.code == expect and check(data)
        except (KeyError, IndexError, TypeError):
            right = False
        if not right:
            raise TourFailed(f"step {self.step}, {method} {path}: expected {expect}"
                             f"{' and ' + why if why else ''}, got {response.code}")
        return Answer(self.step, response.code, dict(response.headers.get_all()), data)


async def play(base: str, counter: dict[str, Any], out: TextIO) -> dict[str, Any]:
    """The story: a worker binds and shows her card, staff invite a cashier, who scans and redeems."""
    tour = Tour(base, out)
    name, id_number = DEMO_MEMBER
    login = await tour.call("worker", f"{name} opens the mini-program; wx.login gave it the code xiuying.1",
                            "POST", "/api/v1/auth/wechat", {"code": "xiuying.1"},
                            check=lambda d: d["user"]["roles"] == ["visitor"], why="a visitor")
    tour.tokens["the worker"] = login.data["token"]
    await tour.call("worker", "she claims her roster record by real name and ID number",
                    "POST", "/api/v1/me/bind", {"name": name, "id_number": id_number}, who="the worker",
                    check=lambda d: d["member"]["gender"] == "female", why="her record")
    await tour.call("worker", "who she is now: a member", "GET", "/api/v1/me", who="the worker",
                    check=lambda d: d["user"]["roles"] == ["member"] and d["member"] is not None, why="a member")
    await tour.call("worker", "her mutual-aid service card and the benefits on it", "GET", "/api/v1/me/card",
                    who="the worker", check=lambda d: d["status"] == "active", why="an active card")
    staff = await tour.call("staff", "the city union's admin logs in to the console", "POST", "/api/v1/auth/staff",
                            {"username": "admin", "password": DEMO_PASSWORD})
    tour.tokens["the admin"] = staff.data["token"]
    invite = await tour.call(
        "staff", f"the admin invites a cashier for {COUNTER[0]}, store {COUNTER[1]}: a one-time code, and the "
        "mini-program code (image) that opens the binding page",
        "POST", f"/api/v1/staff/merchants/{counter['merchant_id']}/invites",
        {"role": "cashier", "store_id": counter["store_id"]}, who="the admin", expect=201)
    cashier = await tour.call("cashier", "the cashier, a second WeChat user, opens the mini-program (code cashier.1)",
                              "POST", "/api/v1/auth/wechat", {"code": "cashier.1"})
    tour.tokens["the cashier"] = cashier.data["token"]
    await tour.call("cashier", "the cashier joins the store with the invite code", "POST", "/api/v1/merchant/bind",
                    {"invite_code": invite.data["invite"]["code"]}, who="the cashier",
                    check=lambda d: d["role"] == "cashier", why="a cashier")
    qr = await tour.call("worker", f"at the counter {name} shows her QR code (signed, one scan, 60 seconds)",
                         "GET", "/api/v1/me/card/qr", who="the worker")
    scan = await tour.call("cashier", "the cashier scans it: who holds the card, what it gives at this pharmacy",
                           "POST", "/api/v1/merchant/scan", {"qr": qr.data["token"]}, who="the cashier")
    bill = {"scan_id": scan.data["scan_id"], "items": [{"category": "drug", "amount": 12800}]}
    key = {"Idempotency-Key": "tour-" + scan.data["scan_id"]}
    done = await tour.call("cashier", "the cashier enters a 128.00 yuan drug bill and redeems it",
                           "POST", "/api/v1/merchant/redemptions", bill, who="the cashier", headers=key)
    await tour.call("cashier", "the network failed and the till sends it again with the same Idempotency-Key: "
                    "the first answer comes back, nothing is taken twice",
                    "POST", "/api/v1/merchant/redemptions", bill, who="the cashier", headers=key,
                    again=done, check=lambda d: d == done.data, why="the first answer again")
    await tour.call("worker", f"{name} sees the redemption in her history", "GET", "/api/v1/me/redemptions",
                    who="the worker", check=lambda d: d["items"][0]["id"] == done.data["id"], why="that redemption")
    await tour.call("worker", "and in her notices, kept in the app whether or not WeChat delivers them (WeChat "
                    "sends one only for a kind of notice she allowed in wx.requestSubscribeMessage)",
                    "GET", "/api/v1/me/notices", who="the worker",
                    check=lambda d: [n["kind"] for n in d["items"]] == ["redemption", "card.issued"] and d["unread"] == 2,
                    why="the redemption and the card's issue, unread")
    r = done.data
    tour.say(f"The story ends in redemption {r['id']}: a bill of {yuan(r['amount'])} yuan, {yuan(r['discount'])} "
             f"off, {name} paid {yuan(r['payable'])}; the union owes the pharmacy {yuan(r['union_share'])} (settled "
             f"monthly), the pharmacy conceded {yuan(r['merchant_share'])}.")
    return r


async def run(out: TextIO = sys.stdout) -> int:
    """Start the scratch service, play the story, stop and remove everything; 0 when every answer was right."""
    from server.app import make_app
    from server.db import make_engine
    from server.http_server import make_http_server
    from server.shared_cache import make_cache
    from server.wechat import WeChatGateway
    from server.wechat_sandbox import start_sandbox

    # The service's own logs (migrations, one line per request) would interleave with the story.
    for name in ("alembic", "unionaid"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="unionaid-tour-") as scratch:
        sandbox = await start_sandbox(port=0)
        # Defaults only: the tour must never reach a configured database or real WeChat.
        config = replace(Config(), data_dir=Path(scratch) / "var", wechat_api_base=sandbox.url)
        engine = make_engine(config)
        cache = gateway = server = None
        try:
            await schema.upgrade(engine)
            facts = await load_demo(config, engine)
            cache = make_cache(engine)
            gateway = WeChatGateway(config, cache)
            server = make_http_server(make_app(config, engine, gateway=gateway), config)
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            server.add_sockets(sockets)
            base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
            print(f"A scratch UnionAid on {base}: SQLite in a temporary dir, the WeChat sandbox in-process, the "
                  "demo data of `serve --demo`;\nit is all removed when the tour ends. Long strings are cut.\n",
                  file=out, flush=True)
            try:
                await play(base, facts, out)
            except TourFailed as exc:
                print(f"demo-tour: {exc}", file=sys.stderr)
                return 1
            return 0
        finally:
            if server is not None:
                server.stop()
                await server.close_all_connections()
            if gateway is not None:
                gateway.close()
            if cache is not None:
                await cache.close()
            await engine.dispose()
            await sandbox.stop()
