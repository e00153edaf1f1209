"""Members, member transfers, and the difficult-worker register with its households."""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(50), nullable=False),
    # National ID number: encrypted, found by its blind index; one person is one member.
    sa.Column("id_number_enc", sa.String(255), nullable=False),
    sa.Column("id_number_bidx", sa.String(64), nullable=False, unique=True),
    sa.Column("id_last4", sa.String(4), nullable=False),
    sa.Column("phone_enc", sa.String(255), nullable=True),
    sa.Column("phone_bidx", sa.String(64), nullable=True, index=True),
    sa.Column("bank_account_enc", sa.String(255), nullable=True),
    sa.Column("gender", sa.String(8), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("employer", sa.String(200), nullable=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # active | ended
    sa.Column("joined_on", sa.Date, nullable=True),
    sa.Column("ended_on", sa.Date, nullable=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=True, unique=True),
    sa.Column("bound_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # The search by the start of a name (migration 0023): a range of the index, not the members in id order.
    sa.Index("ix_members_name", "name", "id"),
)


# 会籍转接: a unit asks for a member whose record another unit holds (a roster import named a
# person who is a member outside the importer's subtree). The member's unit decides. While the
# request is pending, ``pending_member_id`` equals member_id (NULL after), so one unit has at most
# one pending request per member, and ``from_org_id`` follows the member should they move meanwhile;
# once decided it keeps where they were. Name, employer and phone are the roster row's, as given.
member_transfers = sa.Table(
    "member_transfers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("member_id", BigId, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("pending_member_id", BigId, nullable=True),
    sa.Column("from_org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("to_org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("requested_by", BigId, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | accepted | refused | cancelled
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("employer", sa.String(200), nullable=True),
    sa.Column("phone_enc", sa.String(255), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("decided_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.UniqueConstraint("pending_member_id", "to_org_id"),
)


# 困难职工档案: one row per entry into the register, and one per annual re-check (复核). A row starts
# ``pending`` until a second member of staff confirms it (``active``) or declines it (``declined``);
# ``verified_by`` entered it, ``decided_by`` confirmed or declined it. A confirmed re-check supersedes the
# record it re-checked, which becomes ``renewed`` (the two linked both ways); an exit closes a record
# (``exited``). Every row stays for the history. An active record whose ``valid_to`` has passed is shown
# ``expired`` (derived, never stored) and counts for nothing.
hardship_records = sa.Table(
    "hardship_records",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("member_id", BigId, sa.ForeignKey("members.id"), nullable=False, index=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False, index=True),
    sa.Column("category", sa.String(16), nullable=False),  # deep | relative | accident
    sa.Column("proposed_category", sa.String(16), nullable=False),
    sa.Column("causes", sa.String(200), nullable=False),  # comma-separated cause codes
    sa.Column("household_size", sa.Integer, nullable=False),
    sa.Column("household_income", sa.BigInteger, nullable=False),  # fen per month
    sa.Column("per_capita_income", sa.BigInteger, nullable=False),  # fen per month
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | active | declined | renewed | exited
    sa.Column("category_reason", sa.String(500), nullable=True),  # why the category differs from the proposal
    sa.Column("verified_by", BigId, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("verification_method", sa.String(32), nullable=False),
    sa.Column("visit_note_enc", sa.Text, nullable=True),
    sa.Column("exit_reason", sa.String(500), nullable=True),
    sa.Column("exited_at", UTCDateTime, nullable=True),
    sa.Column("exited_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("decided_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("decline_reason", sa.String(500), nullable=True),
    # A re-check names the record it re-checks; that record, once renewed, names the re-check that renewed it.
    sa.Column("supersedes_id", BigId, sa.ForeignKey("hardship_records.id"), nullable=True, index=True),
    sa.Column("superseded_by_id", BigId, sa.ForeignKey("hardship_records.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_hardship_records_status_valid_to", "status", "valid_to"),
)


household_members = sa.Table(
    "household_members",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("record_id", BigId, sa.ForeignKey("hardship_records.id"), nullable=False, index=True),
    sa.Column("relation", sa.String(20), nullable=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("age", sa.Integer, nullable=False),
    # Health facts are sensitive: encrypted.
    sa.Column("health_enc", sa.String(1024), nullable=True),
    sa.Column("work", sa.String(100), nullable=True),
    sa.Column("monthly_income", sa.BigInteger, nullable=False),  # fen
)
