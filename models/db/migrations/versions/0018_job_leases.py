"""Several serving processes (issue 18): leases of the background jobs that run in one place at a time.

Revision ID: 0018
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

from models.db.types import UTCDateTime

revision = '0018'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create job_leases (empty: a job's row is made the first time it is taken)."""
    op.create_table(
        'job_leases',
        sa.Column('name', sa.String(100), primary_key=True),
        sa.Column('holder', sa.String(100), nullable=True),
        sa.Column('expires_at', UTCDateTime(), nullable=True),
        sa.Column('taken_at', UTCDateTime(), nullable=True),
        sa.Column('generation', sa.BigInteger(), nullable=False, server_default='0'),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table('job_leases')
