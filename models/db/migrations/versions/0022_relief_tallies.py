"""The statistics' summary (issue 18): counts and amounts per subtree, Beijing day or month, kind and figure,
and the paid applications per subtree and day (distinct workers), written with the timeline
(models/relief/tallies.py), filled here from the applications and timelines already there.

- relief_tallies, keyed (scope, span, day, kind, figure): a report reads its unit's rows of the period;
- relief_tally_paid, keyed (application_id, scope): a reversal finds the payment it takes back; by (scope, day,
  prev_day) and (scope, prev_day, day): the distinct workers of the days at either end of a period; by (scope,
  member_id, day): a worker's payments in a subtree, whose chain of previous days a payment changes.

Revision ID: 0022
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Create the two tables and count them from the data (``tallies.rebuild_sync``)."""
    op.create_table('relief_tallies',
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('span', sa.String(length=1), nullable=False),
    sa.Column('day', sa.Date(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('figure', sa.String(length=16), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('first_id', _ID, nullable=False),
    sa.PrimaryKeyConstraint('scope', 'span', 'day', 'kind', 'figure'))
    op.create_table('relief_tally_paid',
    sa.Column('application_id', _ID, autoincrement=False, nullable=False),
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('prev_day', sa.Date(), nullable=True),
    sa.Column('member_id', _ID, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('application_id', 'scope'))
    op.create_index('ix_relief_tally_paid_day', 'relief_tally_paid', ['scope', 'day', 'prev_day'])
    op.create_index('ix_relief_tally_paid_prev', 'relief_tally_paid', ['scope', 'prev_day', 'day'])
    op.create_index('ix_relief_tally_paid_member', 'relief_tally_paid', ['scope', 'member_id', 'day'])
    from models.relief import tallies

    tallies.rebuild_sync(op.get_bind())


def downgrade() -> None:
    """Drop them."""
    op.drop_index('ix_relief_tally_paid_member', table_name='relief_tally_paid')
    op.drop_index('ix_relief_tally_paid_prev', table_name='relief_tally_paid')
    op.drop_index('ix_relief_tally_paid_day', table_name='relief_tally_paid')
    op.drop_table('relief_tally_paid')
    op.drop_table('relief_tallies')
