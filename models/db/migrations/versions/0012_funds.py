"""Earmarked funds (issue 14): fund sources, their ledger, and relief payments.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

import models.db.types


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the fund, ledger and payment tables and their indexes."""
    op.create_table('funds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_path', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kinds', sa.Text(), nullable=False),
    sa.Column('donor', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('budget', sa.BigInteger(), nullable=False),
    sa.Column('topped_up', sa.BigInteger(), nullable=False),
    sa.Column('reserved', sa.BigInteger(), nullable=False),
    sa.Column('spent', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('reserved >= 0 AND spent >= 0 AND budget + topped_up - reserved - spent >= 0', name=op.f('ck_funds_balance')),
    sa.ForeignKeyConstraint(['created_by'], ['staff.id'], name=op.f('fk_funds_created_by_staff')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_funds_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funds')),
    sa.UniqueConstraint('org_id', 'year', 'name', name=op.f('uq_funds_org_id_year_name'))
    )
    with op.batch_alter_table('funds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funds_org_path'), ['org_path'], unique=False)

    op.create_table('fund_ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('fund_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=True),
    sa.Column('org_path', sa.String(length=255), nullable=False),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_fund_ledger_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_fund_ledger_fund_id_funds')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_fund_ledger_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_ledger'))
    )
    with op.batch_alter_table('fund_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_ledger_application_id'), ['application_id'], unique=False)
        batch_op.create_index('ix_fund_ledger_fund', ['fund_id', 'id'], unique=False)

    op.create_table('relief_payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fund_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('account_last4', sa.String(length=4), nullable=True),
    sa.Column('voucher_no', sa.String(length=50), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('batch', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('paid_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('reverse_reason', sa.String(length=500), nullable=True),
    sa.Column('reversed_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reversed_at', models.db.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['relief_applications.id'], name=op.f('fk_relief_payments_application_id_relief_applications')),
    sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_relief_payments_fund_id_funds')),
    sa.ForeignKeyConstraint(['paid_by'], ['staff.id'], name=op.f('fk_relief_payments_paid_by_staff')),
    sa.ForeignKeyConstraint(['reversed_by'], ['staff.id'], name=op.f('fk_relief_payments_reversed_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relief_payments'))
    )
    with op.batch_alter_table('relief_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relief_payments_application_id'), ['application_id'], unique=False)


def downgrade() -> None:
    """Drop the tables (their indexes go with them)."""
    op.drop_table('relief_payments')
    op.drop_table('fund_ledger')
    op.drop_table('funds')
