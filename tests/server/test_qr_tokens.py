"""Card tokens: compact, signed, and never accepted when altered or signed by an unknown key."""
from __future__ import annotations

import os
import stat

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st

from models.core.ports import TokenInvalid
from server.qr_tokens import TOKEN_LEN, load_signer, rotate


@pytest.fixture
def signer(tmp_path):
    return load_signer(tmp_path)


def test_round_trip_and_private_key_file(tmp_path, signer):
    token = signer.sign(card_id=123456, card_version=3, issued_at=1_800_000_000)
    parsed = signer.verify(token)
    assert (parsed.card_id, parsed.card_version, parsed.issued_at) == (123456, 3, 1_800_000_000)
    assert len(parsed.nonce) == 8
    assert signer.sign(123456, 3, 1_800_000_000) != token  # a fresh nonce each time
    assert stat.S_IMODE(os.stat(tmp_path / "qr_keys.json").st_mode) == 0o600


def test_fits_a_small_qr_code(signer):
    token = signer.sign(2**32 - 1, 65535, 2**32 - 1)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(token)
    code.make(fit=True)
    assert code.version <= 10
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_every_flipped_byte_is_refused(signer):
    import base64

    token = signer.sign(42, 1, 1_800_000_000)
    raw = bytearray(base64.b32decode(token + "=" * (-len(token) % 8)))
    assert len(raw) == TOKEN_LEN
    for i in range(len(raw)):
        for bit in (1, 0x80):
            altered = bytearray(raw)
            altered[i] ^= bit
            forged = base64.b32encode(bytes(altered)).decode().rstrip("=")
            with pytest.raises(TokenInvalid):
                signer.verify(forged)


def test_every_changed_character_is_refused(signer):
    token = signer.sign(42, 1, 1_800_000_000)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    for i, char in enumerate(token):
        for other in alphabet:
            if other != char:
                with pytest.raises(TokenInvalid):
                    signer.verify(token[:i] + other + token[i + 1:])
    with pytest.raises(TokenInvalid):
        signer.verify(token + "A")
    with pytest.raises(TokenInvalid):
        signer.verify(token[:-1])


@pytest.fixture(scope="module")
def module_signer(tmp_path_factory):
    return load_signer(tmp_path_factory.mktemp("qr"))


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text(max_size=300),
                 st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=130, max_size=140)))
def test_garbage_is_refused_cleanly(module_signer, garbage):
    with pytest.raises(TokenInvalid):
        module_signer.verify(garbage)


def test_rotation_keeps_shown_codes_valid_and_unknown_keys_fail(tmp_path):
    old = load_signer(tmp_path)
    shown = old.sign(7, 1, 1_800_000_000)
    new = rotate(tmp_path)
    assert new.current != old.current
    assert new.verify(shown).card_id == 7
    assert [k["current"] for k in new.public_keys()].count(True) == 1
    other = load_signer(tmp_path / "elsewhere")
    with pytest.raises(TokenInvalid):
        other.verify(new.sign(7, 1, 1_800_000_000))
    for _ in range(3):
        rotate(tmp_path)
    with pytest.raises(TokenInvalid):  # keys beyond the kept ones are retired
        load_signer(tmp_path).verify(shown)


def test_a_running_signer_picks_up_a_rotation_made_elsewhere(tmp_path):
    serving = load_signer(tmp_path)  # a process started before the rotation
    before = serving.current
    rotated = rotate(tmp_path)  # `unionaid rotate-qr-key` in another process
    fresh = rotated.sign(9, 1, 1_800_000_000)
    assert serving.verify(fresh).card_id == 9  # an unknown key id makes it re-read the file
    assert serving.current == rotated.current != before
    serving.RECHECK = 0.0
    rotate(tmp_path)
    token = serving.sign(9, 1, 1_800_000_000)  # signing re-checks the file once RECHECK has passed
    assert load_signer(tmp_path).verify(token).key_id == serving.current != rotated.current
    rotate(tmp_path)
    assert [k["kid"] for k in serving.public_keys() if k["current"]] == [load_signer(tmp_path).current]


def test_configured_key_is_used_and_checked(tmp_path):
    import base64

    seed = base64.b64encode(bytes(range(32))).decode()
    signer = load_signer(tmp_path, key=seed, key_id=7)
    assert signer.verify(signer.sign(1, 1, 1_800_000_000)).key_id == 7
    assert not (tmp_path / "qr_keys.json").exists()
    with pytest.raises(ValueError):
        load_signer(tmp_path, key="not base64 of 32 bytes!")


# -- one text per code ----------------------------------------------------------

def variants(token: str) -> dict[str, str]:
    """Texts a lenient decoder would read as ``token``; each must be refused."""
    first = next(i for i, ch in enumerate(token) if ch.isalpha())
    return {
        "lower case": token.lower(),
        "one letter lower case": token[:first] + token[first].lower() + token[first + 1:],
        "mixed case": "".join(ch.lower() if i % 2 and ch.isalpha() else ch for i, ch in enumerate(token)),
        "'=' padding": token + "=" * (-len(token) % 8),
        "extra padding": token + "=" * 8,
        "leading space": " " + token,
        "trailing space": token + " ",
        "trailing newline": token + "\n",
        "trailing CRLF": token + "\r\n",
        "embedded newline": token[:60] + "\n" + token[60:],
        "embedded space": token[:60] + " " + token[60:],
        "tab": "\t" + token,
    }


def test_only_the_canonical_text_verifies(signer):
    token = signer.sign(42, 1, 1_800_000_000)
    assert signer.verify(token).card_id == 42
    for why, text in variants(token).items():
        assert text != token
        with pytest.raises(TokenInvalid):
            signer.verify(text)
            pytest.fail(f"{why} accepted")


def test_only_the_canonical_text_passes_check_code(signer):
    from models.cards import codes as card_codes
    from models.core.errors import Invalid

    now = 1_800_000_000
    token = signer.sign(42, 1, now)
    assert card_codes.check_code(signer, token, ttl=60, skew=15, now=now).card_id == 42
    for why, text in variants(token).items():
        with pytest.raises(Invalid) as err:
            card_codes.check_code(signer, text, ttl=60, skew=15, now=now)
            pytest.fail(f"{why} accepted")
        assert err.value.code == "qr_invalid", why


async def test_scan_refuses_every_variant_of_a_genuine_code(api, engine, running):
    import sqlalchemy as sa

    from models.counter.tables import scan_sessions
    from tests.factories import counter

    scene = await counter(api, engine, running)
    resp = await api.get("/api/v1/me/card/qr", token=scene.worker)
    assert resp.status == 200, resp.data
    good = resp.data["token"]
    for why, text in variants(good).items():
        refused = await api.post("/api/v1/merchant/scan", {"qr": text}, token=scene.cashier)
        assert (refused.status, refused.error_code) == (400, "qr_invalid"), (why, refused.status, refused.data)
    async with engine.connect() as conn:  # no variant claimed the code
        assert (await conn.execute(sa.select(sa.func.count()).select_from(scan_sessions))).scalar_one() == 0
    assert (await api.post("/api/v1/merchant/scan", {"qr": good}, token=scene.cashier)).status == 200


def test_the_published_format_says_canonical_only(running):
    """The scan route and the published keys describe the one accepted text form."""
    paths = running.settings["openapi"]["paths"]
    keys = paths["/api/v1/cards/keys"]["get"]["description"]
    scan = paths["/api/v1/merchant/scan"]["post"]["description"]
    assert "不区分大小写" not in keys
    for text in (keys, scan):
        assert "大写" in text and "填充" in text
