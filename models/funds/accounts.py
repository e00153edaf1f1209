"""The funds' accounts: income and spending by source, kind, unit or month, for staff within their subtree,
and for the public per year (aggregates only: 帮扶资金收支定期公示). Every figure is a sum of ledger rows
(``ledger.totals``), so each total equals the sum of the rows it is shown beside."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import local_today
from models.core.typed import Query, text

from models.funds import ledger
from models.funds.sources import SOURCES

Grouping = Literal["source", "kind", "org", "month", "fund"]
_FIGURES = ("income", "reserved", "spent")
#: The whole tree: every materialised path starts with it.
ROOT = "/"


def this_year() -> int:
    """The current year in Beijing."""
    return local_today().year


class StaffAccountsQuery(Query):
    """Which unit's subtree (default the caller's), which year (default this one), grouped how."""

    org: Annotated[str, text(32, min_len=1)] | None = None
    year: Annotated[int, Field(ge=2000, le=2100)] | None = None
    by: Grouping = "source"


class PublicAccountsQuery(Query):
    """Which year (default this one)."""

    year: Annotated[int, Field(ge=2000, le=2100)] | None = None


def _with_total(rows: list[dict[str, Any]], figures: tuple[str, ...] = _FIGURES) -> dict[str, Any]:
    return {"rows": rows, "total": {f: sum(int(r[f]) for r in rows) for f in figures}}


async def for_staff(conn: AsyncConnection, org_path: str, year: int, by: Grouping) -> dict[str, Any]:
    """A year's income, reservations and spending in a subtree, grouped one way, with the total."""
    rows = await ledger.totals(conn, org_path, year, group_by=(by,))
    for row in rows:
        if by == "source":
            row["source_name"] = SOURCES.get(row["source"], row["source"])
    return _with_total(rows)


async def public(conn: AsyncConnection, year: int) -> dict[str, Any]:
    """A year's income and spending of every fund, by source and by kind: no person, no application."""
    by_source = [{"source": r["source"], "source_name": SOURCES.get(r["source"], r["source"]),
                  "income": r["income"], "spent": r["spent"]}
                 for r in await ledger.totals(conn, ROOT, year, group_by=("source",))]
    by_kind = [{"kind": r["kind"], "spent": r["spent"]}
               for r in await ledger.totals(conn, ROOT, year, group_by=("kind",)) if r["kind"] and r["spent"]]
    return {"year": year, "by_source": by_source, "by_kind": by_kind,
            "total": {"income": sum(r["income"] for r in by_source), "spent": sum(r["spent"] for r in by_source)}}
