"""Counter flows that own their transactions: a handler or a script calls one function.

Domain functions take a connection and never commit; the functions here take the
engine, because their guarantees need more than one transaction (a refusal that
must still be counted, for one).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.ports import QrSigner
from models.counter import scanning
from models.partners import partnership as merchants
from models.partners import programmes


@dataclass(frozen=True)
class ScanRequest:
    """What the cashier's phone sends: the code's text, and for a printed card the holder's last 4 ID digits."""

    qr: str
    id_last4: str | None = None


@dataclass(frozen=True)
class ScanOutcome:
    """An open scan session and the benefits its holder may use at this cashier's merchant."""

    scan: scanning.Scan
    cashier: merchants.Cashier
    offers: list[programmes.Offer]


Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


async def scan_card(
    transaction: Transaction, cashier_in: Callable[[Any], Awaitable[merchants.Cashier]], signer: QrSigner,
    read_request: Callable[[], ScanRequest], *, ttl: int, skew: int, scan_ttl: int, today: date,
    catalog: programmes.Catalog | None = None,
) -> ScanOutcome:
    """A cashier scans a card: check the caller, the code, the card and its holder, open a scan session.

    ``transaction()`` opens a write transaction (each call a new one); ``cashier_in(conn)``
    is the caller's merchant role in it (``partnership.cashier_for``, or as read with the
    token in the same transaction). One transaction, in which the caller's role is read
    before ``read_request`` reads anything of the request (a wrong caller hears 403 first).
    A wrong second factor (a printed card's ID digits) is counted in a transaction of its
    own, committed before the refusal (or the lock-out it caused) is raised. ``catalog`` is
    the process's cache of the merchants' programmes under the request's stamp.
    """
    refused: scanning.SecondFactorWrong | None = None
    async with transaction() as conn:
        cashier = await cashier_in(conn)  # the declaration let a trading cashier through
        request = read_request()
        try:
            scan = await scanning.open_scan(conn, signer, cashier, request.qr, ttl=ttl, skew=skew,
                                            scan_ttl=scan_ttl, id_last4=request.id_last4, today=today)
        except scanning.SecondFactorWrong as exc:
            refused = exc
        else:
            offers = await programmes.for_member(conn, scan.member_id, today=today, member=scan.member,
                                                 merchant=cashier.merchant, catalog=catalog, used=scan.used)
    if refused is not None:
        async with transaction() as conn:
            counted = await scanning.factor_failed(conn, refused.card_id)
        raise counted
    return ScanOutcome(scan, cashier, offers)
