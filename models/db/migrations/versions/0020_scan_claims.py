"""The counter's scan claims a phone code's nonce on its own row (issue 18): one statement less a scan.

``scan_sessions.claimed_nonce`` is the phone code's nonce (NULL for a printed card's scan, whose
nonce is the print's and is scanned again and again); its unique index makes the first scan of a
code win on every process, as the primary key of ``qr_nonces`` did. ``qr_nonces`` stays for the
rows claimed before the upgrade (the purge empties it within the codes' lifetime).

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add scan_sessions.claimed_nonce, unique (NULLs do not collide)."""
    with op.batch_alter_table('scan_sessions') as batch:
        batch.add_column(sa.Column('claimed_nonce', sa.String(16), nullable=True))
        batch.create_index('ix_scan_sessions_claimed_nonce', ['claimed_nonce'], unique=True)


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table('scan_sessions') as batch:
        batch.drop_index('ix_scan_sessions_claimed_nonce')
        batch.drop_column('claimed_nonce')
