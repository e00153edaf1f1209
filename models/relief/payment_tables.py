"""The relief payments table: how an approved amount reached the worker (or was reversed).

The money itself moves on the fund (models/funds): this row is the relief side's record of the payment,
with the method, the account's last digits, the voucher and the day."""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

relief_payments = sa.Table(
    "relief_payments",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=False, index=True),
    sa.Column("fund_id", BigId, sa.ForeignKey("funds.id"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),  # fen
    sa.Column("method", sa.String(16), nullable=False),  # bank_transfer | cash | in_kind
    sa.Column("account_last4", sa.String(4), nullable=True),
    sa.Column("voucher_no", sa.String(50), nullable=False),
    sa.Column("paid_on", sa.Date, nullable=False),
    sa.Column("batch", sa.String(36), nullable=True),  # the batch it was recorded in, if any
    sa.Column("status", sa.String(16), nullable=False),  # paid | reversed
    sa.Column("paid_by", BigId, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("reverse_reason", sa.String(500), nullable=True),
    sa.Column("reversed_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("reversed_at", UTCDateTime, nullable=True),
)
