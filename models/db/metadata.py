"""The one MetaData every domain's tables join; migrations in models/db/migrations mirror it.

Each domain package declares its tables in its own ``tables.py`` on this MetaData;
``models.catalog`` imports them all for the migrations and the schema test.
"""
from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
