"""The core's tables: throttles, the audit chain, the notification outbox, idempotency keys, the shared cache, job leases."""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

# Counters for throttling and lock-outs (binding tries, staff logins), by key.
throttles = sa.Table(
    "throttles",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", UTCDateTime, nullable=True),
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


# The notification outbox: written in the transaction of the change it reports,
# sent afterwards (WeChat subscribe message) by the dispatcher, retried on failure.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    # Which subscribe-message template carries it: card | redemption | relief | payment.
    sa.Column("category", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON: title, body, page, the event's values
    # pending | sent | failed | unsent (the user held no grant for the template: in the inbox only)
    sa.Column("status", sa.String(16), nullable=False),
    # The template whose one-time grant this notice spent (None until it spends one).
    sa.Column("template_id", sa.String(64), nullable=True),
    sa.Column("event_at", UTCDateTime, nullable=False),  # when what it reports happened
    sa.Column("read_at", UTCDateTime, nullable=True),  # when the worker read it in the app
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Index("ix_notifications_status_next", "status", "next_attempt_at"),
    sa.Index("ix_notifications_user_read", "user_id", "read_at"),
)

# --- Benefit programs, quotas, redemptions, settlement ---


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

# One row per background job that must run in one place at a time (models/core/leases.py):
# who holds it until when; ``generation`` grows by one each time the lease changes hands.
job_leases = sa.Table(
    "job_leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(100), nullable=True),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("taken_at", UTCDateTime, nullable=True),
    sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
)

# --- The union network, members, the difficult-worker register, staff, audit ---
