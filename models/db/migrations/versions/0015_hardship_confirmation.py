"""The register renews and has a second person (issue 15): a record waits for confirmation, keeps the
reason its category differs from the proposal, who confirmed or declined it and why, and the re-check
(复核) it was superseded by or that it supersedes.

Records entered before stay as they are: ``active`` with no ``decided_by`` (no second person was asked
then), their category reason in the audit log only.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

import models.db.types

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Add the category reason, the decision (by, at, decline reason) and the re-check links."""
    with op.batch_alter_table('hardship_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('decided_by', _ID, nullable=True))
        batch_op.add_column(sa.Column('decided_at', models.db.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('decline_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('supersedes_id', _ID, nullable=True))
        batch_op.add_column(sa.Column('superseded_by_id', _ID, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_hardship_records_decided_by_staff'), 'staff',
                                    ['decided_by'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_hardship_records_supersedes_id_hardship_records'),
                                    'hardship_records', ['supersedes_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_hardship_records_superseded_by_id_hardship_records'),
                                    'hardship_records', ['superseded_by_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_hardship_records_supersedes_id'), ['supersedes_id'], unique=False)


def downgrade() -> None:
    """Drop what upgrade added (re-checks and declined or pending records stay as rows)."""
    with op.batch_alter_table('hardship_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_hardship_records_superseded_by_id_hardship_records'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_hardship_records_supersedes_id_hardship_records'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_hardship_records_decided_by_staff'), type_='foreignkey')
        # MySQL keeps an index a foreign key needs: the keys go first.
        batch_op.drop_index(batch_op.f('ix_hardship_records_supersedes_id'))
        batch_op.drop_column('superseded_by_id')
        batch_op.drop_column('supersedes_id')
        batch_op.drop_column('decline_reason')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decided_by')
        batch_op.drop_column('category_reason')
