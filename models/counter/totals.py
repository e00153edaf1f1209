"""What the partners' redemptions came to, per merchant, for the statistics: counted net of refunds.

A void redemption counts for nothing; a refunded one counts what is left of it (the figures first recorded
less what refunds gave back), so the numbers match the monthly statements built from the same rows.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.counter.tables import redemptions
from models.network.tables import orgs
from models.network.tree import in_subtree
from models.partners.tables import merchants

#: The figures of each merchant's line, all fen but ``times``.
FIGURES = ("times", "amount", "discount", "union_share", "merchant_share")


async def by_merchant(conn: AsyncConnection, org_path: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per merchant signed in the subtree at ``org_path``, the redemptions made in [since, until): how many
    (voids left out), the bills, the discounts and their union and merchant shares, net of refunds; by name."""
    r = redemptions.c
    rows = (await conn.execute(
        sa.select(merchants.c.id, merchants.c.name, sa.func.count().label("times"),
                  sa.func.sum(r.amount - r.refunded_amount).label("amount"),
                  sa.func.sum(r.discount - r.refunded_discount).label("discount"),
                  sa.func.sum(r.union_share - r.refunded_union).label("union_share"),
                  sa.func.sum(r.merchant_share - r.refunded_merchant).label("merchant_share"))
        .join_from(redemptions, merchants, merchants.c.id == r.merchant_id)
        .join(orgs, orgs.c.id == merchants.c.org_id)
        .where(in_subtree(orgs.c.path, org_path), r.status != "void", r.created_at >= since, r.created_at < until)
        .group_by(merchants.c.id, merchants.c.name))).all()
    found = [{"key": str(row.id), "name": row.name, **{f: int(getattr(row, f) or 0) for f in FIGURES}}
             for row in rows]
    return sorted(found, key=lambda line: (line["name"], int(line["key"])))
