"""Where each kind of record a handler acts on sits: its unit's path in the union tree, or the merchant
(and cashier) it belongs to, or the worker it belongs to. Each kind has the one answer a caller gets when
the record is missing or out of their reach (the same status, code and message as the domain's)."""
from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.cards.tables import cards
from models.core.actors import Actor
from models.core.errors import NotFound
from models.core.policy import Located
from models.counter import redeeming
from models.counter.tables import redemptions, statements
from models.funds.tables import funds
from models.members.tables import hardship_records, member_transfers, members
from models.network.tables import orgs
from models.partners import invites
from models.partners.tables import merchant_invites, merchant_staff, merchants, programs
from models.relief import records
from models.relief.tables import relief_applications, relief_notices, relief_objections, relief_visits

_path = orgs.c.path.label("org_path")


def _member(ident: Any) -> Any:
    return sa.select(_path).join_from(members, orgs, orgs.c.id == members.c.org_id).where(members.c.id == ident)


def _card(ident: Any) -> Any:
    return (sa.select(_path).select_from(cards).join(members, members.c.id == cards.c.member_id)
            .join(orgs, orgs.c.id == members.c.org_id).where(cards.c.id == ident))


def _org(ident: Any) -> Any:
    return sa.select(_path).where(orgs.c.id == ident)


def _org_code(ident: Any) -> Any:
    return sa.select(_path).where(orgs.c.code == ident)


def _merchant(ident: Any) -> Any:
    return sa.select(_path).join_from(merchants, orgs, orgs.c.id == merchants.c.org_id).where(merchants.c.id == ident)


def _invite(ident: Any) -> Any:
    # Staff reach an invite through its merchant's unit, the merchant's manager through the merchant.
    return (sa.select(_path, merchant_invites.c.merchant_id).select_from(merchant_invites)
            .join(merchants, merchants.c.id == merchant_invites.c.merchant_id)
            .join(orgs, orgs.c.id == merchants.c.org_id).where(merchant_invites.c.id == ident))


def _program(ident: Any) -> Any:
    return sa.select(_path).join_from(programs, orgs, orgs.c.id == programs.c.org_id).where(programs.c.id == ident)


def _statement(ident: Any) -> Any:
    return (sa.select(_path, statements.c.merchant_id, statements.c.status).select_from(statements)
            .join(merchants, merchants.c.id == statements.c.merchant_id).join(orgs, orgs.c.id == merchants.c.org_id)
            .where(statements.c.id == ident))


def _hardship(ident: Any) -> Any:
    return (sa.select(_path).join_from(hardship_records, orgs, orgs.c.id == hardship_records.c.org_id)
            .where(hardship_records.c.id == ident))


def _transfer(side: Any) -> Callable[[Any], Any]:
    def query(ident: Any) -> Any:
        return (sa.select(_path).join_from(member_transfers, orgs, orgs.c.id == side)
                .where(member_transfers.c.id == ident))
    return query


def _application(ident: Any) -> Any:
    return sa.select(relief_applications.c.org_path).where(relief_applications.c.id == ident)


def _relief_visit(ident: Any) -> Any:
    return (sa.select(relief_applications.c.org_path)
            .join_from(relief_visits, relief_applications, relief_applications.c.id == relief_visits.c.application_id)
            .where(relief_visits.c.id == ident))


def _notice(ident: Any) -> Any:
    return sa.select(relief_notices.c.org_path).where(relief_notices.c.id == ident)


def _objection(ident: Any) -> Any:
    return (sa.select(relief_applications.c.org_path)
            .join_from(relief_objections, relief_applications,
                       relief_applications.c.id == relief_objections.c.application_id)
            .where(relief_objections.c.id == ident))
def _fund(ident: Any) -> Any:
    return sa.select(funds.c.org_path).where(funds.c.id == ident)


def _redemption(ident: Any) -> Any:
    return sa.select(redemptions.c.merchant_id, redemptions.c.cashier_id).where(redemptions.c.id == ident)


def _merchant_staff(ident: Any) -> Any:
    return sa.select(merchant_staff.c.merchant_id).where(merchant_staff.c.id == ident,
                                                         merchant_staff.c.live_user_id.is_not(None))


#: kind -> (the query locating one record by its id or code, the answer when missing or out of reach)
KINDS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], NotFound]]] = {
    "member": (_member, lambda _: NotFound("member_not_found", "找不到该会员")),
    "card": (_card, lambda _: NotFound("card_not_found", "找不到该服务卡")),
    "org": (_org, lambda _: NotFound("org_not_found", "找不到该工会组织")),
    "org_code": (_org_code, lambda code: NotFound("org_not_found", f"找不到代码为 {code} 的工会组织")),
    "merchant": (_merchant, lambda _: NotFound("merchant_not_found", "找不到该商家")),
    "invite": (_invite, lambda _: invites.unusable()),
    "program": (_program, lambda _: NotFound("program_not_found", "找不到该优惠项目")),
    "statement": (_statement, lambda _: NotFound("statement_not_found", "找不到该对账单")),
    "hardship": (_hardship, lambda _: NotFound("hardship_not_found", "找不到该困难职工档案")),
    # A transfer is decided by the member's side (from_org) and cancelled by the asking side (to_org).
    "transfer_incoming": (_transfer(member_transfers.c.from_org_id),
                          lambda _: NotFound("transfer_not_found", "找不到该转入申请")),
    "transfer_outgoing": (_transfer(member_transfers.c.to_org_id),
                          lambda _: NotFound("transfer_not_found", "找不到该转入申请")),
    # A relief application sits at its applicant's unit (as it was when they applied); a visit with it.
    "application": (_application, lambda _: records.not_found()),
    "relief_visit": (_relief_visit, lambda _: NotFound("visit_not_found", "找不到该入户核查记录")),
    # A notice batch sits at its publishing unit; an objection with its application.
    "notice": (_notice, lambda _: NotFound("notice_not_found", "找不到该公示")),
    "objection": (_objection, lambda _: NotFound("objection_not_found", "找不到该异议")),
    "fund": (_fund, lambda _: NotFound("fund_not_found", "找不到该资金来源")),
    "redemption": (_redemption, lambda _: redeeming.not_found()),
    "merchant_staff": (_merchant_staff, lambda _: NotFound("cashier_not_found", "找不到该收银员")),
}
#: Kinds that are the caller's own record, found from the caller alone (no path argument).
OWN: dict[str, Callable[[Any], NotFound]] = {
    "own_member": lambda _: NotFound("member_not_bound", "请先完成会员实名绑定"),
}


def missing(kind: str, ident: Any) -> NotFound:
    """The answer for a record of ``kind`` that is missing or out of the caller's reach."""
    if kind in OWN:
        return OWN[kind](ident)
    return KINDS[kind][1](ident)


#: Each kind's lookup, built once with the record's id as its parameter (every targeted request runs one:
#: building and keying it anew cost more than the query).
_LOOKUPS: dict[str, Any] = {}


def _lookup(kind: str) -> Any:
    found = _LOOKUPS.get(kind)
    if found is None:
        found = _LOOKUPS[kind] = KINDS[kind][0](sa.bindparam("ident"))
    return found


async def locate(conn: AsyncConnection | None, actor: Actor, kind: str, ident: Any) -> Located | None:
    """Where the record sits, or None when there is no such record."""
    if kind == "own_member":
        return Located(member_id=actor.member_id) if actor.member_id is not None else None
    assert conn is not None
    row = (await conn.execute(_lookup(kind), {"ident": ident})).mappings().first()
    if row is None:
        return None
    return Located(org_path=row.get("org_path"), merchant_id=row.get("merchant_id"),
                   cashier_id=row.get("cashier_id"), status=row.get("status"))


def known(kind: str) -> bool:
    """Whether ``kind`` is a target kind this module can locate."""
    return kind in KINDS or kind in OWN
