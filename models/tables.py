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
