"""Service cards and the phone codes' nonces."""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

# 职工互助服务卡. A reissue makes a new row and kills the old one; ``live_member_id``
# equals member_id while the card is active or frozen and is NULL after, so the
# unique index allows one live card per member and keeps the history.
cards = sa.Table(
    "cards",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("card_no", sa.String(16), nullable=False, unique=True),
    sa.Column("member_id", BigId, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("live_member_id", BigId, nullable=True, unique=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    # Bumped by every change that must kill the codes already shown.
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | frozen | lost | cancelled
    sa.Column("status_reason", sa.String(200), nullable=True),
    # The nonce of the printed card in force: a reprint replaces it, killing the old print.
    sa.Column("print_nonce", sa.String(16), nullable=True),
    sa.Column("printed_at", UTCDateTime, nullable=True),
    sa.Column("replaces_id", BigId, nullable=True),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


# Card-code nonces claimed by a scan before migration 0020 (a scan session's unique
# ``claimed_nonce`` is the claim since): no longer written; the purge forgets the rows.
qr_nonces = sa.Table(
    "qr_nonces",
    metadata,
    sa.Column("nonce", sa.String(16), primary_key=True),
    sa.Column("card_id", BigId, nullable=False),
    sa.Column("scan_id", sa.String(32), nullable=True),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("spent_at", UTCDateTime, nullable=True),
    sa.Column("keep_until", UTCDateTime, nullable=False, index=True),
)
