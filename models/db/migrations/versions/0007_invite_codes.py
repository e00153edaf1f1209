"""Merchant invites get an id and keep their code encrypted, so an open invite's image can be fetched again.

The primary key moves from ``code_hash`` (still unique: a bind finds its invite by it) to a new
``id``; ``code_enc`` holds the code under the PII keys (NULL for the invites made before).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Add the id primary key, the unique code hash and the encrypted code."""
    if op.get_bind().dialect.name == 'sqlite':
        # The table is rebuilt; the copied rows get their ids from the rowid.
        with op.batch_alter_table('merchant_invites', schema=None, recreate='always') as batch_op:
            batch_op.drop_constraint('pk_merchant_invites', type_='primary')
            batch_op.add_column(sa.Column('id', _ID, autoincrement=True, nullable=False), insert_before='code_hash')
            batch_op.add_column(sa.Column('code_enc', sa.String(length=255), nullable=True),
                                insert_after='code_hash')
            batch_op.create_primary_key('pk_merchant_invites', ['id'])
            batch_op.create_unique_constraint(batch_op.f('uq_merchant_invites_code_hash'), ['code_hash'])
        return
    # MySQL wants an AUTO_INCREMENT column to be a key as it is added: one statement does all
    # (the existing rows are numbered in the order the table holds them).
    op.execute(
        "ALTER TABLE merchant_invites DROP PRIMARY KEY, "
        "ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT FIRST, ADD PRIMARY KEY (id), "
        "ADD CONSTRAINT uq_merchant_invites_code_hash UNIQUE (code_hash), "
        "ADD COLUMN code_enc VARCHAR(255) NULL AFTER code_hash"
    )


def downgrade() -> None:
    """Back to the code hash as the primary key; the encrypted codes are dropped."""
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('merchant_invites', schema=None, recreate='always') as batch_op:
            batch_op.drop_constraint('uq_merchant_invites_code_hash', type_='unique')
            batch_op.drop_constraint('pk_merchant_invites', type_='primary')
            batch_op.drop_column('code_enc')
            batch_op.drop_column('id')
            batch_op.create_primary_key('pk_merchant_invites', ['code_hash'])
        return
    op.execute(
        "ALTER TABLE merchant_invites DROP COLUMN code_enc, DROP PRIMARY KEY, DROP COLUMN id, "
        "ADD PRIMARY KEY (code_hash), DROP INDEX uq_merchant_invites_code_hash"
    )
