"""Card codes: the phone's short-lived signed code, the printed card's code, and checking either.

A phone code lives ``qr_ttl`` seconds (plus the allowed clock skew); a printed code lives
until the card is reprinted. Claiming a code at the counter is ``models.counter.scanning``.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from models.cards.lifecycle import Card
from models.core.errors import AppError, Conflict, Forbidden, Invalid
from models.core.ports import CardToken, QrSigner, TokenInvalid


@dataclass(frozen=True)
class QrCode:
    """A phone code: the signed token, when it expires, and the seconds until the app fetches another."""

    token: str
    expires_at: datetime
    refresh_in: int

    def view(self) -> dict[str, Any]:
        """The code as the API answers it: token, expires_at and refresh_in."""
        return {"token": self.token, "expires_at": self.expires_at, "refresh_in": self.refresh_in}


class Signable(Protocol):
    """What a phone code is signed from: the card's id, code version and status."""

    @property
    def id(self) -> int: ...  # noqa: D102
    @property
    def version(self) -> int: ...  # noqa: D102
    @property
    def status(self) -> str: ...  # noqa: D102


@dataclass(frozen=True)
class LiveCard:
    """The member's live card as the caller's query reads it: enough to sign its phone code."""

    id: int
    version: int
    status: str


def phone_code(signer: QrSigner, card: Signable, *, ttl: int, now: float | None = None) -> QrCode:
    """A fresh code for the phone screen; the app fetches the next one after ``refresh_in`` seconds."""
    if card.status != "active":
        raise status_error(card.status)
    issued = int(now if now is not None else time.time())
    token = signer.sign(card.id, card.version, issued)
    return QrCode(token, datetime.fromtimestamp(issued + ttl, timezone.utc), max(5, ttl - 15))


def printed_code(signer: QrSigner, card: Card) -> str:
    """The code of the print in force (the same string each time: Ed25519 is deterministic)."""
    if card.status != "active":
        raise status_error(card.status)
    if card.print_nonce is None or card.printed_at is None:
        raise Conflict("card_not_printed", "该卡尚未制作实体卡")
    return signer.sign(card.id, card.version, int(card.printed_at.timestamp()),
                       printed_nonce=bytes.fromhex(card.print_nonce))


def status_error(status: str) -> AppError:
    """The refusal for a card that is not active: frozen, lost or cancelled (403)."""
    return {
        "frozen": Forbidden("card_frozen", "该服务卡已被冻结，请联系所在工会"),
        "lost": Forbidden("card_lost", "该服务卡已挂失作废"),
        "cancelled": Forbidden("card_cancelled", "该服务卡已注销"),
    }[status]


def check_code(signer: QrSigner, qr: str, *, ttl: int, skew: int, now: float | None = None) -> CardToken:
    """The code's fields when it is genuine and, for a phone code, still fresh."""
    try:
        token = signer.verify(qr)
    except TokenInvalid:
        raise Invalid("qr_invalid", "无法识别的服务卡二维码") from None
    if not token.printed:
        now = time.time() if now is None else now
        if token.issued_at > now + skew:
            raise Invalid("qr_invalid", "无法识别的服务卡二维码")
        if now > token.issued_at + ttl + skew:
            raise AppError("qr_expired", "二维码已过期，请持卡人刷新后重新扫码", status=422)
    return token


