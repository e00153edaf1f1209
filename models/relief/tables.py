"""Relief tables: each unit's own definitions of the kinds of relief (overrides of the presets, its own kinds)."""
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
