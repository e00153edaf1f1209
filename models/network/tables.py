"""The union tree and each organisation's settings."""
from __future__ import annotations

import sqlalchemy as sa

from models.db.metadata import metadata
from models.db.types import BigId, UTCDateTime

# A tree of union units. ``path`` is the materialised path of ids ("/1/4/9/"),
# so a subtree is one indexed prefix scan: path LIKE '/1/4/%'.
orgs = sa.Table(
    "orgs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(32), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("parent_id", BigId, sa.ForeignKey("orgs.id"), nullable=True, index=True),
    sa.Column("path", sa.String(255), nullable=False, index=True),
    sa.Column("depth", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


# Settings that children inherit from the nearest ancestor that sets them
# (e.g. the per-capita income lines of the hardship categories).
org_settings = sa.Table(
    "org_settings",
    metadata,
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id"), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
