# PLACEHOLDER: replaced at merge by engineer A's module
"""Duplicate and limit flags of an application (placeholder: raises none, reads the open ones)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.relief.records import Application
from models.relief.tables import relief_flags


@dataclass(frozen=True)
class Flag:
    """A flag on an application, naming the other application when there is one."""

    id: int
    reason: str
    other_application_id: int | None
    step: str | None
    status: str
    detail: str | None
    override_reason: str | None
    override_by: int | None

    def view(self) -> dict[str, Any]:
        """The flag as staff see it."""
        return asdict(self)


async def raise_flags(conn: AsyncConnection, app: Application, step: str) -> list[Flag]:
    """Placeholder: finds and writes nothing."""
    return []


async def open_flags(conn: AsyncConnection, application_id: int) -> list[Flag]:
    """The application's open flags, oldest first."""
    rows = (await conn.execute(sa.select(relief_flags).where(relief_flags.c.application_id == application_id,
                                                             relief_flags.c.status == "open")
                               .order_by(relief_flags.c.id))).all()
    return [Flag(r.id, r.reason, r.other_application_id, r.step, r.status, r.detail, r.override_reason,
                 r.override_by) for r in rows]
