"""A fund source can be closed at year end (and reopened by an administrator): when, by whom and why.

``funds.closed_at``, ``closed_by`` and ``close_reason`` say when, who and why a closed source was closed
(NULL while it is active; a reopen clears them). The close and the reopen are also ledger rows (entries
``close`` and ``reopen``, the balance left as their amount, moving none of the sums).

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

import models.db.types

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the three columns."""
    with op.batch_alter_table('funds') as batch:
        batch.add_column(sa.Column('closed_at', models.db.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('closed_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch.add_column(sa.Column('close_reason', sa.String(200), nullable=True))
        batch.create_foreign_key('fk_funds_closed_by_staff', 'staff', ['closed_by'], ['id'])


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table('funds') as batch:
        batch.drop_constraint('fk_funds_closed_by_staff', type_='foreignkey')
        batch.drop_column('close_reason')
        batch.drop_column('closed_by')
        batch.drop_column('closed_at')
