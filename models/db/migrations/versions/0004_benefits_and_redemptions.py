"""Benefit programmes, quotas, idempotency keys, redemptions, refunds, monthly statements.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import models.db.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the programme, quota, idempotency, redemption, refund and statement tables."""
    op.create_table('idempotency_keys',
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_idempotency_keys'))
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_created_at'), ['created_at'], unique=False)

    op.create_table('programs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule', sa.Text(), nullable=False),
    sa.Column('union_bp', sa.Integer(), nullable=False),
    sa.Column('categories', sa.String(length=300), nullable=False),
    sa.Column('excluded', sa.String(length=300), nullable=False),
    sa.Column('eligibility', sa.String(length=16), nullable=False),
    sa.Column('hardship_categories', sa.String(length=100), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('money_quota', sa.BigInteger(), nullable=True),
    sa.Column('count_quota', sa.Integer(), nullable=True),
    sa.Column('per_txn_cap', sa.BigInteger(), nullable=True),
    sa.Column('fund', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_programs_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programs'))
    )
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programs_org_id'), ['org_id'], unique=False)

    op.create_table('program_merchants',
    sa.Column('program_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_program_merchants_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_program_merchants_program_id_programs')),
    sa.PrimaryKeyConstraint('program_id', 'merchant_id', name=op.f('pk_program_merchants'))
    )
    with op.batch_alter_table('program_merchants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_program_merchants_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('quota_usage',
    sa.Column('program_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_key', sa.String(length=7), nullable=False),
    sa.Column('money_used', sa.BigInteger(), nullable=False),
    sa.Column('count_used', sa.Integer(), nullable=False),
    sa.CheckConstraint('money_used >= 0 AND count_used >= 0', name=op.f('ck_quota_usage_not_negative')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_quota_usage_member_id_members')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_quota_usage_program_id_programs')),
    sa.PrimaryKeyConstraint('program_id', 'member_id', 'period_key', name=op.f('pk_quota_usage'))
    )
    with op.batch_alter_table('quota_usage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quota_usage_member_id'), ['member_id'], unique=False)

    op.create_table('redemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cashier_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('card_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scan_id', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('payable', sa.BigInteger(), nullable=False),
    sa.Column('union_share', sa.BigInteger(), nullable=False),
    sa.Column('merchant_share', sa.BigInteger(), nullable=False),
    sa.Column('refunded_amount', sa.BigInteger(), nullable=False),
    sa.Column('refunded_discount', sa.BigInteger(), nullable=False),
    sa.Column('refunded_union', sa.BigInteger(), nullable=False),
    sa.Column('refunded_merchant', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('voided_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('voided_by', sa.String(length=64), nullable=True),
    sa.Column('void_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_redemptions_member_id_members')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_redemptions_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
    sa.UniqueConstraint('scan_id', name=op.f('uq_redemptions_scan_id'))
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemptions_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_redemptions_merchant_month', ['merchant_id', 'month'], unique=False)

    op.create_table('statements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('redemptions', sa.Integer(), nullable=False),
    sa.Column('bills', sa.BigInteger(), nullable=False),
    sa.Column('discounts', sa.BigInteger(), nullable=False),
    sa.Column('union_owed', sa.BigInteger(), nullable=False),
    sa.Column('merchant_conceded', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('confirmed_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('confirmed_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('paid_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('paid_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('payment_ref', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_statements_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statements')),
    sa.UniqueConstraint('merchant_id', 'month', name=op.f('uq_statements_merchant_id_month'))
    )
    op.create_table('redemption_usage',
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('program_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_key', sa.String(length=7), nullable=False),
    sa.Column('money', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('money_returned', sa.BigInteger(), nullable=False),
    sa.Column('count_returned', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_redemption_usage_program_id_programs')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_redemption_usage_redemption_id_redemptions')),
    sa.PrimaryKeyConstraint('redemption_id', 'program_id', name=op.f('pk_redemption_usage'))
    )
    op.create_table('refunds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('union_share', sa.BigInteger(), nullable=False),
    sa.Column('merchant_share', sa.BigInteger(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_refunds_redemption_id_redemptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_redemption_id'), ['redemption_id'], unique=False)



def downgrade() -> None:
    """Drop the programme, quota, idempotency, redemption, refund and statement tables."""
    for table in ("statements", "refunds", "redemption_usage", "redemptions", "idempotency_keys", "quota_usage",
                  "program_merchants", "programs"):
        op.drop_table(table)
