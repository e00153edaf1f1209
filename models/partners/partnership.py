"""Partner merchants (爱心商家), their stores, and the WeChat users who act for them.

Staff of the signing union's subtree manage a merchant; a merchant's manager
invites cashiers with one-time codes (models/partners/invites.py); a cashier acts for one store at a time.
A suspended merchant, or one outside its agreement's period, cannot scan.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import local_today, utcnow
from models.core.errors import Forbidden, Invalid, NotFound
from models.network.tables import orgs
from models.network.tree import in_subtree
from models.partners.tables import merchant_staff, merchants, stores

TYPES = {"pharmacy": "爱心药店", "hospital": "爱心医院", "supermarket": "爱心超市", "school": "爱心学校",
         "other": "其他"}
ROLES = {"cashier": "收银员", "manager": "商家管理员"}


@dataclass(frozen=True)
class Merchant:
    """A partner merchant: name, type, signing unit, status and the period of its agreement."""

    id: int
    name: str
    type: str
    org_id: int
    status: str
    status_reason: str | None
    agreement_from: date
    agreement_to: date
    contact: str | None

    def view(self) -> dict[str, Any]:
        """The merchant as the API shows it, with its type label and ISO dates."""
        return {"id": self.id, "name": self.name, "type": self.type, "type_label": TYPES[self.type],
                "org_id": self.org_id, "status": self.status, "status_reason": self.status_reason,
                "agreement_from": self.agreement_from.isoformat(), "agreement_to": self.agreement_to.isoformat(),
                "contact": self.contact}

    def in_force(self, today: date) -> bool:
        """Whether the merchant may trade on ``today``: active and within its agreement."""
        return self.status == "active" and self.agreement_from <= today <= self.agreement_to


def _merchant(row: Any) -> Merchant:
    return Merchant(row.id, row.name, row.type, row.org_id, row.status, row.status_reason, row.agreement_from,
                    row.agreement_to, row.contact)


@dataclass(frozen=True)
class Cashier:
    """A merchant's staff member as the counter sees them (cashier or manager)."""

    id: int  # merchant_staff.id
    user_id: int
    role: str
    merchant_id: int
    store_id: int
    merchant: Merchant
    #: The request's Actor acting for this merchant (with the request id and the caller's address).
    caller: Actor | None = None

    def actor(self, request_id: str | None = None, ip: str | None = None) -> Actor:
        """Who acts, for the audit log: the request's caller when known."""
        if self.caller is not None:
            return self.caller
        return Actor(kind="merchant", id=self.id, roles=frozenset({self.role}), user_id=self.user_id,
                     merchant_staff_id=self.id, merchant_id=self.merchant_id, store_id=self.store_id,
                     request_id=request_id, ip=ip)


def _text(value: Any, field: str, label: str, max_len: int, *, required: bool = True) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise Invalid(f"{field}_required", f"请填写{label}")
    if len(text) > max_len:
        raise Invalid(f"{field}_too_long", f"{label}不能超过 {max_len} 字")
    return text or None


async def get(conn: AsyncConnection, merchant_id: int, *, within: str | None = None) -> Merchant:
    """The merchant with this id, within the subtree ``within`` when given (404 merchant_not_found)."""
    query = sa.select(merchants).join(orgs, orgs.c.id == merchants.c.org_id).where(merchants.c.id == merchant_id)
    if within is not None:
        query = query.where(in_subtree(orgs.c.path, within))
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("merchant_not_found", "找不到该商家")
    return _merchant(row)


async def create(
    conn: AsyncConnection, actor: Actor, *, name: str, type: str, org_id: int, agreement_from: date,
    agreement_to: date, contact: str | None = None,
) -> Merchant:
    """Sign a new active merchant to a unit of the caller's subtree, audited."""
    policy.require(actor, "merchant.manage")
    org = (await conn.execute(sa.select(orgs.c.path).where(orgs.c.id == org_id,
                                                           in_subtree(orgs.c.path, policy.scope(actor))))).first()
    if org is None:
        raise NotFound("org_not_found", "找不到该组织")
    if type not in TYPES:
        raise Invalid("merchant_type", "商家类型应为 " + "、".join(TYPES))
    if agreement_to < agreement_from:
        raise Invalid("agreement_period", "协议结束日期不能早于开始日期")
    now = utcnow()
    result = await conn.execute(merchants.insert().values(
        name=_text(name, "name", "商家名称", 100), type=type, org_id=org_id, status="active",
        agreement_from=agreement_from, agreement_to=agreement_to,
        contact=_text(contact, "contact", "联系方式", 100, required=False), created_at=now, updated_at=now))
    merchant_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    await audit.record(conn, actor, "merchant.create", target_kind="merchant", target_id=merchant_id,
                       org_path=org.path, summary={"name": name, "type": type})
    return await get(conn, merchant_id)


async def update(
    conn: AsyncConnection, actor: Actor, merchant_id: int, *, name: str, type: str, agreement_from: date,
    agreement_to: date, contact: str | None = None,
) -> Merchant:
    """Correct a merchant of the caller's subtree: its name, type, agreement period and contact, audited
    with what changed (the signing unit and the status change elsewhere)."""
    policy.require(actor, "merchant.manage")
    merchant = await get(conn, merchant_id, within=policy.scope(actor))
    if type not in TYPES:
        raise Invalid("merchant_type", "商家类型应为 " + "、".join(TYPES))
    if agreement_to < agreement_from:
        raise Invalid("agreement_period", "协议结束日期不能早于开始日期")
    values = {"name": _text(name, "name", "商家名称", 100), "type": type, "agreement_from": agreement_from,
              "agreement_to": agreement_to, "contact": _text(contact, "contact", "联系方式", 100, required=False)}
    changed = {k: str(v) for k, v in values.items() if getattr(merchant, k) != v}
    if changed:
        await conn.execute(merchants.update().where(merchants.c.id == merchant_id)
                           .values(**values, updated_at=utcnow()))
        path = (await conn.execute(sa.select(orgs.c.path).where(orgs.c.id == merchant.org_id))).scalar_one()
        await audit.record(conn, actor, "merchant.update", target_kind="merchant", target_id=merchant_id,
                           org_path=path, summary=changed)
    return await get(conn, merchant_id)


async def set_status(conn: AsyncConnection, actor: Actor, merchant_id: int, *, status: str,
                     reason: str | None = None) -> Merchant:
    """Enable or suspend a merchant; a suspended merchant's cashiers cannot scan or redeem."""
    policy.require(actor, "merchant.manage")
    merchant = await get(conn, merchant_id, within=policy.scope(actor))
    if status not in ("active", "suspended"):
        raise Invalid("merchant_status", "状态应为 active 或 suspended")
    why = _text(reason, "reason", "原因", 200, required=status == "suspended")
    await conn.execute(merchants.update().where(merchants.c.id == merchant_id)
                       .values(status=status, status_reason=why, updated_at=utcnow()))
    path = (await conn.execute(sa.select(orgs.c.path).where(orgs.c.id == merchant.org_id))).scalar_one()
    await audit.record(conn, actor, f"merchant.{'enable' if status == 'active' else 'suspend'}",
                       target_kind="merchant", target_id=merchant_id, org_path=path,
                       summary={"from": merchant.status, "to": status, "reason": why})
    return await get(conn, merchant_id)


async def add_store(conn: AsyncConnection, actor: Actor, merchant_id: int, *, name: str, address: str) -> dict[str, Any]:
    """Add a store to a merchant of the caller's subtree, audited; answer the store."""
    policy.require(actor, "merchant.manage")
    await get(conn, merchant_id, within=policy.scope(actor))
    result = await conn.execute(stores.insert().values(
        merchant_id=merchant_id, name=_text(name, "name", "门店名称", 100),
        address=_text(address, "address", "门店地址", 200), active=True, created_at=utcnow()))
    store_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    await audit.record(conn, actor, "merchant.add_store", target_kind="store", target_id=store_id,
                       summary={"merchant_id": merchant_id, "name": name})
    return await store_view(conn, store_id)


def _store(row: Any) -> dict[str, Any]:
    return {"id": row.id, "merchant_id": row.merchant_id, "name": row.name, "address": row.address,
            "active": row.active}


async def store_view(conn: AsyncConnection, store_id: int) -> dict[str, Any]:
    """The store with this id as the API shows it (404 store_not_found)."""
    row = (await conn.execute(sa.select(stores).where(stores.c.id == store_id))).first()
    if row is None:
        raise NotFound("store_not_found", "找不到该门店")
    return _store(row)


async def list_stores(conn: AsyncConnection, merchant_id: int) -> list[dict[str, Any]]:
    """The merchant's stores, in id order."""
    rows = (await conn.execute(sa.select(stores).where(stores.c.merchant_id == merchant_id)
                               .order_by(stores.c.id))).all()
    return [_store(r) for r in rows]


# Built once: every scan and redemption runs it.
_CASHIER = (sa.select(merchant_staff.c.id.label("staff_id"), merchant_staff.c.role.label("staff_role"),
                      merchant_staff.c.store_id, merchants)
            .join(merchants, merchants.c.id == merchant_staff.c.merchant_id)
            .where(merchant_staff.c.live_user_id == sa.bindparam("user_id")))


async def cashier_for_user(conn: AsyncConnection, user_id: int, *, check_merchant: bool = True) -> Cashier:
    """The merchant role the user holds now; refused when none, or when the merchant may not trade."""
    row = (await conn.execute(_CASHIER, {"user_id": user_id})).first()
    if row is None:
        raise Forbidden("not_cashier", "您还不是合作商家的收银员，请先用邀请码绑定")
    merchant = _merchant(row)
    if check_merchant and merchant.status != "active":
        raise Forbidden("merchant_suspended", "该商家已暂停合作，暂不能使用")
    if check_merchant and not merchant.in_force(local_today()):
        raise Forbidden("agreement_not_in_force", "该商家的合作协议不在有效期内")
    return Cashier(row.staff_id, user_id, row.staff_role, merchant.id, row.store_id or 0, merchant)


async def cashier_for(conn: AsyncConnection, actor: Actor) -> Cashier:
    """The merchant role the acting WeChat user holds now, read in the caller's transaction, acting as
    that merchant's staff (whether the role allows the action is the policy's to say, before this)."""
    user_id = actor.user_id if actor.user_id is not None else actor.id
    assert user_id is not None
    return acting(await cashier_for_user(conn, user_id, check_merchant=False), actor)


def acting(found: Cashier, actor: Actor) -> Cashier:
    """The cashier ``found`` for the request's caller ``actor``: audited as the merchant's staff member."""
    user_id = actor.user_id if actor.user_id is not None else actor.id
    assert user_id is not None
    caller = Actor(kind="merchant", id=found.id, roles=frozenset({found.role}), user_id=user_id,
                   member_id=actor.member_id, merchant_staff_id=found.id, merchant_id=found.merchant_id,
                   store_id=found.store_id, merchant_standing=actor.merchant_standing,
                   request_id=actor.request_id, ip=actor.ip)
    return replace(found, caller=caller)


async def list_staff(conn: AsyncConnection, manager: Cashier, *, after: int = 0,
                     limit: int | None = None) -> list[dict[str, Any]]:
    """The merchant's working cashiers in id order, those after ``after`` (``limit`` of them when given)."""
    if manager.role != "manager":
        raise Forbidden("not_manager", "只有商家管理员可以查看收银员")
    rows = (await conn.execute(sa.select(merchant_staff).where(merchant_staff.c.merchant_id == manager.merchant_id,
                                                               merchant_staff.c.live_user_id.is_not(None),
                                                               merchant_staff.c.id > after)
                               .order_by(merchant_staff.c.id).limit(limit))).all()
    return [{"id": r.id, "role": r.role, "store_id": r.store_id, "since": r.created_at} for r in rows]


async def remove_staff(conn: AsyncConnection, manager: Cashier, staff_id: int, *, request_id: str | None = None) -> None:
    """A manager removes a working cashier of their merchant, audited (404 cashier_not_found)."""
    if manager.role != "manager":
        raise Forbidden("not_manager", "只有商家管理员可以移除收银员")
    result = await conn.execute(merchant_staff.update().where(
        merchant_staff.c.id == staff_id, merchant_staff.c.merchant_id == manager.merchant_id,
        merchant_staff.c.live_user_id.is_not(None)).values(live_user_id=None, removed_at=utcnow(),
                                                           removed_by=f"merchant:{manager.id}"))
    if result.rowcount != 1:
        raise NotFound("cashier_not_found", "找不到该收银员")
    await audit.record(conn, manager.actor(request_id), "merchant.remove_staff", target_kind="merchant_staff",
                       target_id=staff_id, summary={"merchant_id": manager.merchant_id})


async def list_in_scope(conn: AsyncConnection, actor: Actor, *, type: str | None = None, after: int = 0,
                        limit: int | None = None, status: str | None = None,
                        name: str | None = None) -> list[Merchant]:
    """The merchants signed by the actor's subtree in id order, those after ``after`` (``limit`` when given);
    only those of one type, one status, or whose name contains ``name``, when given."""
    policy.require(actor, "merchant.view")
    query = (sa.select(merchants).join(orgs, orgs.c.id == merchants.c.org_id)
             .where(in_subtree(orgs.c.path, policy.scope(actor)), merchants.c.id > after)
             .order_by(merchants.c.id).limit(limit))
    if type is not None:
        query = query.where(merchants.c.type == type)
    if status is not None:
        query = query.where(merchants.c.status == status)
    if name:
        query = query.where(merchants.c.name.contains(name, autoescape=True))
    return [_merchant(r) for r in (await conn.execute(query)).all()]
