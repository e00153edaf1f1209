"""The caller behind a bearer token, with everything the policy needs, in one query."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.cards.codes import LiveCard
from models.cards.tables import cards
from models.core.actors import Actor
from models.core.clock import local_today, utcnow
from models.core.errors import Unauthorized
from models.core.stamps import REFERENCE_STAMP
from models.db.direct import Direct
from models.identity.tables import auth_tokens, staff
from models.members.tables import members
from models.network.tables import orgs
from models.partners.partnership import Cashier, Merchant, acting
from models.partners.tables import merchant_staff, merchants

_INVALID = ("token_invalid", "登录凭证无效，请重新登录")

_t = auth_tokens.c
# Built once: every request of a logged-in caller runs it. The token, and the caller's row joined on
# by the token's subject: a member of staff with their unit's path, or a WeChat user with their roster
# record and the merchant they work for (if any, whole: the counter needs no second query for it), and the
# reference data's stamp (models/core/stamps.py), so a process's cache of it is checked at no round trip;
# and a worker's live card, so that the phone's QR code needs no other read.
_m = merchants.c
_CALLER = (
    sa.select(
        _t.subject_kind, _t.subject_id, _t.expires_at, _t.revoked_at,
        staff.c.roles.label("staff_roles"), staff.c.org_id.label("staff_org_id"), staff.c.active.label("staff_active"),
        staff.c.must_change_password.label("staff_password_due"),
        orgs.c.path.label("staff_path"),
        members.c.id.label("member_id"),
        merchant_staff.c.id.label("merchant_staff_id"), merchant_staff.c.role.label("merchant_role"),
        merchant_staff.c.store_id, _m.id.label("merchant_id"), _m.status.label("merchant_status"),
        _m.agreement_from, _m.agreement_to, _m.name.label("merchant_name"), _m.type.label("merchant_type"),
        _m.org_id.label("merchant_org_id"), _m.status_reason.label("merchant_status_reason"),
        _m.contact.label("merchant_contact"), REFERENCE_STAMP,
        cards.c.id.label("card_id"), cards.c.version.label("card_version"), cards.c.status.label("card_status"),
    )
    .select_from(
        auth_tokens
        .outerjoin(staff, sa.and_(_t.subject_kind == "staff", staff.c.id == _t.subject_id))
        .outerjoin(orgs, orgs.c.id == staff.c.org_id)
        .outerjoin(members, sa.and_(_t.subject_kind == "user", members.c.user_id == _t.subject_id))
        .outerjoin(cards, cards.c.live_member_id == members.c.id)
        .outerjoin(merchant_staff, sa.and_(_t.subject_kind == "user", merchant_staff.c.live_user_id == _t.subject_id))
        .outerjoin(merchants, merchants.c.id == merchant_staff.c.merchant_id)
    )
    .where(_t.token_hash == sa.bindparam("token_hash"))
)
_CALLER_DIRECT = Direct(_CALLER)  # every request with a token sends it: on MySQL, straight to the driver


@dataclass(frozen=True)
class Caller:
    """The logged-in caller of one request, when their token expires, the merchant role they hold (as
    read with the token), and the reference data's stamp when the token was read."""

    actor: Actor
    expires_at: datetime
    cashier: Cashier | None = None
    reference_stamp: str | None = None
    #: A worker's live card (None when they have none: never issued, or the last one died).
    card: LiveCard | None = None


def _standing(row: Any) -> str:
    today = local_today()
    if row.merchant_status != "active":
        return "suspended"
    if not (row.agreement_from <= today <= row.agreement_to):
        return "out_of_agreement"
    return "active"


async def resolve(conn: AsyncConnection, token_hash: str, *, request_id: str | None, ip: str | None) -> Caller:
    """Who a token (given by its hash) speaks for, as the one Actor of the request; Unauthorized when
    unknown, revoked, expired, or the account behind it is no longer active."""
    row = await _CALLER_DIRECT.first(conn, {"token_hash": token_hash})
    if row is None or row.revoked_at is not None:
        raise Unauthorized(*_INVALID)
    if row.expires_at <= utcnow():
        raise Unauthorized("token_expired", "登录已过期，请重新登录")
    if row.subject_kind == "staff":
        if row.staff_roles is None or not row.staff_active:
            raise Unauthorized(*_INVALID)
        actor = Actor(kind="staff", id=row.subject_id, roles=frozenset(filter(None, row.staff_roles.split(","))),
                      org_id=row.staff_org_id, org_path=row.staff_path, request_id=request_id, ip=ip,
                      password_change_due=bool(row.staff_password_due))
    elif row.subject_kind == "user":
        roles = {"member" if row.member_id is not None else "visitor"}
        if row.merchant_role is not None:
            roles.add(row.merchant_role)
        actor = Actor(kind="user", id=row.subject_id, user_id=row.subject_id, member_id=row.member_id,
                      roles=frozenset(roles), request_id=request_id, ip=ip,
                      merchant_staff_id=row.merchant_staff_id, merchant_id=row.merchant_id,
                      store_id=row.store_id or (0 if row.merchant_staff_id is not None else None),
                      merchant_standing=_standing(row) if row.merchant_id is not None else None)
    else:
        raise Unauthorized(*_INVALID)
    cashier = None
    if row.subject_kind == "user" and row.merchant_staff_id is not None:
        merchant = Merchant(row.merchant_id, row.merchant_name, row.merchant_type, row.merchant_org_id,
                            row.merchant_status, row.merchant_status_reason, row.agreement_from, row.agreement_to,
                            row.merchant_contact)
        cashier = acting(Cashier(row.merchant_staff_id, row.subject_id, row.merchant_role, merchant.id,
                                 row.store_id or 0, merchant), actor)
    card = LiveCard(row.card_id, row.card_version, row.card_status) if row.card_id is not None else None
    return Caller(actor, row.expires_at, cashier, row.reference_stamp, card)

