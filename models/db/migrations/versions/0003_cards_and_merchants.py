"""The service card, partner merchants and their staff, scan sessions, spent code nonces, notifications.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import models.db.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the cards, merchants, stores, merchant staff and invites, scan, nonce and notice tables."""
    op.create_table('qr_nonces',
    sa.Column('nonce', sa.String(length=16), nullable=False),
    sa.Column('card_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scan_id', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('spent_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('keep_until', models.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_qr_nonces'))
    )
    with op.batch_alter_table('qr_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qr_nonces_keep_until'), ['keep_until'], unique=False)

    op.create_table('merchants',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=200), nullable=True),
    sa.Column('agreement_from', sa.Date(), nullable=False),
    sa.Column('agreement_to', sa.Date(), nullable=False),
    sa.Column('contact', sa.String(length=100), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_merchants_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchants'))
    )
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merchants_org_id'), ['org_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('sent_at', models.db.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_status_next', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_user_id'), ['user_id'], unique=False)

    op.create_table('cards',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('card_no', sa.String(length=16), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('live_member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=200), nullable=True),
    sa.Column('print_nonce', sa.String(length=16), nullable=True),
    sa.Column('printed_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('replaces_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('issued_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_cards_member_id_members')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_cards_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cards')),
    sa.UniqueConstraint('card_no', name=op.f('uq_cards_card_no')),
    sa.UniqueConstraint('live_member_id', name=op.f('uq_cards_live_member_id'))
    )
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cards_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cards_org_id'), ['org_id'], unique=False)

    op.create_table('stores',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_stores_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores'))
    )
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stores_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('merchant_invites',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('used_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('used_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_merchant_invites_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_merchant_invites_store_id_stores')),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_merchant_invites'))
    )
    with op.batch_alter_table('merchant_invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merchant_invites_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('merchant_staff',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('live_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('removed_at', models.db.types.UTCDateTime(), nullable=True),
    sa.Column('removed_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_merchant_staff_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_merchant_staff_store_id_stores')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_merchant_staff_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchant_staff')),
    sa.UniqueConstraint('live_user_id', name=op.f('uq_merchant_staff_live_user_id'))
    )
    with op.batch_alter_table('merchant_staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merchant_staff_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_merchant_staff_user_id'), ['user_id'], unique=False)

    op.create_table('scan_sessions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('card_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('card_version', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cashier_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('nonce', sa.String(length=16), nullable=False),
    sa.Column('printed', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('used_at', models.db.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_scan_sessions_card_id_cards')),
    sa.ForeignKeyConstraint(['cashier_id'], ['merchant_staff.id'], name=op.f('fk_scan_sessions_cashier_id_merchant_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_sessions'))
    )
    with op.batch_alter_table('scan_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scan_sessions_card_id'), ['card_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scan_sessions_expires_at'), ['expires_at'], unique=False)



def downgrade() -> None:
    """Drop the card, merchant, scan session, nonce and notification tables."""
    # Dropping a table drops its indexes; MySQL refuses to drop an index a foreign key needs.
    for table in ("scan_sessions", "merchant_staff", "merchant_invites", "stores", "cards", "qr_nonces",
                  "notifications", "merchants"):
        op.drop_table(table)
