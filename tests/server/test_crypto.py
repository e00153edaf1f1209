"""PII encryption with key ids, blind indexes, the keyring file."""
from __future__ import annotations

import base64
import os
import stat

import pytest

from server.config import ConfigError, load_config
from server.crypto import DecryptError, PiiCipher, load_keyring


def test_keyring_created_once_private(tmp_path):
    cfg = load_config(env={}, data_dir=tmp_path)
    first = load_keyring(cfg)
    mode = stat.S_IMODE(os.stat(tmp_path / "keys.json").st_mode)
    assert mode == 0o600
    assert load_keyring(cfg).pii_keys == first.pii_keys
    assert "keys" not in repr(first).lower().replace("key_ids", "")


def test_round_trip_and_purpose_binding(tmp_path):
    cipher = PiiCipher(load_keyring(load_config(env={}, data_dir=tmp_path)))
    token = cipher.encrypt("110101198001011234", purpose="id_number")
    assert "1101011980" not in token
    assert cipher.decrypt(token, purpose="id_number") == "110101198001011234"
    assert cipher.encrypt("x", purpose="p") != cipher.encrypt("x", purpose="p")  # fresh nonce each time
    with pytest.raises(DecryptError):
        cipher.decrypt(token, purpose="phone")
    kid, _, body = token.partition(":")
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(DecryptError):
        cipher.decrypt(kid + ":" + base64.urlsafe_b64encode(bytes(raw)).decode(), purpose="id_number")
    with pytest.raises(DecryptError):
        cipher.decrypt("nokey:" + body, purpose="id_number")


def test_rotation_keeps_old_values_readable(tmp_path):
    old_cfg = load_config(env={}, data_dir=tmp_path)
    old = PiiCipher(load_keyring(old_cfg))
    token = old.encrypt("13812345678", purpose="phone")
    new_key = base64.b64encode(os.urandom(32)).decode()
    new = PiiCipher(load_keyring(load_config(env={}, data_dir=tmp_path, pii_key=new_key, pii_key_id="k2")))
    assert new.decrypt(token, purpose="phone") == "13812345678"
    assert new.needs_rotation(token)
    fresh = new.encrypt("13812345678", purpose="phone")
    assert fresh.startswith("k2:") and not new.needs_rotation(fresh)
    assert new.blind_index("13812345678", purpose="phone") == old.blind_index("13812345678", purpose="phone")


def test_blind_index_is_keyed_and_separated(tmp_path):
    cipher = PiiCipher(load_keyring(load_config(env={}, data_dir=tmp_path)))
    other = PiiCipher(load_keyring(load_config(env={}, data_dir=tmp_path / "other")))
    a = cipher.blind_index("13812345678", purpose="phone")
    assert a == cipher.blind_index("13812345678", purpose="phone")
    assert a != cipher.blind_index("13812345678", purpose="id_number")
    assert a != other.blind_index("13812345678", purpose="phone")


def test_bad_configured_key(tmp_path):
    with pytest.raises(ConfigError, match="UNIONAID_PII_KEY"):
        load_keyring(load_config(env={}, data_dir=tmp_path, pii_key="not-base64!!"))
