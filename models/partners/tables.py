"""Merchants, their stores, staff and invites; benefit programmes and quota usage."""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

merchants = sa.Table(
    "merchants",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),  # pharmacy | hospital | supermarket | school | other
    # The union organisation that signed the agreement; its subtree's staff manage the merchant.
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # active | suspended
    sa.Column("status_reason", sa.String(200), nullable=True),
    sa.Column("agreement_from", sa.Date, nullable=False),
    sa.Column("agreement_to", sa.Date, nullable=False),
    sa.Column("contact", sa.String(100), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


stores = sa.Table(
    "stores",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("merchant_id", BigId, sa.ForeignKey("merchants.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


# A WeChat user acting for a merchant: a cashier of one store, or a manager of the
# merchant. ``live_user_id`` (NULL once removed) keeps one live role per user.
merchant_staff = sa.Table(
    "merchant_staff",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("live_user_id", BigId, nullable=True, unique=True),
    sa.Column("merchant_id", BigId, sa.ForeignKey("merchants.id"), nullable=False, index=True),
    sa.Column("store_id", BigId, sa.ForeignKey("stores.id"), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),  # cashier | manager
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("removed_at", UTCDateTime, nullable=True),
    sa.Column("removed_by", sa.String(64), nullable=True),
)


# One-time invitations. A bind finds its invite by the SHA-256 of the code; the code itself is kept
# encrypted with the PII keys only so that an open invite's mini-program image can be fetched again
# (NULL for invites made before revision 0007).
merchant_invites = sa.Table(
    "merchant_invites",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("code_enc", sa.String(255), nullable=True),
    sa.Column("merchant_id", BigId, sa.ForeignKey("merchants.id"), nullable=False, index=True),
    sa.Column("store_id", BigId, sa.ForeignKey("stores.id"), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
    sa.Column("used_by", BigId, nullable=True),
)


# A programme: who is eligible, at which merchants, under which rule (JSON, see
# models/benefit_rules.py), funded how, within which quota per card and period.
programs = sa.Table(
    "programs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("union_bp", sa.Integer, nullable=False),  # the union's part of each discount, basis points
    sa.Column("categories", sa.String(300), nullable=False),  # comma-separated category codes
    sa.Column("excluded", sa.String(300), nullable=False),
    sa.Column("eligibility", sa.String(16), nullable=False),  # all_members | difficult
    sa.Column("hardship_categories", sa.String(100), nullable=False),
    sa.Column("period", sa.String(8), nullable=False),  # month | year
    sa.Column("money_quota", sa.BigInteger, nullable=True),  # fen per card per period
    sa.Column("count_quota", sa.Integer, nullable=True),
    sa.Column("per_txn_cap", sa.BigInteger, nullable=True),
    sa.Column("fund", sa.String(32), nullable=False),  # union_funds | central_special | local_matching | donations
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | ended
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


program_merchants = sa.Table(
    "program_merchants",
    metadata,
    sa.Column("program_id", BigId, sa.ForeignKey("programs.id"), primary_key=True),
    sa.Column("merchant_id", BigId, sa.ForeignKey("merchants.id"), primary_key=True, index=True),
)


# What a member has used of a programme's quota in one period ("2026-11" or "2026").
# Redemptions lock the row and raise it with a conditional UPDATE; voids and refunds lower it.
quota_usage = sa.Table(
    "quota_usage",
    metadata,
    sa.Column("program_id", BigId, sa.ForeignKey("programs.id"), primary_key=True),
    sa.Column("member_id", BigId, sa.ForeignKey("members.id"), primary_key=True, index=True),
    sa.Column("period_key", sa.String(7), primary_key=True),
    sa.Column("money_used", sa.BigInteger, nullable=False),
    sa.Column("count_used", sa.Integer, nullable=False),
    sa.CheckConstraint("money_used >= 0 AND count_used >= 0", name="not_negative"),
)
