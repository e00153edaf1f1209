"""The approval's side of the money: reserving the approved amount on a fund source, and giving it back.

A source may pay for an application when its unit is the application's unit or above it (the money of a
county serves its grassroots units, never a sibling county's), it is of the current year (Beijing), active,
and its kinds include the application's kind; otherwise 409 ``fund_scope`` saying which rule refused it.
What is left is checked by the fund's own conditional update (409 ``fund_insufficient``).
"""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, utcnow
from models.core.errors import Conflict, NotFound
from models.funds import ledger, sources
from models.relief.records import Application


def _scope(message: str) -> Conflict:
    return Conflict("fund_scope", message)


async def check_fund(conn: AsyncConnection, app: Application, fund_id: int) -> sources.Fund:
    """The source when it may pay for this application (else 404 ``fund_not_found`` / 409 ``fund_scope``)."""
    try:
        fund = await sources.get(conn, fund_id)
    except NotFound:
        raise NotFound("fund_not_found", "找不到该资金来源") from None
    if not app.org_path.startswith(fund.org_path):
        raise _scope(f"资金来源“{fund.name}”属于其他单位，只能使用申请人所在单位或其上级单位的资金")
    year = utcnow().astimezone(LOCAL_TZ).year
    if fund.year != year:
        raise _scope(f"资金来源“{fund.name}”是 {fund.year} 年度的资金，只能使用 {year} 年度的资金")
    if fund.status != "active":
        raise _scope(f"资金来源“{fund.name}”已关闭")
    if app.kind not in fund.kinds:
        raise _scope(f"资金来源“{fund.name}”不能用于{app.definition.name}（专款专用）")
    return fund


async def reserve(conn: AsyncConnection, actor: Actor, app: Application, fund_id: int, amount: int) -> sources.Fund:
    """Reserve ``amount`` for the application on the source (checked by ``check_fund``); the source."""
    fund = await check_fund(conn, app, fund_id)
    await sources.reserve(conn, fund, amount, application_id=app.id, kind=app.kind, org_path=app.org_path,
                          staff_id=actor.id)
    return fund


async def release(conn: AsyncConnection, actor: Actor, app: Application, *, note: str) -> int:
    """Give back what the application holds reserved (nothing when it holds nothing); the amount released."""
    held = await ledger.held(conn, app.id)
    if held is None:
        return 0
    fund_id, amount = held
    await sources.release(conn, fund_id, amount, application_id=app.id, kind=app.kind, org_path=app.org_path,
                          staff_id=actor.id, note=note)
    return amount
