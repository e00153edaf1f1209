"""The union network, members, the difficult-worker register, staff, the audit chain.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import models.db.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the orgs and their settings, members, hardship, staff, throttles and audit chain tables."""
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('actor_role', sa.String(length=100), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_kind', sa.String(length=32), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('org_path', sa.String(length=255), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_org_path'), ['org_path'], unique=False)
        batch_op.create_index('ix_audit_log_target', ['target_kind', 'target_id'], unique=False)

    op.create_table('orgs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['orgs.id'], name=op.f('fk_orgs_parent_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orgs')),
    sa.UniqueConstraint('code', name=op.f('uq_orgs_code'))
    )
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orgs_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orgs_path'), ['path'], unique=False)

    op.create_table('throttles',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('window_start', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', models.db.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_throttles'))
    )
    op.create_table('members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('id_number_enc', sa.String(length=255), nullable=False),
    sa.Column('id_number_bidx', sa.String(length=64), nullable=False),
    sa.Column('id_last4', sa.String(length=4), nullable=False),
    sa.Column('phone_enc', sa.String(length=255), nullable=True),
    sa.Column('phone_bidx', sa.String(length=64), nullable=True),
    sa.Column('bank_account_enc', sa.String(length=255), nullable=True),
    sa.Column('gender', sa.String(length=8), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('employer', sa.String(length=200), nullable=True),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('joined_on', sa.Date(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('bound_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_members_org_id_orgs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_members_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('id_number_bidx', name=op.f('uq_members_id_number_bidx')),
    sa.UniqueConstraint('user_id', name=op.f('uq_members_user_id'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_phone_bidx'), ['phone_bidx'], unique=False)

    op.create_table('org_settings',
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_org_settings_org_id_orgs')),
    sa.PrimaryKeyConstraint('org_id', 'name', name=op.f('pk_org_settings'))
    )
    op.create_table('staff',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=50), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.String(length=100), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_staff_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_org_id'), ['org_id'], unique=False)

    op.create_table('hardship_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('proposed_category', sa.String(length=16), nullable=False),
    sa.Column('causes', sa.String(length=200), nullable=False),
    sa.Column('household_size', sa.Integer(), nullable=False),
    sa.Column('household_income', sa.BigInteger(), nullable=False),
    sa.Column('per_capita_income', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verified_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('verification_method', sa.String(length=32), nullable=False),
    sa.Column('visit_note_enc', sa.Text(), nullable=True),
    sa.Column('exit_reason', sa.String(length=500), nullable=True),
    sa.Column('exited_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('exited_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['exited_by'], ['staff.id'], name=op.f('fk_hardship_records_exited_by_staff')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_hardship_records_member_id_members')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_hardship_records_org_id_orgs')),
    sa.ForeignKeyConstraint(['verified_by'], ['staff.id'], name=op.f('fk_hardship_records_verified_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hardship_records'))
    )
    with op.batch_alter_table('hardship_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hardship_records_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hardship_records_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_hardship_records_status_valid_to', ['status', 'valid_to'], unique=False)

    op.create_table('household_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('relation', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('age', sa.Integer(), nullable=False),
    sa.Column('health_enc', sa.String(length=1024), nullable=True),
    sa.Column('work', sa.String(length=100), nullable=True),
    sa.Column('monthly_income', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['hardship_records.id'], name=op.f('fk_household_members_record_id_hardship_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_members'))
    )
    with op.batch_alter_table('household_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_members_record_id'), ['record_id'], unique=False)
    # The audit chain starts from a genesis hash.
    op.bulk_insert(
        sa.table("audit_head", sa.column("id", sa.Integer), sa.column("last_id", sa.BigInteger),
                 sa.column("last_hash", sa.String)),
        [{"id": 1, "last_id": 0, "last_hash": "0" * 64}],
    )


def downgrade() -> None:
    """Drop the tables of the union network, members, hardship register, staff and audit chain."""
    for table in ("household_members", "hardship_records", "audit_log", "audit_head", "staff",
                  "throttles", "members", "org_settings", "orgs"):
        op.drop_table(table)
