"""Member transfers (会籍转接): a unit asks for a member whose record another unit holds.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import models.db.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the member_transfers table and its indexes."""
    op.create_table('member_transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pending_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('from_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('requested_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('employer', sa.String(length=200), nullable=True),
    sa.Column('phone_enc', sa.String(length=255), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('decided_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['staff.id'], name=op.f('fk_member_transfers_decided_by_staff')),
    sa.ForeignKeyConstraint(['from_org_id'], ['orgs.id'], name=op.f('fk_member_transfers_from_org_id_orgs')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_transfers_member_id_members')),
    sa.ForeignKeyConstraint(['requested_by'], ['staff.id'], name=op.f('fk_member_transfers_requested_by_staff')),
    sa.ForeignKeyConstraint(['to_org_id'], ['orgs.id'], name=op.f('fk_member_transfers_to_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_transfers')),
    sa.UniqueConstraint('pending_member_id', 'to_org_id', name=op.f('uq_member_transfers_pending_member_id_to_org_id'))
    )
    with op.batch_alter_table('member_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_transfers_from_org_id'), ['from_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_transfers_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_transfers_to_org_id'), ['to_org_id'], unique=False)



def downgrade() -> None:
    """Drop the member_transfers table."""
    # Dropping a table drops its indexes; MySQL refuses to drop an index a foreign key needs.
    op.drop_table('member_transfers')
