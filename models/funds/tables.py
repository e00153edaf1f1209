"""Fund tables: the sources of money per unit and year, and their ledger.

A source's four sums (``budget``, ``topped_up``, ``reserved``, ``spent``) are kept on its row and moved only
by conditional updates that can never overdraw it; every movement is also a ledger row, and a test checks
that the rows prove the sums (``ledger.check``).
"""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

funds = sa.Table(
    "funds",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("org_path", sa.String(255), nullable=False, index=True),
    sa.Column("source", sa.String(16), nullable=False),  # central | local | union | donation
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("kinds", sa.Text, nullable=False),  # JSON list of the relief kind codes it may pay for
    sa.Column("donor", sa.String(100), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # active | closed
    sa.Column("budget", sa.BigInteger, nullable=False),  # fen
    sa.Column("topped_up", sa.BigInteger, nullable=False),
    sa.Column("reserved", sa.BigInteger, nullable=False),
    sa.Column("spent", sa.BigInteger, nullable=False),
    sa.Column("created_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # When, by whom and why a closed source was closed (NULL while active; a reopen clears them).
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("closed_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("close_reason", sa.String(200), nullable=True),
    sa.UniqueConstraint("org_id", "year", "name"),
    sa.CheckConstraint("reserved >= 0 AND spent >= 0 AND budget + topped_up - reserved - spent >= 0",
                       name="balance"),
)

# One row per movement; each moves one sum of its fund: budget and top_up the income, reserve (+) and
# release (-) the reserved, pay (+) and reverse (-) the spent. Amounts are positive fen. Two entries move
# nothing and record a change of the fund's status: close and reopen, the balance left as their amount
# (0 or more: what a year's fund declares unspent when it is closed).
fund_ledger = sa.Table(
    "fund_ledger",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("fund_id", BigId, sa.ForeignKey("funds.id"), nullable=False),
    sa.Column("entry", sa.String(16), nullable=False),  # budget | top_up | reserve | release | pay | reverse | close | reopen
    sa.Column("amount", sa.BigInteger, nullable=False),
    # The relief application moved for (a string key: funds sit below relief and import none of it).
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=True, index=True),
    sa.Column("kind", sa.String(32), nullable=True),  # the application's kind
    sa.Column("org_path", sa.String(255), nullable=False),  # the application's unit, else the fund's
    sa.Column("staff_id", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("note", sa.String(200), nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_fund_ledger_fund", "fund_id", "id"),
)
