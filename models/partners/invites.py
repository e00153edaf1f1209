"""Merchant invites: one-time codes that make a WeChat user a merchant's manager or a store's cashier.

Staff who manage a merchant invite its managers (or cashiers); its manager invites cashiers. A bind
finds its invite by the SHA-256 of the code. The code itself is also kept, encrypted (purpose
``invite_code``), so that while the invite is open (unused and unexpired) whoever could have made it
can read it again and have its mini-program code fetched again: the image comes from WeChat after the
invite is committed, and WeChat may fail. Each reading of a kept code is audited: it is a bearer secret.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Forbidden, Invalid, NotFound
from models.core.ports import PiiCipher
from models.network.tables import orgs
from models.network.tree import in_subtree
from models.partners.partnership import ROLES, Cashier, cashier_for, get
from models.partners.tables import merchant_invites, merchant_staff, merchants, stores

INVITE_TTL = timedelta(days=7)
# No 0/O or 1/I/L: invite codes are read aloud and typed.
_INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVITE_LEN = 12
#: The cipher purpose of a kept invite code.
CODE = "invite_code"


def unusable() -> NotFound:
    """The one answer for an invite that is used, expired, unknown or out of the caller's reach."""
    return NotFound("invite_invalid", "邀请不存在、已使用或已过期")


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Invite:
    """A merchant invite: its id, the one-time code, for which merchant, store and role, and its expiry."""

    id: int
    code: str
    merchant_id: int
    store_id: int | None
    role: str
    expires_at: datetime

    def view(self) -> dict[str, Any]:
        """The invite as the API shows it."""
        return {"id": self.id, "code": self.code, "merchant_id": self.merchant_id, "store_id": self.store_id,
                "role": self.role, "expires_at": self.expires_at}


async def _roles_for(conn: AsyncConnection, actor: Actor, merchant_id: int, by_manager: Cashier | None) -> set[str]:
    """The roles of the merchant's invites the caller may make, and so read again: staff who manage the
    merchant every role, the merchant's own manager the cashiers' only."""
    if by_manager is not None:
        if by_manager.role != "manager" or by_manager.merchant_id != merchant_id:
            raise Forbidden("not_manager", "只有商家管理员可以邀请收银员")
        return {"cashier"}
    policy.require(actor, "merchant.manage")
    await get(conn, merchant_id, within=policy.scope(actor))
    return set(ROLES)


async def create(
    conn: AsyncConnection, cipher: PiiCipher, actor: Actor, merchant_id: int, *, role: str, store_id: int | None,
    by_manager: Cashier | None = None,
) -> Invite:
    """A one-time code: staff invite a merchant's manager; a manager invites the cashiers of a store."""
    allowed = await _roles_for(conn, actor, merchant_id, by_manager)
    if role not in ROLES:
        raise Invalid("invite_role", "角色应为 cashier 或 manager")
    if role not in allowed:
        raise Forbidden("not_manager", "商家管理员只能邀请收银员")
    if store_id is not None:
        owner = (await conn.execute(sa.select(stores.c.merchant_id).where(stores.c.id == store_id))).first()
        if owner is None or owner.merchant_id != merchant_id:
            raise NotFound("store_not_found", "找不到该门店")
    elif role == "cashier":
        raise Invalid("store_required", "收银员邀请须指定门店")
    code = "".join(secrets.choice(_INVITE_ALPHABET) for _ in range(INVITE_LEN))
    now = utcnow()
    result = await conn.execute(merchant_invites.insert().values(
        code_hash=_hash_code(code), code_enc=cipher.encrypt(code, purpose=CODE), merchant_id=merchant_id,
        store_id=store_id, role=role, created_by=f"{actor.kind}:{actor.id}", created_at=now,
        expires_at=now + INVITE_TTL))
    invite_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    await audit.record(conn, actor, "merchant.invite", target_kind="merchant", target_id=merchant_id,
                       summary={"invite_id": invite_id, "role": role, "store_id": store_id})
    return Invite(invite_id, code, merchant_id, store_id, role, now + INVITE_TTL)


def _open(now: datetime) -> Any:
    return sa.and_(merchant_invites.c.used_at.is_(None), merchant_invites.c.expires_at > now)


async def list_open(
    conn: AsyncConnection, cipher: PiiCipher, actor: Actor, merchant_id: int, *, by_manager: Cashier | None = None,
    before: int | None = None, page: int | None = None,
) -> list[dict[str, Any]]:
    """The merchant's open invites that the caller may make, newest first, each with its code (audited).

    The codes are shown because whoever may list them could make another invite of the same kind
    anyway, and a staff member or manager whose WeChat image failed must be able to read the code
    aloud later; what is shown is audited like any other reading of a kept code. With ``page``, one
    invite more than the page is returned (so the caller knows a next page exists) but only the
    page's invites, the ones shown, are named in the audit. ``code`` is null for an invite made
    before codes were kept.
    """
    roles = await _roles_for(conn, actor, merchant_id, by_manager)
    query = (sa.select(merchant_invites)
             .where(merchant_invites.c.merchant_id == merchant_id, merchant_invites.c.role.in_(sorted(roles)),
                    _open(utcnow())))
    if before is not None:
        query = query.where(merchant_invites.c.id < before)
    rows = (await conn.execute(query.order_by(merchant_invites.c.id.desc())
                               .limit(None if page is None else page + 1))).all()
    shown = [r.id for r in (rows if page is None else rows[:page]) if r.code_enc is not None]
    if shown:
        await audit.record(conn, actor, "merchant.invite_reveal", target_kind="merchant", target_id=merchant_id,
                           summary={"invites": shown, "via": "list"})
    return [{"id": r.id, "code": cipher.decrypt(r.code_enc, purpose=CODE) if r.code_enc is not None else None,
             "merchant_id": r.merchant_id, "store_id": r.store_id, "role": r.role, "created_at": r.created_at,
             "expires_at": r.expires_at} for r in rows]


async def reveal(
    conn: AsyncConnection, cipher: PiiCipher, actor: Actor, merchant_id: int, invite_id: int, *,
    by_manager: Cashier | None = None,
) -> Invite:
    """An open invite of the merchant that the caller may make, with its code, to fetch its image again
    (audited); 404 ``invite_invalid`` alike when it is used, expired, unknown, of another merchant, of a
    role the caller may not make, or made before codes were kept."""
    query = (sa.select(merchant_invites, orgs.c.path)
             .join(merchants, merchants.c.id == merchant_invites.c.merchant_id)
             .join(orgs, orgs.c.id == merchants.c.org_id)
             .where(merchant_invites.c.id == invite_id, merchant_invites.c.merchant_id == merchant_id,
                    merchant_invites.c.code_enc.is_not(None), _open(utcnow())))
    if by_manager is not None:
        if by_manager.role != "manager" or by_manager.merchant_id != merchant_id:
            raise unusable()
        query = query.where(merchant_invites.c.role == "cashier")
    else:
        policy.require(actor, "merchant.manage")
        query = query.where(in_subtree(orgs.c.path, policy.scope(actor)))
    row = (await conn.execute(query)).first()
    if row is None:
        raise unusable()
    await audit.record(conn, actor, "merchant.invite_reveal", target_kind="merchant_invite", target_id=row.id,
                       org_path=row.path, summary={"merchant_id": row.merchant_id, "role": row.role,
                                                   "via": "wxa_code"})
    return Invite(row.id, cipher.decrypt(row.code_enc, purpose=CODE), row.merchant_id, row.store_id, row.role,
                  row.expires_at)


async def revoke(conn: AsyncConnection, actor: Actor, merchant_id: int, invite_id: int) -> None:
    """Staff who manage the merchant withdraw an open invite: it expires now (its code binds no one), audited;
    404 ``invite_invalid`` alike when it is used, expired, unknown or of another merchant."""
    await _roles_for(conn, actor, merchant_id, None)
    now = utcnow()
    done = await conn.execute(merchant_invites.update().where(
        merchant_invites.c.id == invite_id, merchant_invites.c.merchant_id == merchant_id, _open(now))
        .values(expires_at=now))
    if done.rowcount != 1:
        raise unusable()
    await audit.record(conn, actor, "merchant.invite_revoke", target_kind="merchant_invite", target_id=invite_id,
                       summary={"merchant_id": merchant_id})


async def bind(conn: AsyncConnection, actor: Actor, code: str) -> Cashier:
    """The acting WeChat user redeems an invite and acts for the store (a previous role of theirs ends)."""
    user_id = actor.user_id if actor.user_id is not None else actor.id
    assert actor.kind == "user" and user_id is not None
    invalid = NotFound("invite_invalid", "邀请码无效或已过期，请向商家管理员索取新的邀请码")
    if not isinstance(code, str) or not 6 <= len(code.strip()) <= 32:
        raise invalid
    now = utcnow()
    row = (await conn.execute(sa.select(merchant_invites).where(merchant_invites.c.code_hash == _hash_code(code))
                              .with_for_update())).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise invalid
    merchant = await get(conn, row.merchant_id)
    if merchant.status != "active":
        raise Forbidden("merchant_suspended", "该商家已暂停合作")
    used = await conn.execute(merchant_invites.update().where(merchant_invites.c.id == row.id,
                                                              merchant_invites.c.used_at.is_(None))
                              .values(used_at=now, used_by=user_id))
    if used.rowcount != 1:
        raise invalid
    await conn.execute(merchant_staff.update().where(merchant_staff.c.live_user_id == user_id)
                       .values(live_user_id=None, removed_at=now, removed_by=f"user:{user_id}"))
    try:
        async with conn.begin_nested():
            result = await conn.execute(merchant_staff.insert().values(
                user_id=user_id, live_user_id=user_id, merchant_id=row.merchant_id, store_id=row.store_id,
                role=row.role, created_at=now))
    except IntegrityError:
        raise Conflict("bind_busy", "正在处理另一个绑定，请稍后重试") from None
    staff_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    cashier = await cashier_for(conn, actor)
    await audit.record(conn, cashier.actor(), "merchant.bind", target_kind="merchant_staff",
                       target_id=staff_id, summary={"merchant_id": row.merchant_id, "role": row.role})
    return cashier
