"""WeChat users, their login tokens, and staff accounts."""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

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
    sa.Column("phone_country", sa.String(8), nullable=True),  # WeChat's country code, "86"
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_login_at", UTCDateTime, nullable=False),
)


# One-time subscribe-message grants: each "accept" in wx.requestSubscribeMessage lets the
# service send one message of that template to the user; a send spends one.
subscription_grants = sa.Table(
    "subscription_grants",
    metadata,
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("template_id", sa.String(64), primary_key=True),
    sa.Column("remaining", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
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
    # Set for an account an admin created (they chose its password): the console lets it change the
    # password and nothing else until it has. The CLI's first admin chose their own.
    sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
