"""Ports: what the domain needs from the server's key-holding infrastructure, as typing Protocols.

The domain imports only these; ``server/`` implements them (structurally: no base class)
and the boundary (handler, CLI, job) passes the implementation in. The value and
exception types the domain reads or catches live here too, so the server builds them
and the domain never imports ``server``.

Implementations: :class:`server.crypto.PiiCipher` is a :class:`PiiCipher`,
:class:`server.qr_tokens.QrSigner` a :class:`QrSigner`,
:class:`server.passwords.Argon2Passwords` a :class:`PasswordHasher` and
:class:`server.attachments.AttachmentStore` an :class:`AttachmentStore` (same names on purpose:
a domain signature reads the same whichever side it is looked at from).
:class:`server.audit_checkpoints.CheckpointLog` reads the signed checkpoints of the audit chain's head
into :class:`AuditCheckpoint` values, which the chain's check (``models.core.audit.verify``) compares.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from typing import BinaryIO, Mapping, Protocol


class PiiCipher(Protocol):
    """Encrypts personal data at rest and finds it again through a keyed hash (blind index)."""

    def encrypt(self, plaintext: str, *, purpose: str) -> str:
        """The stored text of ``plaintext``; ``purpose`` binds it to one kind of field."""
        ...

    def decrypt(self, token: str, *, purpose: str) -> str:
        """The plaintext of a stored text encrypted for ``purpose``."""
        ...

    def blind_index(self, value: str, *, purpose: str) -> str:
        """A keyed hash that finds a record by exact value without decrypting anything."""
        ...


class TokenInvalid(Exception):
    """Not a card code this service signed (garbage, altered, unknown key)."""


@dataclass(frozen=True)
class CardToken:
    """The fields of a verified card code."""

    key_id: int
    card_id: int
    card_version: int
    issued_at: int  # Unix seconds
    nonce: bytes
    printed: bool = False


class QrSigner(Protocol):
    """Signs and verifies the card codes shown as QR codes."""

    def sign(self, card_id: int, card_version: int, issued_at: int, *, printed_nonce: bytes | None = None) -> str:
        """A phone code with a fresh nonce, or with ``printed_nonce`` the printed card's code."""
        ...

    def verify(self, token: str) -> CardToken:
        """The code's fields when its signature checks out; :class:`TokenInvalid` for anything else."""
        ...


@dataclass(frozen=True)
class AuditCheckpoint:
    """One line of the audit checkpoint file: the chain's head (position and hash) as signed at ``at``.

    ``problem`` says, in Chinese, why the line cannot be trusted (not JSON, a field missing, an
    unknown key, a signature that does not verify); empty when the signature checks out.
    """

    line: int  # 1-based line number in the file (0: not counted, e.g. just appended)
    seq: int
    hash: str
    at: str  # ISO 8601, UTC, as signed
    key_id: int
    sig: str
    problem: str = ""

    def view(self) -> dict[str, object]:
        """The checkpoint as the API shows it."""
        return {"line": self.line, "seq": self.seq, "hash": self.hash, "at": self.at or None, "key_id": self.key_id,
                "sig": self.sig, "valid": not self.problem, "problem": self.problem or None}


class PasswordHasher(Protocol):
    """Hashes staff passwords (slow, off the event loop) and checks a password against its hash."""

    async def hash(self, password: str) -> str:
        """The stored form of ``password``."""
        ...

    async def verify(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored``; as slow for ``stored`` None (an unknown user)."""
        ...


class NoticeTemplates(Protocol):
    """The subscribe-message template of each kind of notice (``models.core.outbox.CATEGORIES``)."""

    def template_id(self, category: str) -> str:
        """The template id WeChat knows for this kind of notice."""
        ...

    def ids(self) -> dict[str, str]:
        """{kind of notice: template id}."""
        ...

    def render(self, category: str, values: Mapping[str, str | int], at: datetime) -> dict[str, dict[str, str]]:
        """The message's ``data``: each of the template's keywords filled from the event's values."""
        ...


@dataclass(frozen=True)
class StoredFile:
    """An attachment as stored: its key in the store, and the sanitised file's digest, size and type."""

    key: str  # 32 hex digits, random: names the blob, and is bound into its encryption
    sha256: str  # hex digest of the sanitised bytes (what ``get`` answers)
    size: int  # bytes of the sanitised file
    mime: str  # image/jpeg, image/png or application/pdf
    key_id: str  # the id of the key that encrypted it


class AttachmentStore(Protocol):
    """Keeps uploaded proofs and photos: checked, re-encoded and encrypted at rest with a key id.

    ``purpose`` ("relief_proof", "home_visit_photo") is bound into the encryption: a blob
    is read back only for the purpose it was stored for. ``put`` and ``get`` are blocking
    and CPU-bound: run them off the event loop.
    """

    def put(self, source: str | PathLike[str] | BinaryIO, *, purpose: str) -> StoredFile:
        """Check, sanitise, encrypt and store an upload spooled to disk; ``upload_*`` AppErrors for hostile files."""
        ...

    def get(self, key: str, *, purpose: str) -> bytes:
        """The sanitised bytes of a stored file; NotFound when missing, an AppError when it does not verify."""
        ...

    def delete(self, key: str) -> None:
        """Remove a stored file (nothing happens when it is already gone)."""
        ...
