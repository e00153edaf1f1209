"""POST /api/v1/merchant/scan: a genuine, fresh, unused code of a live card opens one scan session.

Refusals: forged or altered codes, unknown keys, expired codes, codes claimed by
another cashier, codes of an older card version, frozen, lost and cancelled
cards, printed cards without (or with a wrong) ID last 4, suspended merchants
and callers who are not cashiers. Two app processes on one database racing the
same code: exactly one wins.
"""
from __future__ import annotations

import asyncio
import base64
import random
import time

import sqlalchemy as sa

from models.cards import codes as card_codes
from models.cards import lifecycle as cards
from models.cards import usecases as card_flows
from models.counter import scanning
from models.counter.tables import scan_sessions
from models.members import membership as members
from models.members.tables import members as members_table
from models.partners import invites
from models.partners import partnership as merchants
from server.qr_tokens import QrSigner, load_signer
from tests.client import ApiClient
from tests.conftest import serve_app
from tests.factories import Counter, counter, id_number

#: How many scans claimed a phone code (a printed card's scan claims none).
CLAIMS = sa.select(sa.func.count()).select_from(scan_sessions).where(scan_sessions.c.claimed_nonce.is_not(None))

SCAN = "/api/v1/merchant/scan"
ID_LAST4 = id_number(21)[-4:]  # the holder built by tests.factories.counter
WRONG_LAST4 = "0000" if ID_LAST4 != "0000" else "1111"


async def qr_of(api, worker: str) -> str:
    resp = await api.get("/api/v1/me/card/qr", token=worker)
    assert resp.status == 200, resp.data
    return str(resp.data["token"])


async def scan(api, cashier: str, qr, **extra):
    return await api.post(SCAN, {"qr": qr, **extra}, token=cashier)


async def another_cashier(api, engine, scene: Counter, code: str) -> str:
    """A second cashier of the same store, bound by invite through HTTP.

    ``code`` is a sandbox login code "<person>.<n>": use another person than the
    scene's cashier ("cash"), or it is the same WeChat user binding again.
    """
    async with engine.begin() as conn:
        invite = await invites.create(conn, scene.cipher, scene.admin, scene.merchant_id, role="cashier",
                                      store_id=scene.store_id)
    token = await api.login(code)
    joined = await api.post("/api/v1/merchant/bind", {"invite_code": invite.code}, token=token)
    assert joined.status == 200, joined.data
    return token


def signer_of(running) -> QrSigner:
    return running.settings["signer"]


def ttl_skew(running) -> tuple[int, int]:
    cfg = running.settings["config"]
    return cfg.qr_ttl, cfg.qr_clock_skew


async def card_row(engine, card_id: int):
    async with engine.connect() as conn:
        return await cards.get(conn, card_id)


def refused(resp, status: int, code: str) -> None:
    assert (resp.status, resp.error_code) == (status, code), (resp.status, resp.data)
    error = resp.data["error"]
    assert error["message"] and error["request_id"]


def alter(token: str, index: int, bit: int = 1) -> str:
    raw = bytearray(base64.b32decode(token + "=" * (-len(token) % 8)))
    raw[index] ^= bit
    return base64.b32encode(bytes(raw)).decode().rstrip("=")


# -- the answer ----------------------------------------------------------------

async def test_scan_answers_masked_holder_status_benefits_and_opens_a_session(api, engine, running):
    scene = await counter(api, engine, running)
    qr = await qr_of(api, scene.worker)
    resp = await scan(api, scene.cashier, qr)
    assert resp.status == 200, resp.data
    card = await card_row(engine, scene.card_id)
    assert resp.data["card"] == {"holder": "王*英", "status": "active", "card_no_tail": card.card_no[-4:],
                                 "printed": False}
    assert resp.data["benefits"] == []
    assert "王秀英" not in resp.body.decode() and id_number(21) not in resp.body.decode()
    async with engine.connect() as conn:
        session = (await conn.execute(sa.select(scan_sessions))).one()
    assert session.id == resp.data["scan_id"] and session.card_id == scene.card_id
    assert session.member_id == scene.member_id and session.store_id == scene.store_id
    assert session.card_version == card.version and session.used_at is None and session.printed is False
    assert session.claimed_nonce == session.nonce == signer_of(running).verify(qr).nonce.hex()


async def test_code_claimed_once_same_cashier_gets_same_scan_other_cashier_refused(api, engine, running):
    scene = await counter(api, engine, running)
    other = await another_cashier(api, engine, scene, "zhao.1")
    qr = await qr_of(api, scene.worker)
    first = await scan(api, scene.cashier, qr)
    assert first.status == 200
    again = await scan(api, scene.cashier, qr)  # the same cashier scanning again: the same session
    assert again.status == 200 and again.data["scan_id"] == first.data["scan_id"]
    refused(await scan(api, other, qr), 409, "qr_used")
    # A fresh code of the same card is fine for the other cashier.
    assert (await scan(api, other, await qr_of(api, scene.worker))).status == 200
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(scan_sessions))).scalar_one() == 2


async def test_a_spent_session_is_not_handed_out_again(api, engine, running):
    scene = await counter(api, engine, running)
    qr = await qr_of(api, scene.worker)
    first = await scan(api, scene.cashier, qr)
    user_id = await user_of(api, scene.cashier)
    async with engine.begin() as conn:
        cashier = await merchants.cashier_for_user(conn, user_id)
        row = await scanning.get_scan(conn, cashier, first.data["scan_id"])
        await scanning.spend(conn, row)
    refused(await scan(api, scene.cashier, qr), 409, "qr_used")


async def user_of(api, token: str) -> int:
    me = await api.get("/api/v1/me", token=token)
    assert me.status == 200
    return int(me.data["user"]["id"])


# -- card state ----------------------------------------------------------------

async def test_freeze_refuses_and_unfreeze_outdates_codes_shown_before(api, engine, running):
    scene = await counter(api, engine, running)
    before = await qr_of(api, scene.worker)
    async with engine.begin() as conn:
        await cards.freeze(conn, scene.admin, scene.card_id, reason="涉嫌冒用")
    refused(await scan(api, scene.cashier, before), 403, "card_frozen")
    refused(await api.get("/api/v1/me/card/qr", token=scene.worker), 403, "card_frozen")
    async with engine.begin() as conn:
        await cards.unfreeze(conn, scene.admin, scene.card_id)
    refused(await scan(api, scene.cashier, before), 422, "qr_outdated")
    assert (await scan(api, scene.cashier, await qr_of(api, scene.worker))).status == 200


async def test_lost_card_code_is_dead_at_once_and_the_new_card_works(api, engine, running):
    scene = await counter(api, engine, running)
    old = await qr_of(api, scene.worker)
    lost = await api.post("/api/v1/me/card/report-lost", {"reason": "手机丢了"}, token=scene.worker)
    assert lost.status == 200, lost.data
    refused(await scan(api, scene.cashier, old), 403, "card_lost")
    new = await qr_of(api, scene.worker)
    assert signer_of(running).verify(new).card_id == lost.data["card"]["id"] != scene.card_id
    ok = await scan(api, scene.cashier, new)
    assert ok.status == 200 and ok.data["card"]["card_no_tail"] == lost.data["card"]["card_no"][-4:]


async def test_cancelled_card_and_ended_membership_are_refused(api, engine, running):
    scene = await counter(api, engine, running)
    shown = await qr_of(api, scene.worker)
    async with engine.begin() as conn:
        await card_flows.update_member(conn, running.settings["cipher"], scene.admin, scene.member_id,
                                       changes=members.MemberChanges.of({"status": "ended"}))
    refused(await scan(api, scene.cashier, shown), 403, "card_cancelled")
    async with engine.connect() as conn:
        card = await cards.get(conn, scene.card_id)
    assert card.status == "cancelled"
    # A forged-fresh code of the cancelled card's current version is refused just the same.
    fresh = signer_of(running).sign(card.id, card.version, int(time.time()))
    refused(await scan(api, scene.cashier, fresh), 403, "card_cancelled")


async def test_live_card_of_an_ended_member_is_refused(api, engine, running):
    scene = await counter(api, engine, running)
    shown = await qr_of(api, scene.worker)
    async with engine.begin() as conn:
        await conn.execute(sa.update(members_table).where(members_table.c.id == scene.member_id)
                           .values(status="ended"))
    refused(await scan(api, scene.cashier, shown), 403, "card_cancelled")


# -- time ------------------------------------------------------------------------

async def test_expired_code_refused_and_clock_skew_allowed(api, engine, running):
    scene = await counter(api, engine, running)
    signer = signer_of(running)
    ttl, skew = ttl_skew(running)
    assert skew >= 12
    card = await card_row(engine, scene.card_id)
    now = int(time.time())
    refused(await scan(api, scene.cashier, signer.sign(card.id, card.version, now - 200)), 422, "qr_expired")
    refused(await scan(api, scene.cashier, signer.sign(card.id, card.version, now - ttl - skew - 3)),
            422, "qr_expired")
    late = await scan(api, scene.cashier, signer.sign(card.id, card.version, now - ttl - 10))
    assert late.status == 200, late.data
    # A phone whose clock runs a little ahead is fine; a code from far in the future is not genuine.
    ahead = await scan(api, scene.cashier, signer.sign(card.id, card.version, now + skew - 5))
    assert ahead.status == 200, ahead.data
    refused(await scan(api, scene.cashier, signer.sign(card.id, card.version, now + skew + 60)), 400, "qr_invalid")


# -- forgeries -------------------------------------------------------------------

async def test_unknown_key_and_altered_codes_are_invalid(api, engine, running, tmp_path):
    scene = await counter(api, engine, running)
    card = await card_row(engine, scene.card_id)
    now = int(time.time())
    stranger = load_signer(tmp_path)  # key id 1 like ours, another key
    refused(await scan(api, scene.cashier, stranger.sign(card.id, card.version, now)), 400, "qr_invalid")
    other_kid = QrSigner({9: stranger._keys[1]}, 9)
    refused(await scan(api, scene.cashier, other_kid.sign(card.id, card.version, now)), 400, "qr_invalid")
    good = await qr_of(api, scene.worker)
    rng = random.Random(4)
    for index in rng.sample(range(84), 20):
        forged = alter(good, index, 1 << rng.randrange(8))
        refused(await scan(api, scene.cashier, forged), 400, "qr_invalid")
    # Not base32-canonical: trailing junk, padding, a character past the end.
    for forged in (good + "A", good + "=", good[:-1]):
        refused(await scan(api, scene.cashier, forged), 400, "qr_invalid")
    # None of the forgeries claimed anything: the genuine code still works.
    assert (await scan(api, scene.cashier, good)).status == 200


async def test_200_garbage_codes_over_http_are_4xx_in_the_error_shape(api, engine, running):
    scene = await counter(api, engine, running)
    rng = random.Random(200)
    b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    bodies: list[dict] = [{}, {"qr": None}, {"qr": 12}, {"qr": ["A"]}, {"qr": {"a": 1}}, {"qr": ""},
                          {"qr": "A" * 301}, {"qr": "A" * 135, "id_last4": "12345"}, {"code": "x"}]
    while len(bodies) < 200:
        kind = len(bodies) % 4
        if kind == 0:
            text = "".join(rng.choice(b32) for _ in range(135))  # the right length: reaches the signature check
        elif kind == 1:
            text = "".join(rng.choice(b32 + "=01 \t\n") for _ in range(rng.randrange(1, 300)))
        elif kind == 2:
            text = "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(1, 200)))
        else:
            text = "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(1, 300)))
        bodies.append({"qr": text})
    statuses = []
    for body in bodies:
        resp = await api.post(SCAN, body, token=scene.cashier)
        assert 400 <= resp.status < 500, (body, resp.status, resp.body[:200])
        error = resp.data["error"]
        assert set(error) >= {"code", "message", "request_id"} and error["code"]
        statuses.append(resp.status)
    assert statuses.count(400) == len(statuses)
    async with engine.connect() as conn:
        assert (await conn.execute(CLAIMS)).scalar_one() == 0


# -- who may scan ----------------------------------------------------------------

async def test_suspended_merchant_and_non_cashiers_cannot_scan(api, engine, running):
    scene = await counter(api, engine, running)
    qr = await qr_of(api, scene.worker)
    refused(await scan(api, scene.worker, qr), 403, "not_cashier")
    refused(await scan(api, await api.login("nobody.1"), qr), 403, "not_cashier")
    anonymous = await api.post(SCAN, {"qr": qr})
    assert anonymous.status == 401
    async with engine.begin() as conn:
        await merchants.set_status(conn, scene.admin, scene.merchant_id, status="suspended", reason="违规收费")
    refused(await scan(api, scene.cashier, qr), 403, "merchant_suspended")
    async with engine.begin() as conn:
        await merchants.set_status(conn, scene.admin, scene.merchant_id, status="active")
    # The refusals claimed nothing: the code is still fresh for this cashier.
    assert (await scan(api, scene.cashier, qr)).status == 200


# -- printed card ---------------------------------------------------------------

async def _print(engine, running, scene: Counter) -> str:
    async with engine.begin() as conn:
        card = await cards.reprint(conn, scene.admin, scene.card_id)
    return card_codes.printed_code(signer_of(running), card)


async def test_printed_code_needs_the_id_last4_and_opens_a_new_session_each_time(api, engine, running):
    scene = await counter(api, engine, running)
    printed = await _print(engine, running, scene)
    refused(await scan(api, scene.cashier, printed), 422, "id_last4_required")
    refused(await scan(api, scene.cashier, printed, id_last4=WRONG_LAST4), 403, "id_last4_wrong")
    first = await scan(api, scene.cashier, printed, id_last4=ID_LAST4)
    assert first.status == 200 and first.data["card"]["printed"] is True
    second = await scan(api, scene.cashier, printed, id_last4=ID_LAST4)
    assert second.status == 200 and second.data["scan_id"] != first.data["scan_id"]
    other = await another_cashier(api, engine, scene, "zhao.1")
    assert (await scan(api, other, printed, id_last4=ID_LAST4)).status == 200
    assert (await api.post(SCAN, {"qr": printed, "id_last4": "12"}, token=scene.cashier)).status == 400
    async with engine.connect() as conn:
        assert (await conn.execute(CLAIMS)).scalar_one() == 0


async def test_five_wrong_last4_lock_the_printed_card(api, engine, running):
    scene = await counter(api, engine, running)
    printed = await _print(engine, running, scene)
    for _ in range(4):
        refused(await scan(api, scene.cashier, printed, id_last4=WRONG_LAST4), 403, "id_last4_wrong")
    fifth = await scan(api, scene.cashier, printed, id_last4=WRONG_LAST4)
    refused(fifth, 429, "card_locked")
    assert int(fifth.headers["Retry-After"]) > 0
    refused(await scan(api, scene.cashier, printed, id_last4=ID_LAST4), 429, "card_locked")
    # The phone's rotating code does not ask for the last 4 and is not locked.
    assert (await scan(api, scene.cashier, await qr_of(api, scene.worker))).status == 200


async def test_reprint_outdates_the_previous_print(api, engine, running):
    scene = await counter(api, engine, running)
    first = await _print(engine, running, scene)
    second = await _print(engine, running, scene)
    assert first != second
    refused(await scan(api, scene.cashier, first, id_last4=ID_LAST4), 422, "qr_outdated")
    assert (await scan(api, scene.cashier, second, id_last4=ID_LAST4)).status == 200
    async with engine.begin() as conn:
        await cards.freeze(conn, scene.admin, scene.card_id, reason="核查")
    refused(await scan(api, scene.cashier, second, id_last4=ID_LAST4), 403, "card_frozen")


# -- two processes ----------------------------------------------------------------

async def test_two_app_instances_racing_one_code_exactly_one_wins(api, engine, running, config):
    scene = await counter(api, engine, running)
    other = await another_cashier(api, engine, scene, "zhao.1")
    second = await serve_app(config, engine)
    try:
        api2 = ApiClient(second.url, second.settings["openapi"])
        winners = set()
        for _ in range(10):
            qr = await qr_of(api, scene.worker)
            a, b = await asyncio.gather(scan(api, scene.cashier, qr), scan(api2, other, qr))
            assert sorted([a.status, b.status]) == [200, 409], (a.data, b.data)
            loser = a if a.status == 409 else b
            assert loser.error_code == "qr_used"
            winners.add("first" if a.status == 200 else "second")
        # The same cashier tapping twice, once on each instance, gets one session.
        for _ in range(5):
            qr = await qr_of(api, scene.worker)
            a, b = await asyncio.gather(scan(api, scene.cashier, qr), scan(api2, scene.cashier, qr))
            assert (a.status, b.status) == (200, 200), (a.data, b.data)
            assert a.data["scan_id"] == b.data["scan_id"]
    finally:
        second.server.stop()
        second.gateway.close()
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(scan_sessions))).scalar_one() == 15
        assert (await conn.execute(CLAIMS)).scalar_one() == 15


async def test_releasing_the_binding_kills_the_code_on_the_released_phone(api, engine, running):
    from tests.factories import staff_actor

    scene = await counter(api, engine, running)
    shown = await qr_of(api, scene.worker)
    clerk = staff_actor(scene.tree["S01"], "station")
    async with engine.begin() as conn:
        await card_flows.release_binding(conn, clerk, scene.member_id, scope=clerk.org_path)
    refused(await scan(api, scene.cashier, shown), 422, "qr_outdated")


async def test_a_lost_card_cannot_be_printed_or_downloaded(api, engine, running):
    import pytest

    from models.cards import codes as card_codes
    from models.cards import lifecycle as cards
    from models.core.errors import AppError

    scene = await counter(api, engine, running)
    async with engine.begin() as conn:
        await cards.reprint(conn, scene.admin, scene.card_id)
        await cards.report_lost(conn, scene.admin, scene.card_id, reason="遗失")
        dead = await cards.get(conn, scene.card_id)
    with pytest.raises(AppError) as info:
        card_codes.printed_code(signer_of(running), dead)
    assert info.value.code == "card_lost"
