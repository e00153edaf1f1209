"""Signed checkpoints of the audit chain's head, appended to a file in the data dir.

The chain in the database proves that no record inside it changed, but not that its
tail is still there: whoever can delete the last records can roll the head back
with them. A checkpoint is the head (position ``seq`` and ``hash``) signed with an
Ed25519 key of its own and kept outside the database, one JSON line per checkpoint
in ``audit_checkpoints.jsonl`` (mode 0600, each line fsync'd):

    {"seq": 1234, "hash": "<64 hex>", "at": "2026-03-01T02:03:04Z", "key_id": 1, "sig": "<base64url>"}

``sig`` signs ``MESSAGE_PREFIX`` followed by the JSON of ``{"at", "hash", "key_id", "seq"}``
with sorted keys and no spaces; a verifier outside the service needs only the public
key (``unionaid audit-checkpoint`` prints it; ``GET /api/v1/staff/audit/checkpoints`` lists it).

The signing key is kept like the card-code key (``server/qr_tokens.py``): the configured
seed (``UNIONAID_AUDIT_KEY`` and its id), else ``audit_keys.json`` in the data dir,
created on first use with mode 0600.
"""
from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.core.ports import AuditCheckpoint
from server.config import make_private_dir

KEYS_FILE = "audit_keys.json"
LOG_FILE = "audit_checkpoints.jsonl"
MESSAGE_PREFIX = b"unionaid audit checkpoint v1\n"
_HASH = re.compile(r"[0-9a-f]{64}")
_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_SIG = re.compile(r"[A-Za-z0-9_-]{86}")  # 64 bytes, unpadded base64url
_TAIL = 4096  # bytes read from the end of the file to find the last checkpoint (a line is ~200)


def message(seq: int, digest: str, at: str, key_id: int) -> bytes:
    """The bytes a checkpoint's signature covers."""
    body = json.dumps({"at": at, "hash": digest, "key_id": key_id, "seq": seq}, sort_keys=True,
                      separators=(",", ":"))
    return MESSAGE_PREFIX + body.encode("ascii")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class CheckpointLog:
    """Appends signed checkpoints to the file and reads them back, each line checked on its own."""

    def __init__(self, path: Path, keys: dict[int, Ed25519PrivateKey], current: int) -> None:
        if current not in keys:
            raise ValueError("the current key id has no key")
        self.path = path
        self.current = current
        self._key = keys[current]
        self._public: dict[int, Ed25519PublicKey] = {kid: key.public_key() for kid, key in keys.items()}

    def append(self, seq: int, digest: str, *, at: datetime | None = None) -> AuditCheckpoint:
        """Sign the head ``(seq, digest)`` and append it as one line, flushed to disk before returning.

        The checkpoint answered has ``line`` 0: the file is not counted to number it.
        """
        written = self._write(seq, digest, at=at, only_past=False)
        assert written is not None
        return written

    def advance(self, seq: int, digest: str) -> AuditCheckpoint | None:
        """Append the head as ``append`` does unless the file's last good line is already at ``seq`` or
        past it, decided under the file's lock: processes sharing the file write each head once."""
        return self._write(seq, digest, at=None, only_past=True)

    def _write(self, seq: int, digest: str, *, at: datetime | None, only_past: bool) -> AuditCheckpoint | None:
        moment = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        sig = _b64url(self._key.sign(message(seq, digest, stamp, self.current)))
        line = json.dumps({"seq": seq, "hash": digest, "at": stamp, "key_id": self.current, "sig": sig},
                          separators=(",", ":")) + "\n"
        make_private_dir(self.path.parent)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # processes sharing the data dir append whole lines, one at a time
            size = os.lseek(fd, 0, os.SEEK_END)
            if only_past and size:
                tail = os.pread(fd, min(size, _TAIL), max(0, size - _TAIL)).decode("utf-8", errors="replace")
                last = self.check(0, tail.splitlines()[-1]) if tail.strip() else None
                if last is not None and not last.problem and last.seq >= seq:
                    return None
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = "\n" + line  # a line torn by a crash stays one bad line, not two
            os.write(fd, line.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.path.parent)
        return AuditCheckpoint(0, seq, digest, stamp, self.current, sig)

    def _lines(self) -> list[str]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        return raw.decode("utf-8", errors="replace").splitlines()

    def read(self) -> list[AuditCheckpoint]:
        """Every line of the file in order, each checked (``problem`` says why one is not to be trusted)."""
        return [self.check(number, text) for number, text in enumerate(self._lines(), start=1)]

    def page(self, before: int | None, limit: int) -> list[AuditCheckpoint]:
        """Up to ``limit`` lines, newest first, those before line ``before`` when given; each checked."""
        lines = self._lines()
        end = len(lines) if before is None else min(before - 1, len(lines))
        return [self.check(n, lines[n - 1]) for n in range(end, max(end - limit, 0), -1)]

    def latest(self) -> AuditCheckpoint | None:
        """The last line of the file, checked (``line`` 0); None when there is none. Reads only the file's end."""
        try:
            with open(self.path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - _TAIL))
                tail = fh.read()
        except FileNotFoundError:
            return None
        lines = tail.decode("utf-8", errors="replace").splitlines()
        if not lines:
            return None
        return self.check(0, lines[-1])

    def check(self, number: int, text: str) -> AuditCheckpoint:
        """One line read back: its fields, and why it is not to be trusted (Chinese), if it is not."""
        try:
            item = json.loads(text)
        except ValueError:
            return AuditCheckpoint(number, 0, "", "", 0, "", "不是有效的 JSON（行被截断或改动）")
        if not isinstance(item, dict) or not _well_formed(item):
            return AuditCheckpoint(number, 0, "", "", 0, "", "字段缺失或格式不对")
        found = AuditCheckpoint(number, item["seq"], item["hash"], item["at"], item["key_id"], item["sig"])
        public = self._public.get(found.key_id)
        if public is None:
            return _with_problem(found, f"签名密钥 {found.key_id} 不在本服务的密钥中")
        try:
            public.verify(base64.urlsafe_b64decode(found.sig + "=="),
                          message(found.seq, found.hash, found.at, found.key_id))
        except (InvalidSignature, binascii.Error, ValueError):
            return _with_problem(found, "签名不符（检查点被伪造或改动）")
        return found

    def public_keys(self) -> list[dict[str, object]]:
        """The keys that verify checkpoints (raw 32-byte Ed25519 public keys, unpadded base64url)."""
        out = []
        for kid in sorted(self._public, reverse=True):
            raw = self._public[kid].public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            out.append({"key_id": kid, "alg": "Ed25519", "public_key": _b64url(raw), "current": kid == self.current})
        return out


def _well_formed(item: dict[str, object]) -> bool:
    seq, digest, at, key_id, sig = (item.get(k) for k in ("seq", "hash", "at", "key_id", "sig"))
    return (type(seq) is int and seq >= 1 and isinstance(digest, str) and bool(_HASH.fullmatch(digest))
            and isinstance(at, str) and bool(_AT.fullmatch(at)) and type(key_id) is int and 1 <= key_id <= 255
            and isinstance(sig, str) and bool(_SIG.fullmatch(sig)))


def _with_problem(cp: AuditCheckpoint, problem: str) -> AuditCheckpoint:
    return AuditCheckpoint(cp.line, cp.seq, cp.hash, cp.at, cp.key_id, cp.sig, problem)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _save_keys(path: Path, keys: dict[int, Ed25519PrivateKey], current: int) -> None:
    make_private_dir(path.parent)
    stored = {str(kid): base64.b64encode(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                           serialization.NoEncryption())).decode()
              for kid, key in keys.items()}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"current": current, "keys": stored}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _read_keys(path: Path) -> tuple[dict[int, Ed25519PrivateKey], int]:
    stored = json.loads(path.read_text())
    keys = {int(k): Ed25519PrivateKey.from_private_bytes(base64.b64decode(v)) for k, v in stored["keys"].items()}
    return keys, int(stored["current"])


def load_checkpoints(data_dir: Path, *, key: str = "", key_id: int = 1) -> CheckpointLog:
    """The checkpoint file in the data dir, signed with the configured key (base64 of the 32-byte
    Ed25519 seed) when given, else with the data dir's ``audit_keys.json`` (created on first use, 0600)."""
    path = data_dir / LOG_FILE
    if key:
        try:
            seed = base64.b64decode(key, validate=True)
            return CheckpointLog(path, {key_id: Ed25519PrivateKey.from_private_bytes(seed)}, key_id)
        except (binascii.Error, ValueError):
            raise ValueError("the audit checkpoint key must be base64 of 32 bytes") from None
    keys_path = data_dir / KEYS_FILE
    if not keys_path.exists():
        _save_keys(keys_path, {1: Ed25519PrivateKey.generate()}, 1)
    keys, current = _read_keys(keys_path)
    return CheckpointLog(path, keys, current)
