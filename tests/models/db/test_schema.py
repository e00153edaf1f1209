"""Migrations build exactly the tables the code declares, on both databases, and go down and up."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from models.catalog import metadata
from models.db import schema


async def test_migrated_schema_matches_metadata(engine):
    def diff(sync_conn):
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(ctx, metadata)

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []
    assert await schema.current_revision(engine) == schema.head_revision()


async def test_downgrade_and_upgrade_again(engine):
    await schema.downgrade(engine, "base")
    assert await schema.current_revision(engine) is None
    await schema.upgrade(engine)
    assert await schema.current_revision(engine) == schema.head_revision()
