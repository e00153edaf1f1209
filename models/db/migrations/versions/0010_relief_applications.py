"""Relief applications (issue 13): the application, its household, proofs, home visits, timeline,
collective review meetings and votes, and the duplicate and limit flags.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import models.db.types


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the relief application tables and their indexes."""
    op.create_table('relief_applications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_path', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('kind_definition', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('step', sa.String(length=24), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('form_enc', sa.Text(), nullable=False),
    sa.Column('requested_amount', sa.BigInteger(), nullable=True),
    sa.Column('proposed_amount', sa.BigInteger(), nullable=True),
    sa.Column('approved_amount', sa.BigInteger(), nullable=True),
    sa.Column('consent_version', sa.String(length=32), nullable=True),
    sa.Column('consented_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('content_status', sa.String(length=16), nullable=True),
    sa.Column('returned_step', sa.String(length=24), nullable=True),
    sa.Column('missing', sa.Text(), nullable=True),
    sa.Column('reject_reason', sa.String(length=500), nullable=True),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('step_since', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('due_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('submitted_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_relief_applications_member_id_members')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_relief_applications_org_id_orgs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_relief_applications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_applications'))
    )
    with op.batch_alter_table('relief_applications', schema=None) as batch_op:
        batch_op.create_index('ix_relief_applications_member_kind', ['member_id', 'kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_relief_applications_org_path'), ['org_path'], unique=False)
        batch_op.create_index('ix_relief_applications_queue', ['status', 'step', 'due_at'], unique=False)
        batch_op.create_index('ix_relief_applications_user', ['user_id', 'id'], unique=False)

    op.create_table('relief_meetings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('meeting_date', sa.Date(), nullable=False),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.Column('present', sa.Text(), nullable=False),
    sa.Column('minutes', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_relief_meetings_org_id_orgs')),
    sa.ForeignKeyConstraint(['recorded_by'], ['staff.id'], name=op.f('fk_relief_meetings_recorded_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_meetings'))
    )
    op.create_table('relief_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('step', sa.String(length=24), nullable=True),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_events_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_relief_events_org_id_orgs')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_relief_events_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_events'))
    )
    with op.batch_alter_table('relief_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_events_application_id'), ['application_id'], unique=False)

    op.create_table('relief_flags',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('other_application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('step', sa.String(length=24), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.Column('override_reason', sa.String(length=500), nullable=True),
    sa.Column('override_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', models.db.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_flags_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['other_application_id'], ['relief_applications.id'], name=op.f('fk_relief_flags_other_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['override_by'], ['staff.id'], name=op.f('fk_relief_flags_override_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_flags'))
    )
    with op.batch_alter_table('relief_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_flags_application_id'), ['application_id'], unique=False)

    op.create_table('relief_household',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('id_number_enc', sa.String(length=255), nullable=True),
    sa.Column('id_number_bidx', sa.String(length=64), nullable=True),
    sa.Column('monthly_income', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_household_application_id_relief_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_household'))
    )
    with op.batch_alter_table('relief_household', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_household_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_relief_household_id_number_bidx'), ['id_number_bidx'], unique=False)

    op.create_table('relief_visits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('visitors', sa.Text(), nullable=False),
    sa.Column('findings_enc', sa.Text(), nullable=False),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_visits_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_relief_visits_org_id_orgs')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_relief_visits_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_visits'))
    )
    with op.batch_alter_table('relief_visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_visits_application_id'), ['application_id'], unique=False)

    op.create_table('relief_votes',
    sa.Column('meeting_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('votes_for', sa.Integer(), nullable=False),
    sa.Column('votes_against', sa.Integer(), nullable=False),
    sa.Column('carried', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_votes_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['meeting_id'], ['relief_meetings.id'], name=op.f('fk_relief_votes_meeting_id_relief_meetings')),
    sa.PrimaryKeyConstraint('meeting_id', 'application_id', name=op.f('pk_relief_votes'))
    )
    op.create_table('relief_attachments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('proof_type', sa.String(length=32), nullable=False),
    sa.Column('store_key', sa.String(length=64), nullable=False),
    sa.Column('mime', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('uploaded_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_attachments_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['visit_id'], ['relief_visits.id'], name=op.f('fk_relief_attachments_visit_id_relief_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_attachments'))
    )
    with op.batch_alter_table('relief_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_attachments_application_id'), ['application_id'], unique=False)



def downgrade() -> None:
    """Drop them (their indexes go with them; MySQL refuses to drop an index a foreign key needs)."""
    for table in ('relief_attachments', 'relief_votes', 'relief_visits', 'relief_household', 'relief_flags',
                  'relief_events', 'relief_meetings', 'relief_applications'):
        op.drop_table(table)
