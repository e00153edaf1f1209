"""Statements that stay true (issue 15): frozen lines, the builder, the header's frozen names.

A confirmed statement's lines are kept in ``statement_lines`` as they were at confirmation;
``built_by`` (who last built the draft), ``confirmed_by_name`` and ``merchant_name`` (the
header's names, frozen at confirmation) join ``statements``. Statements confirmed before
this revision get their lines now, computed the way confirmation computes them (a
redemption's status counts refunds up to its month only, so later refunds change nothing),
their names from the merchant and staff rows, and their builder from the audit log.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

import models.db.types


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_LINE_COLUMNS = ("statement_id, kind, redemption_id, refund_id, created_at, store, card_tail, amount, discount, "
                 "union_share, merchant_share, status")


def upgrade() -> None:
    """Create the lines table, add the builder and frozen names, and freeze the statements already confirmed."""
    op.create_table('statement_lines',
    sa.Column('id', _BIG_ID, autoincrement=True, nullable=False),
    sa.Column('statement_id', _BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('redemption_id', _BIG_ID, nullable=False),
    sa.Column('refund_id', _BIG_ID, nullable=True),
    sa.Column('created_at', models.db.types.UTCDateTime(), nullable=False),
    sa.Column('store', sa.String(length=100), nullable=False),
    sa.Column('card_tail', sa.String(length=4), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('union_share', sa.BigInteger(), nullable=False),
    sa.Column('merchant_share', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_lines_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_lines'))
    )
    with op.batch_alter_table('statement_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_lines_statement_id'), ['statement_id'], unique=False)
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('built_by', _BIG_ID, nullable=True))
        batch_op.add_column(sa.Column('confirmed_by_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('merchant_name', sa.String(length=100), nullable=True))

    bind = op.get_bind()
    builders: dict[str, int] = {}  # the last builder of each statement, from the audit log
    for target_id, actor_id in bind.execute(sa.text(
            "SELECT target_id, actor_id FROM audit_log WHERE action = 'settlement.build' "
            "AND target_kind = 'statement' AND actor_kind = 'staff' ORDER BY id")):
        builders[target_id] = actor_id
    for target_id, actor_id in builders.items():
        if target_id.isdigit():
            bind.execute(sa.text("UPDATE statements SET built_by = :who WHERE id = :id"),
                         {"who": actor_id, "id": int(target_id)})
    op.execute("UPDATE statements SET merchant_name = (SELECT m.name FROM merchants m "
               "WHERE m.id = statements.merchant_id) WHERE status <> 'draft'")
    op.execute("UPDATE statements SET confirmed_by_name = (SELECT s.username FROM staff s "
               "WHERE s.id = statements.confirmed_by) WHERE confirmed_by IS NOT NULL")
    # The lines of statements confirmed before: redemptions of the month, then refunds made in it.
    op.execute(
        f"INSERT INTO statement_lines ({_LINE_COLUMNS}) "
        "SELECT s.id, 'redemption', r.id, NULL, r.created_at, COALESCE(st.name, ''), "
        "COALESCE(SUBSTR(c.card_no, -4), ''), r.amount, r.discount, r.union_share, r.merchant_share, "
        "CASE WHEN COALESCE((SELECT SUM(f.amount) FROM refunds f WHERE f.redemption_id = r.id "
        "AND f.month <= s.month), -1) = r.amount THEN 'refunded' ELSE 'done' END "
        "FROM statements s JOIN redemptions r ON r.merchant_id = s.merchant_id AND r.month = s.month "
        "AND r.status <> 'void' LEFT JOIN stores st ON st.id = r.store_id LEFT JOIN cards c ON c.id = r.card_id "
        "WHERE s.status <> 'draft'")
    op.execute(
        f"INSERT INTO statement_lines ({_LINE_COLUMNS}) "
        "SELECT s.id, 'refund', r.id, f.id, f.created_at, COALESCE(st.name, ''), "
        "COALESCE(SUBSTR(c.card_no, -4), ''), -f.amount, -f.discount, -f.union_share, -f.merchant_share, 'refund' "
        "FROM statements s JOIN refunds f ON f.month = s.month "
        "JOIN redemptions r ON r.id = f.redemption_id AND r.merchant_id = s.merchant_id "
        "LEFT JOIN stores st ON st.id = r.store_id LEFT JOIN cards c ON c.id = r.card_id "
        "WHERE s.status <> 'draft'")


def downgrade() -> None:
    """Drop the lines and the new columns; the new states fall back to the old ones."""
    op.execute("UPDATE statements SET status = 'paid' WHERE status = 'received'")
    op.execute("UPDATE statements SET status = 'confirmed' WHERE status = 'settled'")
    op.drop_table('statement_lines')  # and its index
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_column('merchant_name')
        batch_op.drop_column('confirmed_by_name')
        batch_op.drop_column('built_by')
