"""Cards and card codes against a connection: numbers, the lifecycle, checking codes, claiming, purging."""
from __future__ import annotations

import base64
import random
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models.cards import codes as card_codes
from models.cards import lifecycle as cards
from models.cards import usecases as card_flows
from models.cards.tables import cards as cards_table
from models.cards.tables import qr_nonces
from models.core import actors
from models.core import outbox as notifications
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from models.core.tables import audit_log
from models.core.tables import notifications as notifications_table
from models.counter import scanning
from models.counter.tables import scan_sessions
from models.identity.tables import users
from models.members import membership as members
from models.partners import invites
from models.partners import partnership as merchants
from server.crypto import PiiCipher, load_keyring
from server.qr_tokens import QrSigner, load_signer
from tests.factories import id_number, import_rows, org_tree, staff_actor

TTL, SKEW, SCAN_TTL = 60, 15, 300


@pytest.fixture(scope="module")
def signer(tmp_path_factory) -> QrSigner:
    return load_signer(tmp_path_factory.mktemp("qr-keys"))


async def new_user(conn, name: str) -> int:
    now = utcnow()
    result = await conn.execute(users.insert().values(openid=f"o-{name}", created_at=now, last_login_at=now))
    return int(result.inserted_primary_key[0])


class Scene:
    """A union tree, a bound member (with a card), an unbound one, and a pharmacy with one cashier."""

    def __init__(self, tree, user_id, member_id, other_member_id, admin, cashier, cipher) -> None:
        self.tree, self.user_id, self.member_id, self.other_member_id = tree, user_id, member_id, other_member_id
        self.admin, self.cashier, self.cipher = admin, cashier, cipher


async def scene(engine, config) -> Scene:
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("王秀英", id_number(21), ""), ("李四", id_number(22), "")])
        user_id = await new_user(conn, "wang")
        member = await card_flows.claim_membership(conn, cipher, actors.worker(user_id), name="王秀英",
                                                   id_number=id_number(21))
        other = (await conn.execute(sa.text("SELECT id FROM members WHERE name = '李四'"))).scalar_one()
        admin = staff_actor(tree["K01"], "admin")
        merchant = await merchants.create(conn, admin, name="老百姓大药房", type="pharmacy", org_id=tree["K01"].id,
                                          agreement_from=date(2020, 1, 1), agreement_to=date(2099, 12, 31))
        store = await merchants.add_store(conn, admin, merchant.id, name="东湖店", address="东湖路 1 号")
        invite = await invites.create(conn, cipher, admin, merchant.id, role="cashier", store_id=store["id"])
        cashier = await invites.bind(conn, actors.worker(await new_user(conn, "cash")), invite.code)
    return Scene(tree, user_id, member.id, other, admin, cashier, cipher)


async def live(engine, member_id: int) -> cards.Card:
    async with engine.connect() as conn:
        card = await cards.live_for_member(conn, member_id)
    assert card is not None
    return card


async def actions(conn, card_id: int) -> list[str]:
    return list((await conn.execute(sa.select(audit_log.c.action).where(
        audit_log.c.target_kind == "card", audit_log.c.target_id == str(card_id)).order_by(audit_log.c.id)))
        .scalars())


# -- numbers (no database) --------------------------------------------------------

def test_luhn_digit_matches_known_numbers():
    assert cards.luhn_digit("7992739871") == "3"
    assert cards.luhn_digit("411111111111111") == "1"  # the classic test Visa number
    assert cards.luhn_digit("453201511283036") == "6"
    assert cards.luhn_digit("0") == "0" and cards.luhn_digit("1") == "8"


def test_new_numbers_are_16_digits_from_8_checked_and_random():
    made = [cards.new_card_no() for _ in range(3000)]
    assert len(set(made)) == len(made)
    for number in made:
        assert len(number) == 16 and number[0] == "8" and number.isdigit() and cards.valid_card_no(number)
    # Every position after the leading 8 takes every digit: the number is drawn, not derived from anyone.
    for pos in range(1, 16):
        assert {n[pos] for n in made} == set("0123456789"), pos


def test_every_single_digit_typo_and_adjacent_swap_is_caught():
    rng = random.Random(16)
    for _ in range(30):
        number = cards.new_card_no()
        for pos in range(16):
            for digit in "0123456789":
                typo = number[:pos] + digit + number[pos + 1:]
                assert cards.valid_card_no(typo) == (typo == number)
        for pos in range(15):
            a, b = number[pos], number[pos + 1]
            swapped = number[:pos] + b + a + number[pos + 2:]
            if a != b and {a, b} != {"0", "9"}:  # the one swap Luhn cannot see
                assert not cards.valid_card_no(swapped)
        assert not cards.valid_card_no(number[:-1]) and not cards.valid_card_no(number + "0")
        assert not cards.valid_card_no("9" + number[1:-1] + cards.luhn_digit("9" + number[1:-1]))
        assert not cards.valid_card_no(number.replace(number[rng.randrange(16)], "٣", 1))  # non-ASCII digit
    assert cards.display_card_no("8123456789012345") == "8123 4567 8901 2345"


# -- codes (no database) -----------------------------------------------------------

def _raw(token: str) -> bytes:
    return base64.b32decode(token + "=" * (-len(token) % 8))


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def test_check_code_refuses_every_flipped_bit_and_byte_and_changed_character(signer):
    now = time.time()
    token = signer.sign(42, 3, int(now))
    assert card_codes.check_code(signer, token, ttl=TTL, skew=SKEW, now=now).card_id == 42
    raw = _raw(token)
    forged = []
    for i in range(len(raw)):
        for mask in (1, 2, 4, 8, 16, 32, 64, 128, 0xFF):
            altered = bytearray(raw)
            altered[i] ^= mask
            forged.append(_b32(bytes(altered)))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    for i, char in enumerate(token):
        forged += [token[:i] + other + token[i + 1:] for other in alphabet if other != char]
    assert len(forged) == 84 * 9 + 135 * 31
    for text in forged:
        with pytest.raises(Invalid) as caught:
            card_codes.check_code(signer, text, ttl=TTL, skew=SKEW, now=now)
        assert (caught.value.code, caught.value.status) == ("qr_invalid", 400), text


def _garbage(rng: random.Random, good: str) -> str:
    kind = rng.randrange(8)
    b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    if kind == 0:
        return "".join(rng.choice(b32) for _ in range(135))  # right length, random signature
    if kind == 1:
        return _b32(rng.randbytes(84))  # canonical, 84 bytes, random everything
    if kind == 2:
        return _b32(bytes([rng.choice([1, 2]), 1]) + rng.randbytes(82))  # a known format and key id
    if kind == 3:
        return "".join(chr(rng.randrange(0, 0x11000)) for _ in range(rng.randrange(0, 250)))
    if kind == 4:
        return rng.randbytes(rng.randrange(0, 300)).decode("latin-1")
    if kind == 5:
        cut = rng.randrange(len(good))
        return good[:cut] + "".join(rng.choice(b32 + "=-_ \n") for _ in range(rng.randrange(1, 5))) + good[cut + 1:]
    if kind == 6:
        return good[: rng.randrange(len(good))]
    return "".join(rng.choice(b32 + "01890=") for _ in range(rng.randrange(1, 220)))


def test_ten_thousand_garbage_codes_raise_app_errors_only(signer):
    rng = random.Random(10_000)
    good = signer.sign(7, 1, int(time.time()))
    codes: list[object] = []
    while len(codes) < 10_000 - 8:
        text = _garbage(rng, good)
        if text.strip().upper() != good:  # a scanner's trailing newline or lower case is still the good code
            codes.append(text)
    codes += [None, 12, b"bytes", ["A"], "", " ", "=" * 8, good + "A"]
    for text in codes:
        try:
            card_codes.check_code(signer, text, ttl=TTL, skew=SKEW)  # type: ignore[arg-type]
        except AppError as exc:
            assert exc.code == "qr_invalid" and exc.status == 400
        else:
            raise AssertionError(f"garbage accepted: {text!r}")


def test_expiry_boundaries_and_clock_skew(signer):
    issued = 1_900_000_000
    token = signer.sign(5, 1, issued)
    check = card_codes.check_code
    assert check(signer, token, ttl=TTL, skew=SKEW, now=issued + TTL + SKEW).issued_at == issued
    with pytest.raises(AppError) as late:
        check(signer, token, ttl=TTL, skew=SKEW, now=issued + TTL + SKEW + 1)
    assert (late.value.code, late.value.status) == ("qr_expired", 422)
    assert check(signer, token, ttl=TTL, skew=SKEW, now=issued - SKEW).card_id == 5  # the phone runs ahead
    with pytest.raises(Invalid):
        check(signer, token, ttl=TTL, skew=SKEW, now=issued - SKEW - 1)
    with pytest.raises(AppError):
        check(signer, token, ttl=TTL, skew=0, now=issued + TTL + 1)
    # A printed card's code has no expiry of its own.
    printed = signer.sign(5, 1, issued, printed_nonce=bytes(8))
    assert check(signer, printed, ttl=TTL, skew=SKEW, now=issued + 10 * 365 * 86400).printed


# -- lifecycle ------------------------------------------------------------------------

async def test_bind_issues_one_card_audited_and_notified(engine, config):
    s = await scene(engine, config)
    card = await live(engine, s.member_id)
    assert (card.status, card.version, card.replaces_id) == ("active", 1, None) and cards.valid_card_no(card.card_no)
    async with engine.begin() as conn:
        again = await cards.issue(conn, s.admin, s.member_id)
        assert again == card
        assert await actions(conn, card.id) == ["card.issue"]
        assert [n.kind for n in await notifications.for_user(conn, s.user_id)] == ["card.issued"]
        other = await cards.issue(conn, s.admin, s.other_member_id)  # not bound: no one to tell
        assert other.card_no != card.card_no and other.member_id == s.other_member_id
        assert (await conn.execute(sa.select(sa.func.count()).select_from(notifications_table))).scalar_one() == 1


async def test_issue_refusals_say_nothing_outside_scope_or_role(engine, config):
    s = await scene(engine, config)
    outsider = staff_actor(s.tree["K02"], "station")
    reviewer = staff_actor(s.tree["K01"], "reviewer")
    async with engine.begin() as conn:
        with pytest.raises(NotFound) as outside:
            await cards.issue(conn, outsider, s.other_member_id)
        with pytest.raises(NotFound) as missing:
            await cards.issue(conn, outsider, 10**9)
        assert (outside.value.code, outside.value.message) == (missing.value.code, missing.value.message)
        for member_id in (s.other_member_id, 10**9):
            with pytest.raises(Forbidden):
                await cards.issue(conn, reviewer, member_id)
        await card_flows.update_member(conn, s.cipher, s.admin, s.other_member_id, changes=members.MemberChanges.of({"status": "ended"}))
        with pytest.raises(Conflict) as ended:
            await cards.issue(conn, s.admin, s.other_member_id)
        assert ended.value.code == "member_inactive"


async def test_freeze_unfreeze_bump_version_need_reason_and_scope(engine, config, signer):
    s = await scene(engine, config)
    card = await live(engine, s.member_id)
    async with engine.begin() as conn:
        for reason in ("", "   "):
            with pytest.raises(Invalid) as caught:
                await cards.freeze(conn, s.admin, card.id, reason=reason)
            assert caught.value.code == "reason_required"
        with pytest.raises(Invalid):
            await cards.freeze(conn, s.admin, card.id, reason="x" * 201)
        with pytest.raises(NotFound):
            await cards.freeze(conn, staff_actor(s.tree["K02"], "admin"), card.id, reason="核查")
        with pytest.raises(Forbidden):
            await cards.freeze(conn, staff_actor(s.tree["K01"], "reviewer", "finance"), card.id, reason="核查")
        frozen = await cards.freeze(conn, staff_actor(s.tree["S01"], "station"), card.id, reason=" 核查 ")
        assert (frozen.status, frozen.status_reason, frozen.version) == ("frozen", "核查", 2)
        with pytest.raises(Forbidden) as shown:
            card_codes.phone_code(signer, frozen, ttl=TTL)
        assert shown.value.code == "card_frozen"
        with pytest.raises(Conflict):
            await cards.freeze(conn, s.admin, card.id, reason="again")
        with pytest.raises(Conflict):
            await cards.reprint(conn, s.admin, card.id)
        back = await cards.unfreeze(conn, s.admin, card.id)
        assert (back.status, back.status_reason, back.version) == ("active", None, 3)
        with pytest.raises(Conflict):
            await cards.unfreeze(conn, s.admin, card.id)
        assert await actions(conn, card.id) == ["card.issue", "card.freeze", "card.unfreeze"]
        assert [n.kind for n in reversed(await notifications.for_user(conn, s.user_id))] == [
            "card.issued", "card.frozen", "card.active"]


async def test_report_lost_kills_the_old_card_and_keeps_a_freeze(engine, config):
    s = await scene(engine, config)
    old = await live(engine, s.member_id)
    worker = Actor(kind="user", id=s.user_id)
    async with engine.begin() as conn:
        with pytest.raises(NotFound):
            await cards.report_lost(conn, Actor(kind="user", id=s.user_id + 999), old.id)
        await cards.freeze(conn, s.admin, old.id, reason="核查")
        new = await cards.report_lost(conn, worker, old.id)
        dead = await cards.get(conn, old.id)
        assert (dead.status, dead.status_reason) == ("lost", "挂失")
        assert (new.status, new.status_reason, new.replaces_id) == ("frozen", "核查", old.id)
        assert new.card_no != old.card_no and cards.valid_card_no(new.card_no)
        assert (await cards.live_for_member(conn, s.member_id)) == new
        assert [c.id for c in await cards.history(conn, s.member_id)] == [new.id, old.id]
        with pytest.raises(Conflict) as twice:
            await cards.report_lost(conn, worker, old.id)
        assert twice.value.code == "card_not_live"
        with pytest.raises(Conflict):
            await cards.unfreeze(conn, s.admin, old.id)
        # Staff reissue the new card in turn (freeze kept again).
        third = await cards.report_lost(conn, s.admin, new.id, reason="卡片损坏")
        assert third.status == "frozen" and third.replaces_id == new.id
        assert (await cards.get(conn, new.id)).status_reason == "卡片损坏"


async def test_membership_end_cancels_in_the_same_transaction(engine, config):
    s = await scene(engine, config)
    card = await live(engine, s.member_id)
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await card_flows.update_member(conn, s.cipher, s.admin, s.member_id, changes=members.MemberChanges.of({"status": "ended"}))
            assert (await cards.get(conn, card.id)).status == "cancelled"
            raise RuntimeError("roll back")
    assert (await live(engine, s.member_id)).status == "active"  # both or neither
    async with engine.begin() as conn:
        await card_flows.update_member(conn, s.cipher, s.admin, s.member_id, changes=members.MemberChanges.of({"status": "ended"}))
        gone = await cards.get(conn, card.id)
        assert (gone.status, gone.version) == ("cancelled", 2)
        assert await cards.live_for_member(conn, s.member_id) is None
        assert await actions(conn, card.id) == ["card.issue", "card.cancel"]
        assert [n.kind for n in await notifications.for_user(conn, s.user_id)][0] == "card.cancelled"
        with pytest.raises(Conflict):
            await cards.cancel(conn, s.admin, card.id, reason="again")
        # The membership comes back: the old card stays dead, a new one can be issued.
        await card_flows.update_member(conn, s.cipher, s.admin, s.member_id, changes=members.MemberChanges.of({"status": "active"}))
        with pytest.raises(Conflict):
            await cards.unfreeze(conn, s.admin, card.id)
        fresh = await cards.issue(conn, s.admin, s.member_id)
        assert fresh.id != card.id and fresh.status == "active"


async def test_concurrent_change_of_a_stale_card_is_refused(engine, config):
    s = await scene(engine, config)
    card = await live(engine, s.member_id)
    async with engine.begin() as conn:
        member = await cards._member_row(conn, s.member_id)
        await cards.freeze(conn, s.admin, card.id, reason="核查")
        with pytest.raises(Conflict) as stale:
            await cards._change(conn, s.admin, card, member, "cancelled", "x", "card.cancel")
        assert stale.value.code == "card_changed"


# -- claiming, sessions, purge ----------------------------------------------------------

async def test_open_scan_claims_once_and_purge_forgets_only_dead_rows(engine, config, signer):
    s = await scene(engine, config)
    card = await live(engine, s.member_id)
    issued = int(time.time())
    codes = [signer.sign(card.id, card.version, issued) for _ in range(3)]
    async with engine.begin() as conn:
        scans = [await scanning.open_scan(conn, signer, s.cashier, c, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL)
                 for c in codes]
        assert await scanning.open_scan(conn, signer, s.cashier, codes[0], ttl=TTL, skew=SKEW,
                                          scan_ttl=SCAN_TTL) == scans[0]
        rows = {r.claimed_nonce: r for r in (await conn.execute(sa.select(scan_sessions))).all()}
        assert len(rows) == 3
        for code, scan in zip(codes, scans):
            assert rows[signer.verify(code).nonce.hex()].id == scan.id  # the session is the code's claim
        # A nonce claimed before migration 0020 (in qr_nonces) is forgotten once dead.
        now = utcnow()
        await conn.execute(qr_nonces.insert(), [
            {"nonce": "d" * 16, "card_id": card.id, "claimed_at": now, "keep_until": now - timedelta(seconds=1)},
            {"nonce": "a" * 16, "card_id": card.id, "claimed_at": now, "keep_until": now + timedelta(seconds=30)}])
        assert await scanning.purge(conn) == (1, 0)
        await conn.execute(scan_sessions.update().where(scan_sessions.c.id == scans[0].id)
                           .values(expires_at=now - scanning.SESSION_KEPT - timedelta(minutes=1)))
        await conn.execute(scan_sessions.update().where(scan_sessions.c.id == scans[1].id)
                           .values(expires_at=now - scanning.SESSION_KEPT + timedelta(minutes=5)))
        assert await scanning.purge(conn) == (0, 1)
        assert set((await conn.execute(sa.select(qr_nonces.c.nonce))).scalars()) == {"a" * 16}
        sessions = set((await conn.execute(sa.select(scan_sessions.c.id))).scalars())
        assert sessions == {scans[1].id, scans[2].id}
        assert await scanning.purge(conn) == (0, 0)


async def test_claimed_code_refused_to_another_cashier_and_spent_code_to_anyone(engine, config, signer):
    s = await scene(engine, config)
    card = await live(engine, s.member_id)
    async with engine.begin() as conn:
        invite = await invites.create(conn, s.cipher, s.admin, s.cashier.merchant_id, role="cashier",
                                      store_id=s.cashier.store_id)
        other = await invites.bind(conn, actors.worker(await new_user(conn, "zhao")), invite.code)
        code = signer.sign(card.id, card.version, int(time.time()))
        first = await scanning.open_scan(conn, signer, s.cashier, code, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL)
        assert (first.holder_masked, first.printed, first.member_id) == ("王*英", False, s.member_id)
        with pytest.raises(Conflict) as used:
            await scanning.open_scan(conn, signer, other, code, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL)
        assert used.value.code == "qr_used"
        session = await scanning.get_scan(conn, s.cashier, first.id)
        with pytest.raises(AppError) as not_theirs:
            await scanning.get_scan(conn, other, first.id)
        assert not_theirs.value.code == "scan_not_found"
        await scanning.spend(conn, session)
        with pytest.raises(Conflict):
            await scanning.spend(conn, session)
        with pytest.raises(Conflict):
            await scanning.open_scan(conn, signer, s.cashier, code, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL)
        # A code of a card id that does not exist is not genuine as far as the counter is concerned.
        ghost = signer.sign(10**8, 1, int(time.time()))
        with pytest.raises(Invalid):
            await scanning.open_scan(conn, signer, s.cashier, ghost, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL)
        rows = (await conn.execute(sa.select(cards_table.c.id))).scalars().all()
        assert rows == [card.id]


async def test_printed_code_second_factor_and_lock(engine, config, signer):
    s = await scene(engine, config)
    card = await live(engine, s.member_id)
    async with engine.begin() as conn:
        with pytest.raises(Conflict):
            card_codes.printed_code(signer, card)
        printed_card = await cards.reprint(conn, s.admin, card.id)
        code = card_codes.printed_code(signer, printed_card)
        assert code == card_codes.printed_code(signer, printed_card)  # the same string for PDF and PNG
        right = id_number(21)[-4:]
        with pytest.raises(AppError) as required:
            await scanning.open_scan(conn, signer, s.cashier, code, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL)
        assert (required.value.code, required.value.status) == ("id_last4_required", 422)
        with pytest.raises(scanning.SecondFactorWrong):
            await scanning.open_scan(conn, signer, s.cashier, code, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL,
                                       id_last4="0000" if right != "0000" else "1111")
        a = await scanning.open_scan(conn, signer, s.cashier, code, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL,
                                       id_last4=right.lower())
        b = await scanning.open_scan(conn, signer, s.cashier, code, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL,
                                       id_last4=right)
        assert a.printed and b.printed and a.id != b.id
        errors = [await scanning.factor_failed(conn, card.id) for _ in range(scanning.FACTOR_LIMIT)]
        assert [e.code for e in errors] == ["id_last4_wrong"] * (scanning.FACTOR_LIMIT - 1) + ["card_locked"]
        with pytest.raises(AppError) as locked:
            await scanning.open_scan(conn, signer, s.cashier, code, ttl=TTL, skew=SKEW, scan_ttl=SCAN_TTL,
                                       id_last4=right)
        assert (locked.value.code, locked.value.status) == ("card_locked", 429)
