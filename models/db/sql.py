"""SQL helpers shared by every domain: insert-or-ignore and upsert on both dialects."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def insert_ignore(table: sa.Table) -> sa.Insert:
    """INSERT that skips a row whose key exists (rowcount 0) instead of failing: no savepoint needed."""
    return table.insert().prefix_with("IGNORE", dialect="mysql").prefix_with("OR IGNORE", dialect="sqlite")


def upsert(conn: Any, table: sa.Table, values: dict[str, Any], keys: list[str], changes: dict[str, Any]) -> Any:
    """INSERT ``values``, or when a row with the same ``keys`` exists, UPDATE it with ``changes``."""
    if conn.dialect.name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        return mysql_insert(table).values(**values).on_duplicate_key_update(**changes)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=changes)
