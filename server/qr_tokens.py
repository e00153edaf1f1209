"""Signed card tokens for the rotating QR code: compact, Ed25519-signed, with rotating key ids.

Layout, 84 bytes: a 20-byte body
``format:1 | key id:1 | card id:4 | card version:2 | issued at:4 | nonce:8``
and its 64-byte signature, encoded as unpadded RFC 4648 base32 (upper case, 135
characters), so the QR code can use its alphanumeric mode and stay small.
Only that exact text is accepted (see :func:`decode`): no two strings verify as one token.
The token names no person; only the service maps the card id to a member.
Two formats: a phone's rotating code (short-lived, each nonce used once) and a
printed card's code (long-lived; its nonce is the print's, replaced by a reprint).
docs/card-codes.md describes the token byte by byte for offline verifiers, with a test vector.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import struct
import time
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.core.ports import CardToken, TokenInvalid
from server.config import make_private_dir

SCREEN = 1
PRINTED = 2
_BODY = struct.Struct(">BBIHI8s")  # format, key id, card id, card version, issued at, nonce
SIGNATURE_LEN = 64
TOKEN_LEN = _BODY.size + SIGNATURE_LEN
KEYS_FILE = "qr_keys.json"
TEXT_LEN = -(-TOKEN_LEN * 8 // 5)  # 135 base32 characters, no padding
_CANONICAL = re.compile(f"[A-Z2-7]{{{TEXT_LEN}}}")


class QrSigner:
    """Signs with the newest key; verifies with any key still published.

    A signer loaded from the data dir notices a rotation made by another process
    (``unionaid rotate-qr-key``): it re-reads the key file when it meets an unknown
    key id, and at most every ``RECHECK`` seconds before signing.
    """

    RECHECK = 30.0

    def __init__(self, keys: dict[int, Ed25519PrivateKey], current: int, *, source: Path | None = None) -> None:
        if current not in keys:
            raise ValueError("the current key id has no key")
        self._set(keys, current)
        self._source = source
        self._stamp = _stamp(source)
        self._checked = time.monotonic()

    def _set(self, keys: dict[int, Ed25519PrivateKey], current: int) -> None:
        self._keys = keys
        self.current = current
        self._public = {kid: key.public_key() for kid, key in keys.items()}

    def refresh(self, *, force: bool = False) -> bool:
        """Re-read the key file when it changed; True when the keys were replaced."""
        if self._source is None or (not force and time.monotonic() - self._checked < self.RECHECK):
            return False
        self._checked = time.monotonic()
        stamp = _stamp(self._source)
        if stamp == self._stamp or stamp is None:
            return False
        keys, current = _read(self._source)
        self._set(keys, current)
        self._stamp = stamp
        return True

    def sign(self, card_id: int, card_version: int, issued_at: int, *, printed_nonce: bytes | None = None) -> str:
        """A phone code with a fresh nonce, or with ``printed_nonce`` the printed card's code."""
        self.refresh()
        fmt = SCREEN if printed_nonce is None else PRINTED
        nonce = secrets.token_bytes(8) if printed_nonce is None else printed_nonce
        if len(nonce) != 8:
            raise ValueError("a nonce is 8 bytes")
        body = _BODY.pack(fmt, self.current, card_id, card_version, issued_at, nonce)
        raw = body + self._keys[self.current].sign(body)
        return base64.b32encode(raw).decode("ascii").rstrip("=")

    def verify(self, token: str) -> CardToken:
        """The token's fields when its signature checks out; TokenInvalid for anything else."""
        raw = decode(token)
        body, signature = raw[:_BODY.size], raw[_BODY.size:]
        fmt, key_id, card_id, card_version, issued_at, nonce = _BODY.unpack(body)
        if fmt not in (SCREEN, PRINTED):
            raise TokenInvalid("unknown format")
        public = self._public.get(key_id)
        if public is None and self.refresh(force=True):
            public = self._public.get(key_id)
        if public is None:
            raise TokenInvalid("unknown key")
        try:
            public.verify(signature, body)
        except InvalidSignature:
            raise TokenInvalid("bad signature") from None
        return CardToken(key_id, card_id, card_version, issued_at, nonce, printed=fmt == PRINTED)

    def public_keys(self) -> list[dict[str, object]]:
        """The published keys, newest first, for merchants checking codes offline."""
        self.refresh()
        out = []
        for kid in sorted(self._public, reverse=True):
            raw = self._public[kid].public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            out.append({"kid": kid, "alg": "Ed25519", "public_key": base64.urlsafe_b64encode(raw).decode(),
                        "current": kid == self.current})
        return out

    def jwks(self) -> list[dict[str, object]]:
        """The published keys as RFC 8037 JWKs, newest first (the ``keys`` of a JWK Set).

        ``kid`` is the token's key-id byte written in decimal ("1" for byte 0x01); ``x`` is
        the raw 32-byte public key in unpadded base64url; ``current`` (not a registered JWK
        member: readers ignore it) marks the key that signs new codes.
        """
        return [{"kty": "OKP", "crv": "Ed25519", "kid": str(k["kid"]),
                 "x": str(k["public_key"]).rstrip("="), "alg": "EdDSA", "use": "sig",
                 "current": k["current"]} for k in self.public_keys()]


def decode(text: object) -> bytes:
    """The token's bytes, from its one canonical text only; TokenInvalid for anything else.

    Upper case, unpadded, nothing around or inside it: a lower-cased, padded or
    wrapped copy is refused rather than read as the same code, so a code has one
    text form and nothing keyed on the text (the replay record) has aliases.
    """
    if not isinstance(text, str) or not _CANONICAL.fullmatch(text):
        raise TokenInvalid("not the canonical text of a card token")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise TokenInvalid("not base32") from None
    # 135 characters carry 675 bits for 672: the spare bits must be zero too.
    if len(raw) != TOKEN_LEN or base64.b32encode(raw).decode("ascii").rstrip("=") != text:
        raise TokenInvalid("not canonical")
    return raw


def _private_bytes(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return base64.b64encode(raw).decode()


def _save(path: Path, keys: dict[int, Ed25519PrivateKey], current: int) -> None:
    make_private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"current": current, "keys": {str(k): _private_bytes(v) for k, v in keys.items()}}, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_signer(data_dir: Path, *, key: str = "", key_id: int = 1) -> QrSigner:
    """The configured key (base64 of the 32-byte Ed25519 seed) when given; else the
    keys in the data dir, created on first use (file mode 0600)."""
    if key:
        try:
            seed = base64.b64decode(key, validate=True)
            return QrSigner({key_id: Ed25519PrivateKey.from_private_bytes(seed)}, key_id)
        except (binascii.Error, ValueError):
            raise ValueError("the QR signing key must be base64 of 32 bytes") from None
    path = data_dir / KEYS_FILE
    if not path.exists():
        _save(path, {1: Ed25519PrivateKey.generate()}, 1)
    keys, current = _read(path)
    return QrSigner(keys, current, source=path)


def _read(path: Path) -> tuple[dict[int, Ed25519PrivateKey], int]:
    stored = json.loads(path.read_text())
    keys = {int(k): Ed25519PrivateKey.from_private_bytes(base64.b64decode(v)) for k, v in stored["keys"].items()}
    return keys, int(stored["current"])


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        info = path.stat() if path is not None else None
    except FileNotFoundError:
        return None
    return (info.st_mtime_ns, info.st_ino) if info is not None else None


def rotate(data_dir: Path, *, keep: int = 2) -> QrSigner:
    """Add a new current key; older keys still verify codes already shown, the oldest beyond ``keep`` go."""
    signer = load_signer(data_dir)
    keys = dict(signer._keys)
    new_id = signer.current % 255 + 1
    keys[new_id] = Ed25519PrivateKey.generate()
    order = [new_id] + [k for k in sorted(keys, reverse=True) if k != new_id]
    keys = {k: keys[k] for k in order[: keep + 1]}
    _save(data_dir / KEYS_FILE, keys, new_id)
    return load_signer(data_dir)
