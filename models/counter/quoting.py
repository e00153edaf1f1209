"""Quoting a bill at the counter: what a redemption would give, before the cashier confirms it.

The cashier's phone shows the discount, what the worker pays and who bears the
discount before anyone taps 确认核销; the figures must be the redemption's own, so
they come from the same steps as ``models.counter.redeeming.redeem``: the card and
membership checks, the programmes in force at this merchant, what is left of the
quotas, and ``models.partners.rules.calculate``. A quote writes nothing: no quota is
taken, the scan is not spent, no usage row is created (a missing row is a period
with nothing used, which is what ``remaining`` reads it as).

The refusals and the pricing are the redemption's own functions
(``redeeming.refuse_unusable``, ``redeeming.priced``); only the reads differ: a
redemption reads the card and the quotas with the member's row locked, a quote
without a lock.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.cards.tables import cards
from models.core.errors import Conflict
from models.counter import scanning
from models.counter.redeeming import priced, refuse_unusable
from models.members.tables import members
from models.network.tables import orgs
from models.partners import programmes as benefits
from models.partners.partnership import Cashier
from models.partners.rules import BillLine, Quote

_CARD = (sa.select(cards.c.status, cards.c.version, members.c.user_id, members.c.status.label("member_status"),
                  orgs.c.path.label("member_path"))
         .join(members, members.c.id == cards.c.member_id).join(orgs, orgs.c.id == members.c.org_id)
         .where(cards.c.id == sa.bindparam("card_id")))


async def price(conn: AsyncConnection, cashier: Cashier, scan: Any, items: Sequence[BillLine], *,
                today: date) -> Quote:
    """Price the bill for the scanned card at the cashier's merchant, with a redemption's refusals
    (``redeeming.refuse_unusable`` and ``redeeming.priced``, which the redemption itself uses).

    ``scan`` is a row of ``scan_sessions``. Nothing is locked or written: a missing quota row is a
    period with nothing used, which is what ``remaining`` reads it as.
    """
    card = (await conn.execute(_CARD, {"card_id": scan.card_id})).one()
    refuse_unusable(card.member_status, card.status, card.version, scan.card_version)
    found = await benefits.programs_for(conn, scan.member_id, today=today, merchant=cashier.merchant,
                                        member=(card.member_status, card.member_path))
    return priced(items, found, await benefits.remaining(conn, scan.member_id, found, today=today))


async def quote(conn: AsyncConnection, cashier: Cashier, scan_id: str, items: Sequence[BillLine], *,
                today: date) -> Quote:
    """What redeeming the bill against this cashier's open scan would give now, spending nothing.

    The scan's refusals are a redemption's: another cashier's or an unknown scan 404 ``scan_not_found``,
    an expired one 422 ``scan_expired``, one already redeemed (or refused) 409 ``qr_used``.
    """
    scan = await scanning.get_scan(conn, cashier, scan_id)
    if scan.used_at is not None:
        raise Conflict("qr_used", "该二维码已被使用，请持卡人刷新后重新扫码")
    return await price(conn, cashier, scan, items, today=today)
