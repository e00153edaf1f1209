"""The service card over HTTP: issuance, the rotating QR code (JSON and images), the public keys,
staff freezing, loss, cancellation and printing, within the staff's subtree and role only."""
from __future__ import annotations

import base64
import io
import json
import re
import struct
import time
from datetime import datetime
from xml.etree import ElementTree

import qrcode
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image
from qrcode.base import rs_blocks
from qrcode.constants import (
    ERROR_CORRECT_H,
    ERROR_CORRECT_L,
    ERROR_CORRECT_M,
    ERROR_CORRECT_Q,
)
from qrcode.util import mask_func

from models.cards import codes as card_codes
from models.cards import usecases as card_flows
from models.cards.tables import cards as cards_table
from models.core import outbox as notifications
from models.core.actors import SYSTEM
from models.core.tables import audit_log
from models.identity import staff_accounts as staff
from models.identity import usecases as identity
from models.identity.tables import users
from models.members import membership as members
from server.passwords import ARGON2
from tests.factories import counter, id_number, import_rows
from tests.handlers.test_merchant_scan import ID_LAST4, qr_of, refused, scan
from tests.handlers.test_staff import PASSWORD, same_refusal, token_of

# -- a small QR decoder (alphanumeric mode only): the images must carry a token we can check ----

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_EC = {ERROR_CORRECT_L: "L", ERROR_CORRECT_M: "M", ERROR_CORRECT_Q: "Q", ERROR_CORRECT_H: "H"}


def _function_modules(version: int, ec: int, mask: int) -> list[list[bool | None]]:
    """Finder, alignment, timing, format and version modules as qrcode lays them out; None for data."""
    qr = qrcode.QRCode(version=version, error_correction=ec)
    n = qr.modules_count = 17 + 4 * version
    qr.modules = [[None] * n for _ in range(n)]
    for r, c in ((0, 0), (n - 7, 0), (0, n - 7)):
        qr.setup_position_probe_pattern(r, c)
    qr.setup_position_adjust_pattern()
    qr.setup_timing_pattern()
    qr.setup_type_info(False, mask)
    if version >= 7:
        qr.setup_type_number(False)
    return qr.modules


def decode_qr(matrix: list[list[bool]]) -> tuple[int, str, str]:
    """(version, error correction level, text) of an alphanumeric-mode QR module matrix."""
    n = len(matrix)
    version = (n - 17) // 4
    assert n == 17 + 4 * version and 1 <= version <= 40, n
    found = [(ec, mask, fixed) for ec in _EC for mask in range(8)
             for fixed in [_function_modules(version, ec, mask)]
             if all(f is None or bool(f) == matrix[r][c] for r, row in enumerate(fixed) for c, f in enumerate(row))]
    assert len(found) == 1, "format information not recognised"
    ec, mask, fixed = found[0]
    flip = mask_func(mask)
    bits: list[bool] = []
    row, step, col = n - 1, -1, n - 1
    while col > 0:
        if col == 6:
            col -= 1  # the vertical timing pattern
        while 0 <= row < n:
            for c in (col, col - 1):
                if fixed[row][c] is None:
                    bits.append(matrix[row][c] ^ bool(flip(row, c)))
            row += step
        row, step, col = row - step, -step, col - 2
    words = [int("".join("1" if b else "0" for b in bits[i:i + 8]), 2) for i in range(0, len(bits) - 7, 8)]
    blocks = rs_blocks(version, ec)
    data: list[list[int]] = [[] for _ in blocks]
    i = 0
    for k in range(max(b.data_count for b in blocks)):
        for j, block in enumerate(blocks):
            if k < block.data_count:
                data[j].append(words[i])
                i += 1
    stream = "".join(f"{w:08b}" for block in data for w in block)
    assert stream[:4] == "0010", "not alphanumeric mode"
    width = 9 if version <= 9 else 11
    count, pos = int(stream[4:4 + width], 2), 4 + width
    out: list[str] = []
    while len(out) + 2 <= count:
        value, pos = int(stream[pos:pos + 11], 2), pos + 11
        out += [_ALNUM[value // 45], _ALNUM[value % 45]]
    if len(out) < count:
        out.append(_ALNUM[int(stream[pos:pos + 6], 2)])
    return version, _EC[ec], "".join(out)


def png_matrix(data: bytes) -> list[list[bool]]:
    """The module matrix of a QR PNG with a 4-module quiet zone (module size found from the finder)."""
    img = Image.open(io.BytesIO(data)).convert("L")
    width, height = img.size
    assert width == height
    px = img.load()
    top = next(y for y in range(height) if any(px[x, y] < 128 for x in range(width)))
    left = next(x for x in range(width) if px[x, top] < 128)
    right = next(x for x in range(left, width) if px[x, top] >= 128)
    module = (right - left) // 7  # the finder pattern is 7 modules wide
    n = (width - 2 * left) // module
    return [[px[left + c * module + module // 2, top + r * module + module // 2] < 128 for c in range(n)]
            for r in range(n)]


def svg_matrix(data: bytes) -> list[list[bool]]:
    """The module matrix of qrcode's one-path SVG (each dark module a subpath, 4 modules of quiet zone)."""
    root = ElementTree.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _, _, side, _ = map(float, root.attrib["viewBox"].split())
    (path,) = root.iter("{http://www.w3.org/2000/svg}path")
    cells = [(float(x), float(y)) for x, y in re.findall(r"M([\d.]+),([\d.]+)", path.attrib["d"])]
    unit = min(x for x, _ in cells) / 4  # the finder's left edge sits right after the quiet zone
    modules = round(side / unit) - 8
    matrix = [[False] * modules for _ in range(modules)]
    for x, y in cells:
        matrix[round(y / unit) - 4][round(x / unit) - 4] = True
    return matrix


# -- helpers ----------------------------------------------------------------------

async def staff_token(api, engine, username: str, roles: list[str], org_code: str) -> str:
    async with engine.begin() as conn:
        await staff.create(conn, SYSTEM, hasher=ARGON2,
                           username=username, password=PASSWORD, roles=roles, org_code=org_code)
    return await token_of(api, username)


async def audit_actions(engine, card_id: int) -> list[tuple[str, dict]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_log.c.action, audit_log.c.summary)
                                   .where(audit_log.c.target_kind == "card",
                                          audit_log.c.target_id == str(card_id))
                                   .order_by(audit_log.c.id))).all()
    return [(r.action, json.loads(r.summary)) for r in rows]


async def notices_of(engine, user_id: int) -> list[str]:
    async with engine.connect() as conn:
        return [n.kind for n in reversed(await notifications.for_user(conn, user_id))]


async def user_id_of(api, token: str) -> int:
    return int((await api.get("/api/v1/me", token=token)).data["user"]["id"])


def luhn_ok(number: str) -> bool:
    """The Luhn check, written independently of the code under test."""
    digits = [int(d) for d in number]
    odd = digits[-1::-2]
    even = [sum(divmod(2 * d, 10)) for d in digits[-2::-2]]
    return (sum(odd) + sum(even)) % 10 == 0


# -- issuance -----------------------------------------------------------------

async def test_binding_issues_a_card_with_a_checked_number_that_says_nothing_private(api, engine, running):
    scene = await counter(api, engine, running)
    resp = await api.get("/api/v1/me/card", token=scene.worker)
    assert resp.status == 200
    card = resp.data
    number = card["card_no"]
    assert re.fullmatch(r"8\d{15}", number) and luhn_ok(number)
    assert card["card_no_display"] == " ".join(number[i:i + 4] for i in range(0, 16, 4))
    assert (card["status"], card["status_label"], card["holder"], card["benefits"]) == ("active", "正常", "王*英", [])
    for private in (id_number(21), "19800101", "13800000021", str(scene.member_id).zfill(6)):
        assert private not in number and private not in resp.body.decode()
    user_id = await user_id_of(api, scene.worker)
    assert await audit_actions(engine, card["id"]) == [("card.issue", {"member_id": scene.member_id,
                                                                       "card_no": number})]
    assert await notices_of(engine, user_id) == ["card.issued"]
    async with engine.connect() as conn:  # the issue is on record with the binding request's id and address
        issued = (await conn.execute(sa.select(audit_log).where(audit_log.c.action == "card.issue"))).one()
    assert issued.actor_kind == "user" and issued.request_id and issued.ip == "127.0.0.1"
    # Asking again (worker or staff) gives the same card, not a second one.
    assert (await api.get("/api/v1/me/card", token=scene.worker)).data["card_no"] == number
    clerk = await staff_token(api, engine, "clerk.k01", ["station"], "K01")
    again = await api.post(f"/api/v1/staff/members/{scene.member_id}/card", token=clerk)
    assert again.status == 200 and again.data["card"]["card_no"] == number
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(cards_table))).scalar_one() == 1


async def test_staff_issue_in_scope_only_and_never_to_an_ended_member(api, engine, running):
    scene = await counter(api, engine, running)
    cipher = running.settings["cipher"]
    async with engine.begin() as conn:
        await import_rows(conn, cipher, scene.tree["G02"], [("李四", id_number(22), ""), ("赵六", id_number(23), "")])
        ids = dict((await conn.execute(sa.text("SELECT name, id FROM members"))).all())
    clerk = await staff_token(api, engine, "clerk.k01", ["station"], "K01")
    issued = await api.post(f"/api/v1/staff/members/{ids['李四']}/card", token=clerk)
    assert issued.status == 200 and issued.data["card"]["status"] == "active"
    assert luhn_ok(issued.data["card"]["card_no"]) and issued.data["card"]["card_no"] != scene.card_id
    view = await api.get(f"/api/v1/staff/members/{ids['李四']}/card", token=clerk)
    assert view.data["card"]["id"] == issued.data["card"]["id"] and len(view.data["history"]) == 1
    async with engine.begin() as conn:
        await card_flows.update_member(conn, cipher, scene.admin, ids["赵六"], changes=members.MemberChanges.of({"status": "ended"}))
    refused(await api.post(f"/api/v1/staff/members/{ids['赵六']}/card", token=clerk), 409, "member_inactive")
    # Outside the subtree reads exactly like a member that does not exist; a role without the right is refused
    # before any lookup.
    outsider = await staff_token(api, engine, "clerk.k02", ["station"], "K02")
    outside = await api.post(f"/api/v1/staff/members/{ids['赵六']}/card", token=outsider)
    missing = await api.post("/api/v1/staff/members/999999/card", token=outsider)
    assert outside.status == 404
    same_refusal(outside, missing)
    reviewer = await staff_token(api, engine, "rev.k01", ["reviewer"], "K01")
    refused(await api.post(f"/api/v1/staff/members/{ids['赵六']}/card", token=reviewer), 403, "role_forbidden")
    refused(await api.post("/api/v1/staff/members/999999/card", token=reviewer), 403, "role_forbidden")


# -- the rotating code -----------------------------------------------------------

async def test_qr_json_is_a_fresh_signed_token_of_this_card(api, engine, running):
    scene = await counter(api, engine, running)
    ttl = running.settings["config"].qr_ttl
    before = int(time.time())
    first = await api.get("/api/v1/me/card/qr", token=scene.worker)
    second = await api.get("/api/v1/me/card/qr", token=scene.worker)
    assert first.status == second.status == 200
    assert first.data["token"] != second.data["token"]
    assert first.headers["Cache-Control"] == "no-store"
    token = running.settings["signer"].verify(first.data["token"])
    assert token.card_id == scene.card_id and not token.printed
    assert before <= token.issued_at <= int(time.time())
    expires = datetime.fromisoformat(first.data["expires_at"].replace("Z", "+00:00"))
    assert int(expires.timestamp()) == token.issued_at + ttl
    assert 0 < first.data["refresh_in"] < ttl
    assert re.fullmatch(r"[A-Z2-7]{135}", first.data["token"])
    anonymous = await api.get("/api/v1/me/card/qr")
    assert anonymous.status == 401
    unbound = await api.get("/api/v1/me/card/qr", token=await api.login("stranger.1"))
    refused(unbound, 404, "member_not_bound")


async def test_qr_png_and_svg_carry_a_token_of_this_card_at_level_m(api, engine, running):
    scene = await counter(api, engine, running)
    signer = running.settings["signer"]
    ttl = running.settings["config"].qr_ttl
    seen = []
    for fmt, ctype, to_matrix in (("png", "image/png", png_matrix), ("svg", "image/svg+xml", svg_matrix),
                                  ("png", "image/png", png_matrix)):
        resp = await api.get(f"/api/v1/me/card/qr?format={fmt}", token=scene.worker)
        assert resp.status == 200 and resp.headers["Content-Type"].startswith(ctype)
        version, level, text = decode_qr(to_matrix(resp.body))
        assert version <= 10 and level == "M"
        token = signer.verify(text)
        assert token.card_id == scene.card_id and not token.printed
        header = datetime.fromisoformat(resp.headers["X-QR-Expires-At"])
        assert int(header.timestamp()) == token.issued_at + ttl
        # The image's token is a live one: a cashier can scan it.
        seen.append(text)
    assert len(set(seen)) == 3
    ok = await scan(api, scene.cashier, seen[0])
    assert ok.status == 200, ok.data
    refused(await api.get("/api/v1/me/card/qr?format=gif", token=scene.worker), 400, "invalid_query")


async def test_public_keys_let_a_merchant_verify_a_code_offline(api, engine, running, tmp_path):
    from server.qr_tokens import load_signer

    scene = await counter(api, engine, running)
    qr = await qr_of(api, scene.worker)
    resp = await api.get("/api/v1/cards/keys")  # no login
    assert resp.status == 200 and "max-age" in resp.headers["Cache-Control"]
    published = json.loads(resp.body)
    described = api.document["paths"]["/api/v1/cards/keys"]["get"]["description"]
    assert "base32" in described and "84" in described and "Ed25519" in described

    assert "qr_ttl" in described and "clock_skew" in described
    assert (published["qr_ttl"], published["clock_skew"]) == (running.settings["config"].qr_ttl,
                                                              running.settings["config"].qr_clock_skew)

    # A JWK Set (RFC 7517/8037): kid the key-id byte in decimal, x the raw key in unpadded base64url.
    assert published["keys"] and all(
        (k["kty"], k["crv"], k["alg"], k["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
        and re.fullmatch(r"[1-9][0-9]{0,2}", k["kid"]) and re.fullmatch(r"[A-Za-z0-9_-]{43}", k["x"])
        for k in published["keys"])
    # The pre-JWK form stays, deprecated, for the clients written against it: the same keys.
    assert [(str(k["kid"]), k["public_key"].rstrip("=")) for k in published["legacy_keys"]] == \
        [(k["kid"], k["x"]) for k in published["keys"]]
    assert published["token_layout"] == published["format"] == "unionaid-card-token-v1"

    def verify_offline(code: str, now: float | None = None) -> tuple[int, int, int, int]:
        """Only the published JWK Set, base64, struct and cryptography: as the description says."""
        if not re.fullmatch(r"[A-Z2-7]{135}", code):
            raise InvalidSignature  # not the one text form
        raw = base64.b32decode(code + "=")
        if base64.b32encode(raw).decode().rstrip("=") != code:
            raise InvalidSignature
        body, signature = raw[:20], raw[20:]
        fmt, kid, card_id, version, issued_at, _nonce = struct.unpack(">BBIHI8s", body)
        keys = {k["kid"]: k for k in published["keys"] if (k["kty"], k["crv"]) == ("OKP", "Ed25519")}
        if fmt not in (1, 2) or str(kid) not in keys:
            raise InvalidSignature
        x = keys[str(kid)]["x"]
        Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))).verify(signature, body)
        now = time.time() if now is None else now
        if fmt == 1 and not issued_at - published["clock_skew"] <= now <= issued_at + published["qr_ttl"] \
                + published["clock_skew"]:
            raise InvalidSignature  # genuine but stale, or issued too far ahead
        return fmt, card_id, version, issued_at

    fmt, card_id, _version, issued_at = verify_offline(qr)
    assert (fmt, card_id) == (1, scene.card_id)
    for other_text in (qr.lower(), qr + "=", f" {qr}"):
        try:
            verify_offline(other_text)
            raise AssertionError("another text of the code passed the offline check")
        except InvalidSignature:
            pass
    window = (issued_at - published["clock_skew"], issued_at + published["qr_ttl"] + published["clock_skew"])
    for late in (window[0] - 1, window[1] + 1):
        try:
            verify_offline(qr, now=late)
            raise AssertionError("a code outside its window passed the offline check")
        except InvalidSignature:
            pass
    raw = bytearray(base64.b32decode(qr + "=" * (-len(qr) % 8)))
    for index in (0, 1, 5, 19, 20, 83):
        altered = bytearray(raw)
        altered[index] ^= 0x10
        forged = base64.b32encode(bytes(altered)).decode().rstrip("=")
        try:
            verify_offline(forged)
        except InvalidSignature:
            continue
        raise AssertionError(f"byte {index} altered and still verified")
    stranger = load_signer(tmp_path).sign(scene.card_id, 1, int(time.time()))
    try:
        verify_offline(stranger)
        raise AssertionError("a stranger's key verified")
    except InvalidSignature:
        pass


# -- lifecycle over HTTP ----------------------------------------------------------

async def test_staff_freeze_and_unfreeze_audited_notified_and_reflected(api, engine, running):
    scene = await counter(api, engine, running)
    clerk = await staff_token(api, engine, "clerk.k01", ["station"], "K01")
    user_id = await user_id_of(api, scene.worker)
    base = f"/api/v1/staff/cards/{scene.card_id}"
    assert (await api.post(f"{base}/freeze", {}, token=clerk)).status == 400
    refused(await api.post(f"{base}/freeze", {"reason": "   "}, token=clerk), 400, "reason_required")
    assert (await api.post(f"{base}/freeze", {"reason": "长" * 201}, token=clerk)).status == 400
    frozen = await api.post(f"{base}/freeze", {"reason": "涉嫌冒用"}, token=clerk)
    assert frozen.status == 200
    assert (frozen.data["card"]["status"], frozen.data["card"]["status_reason"]) == ("frozen", "涉嫌冒用")
    mine = await api.get("/api/v1/me/card", token=scene.worker)
    assert (mine.data["status"], mine.data["status_label"]) == ("frozen", "已冻结")
    refused(await api.get("/api/v1/me/card/qr", token=scene.worker), 403, "card_frozen")
    refused(await api.post(f"{base}/freeze", {"reason": "再冻"}, token=clerk), 409, "card_not_active")
    back = await api.post(f"{base}/unfreeze", {}, token=clerk)
    assert back.status == 200 and back.data["card"]["status"] == "active"
    refused(await api.post(f"{base}/unfreeze", {}, token=clerk), 409, "card_not_frozen")
    assert [a for a, _ in await audit_actions(engine, scene.card_id)] == ["card.issue", "card.freeze",
                                                                          "card.unfreeze"]
    assert (await audit_actions(engine, scene.card_id))[1][1] == {"from": "active", "to": "frozen",
                                                                  "reason": "涉嫌冒用"}
    assert await notices_of(engine, user_id) == ["card.issued", "card.frozen", "card.active"]
    async with engine.connect() as conn:
        version = (await conn.execute(sa.select(cards_table.c.version)
                                      .where(cards_table.c.id == scene.card_id))).scalar_one()
    assert version == 3


async def test_worker_reports_loss_old_number_dead_new_number_issued(api, engine, running):
    scene = await counter(api, engine, running)
    clerk = await staff_token(api, engine, "clerk.k01", ["station"], "K01")
    old_qr = await qr_of(api, scene.worker)
    old = (await api.get("/api/v1/me/card", token=scene.worker)).data
    lost = await api.post("/api/v1/me/card/report-lost", token=scene.worker)  # no body at all
    assert lost.status == 200, lost.data
    new = lost.data["card"]
    assert lost.data["previous_card_no"] == old["card_no"] != new["card_no"] and luhn_ok(new["card_no"])
    assert new["status"] == "active" and new["id"] != old["id"]
    assert (await api.get("/api/v1/me/card", token=scene.worker)).data["card_no"] == new["card_no"]
    refused(await scan(api, scene.cashier, old_qr), 403, "card_lost")
    history = await api.get(f"/api/v1/staff/members/{scene.member_id}/card", token=clerk)
    assert history.data["card"]["id"] == new["id"]
    assert [(c["id"], c["status"]) for c in history.data["history"]] == [(new["id"], "active"), (old["id"], "lost")]
    assert [a for a, _ in await audit_actions(engine, old["id"])] == ["card.issue", "card.report_lost"]
    assert await audit_actions(engine, new["id"]) == [("card.issue", {"member_id": scene.member_id,
                                                                      "card_no": new["card_no"],
                                                                      "replaces": old["id"]})]
    assert await notices_of(engine, await user_id_of(api, scene.worker)) == ["card.issued", "card.lost"]
    # The old card cannot be touched any more; the staff's reissue route works on the new one.
    refused(await api.post(f"/api/v1/staff/cards/{old['id']}/freeze", {"reason": "x"}, token=clerk),
            409, "card_not_active")
    again = await api.post(f"/api/v1/staff/cards/{new['id']}/reissue", {}, token=clerk)
    assert again.status == 200 and again.data["card"]["card_no"] not in (old["card_no"], new["card_no"])


async def test_membership_ended_cancels_the_card_and_tells_the_former_holder(api, engine, running):
    scene = await counter(api, engine, running)
    user_id = await user_id_of(api, scene.worker)
    async with engine.begin() as conn:
        await card_flows.update_member(conn, running.settings["cipher"], scene.admin, scene.member_id,
                                       changes=members.MemberChanges.of({"status": "ended"}))
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(cards_table).where(cards_table.c.id == scene.card_id))).one()
    assert (row.status, row.live_member_id, row.status_reason) == ("cancelled", None, "会员关系终止")
    assert [a for a, _ in await audit_actions(engine, scene.card_id)] == ["card.issue", "card.cancel"]
    assert await notices_of(engine, user_id) == ["card.issued", "card.cancelled"]
    refused(await api.get("/api/v1/me/card", token=scene.worker), 404, "member_not_bound")


async def test_a_card_cancelled_by_staff_is_not_silently_reissued(api, engine, running):
    scene = await counter(api, engine, running)
    clerk = await staff_token(api, engine, "clerk.k01", ["station"], "K01")
    refused(await api.post(f"/api/v1/staff/cards/{scene.card_id}/cancel", {"reason": " "}, token=clerk),
            400, "reason_required")
    cancelled = await api.post(f"/api/v1/staff/cards/{scene.card_id}/cancel", {"reason": "违规使用"}, token=clerk)
    assert cancelled.status == 200 and cancelled.data["card"]["status"] == "cancelled"
    mine = await api.get("/api/v1/me/card", token=scene.worker)
    assert mine.status == 200 and (mine.data["id"], mine.data["status"]) == (scene.card_id, "cancelled")
    refused(await api.get("/api/v1/me/card/qr", token=scene.worker), 403, "card_cancelled")
    refused(await api.post("/api/v1/me/card/report-lost", {}, token=scene.worker), 409, "card_not_live")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(cards_table))).scalar_one() == 1
    # Staff decide on a new card.
    issued = await api.post(f"/api/v1/staff/members/{scene.member_id}/card", token=clerk)
    assert issued.status == 200 and issued.data["card"]["id"] != scene.card_id
    assert (await api.get("/api/v1/me/card", token=scene.worker)).data["id"] == issued.data["card"]["id"]


async def test_staff_scope_other_county_404_and_reviewer_403(api, engine, running):
    scene = await counter(api, engine, running)
    outsider = await staff_token(api, engine, "clerk.k02", ["station"], "K02")
    reviewer = await staff_token(api, engine, "rev.k01", ["reviewer"], "K01")
    city = await staff_token(api, engine, "admin.c01", ["admin"], "C01")
    for action, body in (("freeze", {"reason": "核查"}), ("cancel", {"reason": "核查"}), ("reissue", {}),
                         ("print", None)):
        outside = await api.post(f"/api/v1/staff/cards/{scene.card_id}/{action}", body, token=outsider)
        missing = await api.post(f"/api/v1/staff/cards/999999/{action}", body, token=outsider)
        refused(outside, 404, "card_not_found")
        same_refusal(outside, missing)
        refused(await api.post(f"/api/v1/staff/cards/{scene.card_id}/{action}", body, token=reviewer),
                403, "role_forbidden")
    refused(await api.get(f"/api/v1/staff/members/{scene.member_id}/card", token=outsider), 404, "member_not_found")
    assert (await api.get(f"/api/v1/staff/members/{scene.member_id}/card", token=reviewer)).status == 200
    assert [a for a, _ in await audit_actions(engine, scene.card_id)] == ["card.issue"]
    # The city above the county reaches the card.
    ok = await api.post(f"/api/v1/staff/cards/{scene.card_id}/freeze", {"reason": "核查"}, token=city)
    assert ok.status == 200 and ok.data["card"]["status"] == "frozen"


# -- printing --------------------------------------------------------------------

async def test_print_then_download_pdf_and_png_each_audited(api, engine, running):
    scene = await counter(api, engine, running)
    clerk = await staff_token(api, engine, "clerk.k01", ["station"], "K01")
    base = f"/api/v1/staff/cards/{scene.card_id}/print"
    refused(await api.get(base, token=clerk), 409, "card_not_printed")
    printed = await api.post(base, token=clerk)
    assert printed.status == 200 and printed.data["card"]["printed_at"]
    pdf = await api.get(base + "?format=pdf", token=clerk)
    assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf" and pdf.body.startswith(b"%PDF")
    assert 'filename="card-' in pdf.headers["Content-Disposition"]
    default = await api.get(base, token=clerk)
    assert default.body.startswith(b"%PDF")
    png = await api.get(base + "?format=png", token=clerk)
    assert png.status == 200 and png.headers["Content-Type"] == "image/png"
    img = Image.open(io.BytesIO(png.body))
    assert img.format == "PNG" and img.size[0] > img.size[1] > 100  # a landscape ID-1 card
    # No bare QR of a printed card: it comes whole, with the name and number it is checked against.
    refused(await api.get(base + "?format=svg", token=clerk), 400, "invalid_query")
    actions = [a for a, _ in await audit_actions(engine, scene.card_id)]
    assert actions == ["card.issue", "card.print", "card.print_download", "card.print_download",
                       "card.print_download"]
    # The printed code works with the holder's last 4 digits; a reprint outdates it.
    async with engine.connect() as conn:
        from models.cards import lifecycle as cards

        first = card_codes.printed_code(running.settings["signer"], await cards.get(conn, scene.card_id))
    assert running.settings["signer"].verify(first).printed
    ok = await scan(api, scene.cashier, first, id_last4=ID_LAST4)
    assert ok.status == 200 and ok.data["card"]["printed"] is True
    assert (await api.post(base, token=clerk)).status == 200
    refused(await scan(api, scene.cashier, first, id_last4=ID_LAST4), 422, "qr_outdated")
    # A frozen card is not printed.
    await api.post(f"/api/v1/staff/cards/{scene.card_id}/freeze", {"reason": "核查"}, token=clerk)
    refused(await api.post(base, token=clerk), 409, "card_not_active")


async def _printed_state(engine, card_id: int) -> tuple[str | None, list[str]]:
    from models.cards import lifecycle as cards

    async with engine.connect() as conn:
        card = await cards.get(conn, card_id)
    return card.print_nonce, [a for a, _ in await audit_actions(engine, card_id)]


async def test_no_usable_cjk_font_refuses_printing_and_keeps_the_print_in_force(api, engine, running, config):
    from server.config import replace
    from tests.client import ApiClient
    from tests.conftest import serve_app

    scene = await counter(api, engine, running)
    clerk = await staff_token(api, engine, "clerk.k01", ["station"], "K01")
    base = f"/api/v1/staff/cards/{scene.card_id}/print"
    assert (await api.post(base, token=clerk)).status == 200
    before = await _printed_state(engine, scene.card_id)
    missing = "/nonexistent/fonts/wqy-microhei.ttc"
    bare = await serve_app(replace(config, card_font=missing), engine)
    try:
        other = ApiClient(bare.url, bare.settings["openapi"])
        for answer in (await other.get(base, token=clerk), await other.get(base + "?format=png", token=clerk),
                       await other.post(base, token=clerk)):
            refused(answer, 503, "card_font_missing")
            message = answer.data["error"]["message"]
            assert "fonts-wqy-microhei" in message and "UNIONAID_CARD_FONT" in message
            assert missing not in message  # no server paths to the client
    finally:
        bare.server.stop()
        bare.gateway.close()
    # Nothing was downloaded, and the card printed before still works.
    assert await _printed_state(engine, scene.card_id) == before


async def test_a_character_the_font_lacks_refuses_that_card(api, engine, running):
    from models.network.tables import orgs

    scene = await counter(api, engine, running)
    clerk = await staff_token(api, engine, "clerk.k01", ["station"], "K01")
    base = f"/api/v1/staff/cards/{scene.card_id}/print"
    assert (await api.post(base, token=clerk)).status == 200
    before = await _printed_state(engine, scene.card_id)
    rare = "\U00020000"  # CJK Extension B: not in WenQuanYi Micro Hei, nor in the Latin fallback
    async with engine.begin() as conn:
        org_id = (await conn.execute(sa.select(cards_table.c.org_id).where(cards_table.c.id == scene.card_id)))\
            .scalar_one()
        await conn.execute(orgs.update().where(orgs.c.id == org_id).values(name=f"某某{rare}工会"))
    for answer in (await api.get(base, token=clerk), await api.get(base + "?format=png", token=clerk),
                   await api.post(base, token=clerk)):
        refused(answer, 422, "card_glyph_missing")
        assert rare in answer.data["error"]["message"] and "UNIONAID_CARD_FONT" in answer.data["error"]["message"]
    assert await _printed_state(engine, scene.card_id) == before


async def test_notices_are_sent_to_the_holders_openid(api, engine, running, wechat):
    scene = await counter(api, engine, running)
    clerk = await staff_token(api, engine, "clerk.k01", ["station"], "K01")
    template = running.settings["templates"].template_id("card")
    # The worker allowed two card notices: the mini-program reports it, WeChat records it.
    for _ in range(2):
        reported = await api.post("/api/v1/me/subscriptions", {"results": {template: "accept"}}, token=scene.worker)
        assert reported.status == 200
    wechat.state.accept(wechat.state.openid_for("wang"), template, times=2)
    await api.post(f"/api/v1/staff/cards/{scene.card_id}/freeze", {"reason": "核查"}, token=clerk)
    assert await identity.dispatch_notifications(engine, running.gateway, running.settings["templates"]) == 2
    user_id = await user_id_of(api, scene.worker)
    async with engine.connect() as conn:
        openid = (await conn.execute(sa.select(users.c.openid).where(users.c.id == user_id))).scalar_one()
        assert {n.status for n in await notifications.for_user(conn, user_id)} == {"sent"}
    assert openid == wechat.state.openid_for("wang")
    sent = wechat.state.sent_messages
    assert [m["data"]["thing1"]["value"] for m in sent] == ["服务卡已开通", "服务卡已冻结"]
    assert [m["data"]["phrase2"]["value"] for m in sent] == ["已开通", "已冻结"]
    assert {m["touser"] for m in sent} == {wechat.state.openid_for("wang")}
    assert {m["template_id"] for m in sent} == {template} and {m["page"] for m in sent} == {"pages/card/index"}
    assert await identity.dispatch_notifications(engine, running.gateway, running.settings["templates"]) == 0
