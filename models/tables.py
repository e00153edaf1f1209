"""Every table of the service, in one MetaData. Migrations in models/migrations mirror it."""
from __future__ import annotations

from typing import Any

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

# 会籍转接: a unit asks for a member whose record another unit holds (a roster import named a
# person who is a member outside the importer's subtree). The member's unit decides. While the
# request is pending, ``pending_member_id`` equals member_id (NULL after), so one unit has at most
# one pending request per member, and ``from_org_id`` follows the member should they move meanwhile;
# once decided it keeps where they were. Name, employer and phone are the roster row's, as given.
member_transfers = sa.Table(
    "member_transfers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("member_id", BigId, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("pending_member_id", BigId, nullable=True),
    sa.Column("from_org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("to_org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("requested_by", BigId, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | accepted | refused | cancelled
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("employer", sa.String(200), nullable=True),
    sa.Column("phone_enc", sa.String(255), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("decided_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.UniqueConstraint("pending_member_id", "to_org_id"),
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

# Append-only; the sealer gives each record its place ``seq`` in the chain and the hash of the one before.
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
    sa.Column("seq", sa.BigInteger, nullable=True, unique=True),
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("hash", sa.String(64), nullable=True),
    sa.Index("ix_audit_log_target", "target_kind", "target_id"),
)

# The head of the audit chain: one row, locked while the sealer extends the chain
# (``last_id`` is the position of the last sealed record).
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_id", sa.BigInteger, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
)

# --- The mutual-aid service card, partner merchants, scans, notifications ---

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

# Card-code nonces seen by a scan. The primary key makes the first claim win on
# every process; rows are kept until both the code and its scan session are dead.
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

# One-time invitations; only the SHA-256 of the code is kept.
merchant_invites = sa.Table(
    "merchant_invites",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("merchant_id", BigId, sa.ForeignKey("merchants.id"), nullable=False, index=True),
    sa.Column("store_id", BigId, sa.ForeignKey("stores.id"), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
    sa.Column("used_by", BigId, nullable=True),
)

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
)

# The notification outbox: written in the transaction of the change it reports,
# sent afterwards (WeChat subscribe message) by the dispatcher, retried on failure.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON: title, body, page
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Index("ix_notifications_status_next", "status", "next_attempt_at"),
)

# --- Benefit programs, quotas, redemptions, settlement ---

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

# Idempotency keys of money-moving POSTs, per caller: the first answer is kept and replayed.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running | done
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
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

# A merchant's monthly statement: the union pays ``union_owed`` once staff confirm it.
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
    sa.Column("status", sa.String(16), nullable=False),  # draft | confirmed | paid
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("confirmed_at", UTCDateTime, nullable=True),
    sa.Column("confirmed_by", BigId, nullable=True),
    sa.Column("paid_at", UTCDateTime, nullable=True),
    sa.Column("paid_by", BigId, nullable=True),
    sa.Column("payment_ref", sa.String(100), nullable=True),
    sa.UniqueConstraint("merchant_id", "month"),
)


def insert_ignore(table: sa.Table) -> sa.Insert:
    """INSERT that skips a row whose key exists (rowcount 0) instead of failing: no savepoint needed."""
    return table.insert().prefix_with("IGNORE", dialect="mysql").prefix_with("OR IGNORE", dialect="sqlite")


def upsert(conn: Any, table: sa.Table, values: dict[str, Any], keys: list[str], changes: dict[str, Any]) -> Any:
    """INSERT ``values``, or when a row with the same ``keys`` exists, UPDATE it with ``changes``."""
    if conn.dialect.name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        return mysql_insert(table).values(**values).on_duplicate_key_update(**changes)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=changes)
