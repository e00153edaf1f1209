"""Alembic environment: runs on the connection that ``models.db.schema.upgrade`` hands it."""
from __future__ import annotations

from alembic import context

from models.catalog import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `unionaid migrate` (models.db.schema.upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
