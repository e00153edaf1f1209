"""The audit chain is sealed out of band: a position ``seq``, hashes filled in by the sealer.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the audit log's seq position, make its hashes nullable, and number the existing records."""
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.alter_column('prev_hash',
               existing_type=sa.VARCHAR(length=64),
               nullable=True)
        batch_op.alter_column('hash',
               existing_type=sa.VARCHAR(length=64),
               nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_seq'), ['seq'])
    # Every record so far was chained as it was written, with gap-free ids: its position is its id.
    op.execute("UPDATE audit_log SET seq = id")



def downgrade() -> None:
    """Drop seq and make the hashes required again, refused while any record is still unsealed."""
    pending = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM audit_log WHERE seq IS NULL")).scalar()
    if pending:
        raise RuntimeError(f"{pending} audit records are not sealed yet: run the sealer before downgrading")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_seq'), type_='unique')
        batch_op.alter_column('hash',
               existing_type=sa.VARCHAR(length=64),
               nullable=False)
        batch_op.alter_column('prev_hash',
               existing_type=sa.VARCHAR(length=64),
               nullable=False)
        batch_op.drop_column('seq')
