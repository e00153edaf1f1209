"""Hostile input at the HTTP edge: every request gets an answer in the fixed shape, never a 500.

Each class of failure a fuzzer and an attacker found is probed for every route it can reach
(walking the route table and the published document), so a route added later is covered too.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from models.access import targets
from models.core.actors import SYSTEM
from models.core.typed import encode_cursor
from models.identity import staff_accounts as staff
from handlers.base import is_html
from server.app import ROUTES
from server.openapi import FEN_MAX, ID_MAX, INT32_MAX, openapi_path
from server.passwords import ARGON2
from server.validation import decode_json
from tests.factories import counter
from tests.handlers.test_staff import PASSWORD, token_of
from tests.hostile_files import MULTIPART_CATALOGUE

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Audiences:
    worker: str
    cashier: str
    staff: str

    def all(self) -> list[tuple[str, str | None]]:
        return [("none", None), ("worker", self.worker), ("cashier", self.cashier), ("staff", self.staff)]


async def audiences(api: Any, engine: Any, running: Any) -> Audiences:
    scene = await counter(api, engine, running)
    async with engine.begin() as conn:
        await staff.create(conn, SYSTEM, hasher=ARGON2, username="hostile.admin", password=PASSWORD,
                           roles=["admin", "reviewer", "approver", "finance"], org_code="C01")
    return Audiences(scene.worker, scene.cashier, await token_of(api, "hostile.admin"))


def fixed_shape(resp: Any) -> None:
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = json.loads(resp.body)
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"], body
    assert body["error"]["request_id"] == resp.headers["X-Request-Id"]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in METHODS]


#: The answers of a declared target that is missing (models.access.targets), e.g. transfer_not_found.
_TARGET_MISSING = {targets.missing(kind, "1").code for kind in [*targets.KINDS, *targets.OWN]}


def _fill(path: str, value: str = "1") -> str:
    return re.sub(r"\{\w+\}", value, path)


#: The table each path id names (the declared access looks the record up before the body is read).
_ID_TABLES = {"member_id": "members", "card_id": "cards", "merchant_id": "merchants", "org_id": "orgs",
              "program_id": "programs", "statement_id": "statements", "record_id": "hardship_records",
              "transfer_id": "member_transfers", "redemption_id": "redemptions", "staff_id": "merchant_staff"}


async def _fill_existing(engine: Any, path: str) -> str:
    """The path with each id naming a record that exists (the first of its table), so the body is reached."""
    values: dict[str, str] = {}
    async with engine.connect() as conn:
        for name in re.findall(r"\{(\w+)\}", path):
            table = _ID_TABLES.get(name)
            found = (await conn.execute(sa.text(f"SELECT MIN(id) FROM {table}"))).scalar() if table else None
            values[name] = str(found) if found is not None else ("C01" if name == "org_code" else "1")
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


# --- 1. integers outside what a column holds -------------------------------------------------

def _integer_schemas(schema: Any, components: dict[str, Any], where: str, seen: tuple[str, ...] = ()) -> list[Any]:
    """Every integer schema inside ``schema`` (following $refs), with where it stands."""
    found: list[Any] = []
    if isinstance(schema, list):
        for item in schema:
            found += _integer_schemas(item, components, where, seen)
        return found
    if not isinstance(schema, dict):
        return found
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return [] if name in seen else _integer_schemas(components[name], components, f"{where}->{name}",
                                                       (*seen, name))
    kind = schema.get("type")
    if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
        found.append((where, schema))
    for key, value in schema.items():
        if key == "properties":
            for name, sub in value.items():
                found += _integer_schemas(sub, components, f"{where}.{name}", seen)
        elif key not in ("enum", "required", "const") and isinstance(value, (dict, list)):
            found += _integer_schemas(value, components, where, seen)
    return found


def test_every_integer_a_request_carries_is_bounded_to_fit_its_column(running):
    document = running.settings["openapi"]
    components = document["components"]["schemas"]
    checked = 0
    for path, item in document["paths"].items():
        for param in item.get("parameters", []):
            if "{" + param["name"] + "}" in path and param["schema"].get("type") == "integer":
                assert param["schema"]["minimum"] >= 1 and param["schema"]["maximum"] <= ID_MAX, (path, param)
        for method, op in item.items():
            if method not in METHODS:
                continue
            places: list[Any] = []
            for param in op.get("parameters", []):
                places += _integer_schemas(param.get("schema", {}), components, f"{method} {path} ?{param['name']}")
            for content in op.get("requestBody", {}).get("content", {}).values():
                places += _integer_schemas(content["schema"], components, f"{method} {path} body")
            for where, schema in places:
                checked += 1
                assert "minimum" in schema and "maximum" in schema, f"{where} is an unbounded integer"
                # 64-bit columns hold ids and money; 32-bit INT columns the rest: nothing wider than 2**63.
                assert -(2**63) < schema["minimum"] <= schema["maximum"] <= max(ID_MAX, FEN_MAX), where
    assert checked >= 10


def test_numeric_path_ids_are_published_as_bounded_integers(running):
    document = running.settings["openapi"]
    numeric = [openapi_path(r[0]) for r in ROUTES if "[0-9]+)" in r[0] and not is_html(r[1])]
    assert numeric
    for path in numeric:
        for param in document["paths"][path]["parameters"]:
            assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": ID_MAX}, (path, param)


@pytest.mark.parametrize("huge", [str(2**63), str(2**64 + 1), "9" * 40, "0", str(ID_MAX + 1)])
async def test_a_path_id_no_row_can_have_is_404_on_every_route(api, engine, running, huge):
    who = await audiences(api, engine, running)
    for pattern, handler, *_ in ROUTES:
        if "[0-9]+)" not in pattern or is_html(handler):  # the console's pages: tests/console
            continue
        path = re.sub(r"\(\?P<\w+>\[0-9\]\+\)", huge, pattern).rstrip("$")
        for method in METHODS:
            if getattr(handler, method, None) is getattr(object, method, None):
                continue
            for _name, token in who.all():
                resp = await api.request(method.upper(), path, token=token, json_body={} if method != "get"
                                         and method != "delete" else None, validate=False)
                assert resp.status != 500 and resp.status < 500, (method, path, resp.status)
                fixed_shape(resp)
                if resp.status != 405:
                    assert (resp.status, resp.error_code) == (404, "not_found"), (method, path, resp.data)


async def test_body_integers_beyond_their_columns_are_refused_not_stored(api, engine, running):
    who = await audiences(api, engine, running)
    for value in (2**31, 2**53, 2**63, 2**64, -(2**63) - 1, 10**30):
        resp = await api.post("/api/v1/staff/programs", {"name": "x", "org": "C01", "preset": "discount_pharmacy",
                                                          "valid_from": "2020-01-01", "valid_to": "2099-12-31",
                                                          "priority": value, "count_quota": value},
                              token=who.staff)
        assert (resp.status, resp.error_code) == (400, "invalid_body"), resp.data
        fields = {d["field"] for d in resp.data["error"]["details"]}
        assert {"priority", "count_quota"} <= fields
    resp = await api.post("/api/v1/merchant/invites", {"store_id": 2**70}, token=who.cashier)
    assert resp.status in (400, 403) and resp.status != 500
    assert INT32_MAX < ID_MAX


async def test_query_integers_and_text_are_validated_from_the_schema(api, engine, running):
    who = await audiences(api, engine, running)
    cases = [
        ("/api/v1/merchant/redemptions?cursor=null", who.cashier),
        ("/api/v1/merchant/redemptions?cursor=" + str(2**64), who.cashier),
        ("/api/v1/merchant/redemptions?cursor=" + encode_cursor(ID_MAX + 1), who.cashier),
        ("/api/v1/merchant/redemptions?limit=0", who.cashier),
        ("/api/v1/merchant/redemptions?limit=101", who.cashier),
        ("/api/v1/staff/members?cursor=" + "9" * 30, who.staff),
        ("/api/v1/staff/member-transfers?cursor=a1b2", who.staff),
        ("/api/v1/staff/member-transfers?direction=sideways", who.staff),
        ("/api/v1/staff/members?phone=" + "1" * 21, who.staff),
        ("/api/v1/staff/statements?month=0000-00", who.staff),
        ("/api/v1/staff/statements?merchant_id=" + str(2**63), who.staff),
        ("/api/v1/staff/hardship/due?within_days=" + "9" * 25, who.staff),
        ("/api/v1/me/redemptions?cursor=", who.worker),
        ("/api/v1/me/redemptions?cursor=" + "9" * 19, who.worker),
        ("/api/v1/me/card/qr?format=%ED%A0%80", who.worker),
    ]
    for path, token in cases:
        resp = await api.get(path, token=token)
        assert resp.status == 400, (path, resp.status, resp.data)
        assert resp.error_code in ("invalid_query", "bad_request"), (path, resp.data)
    # What the schema allows, the server takes.
    ok = await api.get("/api/v1/staff/statements?month=2026-01&merchant_id=" + str(ID_MAX), token=who.staff)
    assert ok.status == 200, ok.data
    ok = await api.get("/api/v1/merchant/redemptions?limit=100&cursor=" + encode_cursor(ID_MAX), token=who.cashier)
    assert ok.status == 200, ok.data


async def test_a_whole_number_written_with_a_fraction_is_an_integer(api, engine, running):
    """JSON Schema counts 165.0 as an integer, so the server does too."""
    who = await audiences(api, engine, running)
    resp = await api.post("/api/v1/staff/programs",
                          {"name": "整数", "org": "C01", "preset": "discount_pharmacy", "valid_from": "2020-01-01",
                           "valid_to": "2099-12-31", "priority": 165.0, "count_quota": 3e1},
                          token=who.staff)
    assert resp.status == 201, resp.data
    assert resp.data["count_quota"] == 30
    fractional = await api.post("/api/v1/staff/programs",
                                {"name": "小数", "org": "C01", "preset": "discount_pharmacy",
                                 "valid_from": "2020-01-01", "valid_to": "2099-12-31", "priority": 1.5},
                                token=who.staff)
    assert (fractional.status, fractional.error_code) == (400, "invalid_body")


# --- 1. lone surrogates and other text that is not Unicode ------------------------------------

@pytest.mark.parametrize("text", [b'"\\ud800"', b'"a\\udfffb"', b'"\\udc00\\ud800"', b"NaN", b"Infinity",
                                  b'"\xed\xa0\x80"', b"[" * 100_000])
def test_strict_json_refuses_what_is_not_unicode_or_not_json(text):
    from models.core.errors import AppError

    with pytest.raises(AppError) as refused:
        decode_json(b'{"name": ' + text + b"}")
    assert refused.value.code == "invalid_json"


def test_strict_json_keeps_real_pairs_and_text():
    assert decode_json('{"name": "\\ud83d\\ude00 张三"}'.encode()) == {"name": "\U0001F600 张三"}
    assert decode_json(b'{"n": 165.0, "m": 1.5, "e": 1e400}') == {"n": 165, "m": 1.5, "e": float("inf")}


async def test_a_lone_surrogate_is_refused_at_the_edge_of_every_json_route(api, engine, running):
    who = await audiences(api, engine, running)
    document = running.settings["openapi"]
    body = b'{"name": "\\ud800", "code": "\\udfff", "reason": "\\ud800"}'
    reached = 0
    for method, path, op in _operations(document):
        if "application/json" not in op.get("requestBody", {}).get("content", {}):
            continue
        codes = set()
        for _name, token in who.all():
            resp = await api.request(method.upper(), await _fill_existing(engine, path), body=body, token=token,
                                     headers={"Content-Type": "application/json", "Idempotency-Key": "k-surrogate"},
                                     validate=False)
            assert resp.status < 500, (method, path, resp.status, resp.body[:200])
            fixed_shape(resp)
            codes.add(resp.error_code)
        # The audience that may call the route hears invalid_json, whatever the route does with text.
        if "invalid_json" in codes:
            reached += 1
        else:
            # ... or an access refusal, or the declared target (id 1) missing: either way the body is never read.
            assert codes <= {"unauthorized", "forbidden", "not_found", "token_invalid", "member_not_bound",
                             "cashier_not_bound", "not_cashier", "not_manager", *_TARGET_MISSING}, \
                (method, path, codes)
    assert reached >= 15


# --- 1. malformed multipart ------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(MULTIPART_CATALOGUE))
async def test_a_malformed_upload_is_400_invalid_multipart(api, engine, running, case):
    who = await audiences(api, engine, running)
    body, ctype = MULTIPART_CATALOGUE[case]()
    resp = await api.request("POST", "/api/v1/staff/members/import", body=body, token=who.staff,
                             headers={"Content-Type": ctype})
    fixed_shape(resp)
    assert resp.status == 400, (case, resp.status, resp.data)
    assert resp.error_code in ("invalid_multipart", "file_required"), (case, resp.data)


# --- 2. every request gets an answer ---------------------------------------------------------

async def raw_exchange(running: Any, request: bytes, *, read_timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes on a fresh connection; the status, headers and body of the first answer."""
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        try:
            await writer.drain()
        except ConnectionError:
            pass  # the server may refuse before reading all we send: its answer is still there
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), read_timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), read_timeout)
        return status, headers, body
    finally:
        writer.close()


def _shaped(body: bytes, code: str) -> None:
    data = json.loads(body)
    assert data["error"]["code"] == code and data["error"]["message"] and data["error"]["request_id"], data


async def test_a_body_on_a_method_the_upload_route_lacks_is_405_and_closes(running):
    for method in ("PUT", "PATCH", "GET", "DELETE"):
        status, headers, body = await raw_exchange(running, (
            f"{method} /api/v1/staff/members/import HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            "boundary=XyZ\r\nContent-Length: 100000\r\n\r\n").encode() + b"x" * 1000)
        assert status == 405, method
        assert headers["connection"] == "close" and "POST" in headers["allow"]
        _shaped(body, "method_not_allowed")


async def test_a_declared_body_over_the_limit_is_413_before_it_is_read(running):
    limit = running.settings["config"].max_json_bytes
    status, headers, body = await raw_exchange(running, (
        "POST /api/v1/auth/wechat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {limit + 1}\r\n\r\n").encode() + b"{")
    assert status == 413 and headers["connection"] == "close"
    _shaped(body, "body_too_large")
    # Even beyond what any route takes (Tornado itself would have closed without a word).
    status, headers, body = await raw_exchange(running, (
        "POST /api/v1/staff/members/import HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=a\r\n"
        f"Content-Length: {10**12}\r\n\r\n").encode())
    assert status == 413 and headers["connection"] == "close"
    _shaped(body, "body_too_large")


async def test_a_chunked_body_that_grows_past_the_limit_is_413(running):
    limit = running.settings["config"].max_json_bytes
    chunk = b"x" * 8192
    chunks = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(limit // len(chunk) + 2))
    status, headers, body = await raw_exchange(running, (
        b"POST /api/v1/auth/wechat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"))
    assert status == 413 and headers["connection"] == "close"
    _shaped(body, "body_too_large")
    # One chunk that claims a terabyte.
    status, headers, body = await raw_exchange(running, (
        b"POST /api/v1/auth/wechat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nffffffffff\r\n" + b"x" * (limit + 10)))
    assert status == 413
    _shaped(body, "body_too_large")


async def test_a_bad_content_length_is_400_in_the_fixed_shape(running):
    status, headers, body = await raw_exchange(running, (
        b"POST /api/v1/auth/wechat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 12abc\r\n\r\n{}"))
    assert status == 400
    _shaped(body, "bad_request")


@pytest.mark.parametrize("size", [300, 8_000, 14_000, 20_000, 70_000, 1_000_000])
async def test_a_large_authorization_header_gets_an_answer(running, size):
    status, headers, body = await raw_exchange(running, (
        "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + "A" * size + "\r\n\r\n").encode())
    if size < 15_000:
        assert status == 401
        _shaped(body, "token_invalid")
    else:
        assert status == 431 and headers["connection"] == "close"
        _shaped(body, "headers_too_large")


async def test_an_early_refusal_on_a_kept_alive_connection_says_close_and_the_next_request_is_served(running):
    """The body of a refused upload is never read; the client is told the connection ends."""
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST /api/v1/staff/members/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
                     b"Content-Type: multipart/form-data; boundary=a\r\nContent-Length: 5000\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert b" 401 " in head.split(b"\r\n")[0] and b"Connection: close" in head
    finally:
        writer.close()
    # A refusal after the body was read keeps the connection.
    status, headers, _ = await raw_exchange(running, (
        b"POST /api/v1/auth/wechat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\n\r\n[]"))
    assert status == 400 and headers.get("connection", "").lower() != "close"


# --- 6. the audience is checked before the body ----------------------------------------------

async def test_a_wrong_audience_hears_401_or_403_before_anything_about_the_body(api, engine, running):
    who = await audiences(api, engine, running)
    document = running.settings["openapi"]
    tried = 0
    bad_bodies = [({"Content-Type": "text/plain"}, b"not json"), ({"Content-Type": "application/json"}, b"{"),
                  ({"Content-Type": "application/json"}, b'{"unknown": 1}')]
    for method, path, op in _operations(document):
        if "requestBody" not in op or not op.get("security"):
            continue
        for headers, body in bad_bodies:
            resp = await api.request(method.upper(), _fill(path), body=body, headers=headers, validate=False)
            assert resp.status == 401, (method, path, resp.status, resp.data)
        audience = ("staff" if path.startswith("/api/v1/staff/") else
                    "cashier" if path.startswith("/api/v1/merchant/") and not path.endswith("/bind") else None)
        if audience == "staff":
            wrong = [who.worker, who.cashier]
        elif audience == "cashier":
            wrong = [who.staff]
        else:
            wrong = [who.staff] if path.startswith("/api/v1/me/") else []
        for token in wrong:
            for headers, body in bad_bodies:
                resp = await api.request(method.upper(), _fill(path), body=body, headers=headers, token=token,
                                         validate=False)
                assert resp.status == 403, (method, path, resp.status, resp.data)
        tried += 1
    assert tried >= 15


async def test_no_token_on_the_import_route_is_401_whatever_the_body(api):
    for ctype in ("text/plain", "application/json", "multipart/form-data; boundary=x"):
        resp = await api.request("POST", "/api/v1/staff/members/import", body=b"garbage",
                                 headers={"Content-Type": ctype})
        assert resp.status == 401, resp.data


async def test_an_early_refusal_without_a_body_says_the_connection_ends(running):
    """A phone whose token expired is refused before the (empty) body is read: Tornado closes the
    connection after that answer, and the answer says so, so the phone opens a new one instead of
    failing its next request on a closed socket."""
    status, headers, body = await raw_exchange(running, (
        b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer expired-token-xyz\r\n\r\n"))
    assert status == 401 and headers.get("connection", "").lower() == "close"
    _shaped(body, "token_invalid")


async def test_a_kept_alive_connection_serves_the_next_request_after_an_early_refusal_without_a_body(running):
    """An honest answer about the connection: after a refused GET, either the server says
    ``Connection: close`` or the same connection really carries the next request (a phone's HTTP
    client reuses it, and a silent close would read as a network failure)."""
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer expired-token-xyz\r\n\r\n"
    try:
        for attempt in range(2):
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert b" 401 " in head.split(b"\r\n")[0], (attempt, head)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            await asyncio.wait_for(reader.readexactly(length), 10)
            if b"Connection: close" in head:
                break
    finally:
        writer.close()
