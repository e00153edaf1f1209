"""Every table of the service, in one MetaData. Migrations in models/migrations mirror it."""
from __future__ import annotations

import sqlalchemy as sa

from models.types import BigId, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("openid", sa.String(64), nullable=False, unique=True),
    sa.Column("unionid", sa.String(64), nullable=True, index=True),
    # WeChat's session_key, encrypted; it never leaves the server.
    sa.Column("session_key_enc", sa.String(255), nullable=True),
    sa.Column("phone_enc", sa.String(255), nullable=True),
    sa.Column("phone_bidx", sa.String(64), nullable=True, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_login_at", UTCDateTime, nullable=False),
)

auth_tokens = sa.Table(
    "auth_tokens",
    metadata,
    # SHA-256 of the bearer token: a leaked table gives no usable token.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject_id", BigId, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Index("ix_auth_tokens_subject", "subject_kind", "subject_id"),
    sa.Index("ix_auth_tokens_expires_at", "expires_at"),
)

# Small values several processes share: the WeChat access token, leases.
shared_cache = sa.Table(
    "shared_cache",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=True),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
)

# --- The union network, members, the difficult-worker register, staff, audit ---

# A tree of union units. ``path`` is the materialised path of ids ("/1/4/9/"),
# so a subtree is one indexed prefix scan: path LIKE '/1/4/%'.
orgs = sa.Table(
    "orgs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("parent_id", BigId, sa.ForeignKey("orgs.id"), nullable=True, index=True),
    sa.Column("path", sa.String(255), nullable=False, index=True),
    sa.Column("depth", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Settings that children inherit from the nearest ancestor that sets them
# (e.g. the per-capita income lines of the hardship categories).
org_settings = sa.Table(
    "org_settings",
    metadata,
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(50), nullable=False),
    # National ID number: encrypted, found by its blind index; one person is one member.
    sa.Column("id_number_enc", sa.String(255), nullable=False),
    sa.Column("id_number_bidx", sa.String(64), nullable=False, unique=True),
    sa.Column("id_last4", sa.String(4), nullable=False),
    sa.Column("phone_enc", sa.String(255), nullable=True),
    sa.Column("phone_bidx", sa.String(64), nullable=True, index=True),
    sa.Column("bank_account_enc", sa.String(255), nullable=True),
    sa.Column("gender", sa.String(8), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("employer", sa.String(200), nullable=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # active | ended
    sa.Column("joined_on", sa.Date, nullable=True),
    sa.Column("ended_on", sa.Date, nullable=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=True, unique=True),
    sa.Column("bound_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Counters for throttling and lock-outs (binding tries, staff logins), by key.
throttles = sa.Table(
    "throttles",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", UTCDateTime, nullable=True),
)

# 困难职工档案: one row per entry into the register; an exit closes it and keeps it.
hardship_records = sa.Table(
    "hardship_records",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("member_id", BigId, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("category", sa.String(16), nullable=False),  # deep | relative | accident
    sa.Column("proposed_category", sa.String(16), nullable=False),
    sa.Column("causes", sa.String(200), nullable=False),  # comma-separated cause codes
    sa.Column("household_size", sa.Integer, nullable=False),
    sa.Column("household_income", sa.BigInteger, nullable=False),  # fen per month
    sa.Column("per_capita_income", sa.BigInteger, nullable=False),  # fen per month
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | exited
    sa.Column("verified_by", BigId, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("verification_method", sa.String(32), nullable=False),
    sa.Column("visit_note_enc", sa.Text, nullable=True),
    sa.Column("exit_reason", sa.String(500), nullable=True),
    sa.Column("exited_at", UTCDateTime, nullable=True),
    sa.Column("exited_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_hardship_records_status_valid_to", "status", "valid_to"),
)

household_members = sa.Table(
    "household_members",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("record_id", BigId, sa.ForeignKey("hardship_records.id"), nullable=False, index=True),
    sa.Column("relation", sa.String(20), nullable=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("age", sa.Integer, nullable=False),
    # Health facts are sensitive: encrypted.
    sa.Column("health_enc", sa.String(1024), nullable=True),
    sa.Column("work", sa.String(100), nullable=True),
    sa.Column("monthly_income", sa.BigInteger, nullable=False),  # fen
)

staff = sa.Table(
    "staff",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(50), nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("roles", sa.String(100), nullable=False),  # comma-separated
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Append-only; each record carries the hash of the one before it.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("actor_kind", sa.String(16), nullable=False),  # staff | user | merchant | system
    sa.Column("actor_id", sa.BigInteger, nullable=True),
    sa.Column("actor_role", sa.String(100), nullable=True),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("target_kind", sa.String(32), nullable=True),
    sa.Column("target_id", sa.String(64), nullable=True),
    sa.Column("org_path", sa.String(255), nullable=True, index=True),
    sa.Column("summary", sa.Text, nullable=False),  # JSON of the change
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_target", "target_kind", "target_id"),
)

# The head of the audit chain: one row, locked while a record is appended.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_id", sa.BigInteger, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
)
