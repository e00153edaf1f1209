"""Notices as WeChat really delivers them: one template per kind of notice, the worker's one-time
subscription grants, the in-app inbox (read or not, the time of the event), the phone's country code.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

import models.db.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the grants table, the notices' template kind, event time and read time, the phone country."""
    op.create_table('subscription_grants',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.Column('updated_at', models.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscription_grants_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'template_id', name=op.f('pk_subscription_grants'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_country', sa.String(length=8), nullable=True))
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('template_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('event_at', models.db.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('read_at', models.db.types.UTCDateTime(), nullable=True))
    # Notices queued before: card and membership events go by the card template, the rest by kind.
    op.execute("UPDATE notifications SET event_at = created_at, category = CASE "
               "WHEN kind LIKE 'redemption%' THEN 'redemption' WHEN kind LIKE 'relief%' THEN 'relief' "
               "WHEN kind LIKE 'payment%' THEN 'payment' ELSE 'card' END")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('category', existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column('event_at', existing_type=models.db.types.UTCDateTime(), nullable=False)
        batch_op.create_index('ix_notifications_user_read', ['user_id', 'read_at'], unique=False)


def downgrade() -> None:
    """Drop what upgrade added."""
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_read')
        batch_op.drop_column('read_at')
        batch_op.drop_column('event_at')
        batch_op.drop_column('template_id')
        batch_op.drop_column('category')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone_country')
    op.drop_table('subscription_grants')
