"""Foundation: WeChat users, bearer tokens, shared cache.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from models.db.types import BigId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the users, auth_tokens and shared_cache tables."""
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("unionid", sa.String(64), nullable=True),
        sa.Column("session_key_enc", sa.String(255), nullable=True),
        sa.Column("phone_enc", sa.String(255), nullable=True),
        sa.Column("phone_bidx", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_login_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("openid", name="uq_users_openid"),
    )
    op.create_index("ix_users_unionid", "users", ["unionid"])
    op.create_index("ix_users_phone_bidx", "users", ["phone_bidx"])
    op.create_table(
        "auth_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", BigId, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_auth_tokens"),
    )
    op.create_index("ix_auth_tokens_subject", "auth_tokens", ["subject_kind", "subject_id"])
    op.create_index("ix_auth_tokens_expires_at", "auth_tokens", ["expires_at"])
    op.create_table(
        "shared_cache",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_shared_cache"),
    )


def downgrade() -> None:
    """Drop the shared_cache, auth_tokens and users tables."""
    op.drop_table("shared_cache")
    op.drop_table("auth_tokens")
    op.drop_table("users")
