"""The public notice (issue 14): notice batches and their entries, objections, the holiday calendar.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

import models.db.types


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the notice, entry, objection and calendar tables and their indexes."""
    op.create_table('relief_calendar',
    sa.Column('day', sa.Date(), autoincrement=False, nullable=False),
    sa.Column('off', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('updated_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['updated_by'], ['staff.id'], name=op.f('fk_relief_calendar_updated_by_staff')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_relief_calendar'))
    )
    op.create_table('relief_notices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_path', sa.String(length=255), nullable=False),
    sa.Column('starts_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('ends_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('visible_until', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('working_days', sa.Boolean(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('published_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_relief_notices_org_id_orgs')),
    sa.ForeignKeyConstraint(['published_by'], ['staff.id'], name=op.f('fk_relief_notices_published_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_notices'))
    )
    with op.batch_alter_table('relief_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_notices_org_path'), ['org_path'], unique=False)
        batch_op.create_index('ix_relief_notices_public', ['starts_at', 'visible_until'], unique=False)

    op.create_table('relief_notice_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('notice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('masked_name', sa.String(length=60), nullable=False),
    sa.Column('unit', sa.String(length=100), nullable=False),
    sa.Column('kind_name', sa.String(length=50), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('ended_at', models.db.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_notice_entries_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['notice_id'], ['relief_notices.id'], name=op.f('fk_relief_notice_entries_notice_id_relief_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_notice_entries'))
    )
    with op.batch_alter_table('relief_notice_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_notice_entries_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_relief_notice_entries_notice_id'), ['notice_id'], unique=False)

    op.create_table('relief_objections',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('contact_enc', sa.String(length=512), nullable=False),
    sa.Column('content_status', sa.String(length=16), nullable=True),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('finding', sa.String(length=1000), nullable=True),
    sa.Column('resolved_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('resolved_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_objections_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['entry_id'], ['relief_notice_entries.id'], name=op.f('fk_relief_objections_entry_id_relief_notice_entries')),
    sa.ForeignKeyConstraint(['resolved_by'], ['staff.id'], name=op.f('fk_relief_objections_resolved_by_staff')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_relief_objections_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_objections'))
    )
    with op.batch_alter_table('relief_objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_objections_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_relief_objections_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index('ix_relief_objections_status', ['status', 'due_at'], unique=False)


def downgrade() -> None:
    """Drop the tables (their indexes go with them: MySQL refuses to drop an index a foreign key needs)."""
    op.drop_table('relief_objections')
    op.drop_table('relief_notice_entries')
    op.drop_table('relief_notices')
    op.drop_table('relief_calendar')
