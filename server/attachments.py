"""The attachment store: relief proofs and home-visit photos, sanitised and encrypted at rest.

Each file is checked and re-encoded (:mod:`server.upload_check`), then encrypted with
AES-256-GCM under a fresh random data key; the data key is wrapped (AES-256-GCM again) by
the attachment key of the current key id. Attachment keys are derived (HKDF-SHA256) from the
keyring's PII keys, so they share their ids and rotation (a new current PII key makes new
files use it; files under an older id still read while the keyring holds it) without being
the same keys. The blob records its key id; the key id, the purpose and the blob's own key
are the associated data of both encryptions, so a blob altered, moved under another key or
read for another purpose does not decrypt.

Blobs are named by a random key (32 hex digits), not by their content: two people uploading
the same file get two blobs (no one learns that a file is already stored), and deleting one
never touches another's. They live in ``<attachments_dir>/<first two digits>/<key>``, directories
0700 and files 0600, each written to a temporary file, synced and renamed into place, so a
reader never sees half a blob. Every server process on the machine shares the directory; a
deployment on several machines needs it on a shared volume (or another store behind the
:class:`models.core.ports.AttachmentStore` port, e.g. an object store).

Blob layout: ``b"UAF1" | len(key id) (1 byte) | key id | wrap nonce (12) | wrapped data key (48)
| nonce (12) | ciphertext and tag``.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from models.core import ports
from models.core.errors import AppError, NotFound, Unprocessable
from models.core.ports import StoredFile
from server.config import Config, ConfigError, make_private_dir, setting_name
from server.crypto import Keyring
from server.upload_check import sanitise

log = logging.getLogger("unionaid.attachments")

MAGIC = b"UAF1"
_KEY = re.compile(r"[0-9a-f]{32}")
_PURPOSE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_WRAPPED = 12 + 32 + 16

#: File extension of each stored type, for the name a served file is given.
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
#: The types a stored attachment can be (what the upload check lets through).
ATTACHMENT_TYPES = tuple(EXTENSIONS)


def _derive(pii_key: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"unionaid attachments v1")
    return AESGCM(hkdf.derive(pii_key))


def _associated(key_id: str, purpose: str, key: str) -> bytes:
    return f"unionaid-attachment-v1\x00{key_id}\x00{purpose}\x00{key}".encode("ascii")


def _unreadable() -> AppError:
    return Unprocessable("attachment_unreadable", "附件已损坏或无法解密，无法查看；请联系管理员或请申请人重新上传")


def inline_headers(mime: str, *, name: str = "attachment") -> dict[str, str]:
    """Headers that serve a stored file inline (the base handler adds nosniff, no-store and the CSP)."""
    return {"Content-Type": mime,
            "Content-Disposition": f'inline; filename="{name}.{EXTENSIONS.get(mime, "bin")}"'}


class AttachmentStore:
    """Sanitised uploads encrypted in a private directory; implements :class:`models.core.ports.AttachmentStore`."""

    def __init__(self, root: Path, keyring: Keyring, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.current = keyring.pii_current
        self._keys = {kid: _derive(key) for kid, key in keyring.pii_keys.items()}

    @classmethod
    def from_config(cls, config: Config, keyring: Keyring) -> AttachmentStore:
        """The store in ``attachments_dir`` (default: ``attachments`` in the data dir)."""
        if config.max_attachment_bytes <= 0:
            raise ConfigError(f"{setting_name('max_attachment_bytes')}: must be positive")
        root = Path(config.attachments_dir) if config.attachments_dir else config.data_dir / "attachments"
        return cls(root, keyring, max_bytes=config.max_attachment_bytes)

    def path(self, key: str) -> Path:
        """Where the blob of ``key`` lives; NotFound for anything that is not a key."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise NotFound("attachment_not_found", "找不到该附件")
        return self.root / key[:2] / key

    def put(self, source: str | os.PathLike[str] | BinaryIO, *, purpose: str) -> StoredFile:
        """Check, sanitise, encrypt and store an upload spooled to disk; ``upload_*`` AppErrors for hostile files."""
        if not _PURPOSE.fullmatch(purpose):
            raise ValueError(f"bad attachment purpose {purpose!r}")
        clean = sanitise(source, max_bytes=self.max_bytes)
        key = secrets.token_hex(16)
        blob = self.seal(clean.data, key=key, purpose=purpose)
        self._write(self.path(key), blob)
        return StoredFile(key=key, sha256=hashlib.sha256(clean.data).hexdigest(), size=len(clean.data),
                          mime=clean.mime, key_id=self.current)

    def seal(self, data: bytes, *, key: str, purpose: str) -> bytes:
        """The encrypted blob of ``data`` for ``key`` and ``purpose`` under the current key id."""
        kid = self.current
        associated = _associated(kid, purpose, key)
        data_key, wrap_nonce, nonce = AESGCM.generate_key(256), secrets.token_bytes(12), secrets.token_bytes(12)
        wrapped = self._keys[kid].encrypt(wrap_nonce, data_key, associated)
        header = MAGIC + bytes([len(kid)]) + kid.encode("ascii") + wrap_nonce + wrapped + nonce
        return header + AESGCM(data_key).encrypt(nonce, data, associated)

    def open(self, blob: bytes, *, key: str, purpose: str) -> bytes:
        """The plaintext of a blob stored as ``key`` for ``purpose``; ``attachment_unreadable`` if it does not verify."""
        if not blob.startswith(MAGIC) or len(blob) < 5:
            raise _unreadable()
        size = blob[4]
        kid = blob[5:5 + size].decode("ascii", "replace")
        rest = blob[5 + size:]
        wrapper = self._keys.get(kid)
        if wrapper is None or len(rest) < _WRAPPED + 12 + 16:
            raise _unreadable()
        associated = _associated(kid, purpose, key)
        try:
            data_key = wrapper.decrypt(rest[:12], rest[12:_WRAPPED], associated)
            return AESGCM(data_key).decrypt(rest[_WRAPPED:_WRAPPED + 12], rest[_WRAPPED + 12:], associated)
        except (InvalidTag, ValueError):
            raise _unreadable() from None

    def get(self, key: str, *, purpose: str) -> bytes:
        """The sanitised bytes of a stored file; NotFound when missing, ``attachment_unreadable`` when it does not verify."""
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise NotFound("attachment_not_found", "找不到该附件") from None
        try:
            return self.open(blob, key=key, purpose=purpose)
        except AppError:
            log.warning("attachment %s does not verify for purpose %s", key, purpose)
            raise

    def key_id(self, key: str) -> str:
        """The key id a stored blob was encrypted under (to find the blobs a rotation should re-encrypt)."""
        with open(self.path(key), "rb") as fh:
            head = fh.read(5 + 255)
        return head[5:5 + head[4]].decode("ascii", "replace") if head.startswith(MAGIC) else ""

    def rekey(self, key: str, *, purpose: str) -> bool:
        """Re-encrypt a blob under the current key id; False when it already is."""
        if self.key_id(key) == self.current:
            return False
        self._write(self.path(key), self.seal(self.get(key, purpose=purpose), key=key, purpose=purpose))
        return True

    def delete(self, key: str) -> None:
        """Remove a stored file (nothing happens when it is already gone)."""
        self.path(key).unlink(missing_ok=True)

    def _write(self, path: Path, blob: bytes) -> None:
        make_private_dir(self.root)  # not through parents=True, which would ignore the mode
        make_private_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _implements_the_port(store: AttachmentStore) -> ports.AttachmentStore:
    return store  # mypy checks here that the store has the port's methods with its signatures
