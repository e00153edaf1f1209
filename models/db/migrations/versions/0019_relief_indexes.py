"""The relief side at volume (issue 18): indexes for the reviewers' queue, the statistics and the public notice.

- relief_applications (status, id, step, org_path): the queue reads what waits (status) in id order, and checks
  the step and the subtree inside the index, so a page costs the applications in flight, never the history.
- relief_applications (submitted_at, org_path, kind): applications received in a period, counted from the index.
- relief_events (action, step, at, application_id): decisions and payments in a period, counted from the index.
- relief_applications (id, status, org_path, kind, approved_amount, member_id): what the statistics need of each
  counted application, by its id, without reading its row (kilobytes, mostly the kept definition).
- relief_notices (visible_until, starts_at): the batches the public may read now, out of every batch ever.

Revision ID: 0019
Revises: 0018
"""
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the five indexes."""
    op.create_index('ix_relief_applications_waiting', 'relief_applications', ['status', 'id', 'step', 'org_path'])
    op.create_index('ix_relief_applications_received', 'relief_applications', ['submitted_at', 'org_path', 'kind'])
    op.create_index('ix_relief_applications_tally', 'relief_applications',
                    ['id', 'status', 'org_path', 'kind', 'approved_amount', 'member_id'])
    op.create_index('ix_relief_events_action', 'relief_events', ['action', 'step', 'at', 'application_id'])
    op.create_index('ix_relief_notices_visible', 'relief_notices', ['visible_until', 'starts_at'])


def downgrade() -> None:
    """Drop them."""
    op.drop_index('ix_relief_notices_visible', table_name='relief_notices')
    op.drop_index('ix_relief_events_action', table_name='relief_events')
    op.drop_index('ix_relief_applications_tally', table_name='relief_applications')
    op.drop_index('ix_relief_applications_received', table_name='relief_applications')
    op.drop_index('ix_relief_applications_waiting', table_name='relief_applications')
