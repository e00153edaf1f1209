"""Staff accounts: creation, login with throttling and lock-outs, and the acting Actor."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy, throttle
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import (
    AppError,
    Conflict,
    Invalid,
    NotFound,
    RateLimited,
    Unauthorized,
)
from models.core.policy import ROLES
from models.core.ports import PasswordHasher
from models.identity import sessions
from models.identity.password_policy import check_policy
from models.identity.tables import staff
from models.network import tree as orgs
from models.network.tables import orgs as orgs_t

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
USER_LIMIT = 5
IP_LIMIT = 30
WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
LOGIN_FAILED = "用户名或密码错误"


@dataclass(frozen=True)
class Staff:
    """A member of staff: username, display name, roles, home unit and whether active."""

    id: int
    username: str
    display_name: str | None
    roles: frozenset[str]
    org: orgs.Org
    active: bool
    #: Set when an admin chose the password: the console lets the account do nothing else until it is changed.
    must_change_password: bool = False

    def view(self) -> dict[str, Any]:
        """The account as the API shows it, roles sorted, with its unit."""
        return {"id": self.id, "username": self.username, "display_name": self.display_name,
                "roles": sorted(self.roles), "org": self.org.view(), "active": self.active}


def parse_roles(roles: Iterable[str]) -> frozenset[str]:
    """Roles from a list whose items may be comma-separated; refuse unknown ones."""
    found = frozenset(r.strip() for item in roles for r in item.split(",") if r.strip())
    if not found:
        raise Invalid("staff_roles_required", "请至少指定一个角色")
    unknown = found - set(ROLES)
    if unknown:
        raise Invalid("staff_role_unknown", "未知角色：" + "、".join(sorted(unknown)) + "；可选：" + "、".join(ROLES))
    return found


async def _from_row(conn: AsyncConnection, row: Any) -> Staff:
    org = await orgs.get(conn, row.org_id)
    return Staff(row.id, row.username, row.display_name, frozenset(filter(None, row.roles.split(","))), org,
                 bool(row.active), bool(row.must_change_password))


async def get(conn: AsyncConnection, staff_id: int) -> Staff:
    """The staff account with this id (404 staff_not_found)."""
    row = (await conn.execute(sa.select(staff).where(staff.c.id == staff_id))).first()
    if row is None:
        raise NotFound("staff_not_found", "找不到该工作人员")
    return await _from_row(conn, row)


async def create(
    conn: AsyncConnection, actor: Actor, *, username: str, password: str, roles: Iterable[str], org_code: str,
    hasher: PasswordHasher, display_name: str | None = None, within: str | None = None,
    must_change_password: bool = False,
) -> Staff:
    """Add a member of staff; with ``within``, the home unit must lie in that subtree; ``must_change_password``
    when someone else chose the password (an admin through the API or the console)."""
    if not USERNAME.match(username):
        raise Invalid("staff_username_format", "用户名为 3–64 位字母、数字、_ . -")
    check_policy(password, username=username)
    role_set = parse_roles(roles)
    org = await orgs.by_code(conn, org_code, within=within)
    if (await conn.execute(sa.select(staff.c.id).where(staff.c.username == username))).first():
        raise Conflict("staff_username_taken", f"用户名 {username} 已被使用")
    password_hash = await hasher.hash(password)
    now = utcnow()
    result = await conn.execute(
        staff.insert().values(username=username, display_name=display_name, password_hash=password_hash,
                              roles=",".join(sorted(role_set)), org_id=org.id, active=True,
                              must_change_password=must_change_password, created_at=now, updated_at=now)
    )
    assert result.inserted_primary_key is not None
    new_id = int(result.inserted_primary_key[0])
    await audit.record(conn, actor, "staff.create", target_kind="staff", target_id=new_id, org_path=org.path,
                       summary={"username": username, "roles": sorted(role_set), "org": org.code})
    return await get(conn, new_id)


async def change_password(conn: AsyncConnection, actor: Actor, *, current: str, new: str,
                          hasher: PasswordHasher, keep_token: str | None = None) -> Staff:
    """The acting member of staff changes their own password: the current one must open the account, the new
    one follow the policy and differ from it; clears ``must_change_password``; every other login of theirs
    ends (``keep_token``, the session changing it, stays): whoever else knew the old password, an
    administrator's initial one included, is out. Audited."""
    row = (await conn.execute(sa.select(staff).where(staff.c.id == actor.id))).first()
    if row is None or not await password_accepted(row, current, hasher):
        raise Invalid("password_current_wrong", "当前密码不正确",
                      details=[{"field": "current", "reason": "当前密码不正确"}])
    try:
        check_policy(new, username=row.username)
    except AppError as exc:
        raise Invalid(exc.code, exc.message, details=[{"field": "new", "reason": exc.message}]) from None
    if new == current:
        raise Invalid("password_unchanged", "新密码不能与当前密码相同",
                      details=[{"field": "new", "reason": "新密码不能与当前密码相同"}])
    await conn.execute(staff.update().where(staff.c.id == row.id).values(
        password_hash=await hasher.hash(new), must_change_password=False, updated_at=utcnow()))
    ended = await sessions.revoke_others(conn, "staff", row.id, keep=keep_token)
    org = await orgs.get(conn, row.org_id)
    await audit.record(conn, actor, "staff.password", target_kind="staff", target_id=row.id, org_path=org.path,
                       summary={"forced": bool(row.must_change_password), "sessions_ended": ended})
    return await get(conn, row.id)


def _retry_after(until: datetime) -> str:
    return str(max(1, int((until - utcnow()).total_seconds()) + 1))


@dataclass(frozen=True)
class LoginKeys:
    """The throttle keys of one login attempt: the username's and the address's."""

    user: str
    ip: str

    @classmethod
    def of(cls, username: str, ip: str | None) -> LoginKeys:
        """The keys for this username (case-insensitive) from this address."""
        return cls("staff-login:user:" + username.lower()[:64], "staff-login:ip:" + (ip or "unknown")[:64])


async def refuse_if_locked(conn: AsyncConnection, keys: LoginKeys) -> None:
    """Refuse (429 with Retry-After) while the address or the username is locked out."""
    for key, code, message in (
        (keys.ip, "rate_limited", "登录尝试过于频繁，请稍后再试"),
        (keys.user, "account_locked", "登录失败次数过多，账号已临时锁定，请稍后再试"),
    ):
        until = await throttle.locked_until(conn, key)
        if until is not None:
            raise RateLimited(code, message, headers={"Retry-After": _retry_after(until)})


async def for_login(conn: AsyncConnection, username: str) -> Any:
    """The account row a login names, or None."""
    return (await conn.execute(sa.select(staff).where(staff.c.username == username))).first()


async def password_accepted(row: Any, password: str, hasher: PasswordHasher) -> bool:
    """Whether the password opens this account (hashed off the loop; as slow for a missing or inactive one)."""
    ok = await hasher.verify(row.password_hash if row is not None else None, password)
    return bool(ok and row is not None and row.active)


async def login_succeeded(conn: AsyncConnection, keys: LoginKeys, row: Any) -> Staff:
    """Forget the username's failures; the account that logged in."""
    await throttle.reset(conn, keys.user)
    return await _from_row(conn, row)


async def login_failed(conn: AsyncConnection, keys: LoginKeys) -> AppError:
    """Count a failure for the address and the username; the refusal to give (a lock-out when it caused one).

    Unknown users, wrong passwords and inactive accounts all get the same 401.
    """
    ip_until = await throttle.fail(conn, keys.ip, limit=IP_LIMIT, window=WINDOW, lock_for=LOCK_FOR)
    user_until = await throttle.fail(conn, keys.user, limit=USER_LIMIT, window=WINDOW, lock_for=LOCK_FOR)
    if user_until is not None:
        return RateLimited("account_locked", "登录失败次数过多，账号已临时锁定，请稍后再试",
                           headers={"Retry-After": _retry_after(user_until)})
    if ip_until is not None:
        return RateLimited("rate_limited", "登录尝试过于频繁，请稍后再试",
                           headers={"Retry-After": _retry_after(ip_until)})
    return Unauthorized("login_failed", LOGIN_FAILED)


async def actor_for(conn: AsyncConnection, staff_id: int, request_id: str | None, ip: str | None) -> Actor:
    """The Actor for a logged-in member of staff; an inactive account is no longer logged in."""
    row = (
        await conn.execute(
            sa.select(staff.c.id, staff.c.roles, staff.c.org_id, staff.c.active, orgs_t.c.path)
            .join_from(staff, orgs_t, orgs_t.c.id == staff.c.org_id)
            .where(staff.c.id == staff_id)
        )
    ).first()
    if row is None or not row.active:
        raise Unauthorized("token_invalid", "登录凭证无效，请重新登录")
    return Actor(kind="staff", id=row.id, roles=frozenset(filter(None, row.roles.split(","))), org_id=row.org_id,
                 org_path=row.path, request_id=request_id, ip=ip)


# --- admins manage the accounts of their subtree (the console's accounts pages) ---


async def list_in_scope(conn: AsyncConnection, within: str, *, after: int = 0, limit: int | None = None,
                        username: str | None = None, active: bool | None = None) -> list[Staff]:
    """The accounts whose home unit lies in the subtree ``within``, in id order after ``after`` (``limit`` when
    given); only those whose username or display name contains ``username``, or of one state, when given."""
    query = (sa.select(staff).join(orgs_t, orgs_t.c.id == staff.c.org_id)
             .where(orgs.in_subtree(orgs_t.c.path, within), staff.c.id > after).order_by(staff.c.id).limit(limit))
    if username:
        query = query.where(sa.or_(staff.c.username.contains(username, autoescape=True),
                                   staff.c.display_name.contains(username, autoescape=True)))
    if active is not None:
        query = query.where(staff.c.active == active)
    return [await _from_row(conn, row) for row in (await conn.execute(query)).all()]


async def get_in_scope(conn: AsyncConnection, staff_id: int, within: str) -> Staff:
    """The account with this id when its home unit lies in the subtree ``within`` (404 staff_not_found alike)."""
    found = await get(conn, staff_id)
    if not found.org.path.startswith(within):
        raise NotFound("staff_not_found", "找不到该工作人员")
    return found


async def set_roles(conn: AsyncConnection, actor: Actor, staff_id: int, roles: Iterable[str], *,
                    within: str) -> Staff:
    """An admin changes the roles of an account of their subtree, audited; nobody changes their own."""
    policy.require(actor, "staff.manage")
    member = await get_in_scope(conn, staff_id, within)
    role_set = parse_roles(roles)
    if member.id == actor.id:
        raise Invalid("staff_self", "不能修改自己的角色", details=[{"field": "roles", "reason": "不能修改自己的角色"}])
    if role_set != member.roles:
        await conn.execute(staff.update().where(staff.c.id == member.id)
                           .values(roles=",".join(sorted(role_set)), updated_at=utcnow()))
        await audit.record(conn, actor, "staff.roles", target_kind="staff", target_id=member.id,
                           org_path=member.org.path,
                           summary={"from": sorted(member.roles), "to": sorted(role_set)})
    return await get(conn, member.id)


async def set_active(conn: AsyncConnection, actor: Actor, staff_id: int, active: bool, *, within: str,
                     reason: str | None = None) -> Staff:
    """An admin locks (inactive: its sessions stop at once, it cannot log in) or unlocks an account of their
    subtree, audited; nobody locks their own."""
    policy.require(actor, "staff.manage")
    member = await get_in_scope(conn, staff_id, within)
    if member.id == actor.id and not active:
        raise Invalid("staff_self", "不能停用自己的账号")
    if member.active != active:
        await conn.execute(staff.update().where(staff.c.id == member.id)
                           .values(active=active, updated_at=utcnow()))
        await audit.record(conn, actor, "staff.unlock" if active else "staff.lock", target_kind="staff",
                           target_id=member.id, org_path=member.org.path, summary={"reason": reason})
    return await get(conn, member.id)


async def usernames(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, str]:
    """The username of each of these accounts (those that exist)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = (await conn.execute(sa.select(staff.c.id, staff.c.username).where(staff.c.id.in_(wanted)))).all()
    return {int(r.id): r.username for r in rows}


async def id_of(conn: AsyncConnection, username: str) -> int | None:
    """The id of the account with this username, or None."""
    return (await conn.execute(sa.select(staff.c.id).where(staff.c.username == username))).scalar_one_or_none()
