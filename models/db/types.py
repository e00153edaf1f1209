"""Column types shared by all tables: ids and UTC times."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# BIGINT on MySQL; INTEGER on SQLite so that it is the rowid and autoincrements.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Stored as naive UTC (microseconds on MySQL), returned timezone-aware."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        """DATETIME with microseconds on MySQL and MariaDB, a plain DateTime elsewhere."""
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store an aware datetime as naive UTC; a naive one is refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Read a stored naive UTC value back as an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)

