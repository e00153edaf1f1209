"""Members found by the start of their name (the service hall's daily search): an index on (name, id).

Without it a name search read the members under the caller in id order until it had a page: at a
province's 10 million members, a rare name made a city's search read every one of them.

Revision ID: 0023
Revises: 0022
"""
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the index."""
    op.create_index('ix_members_name', 'members', ['name', 'id'])


def downgrade() -> None:
    """Drop it."""
    op.drop_index('ix_members_name', table_name='members')
