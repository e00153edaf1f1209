"""Relief kinds: each unit's own definitions of the kinds of relief (the presets live in code).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

import models.db.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the relief_kinds table."""
    op.create_table('relief_kinds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_relief_kinds_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_kinds')),
    sa.UniqueConstraint('org_id', 'code', name=op.f('uq_relief_kinds_org_id_code'))
    )


def downgrade() -> None:
    """Drop the relief_kinds table."""
    op.drop_table('relief_kinds')
