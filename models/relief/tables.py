"""Relief tables: the units' own definitions of the kinds, and the applications with their household, proofs,
home visits, timeline, collective review meetings and flags."""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

# One row per unit and kind code that the unit itself defines: a whole definition (JSON, enabled or
# not) that is in force at the unit and below it, until a unit further down defines the code again.
# The presets live in code (models/relief/presets.py) and need no row.
relief_kinds = sa.Table(
    "relief_kinds",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("updated_by", BigId, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("org_id", "code"),
)


# --- applications (issue 13) ------------------------------------------------------------------------

# A worker's application: a draft while they fill it in, then under review step by step. The kind's
# definition in force when it was created is kept whole (``kind_definition``): overrides change and
# may be dropped, and the rules the worker applied under must stay readable.
relief_applications = sa.Table(
    "relief_applications",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("member_id", BigId, sa.ForeignKey("members.id"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False),  # the member's unit at creation
    sa.Column("org_path", sa.String(255), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("kind_definition", sa.Text, nullable=False),  # JSON snapshot of models.relief.kinds.Definition
    # draft | submitted | returned | rejected | withdrawn | paid | archived
    sa.Column("status", sa.String(16), nullable=False),
    # null while a draft; verification | county_review | collective_review | notice | approval | payment | archived
    sa.Column("step", sa.String(24), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("form_enc", sa.Text, nullable=False),  # the form's JSON, encrypted: health and income facts
    sa.Column("requested_amount", sa.BigInteger, nullable=True),  # fen
    sa.Column("proposed_amount", sa.BigInteger, nullable=True),  # fen, from the county step on
    sa.Column("approved_amount", sa.BigInteger, nullable=True),  # fen, at approval
    sa.Column("consent_version", sa.String(32), nullable=True),
    sa.Column("consented_at", UTCDateTime, nullable=True),
    # The content check of the free text: pass, or review / unchecked (held for staff, never blocking).
    sa.Column("content_status", sa.String(16), nullable=True),
    sa.Column("returned_step", sa.String(24), nullable=True),
    sa.Column("missing", sa.Text, nullable=True),  # JSON [{"item", "note"}] when returned
    sa.Column("reject_reason", sa.String(500), nullable=True),
    sa.Column("flagged", sa.Boolean, nullable=False),  # any open flag
    sa.Column("step_since", UTCDateTime, nullable=True),
    sa.Column("due_at", UTCDateTime, nullable=True),
    sa.Column("submitted_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_relief_applications_member_kind", "member_id", "kind"),
    sa.Index("ix_relief_applications_user", "user_id", "id"),
    sa.Index("ix_relief_applications_queue", "status", "step", "due_at"),
    # The staff queue: what waits, in id order, the step and subtree checked inside the index (0019).
    sa.Index("ix_relief_applications_waiting", "status", "id", "step", "org_path"),
    # The statistics: applications received in a period, counted from the index (0019).
    sa.Index("ix_relief_applications_received", "submitted_at", "org_path", "kind"),
    # The statistics' joins from the timeline: an application's subtree, kind and figures by its id, without
    # reading its row (kilobytes, mostly the kept definition) (0019).
    sa.Index("ix_relief_applications_tally", "id", "status", "org_path", "kind", "approved_amount", "member_id"),
)

# The household of an application; ID numbers encrypted, with the members' blind index so that a
# household member of one application is found as the applicant or household of another.
relief_household = sa.Table(
    "relief_household",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=False, index=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("relation", sa.String(16), nullable=False),
    sa.Column("id_number_enc", sa.String(255), nullable=True),
    sa.Column("id_number_bidx", sa.String(64), nullable=True, index=True),
    sa.Column("monthly_income", sa.BigInteger, nullable=True),  # fen
)

# Home visits (入户核查) by the grassroots station; findings encrypted.
relief_visits = sa.Table(
    "relief_visits",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=False, index=True),
    sa.Column("visit_date", sa.Date, nullable=False),
    sa.Column("visitors", sa.Text, nullable=False),  # JSON list of names
    sa.Column("findings_enc", sa.Text, nullable=False),
    sa.Column("staff_id", BigId, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Proofs of an application and photos of a home visit: the blob lives in the attachment store.
relief_attachments = sa.Table(
    "relief_attachments",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=False, index=True),
    sa.Column("visit_id", BigId, sa.ForeignKey("relief_visits.id"), nullable=True),
    sa.Column("proof_type", sa.String(32), nullable=False),  # a proof type of the kind, or visit_photo
    sa.Column("store_key", sa.String(64), nullable=False),
    sa.Column("mime", sa.String(32), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("uploaded_by", sa.String(32), nullable=False),  # "user:7" or "staff:3"
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# The timeline: what happened to an application, at which step, by which unit (and, for staff eyes
# only, which member of staff).
relief_events = sa.Table(
    "relief_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=False, index=True),
    sa.Column("step", sa.String(24), nullable=True),
    sa.Column("action", sa.String(24), nullable=False),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=True),
    sa.Column("staff_id", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("comment", sa.String(500), nullable=True),  # what the worker may read (return, reject)
    sa.Column("detail", sa.Text, nullable=True),  # JSON
    sa.Column("amount", sa.BigInteger, nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
    # The statistics: decisions and payments in a period, counted from the index (0019).
    sa.Index("ix_relief_events_action", "action", "step", "at", "application_id"),
)

# Collective review (集体评议) meetings and their votes.
relief_meetings = sa.Table(
    "relief_meetings",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("meeting_date", sa.Date, nullable=False),
    sa.Column("members", sa.Integer, nullable=False),  # the committee's size
    sa.Column("present", sa.Text, nullable=False),  # JSON list of names
    sa.Column("minutes", sa.Text, nullable=False),
    sa.Column("recorded_by", BigId, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

relief_votes = sa.Table(
    "relief_votes",
    metadata,
    sa.Column("meeting_id", BigId, sa.ForeignKey("relief_meetings.id"), primary_key=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), primary_key=True),
    sa.Column("votes_for", sa.Integer, nullable=False),
    sa.Column("votes_against", sa.Integer, nullable=False),
    sa.Column("carried", sa.Boolean, nullable=False),
)

# Duplicates and limits found at submission or a review step, naming the other application.
relief_flags = sa.Table(
    "relief_flags",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=False, index=True),
    sa.Column("other_application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=True),
    sa.Column("reason", sa.String(32), nullable=False),  # same_kind_open | household_open | frequency
    sa.Column("step", sa.String(24), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # open | overridden | cleared
    sa.Column("detail", sa.String(200), nullable=True),
    sa.Column("override_reason", sa.String(500), nullable=True),
    sa.Column("override_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
)


# --- the public notice, objections, the holiday calendar (issue 14) -----------------------------------

# A batch of applications published together (公示) by a unit, in force from ``starts_at`` to
# ``ends_at``, readable by the public until ``visible_until``.
relief_notices = sa.Table(
    "relief_notices",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), nullable=False),
    sa.Column("org_path", sa.String(255), nullable=False, index=True),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("visible_until", UTCDateTime, nullable=False),
    sa.Column("working_days", sa.Boolean, nullable=False),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("published_by", BigId, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_relief_notices_public", "starts_at", "visible_until"),
    # The public notice: the batches visible now, out of every batch ever (0019).
    sa.Index("ix_relief_notices_visible", "visible_until", "starts_at"),
)

# One application in a batch, as it was published (masked name, unit, kind, amount frozen).
# state: in_notice | paused (an open objection) | ended (moved to approval) | withdrawn_by_objection
relief_notice_entries = sa.Table(
    "relief_notice_entries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("notice_id", BigId, sa.ForeignKey("relief_notices.id"), nullable=False, index=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=False, index=True),
    sa.Column("masked_name", sa.String(60), nullable=False),
    sa.Column("unit", sa.String(100), nullable=False),
    sa.Column("kind_name", sa.String(50), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=True),  # fen, the proposed amount at publication
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("ended_at", UTCDateTime, nullable=True),
)

# An objection (异议) to one entry: the reason (never published), the contact encrypted.
# status: open | upheld | dismissed
relief_objections = sa.Table(
    "relief_objections",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("entry_id", BigId, sa.ForeignKey("relief_notice_entries.id"), nullable=False, index=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=False, index=True),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("contact_enc", sa.String(512), nullable=False),
    sa.Column("content_status", sa.String(16), nullable=True),  # pass | review | unchecked
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=True),  # when sent from the mini-program
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(24), nullable=True),  # county_review | rejected when upheld
    sa.Column("finding", sa.String(1000), nullable=True),
    sa.Column("resolved_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_relief_objections_status", "status", "due_at"),
)

# The holiday calendar: a day off on a weekday (a holiday), or a make-up working day (调休) on a weekend.
relief_calendar = sa.Table(
    "relief_calendar",
    metadata,
    sa.Column("day", sa.Date, primary_key=True, autoincrement=False),
    sa.Column("off", sa.Boolean, nullable=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("updated_by", BigId, sa.ForeignKey("staff.id"), nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


# --- archive (issue 14) -----------------------------------------------------------------------------

# The completion record (办结) of an archived application: one per application, written when a paid
# application is archived read-only.
relief_completions = sa.Table(
    "relief_completions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("application_id", BigId, sa.ForeignKey("relief_applications.id"), nullable=False, unique=True),
    sa.Column("completed_on", sa.Date, nullable=False),
    sa.Column("note", sa.String(500), nullable=False),
    sa.Column("staff_id", BigId, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


# --- the statistics' summary (issue 18) -------------------------------------------------------------

# What the statistics count, kept as the timeline is written (models/relief/tallies.py): per subtree
# (``scope``: every path prefix of the application's ``org_path``, from the root down to its own unit),
# Beijing day (``span`` "d") and Beijing month (``span`` "m", ``day`` its first day), kind and figure
# (received, approved, rejected, paid): how many (``n``), the money (``amount``, paid only, fen) and the
# lowest application id counted (``first_id``: whose kept definition names the kind). Each month also has a row
# of every kind at once (``kind`` "*"), which the reports grouped by month or unit read.
relief_tallies = sa.Table(
    "relief_tallies",
    metadata,
    sa.Column("scope", sa.String(255), primary_key=True),
    sa.Column("span", sa.String(1), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("figure", sa.String(16), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("first_id", BigId, nullable=False),
)

# The applications paid (now paid or archived), one row per subtree (path prefix) each lies in, at the Beijing
# day of its latest payment, with ``prev_day``: the day of the same worker's payment before it in the subtree
# (by day, then application id; none for their first). A worker is counted once in a period by the one row of the
# period whose ``prev_day`` lies before it (``people``, which no sum of rows gives); relief_tallies keeps how many
# rows of each month have their ``prev_day`` in each earlier month (span "p"), so a period's whole months are read
# from there and only the days at either end from here. A reversal finds here the day it takes back.
relief_tally_paid = sa.Table(
    "relief_tally_paid",
    metadata,
    sa.Column("application_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("scope", sa.String(255), primary_key=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("prev_day", sa.Date, nullable=True),
    sa.Column("member_id", BigId, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Index("ix_relief_tally_paid_day", "scope", "day", "prev_day"),
    sa.Index("ix_relief_tally_paid_prev", "scope", "prev_day", "day"),
    sa.Index("ix_relief_tally_paid_member", "scope", "member_id", "day"),
)
