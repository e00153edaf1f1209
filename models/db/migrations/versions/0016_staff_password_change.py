"""The staff console (issue 16): a staff account an admin created must change its password first.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add staff.must_change_password (false for every existing account)."""
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table('staff') as batch:
        batch.drop_column('must_change_password')
