"""Secrets: the keyring in the data dir, PII encryption (AES-GCM with key ids), blind indexes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.config import Config, ConfigError, make_private_dir

KEYRING_FILE = "keys.json"


def _b64d(text: str, setting: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ConfigError(f"{setting}: not valid base64") from None
    if len(raw) != 32:
        raise ConfigError(f"{setting}: must decode to 32 bytes, got {len(raw)}")
    return raw


def _b64e(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Keyring:
    """Every secret key the service holds; ``pii_keys`` maps key id to key, newest is ``pii_current``.

    ``cookie_secret`` signs the staff console's cookies (Tornado's ``cookie_secret``).
    """

    pii_current: str
    pii_keys: dict[str, bytes]
    blind_index_key: bytes
    cookie_secret: bytes

    def __repr__(self) -> str:  # never print keys
        return f"Keyring(pii_current={self.pii_current!r}, pii_key_ids={sorted(self.pii_keys)!r})"


def _write_private(path: Path, data: dict[str, object]) -> None:
    make_private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_keyring(config: Config) -> Keyring:
    """Keys from config when given, else from ``keys.json`` in the data dir (created once, mode 0600).

    A key the file lacks and the config does not give (the cookie secret, in a file written
    before it existed) is generated and added to the file once, so every process shares it.
    """
    path = config.data_dir / KEYRING_FILE
    stored: dict[str, object] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            raise ConfigError(f"UNIONAID_DATA_DIR: {path} is unreadable or not JSON") from None
        missing = not config.cookie_secret and "cookie_secret" not in stored
    else:
        stored = {
            "pii": {"current": "k1", "keys": {"k1": _b64e(secrets.token_bytes(32))}},
            "blind_index": _b64e(secrets.token_bytes(32)),
        }
        missing = not (config.pii_key and config.blind_index_key and config.cookie_secret)
    if "cookie_secret" not in stored:
        stored["cookie_secret"] = _b64e(secrets.token_bytes(32))
    if missing:
        _write_private(path, stored)
    pii = stored.get("pii", {})
    assert isinstance(pii, dict)
    keys = {kid: _b64d(k, f"{path} pii key {kid}") for kid, k in dict(pii.get("keys", {})).items()}
    current = str(pii.get("current", ""))
    if config.pii_key:
        current = config.pii_key_id or "cfg"
        keys[current] = _b64d(config.pii_key, "UNIONAID_PII_KEY")
    if current not in keys:
        raise ConfigError(f"UNIONAID_PII_KEY_ID: key id {current!r} has no key")
    if config.blind_index_key:
        bidx = _b64d(config.blind_index_key, "UNIONAID_BLIND_INDEX_KEY")
    else:
        bidx = _b64d(str(stored.get("blind_index", "")), f"{path} blind_index")
    if config.cookie_secret:
        cookie = _b64d(config.cookie_secret, "UNIONAID_COOKIE_SECRET")
    else:
        cookie = _b64d(str(stored["cookie_secret"]), f"{path} cookie_secret")
    return Keyring(pii_current=current, pii_keys=keys, blind_index_key=bidx, cookie_secret=cookie)


class DecryptError(Exception):
    """A stored ciphertext could not be decrypted (wrong key, altered, unknown key id)."""


class PiiCipher:
    """Encrypts personal data with AES-GCM; the text form is ``<key id>:<base64(nonce|ciphertext)>``.

    ``purpose`` is bound as associated data, so a phone ciphertext cannot be
    pasted into an ID-number column and decrypt.
    """

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._aead = {kid: AESGCM(key) for kid, key in keyring.pii_keys.items()}

    def encrypt(self, plaintext: str, *, purpose: str) -> str:
        """Encrypt with the current key, ``purpose`` as associated data: ``<key id>:<base64>``."""
        kid = self.keyring.pii_current
        nonce = secrets.token_bytes(12)
        ct = self._aead[kid].encrypt(nonce, plaintext.encode("utf-8"), purpose.encode("ascii"))
        return f"{kid}:{base64.urlsafe_b64encode(nonce + ct).decode('ascii')}"

    def decrypt(self, token: str, *, purpose: str) -> str:
        """Decrypt a ``<key id>:<base64>`` text for ``purpose``; DecryptError when it does not verify."""
        kid, _, body = token.partition(":")
        aead = self._aead.get(kid)
        if aead is None or not body:
            raise DecryptError(f"unknown key id {kid!r}")
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
            return aead.decrypt(raw[:12], raw[12:], purpose.encode("ascii")).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise DecryptError("ciphertext does not verify") from exc

    def needs_rotation(self, token: str) -> bool:
        """True when the value was encrypted under an older key."""
        return token.partition(":")[0] != self.keyring.pii_current

    def blind_index(self, value: str, *, purpose: str) -> str:
        """A keyed hash that finds a record by exact value without decrypting anything."""
        mac = hmac.new(self.keyring.blind_index_key, f"{purpose}\x00{value}".encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()[:40]
