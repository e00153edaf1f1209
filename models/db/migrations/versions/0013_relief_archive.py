"""The relief archive (issue 14): the completion record (办结) of an archived application.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

import models.db.types


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the completion records."""
    op.create_table('relief_completions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_completions_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_relief_completions_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_completions')),
    sa.UniqueConstraint('application_id', name=op.f('uq_relief_completions_application_id'))
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table('relief_completions')
