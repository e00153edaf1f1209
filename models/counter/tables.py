"""Scan sessions, redemptions with their usage and refunds, and monthly statements with their frozen lines."""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

# A cashier's scan of a card: what a redemption uses, for a few minutes.
scan_sessions = sa.Table(
    "scan_sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("card_id", BigId, sa.ForeignKey("cards.id"), nullable=False, index=True),
    sa.Column("card_version", sa.Integer, nullable=False),
    sa.Column("member_id", BigId, nullable=False),
    sa.Column("cashier_id", BigId, sa.ForeignKey("merchant_staff.id"), nullable=False),
    sa.Column("store_id", BigId, nullable=False),
    sa.Column("merchant_id", BigId, nullable=False),
    sa.Column("nonce", sa.String(16), nullable=False),
    sa.Column("printed", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("used_at", UTCDateTime, nullable=True),
    # A phone code's nonce, claimed by this scan: unique, so the first scan of a code wins on every
    # process (NULL for a printed card, whose code is scanned again and again).
    sa.Column("claimed_nonce", sa.String(16), nullable=True),
    sa.Index("ix_scan_sessions_claimed_nonce", "claimed_nonce", unique=True),
)


redemptions = sa.Table(
    "redemptions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("merchant_id", BigId, sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("store_id", BigId, nullable=False),
    sa.Column("cashier_id", BigId, nullable=False),
    sa.Column("card_id", BigId, nullable=False),
    sa.Column("member_id", BigId, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("scan_id", sa.String(32), nullable=False, unique=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("discount", sa.BigInteger, nullable=False),
    sa.Column("payable", sa.BigInteger, nullable=False),
    sa.Column("union_share", sa.BigInteger, nullable=False),
    sa.Column("merchant_share", sa.BigInteger, nullable=False),
    # What refunds gave back so far (the figures above stay as first recorded).
    sa.Column("refunded_amount", sa.BigInteger, nullable=False),
    sa.Column("refunded_discount", sa.BigInteger, nullable=False),
    sa.Column("refunded_union", sa.BigInteger, nullable=False),
    sa.Column("refunded_merchant", sa.BigInteger, nullable=False),
    sa.Column("lines", sa.Text, nullable=False),  # JSON: each line's figures and reason
    sa.Column("status", sa.String(16), nullable=False),  # done | void | refunded
    sa.Column("month", sa.String(7), nullable=False),  # the settlement month, Asia/Shanghai
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("voided_at", UTCDateTime, nullable=True),
    sa.Column("voided_by", sa.String(64), nullable=True),
    sa.Column("void_reason", sa.String(200), nullable=True),
    sa.Index("ix_redemptions_merchant_month", "merchant_id", "month"),
)


# Which quotas a redemption used, so a void or refund gives back exactly that.
redemption_usage = sa.Table(
    "redemption_usage",
    metadata,
    sa.Column("redemption_id", BigId, sa.ForeignKey("redemptions.id"), primary_key=True),
    sa.Column("program_id", BigId, sa.ForeignKey("programs.id"), primary_key=True),
    sa.Column("period_key", sa.String(7), nullable=False),
    sa.Column("money", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("money_returned", sa.BigInteger, nullable=False),
    sa.Column("count_returned", sa.Integer, nullable=False),
)


refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("redemption_id", BigId, sa.ForeignKey("redemptions.id"), nullable=False, index=True),
    sa.Column("amount", sa.BigInteger, nullable=False),  # the part of the bill given back
    sa.Column("discount", sa.BigInteger, nullable=False),
    sa.Column("union_share", sa.BigInteger, nullable=False),
    sa.Column("merchant_share", sa.BigInteger, nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


# A merchant's monthly statement. ``union_owed`` > 0: the union pays the merchant (confirmed → paid);
# < 0: the merchant owes the union (confirmed → received); 0: settled at confirmation. Built by one member
# of staff, confirmed by another, paid or received by a third or the builder (four eyes).
statements = sa.Table(
    "statements",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("merchant_id", BigId, sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("redemptions", sa.Integer, nullable=False),
    sa.Column("bills", sa.BigInteger, nullable=False),
    sa.Column("discounts", sa.BigInteger, nullable=False),
    sa.Column("union_owed", sa.BigInteger, nullable=False),
    sa.Column("merchant_conceded", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # draft | confirmed | paid | received | settled
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("built_by", BigId, nullable=True),  # who last built (or rebuilt) the draft
    sa.Column("confirmed_at", UTCDateTime, nullable=True),
    sa.Column("confirmed_by", BigId, nullable=True),
    # Frozen at confirmation with the lines: what the statement's header says for ever after.
    sa.Column("confirmed_by_name", sa.String(64), nullable=True),
    sa.Column("merchant_name", sa.String(100), nullable=True),
    # When and by whom the money moved, either way (paid to or received from the merchant), and its reference.
    sa.Column("paid_at", UTCDateTime, nullable=True),
    sa.Column("paid_by", BigId, nullable=True),
    sa.Column("payment_ref", sa.String(100), nullable=True),
    sa.UniqueConstraint("merchant_id", "month"),
)


# A confirmed statement's lines as they were at confirmation: its rows and exports are read from here only.
statement_lines = sa.Table(
    "statement_lines",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("statement_id", BigId, sa.ForeignKey("statements.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # redemption | refund
    sa.Column("redemption_id", BigId, nullable=False),
    sa.Column("refund_id", BigId, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("store", sa.String(100), nullable=False),
    sa.Column("card_tail", sa.String(4), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("discount", sa.BigInteger, nullable=False),
    sa.Column("union_share", sa.BigInteger, nullable=False),
    sa.Column("merchant_share", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # done | refunded (within the month) | refund
)
