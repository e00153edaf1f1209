"""困难自测: a worker's figures against their unit's lines, and the kinds the result points to; nothing stored."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.errors import Invalid
from models.core.typed import Body, Fen
from models.members import means
from models.relief import kinds


class SelfTest(Body):
    """The household's size and monthly figures, in fen."""

    household_size: Annotated[int, Field(ge=1, le=means.MAX_HOUSEHOLD)]
    monthly_income: Fen
    monthly_rigid_expense: Fen


async def self_test(conn: AsyncConnection, member_id: int, figures: SelfTest) -> dict[str, Any]:
    """The assessment at the member's unit (the register's lines and rule) and the kinds it suggests."""
    ctx, offered = await kinds.for_member(conn, member_id)
    if ctx.lines is None:
        raise Invalid("hardship_lines_unset", "您所在单位尚未设置困难认定标准，暂不能自测，请联系所在工会")
    deep, relative = ctx.lines
    found = means.assess(figures.household_size, figures.monthly_income, figures.monthly_rigid_expense,
                         deep_line=deep, relative_line=relative)
    return {"per_capita": found.per_capita, "category": found.category,
            "kinds": kinds.suggested(offered, found.category), "deep_line": deep, "relative_line": relative}
