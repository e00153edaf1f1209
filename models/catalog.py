"""Every domain's tables on the one MetaData: what migrations and the schema test compare against."""
from __future__ import annotations

from models.cards import tables as cards_tables
from models.core import tables as core_tables
from models.counter import tables as counter_tables
from models.db.metadata import metadata
from models.funds import tables as funds_tables
from models.identity import tables as identity_tables
from models.members import tables as members_tables
from models.network import tables as network_tables
from models.partners import tables as partners_tables
from models.relief import payment_tables as relief_payment_tables
from models.relief import tables as relief_tables

DOMAIN_TABLES = (core_tables, network_tables, identity_tables, members_tables, cards_tables, partners_tables,
                 counter_tables, funds_tables, relief_tables, relief_payment_tables)

__all__ = ["DOMAIN_TABLES", "metadata"]
