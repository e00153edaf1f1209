"""WeChat users: found or created by openid at login; phone numbers stored encrypted."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.core.errors import NotFound
from models.core.masking import mask_phone
from models.core.ports import PiiCipher
from models.db.sql import upsert
from models.identity.tables import users

PHONE = "phone"
SESSION_KEY = "wechat_session_key"


@dataclass(frozen=True)
class User:
    """A WeChat user: ids from WeChat, the phone number masked, when they first logged in."""

    id: int
    openid: str
    unionid: str | None
    phone_masked: str | None
    created_at: datetime
    phone_country: str | None = None

    def view(self, member: dict[str, Any] | None = None) -> dict[str, Any]:
        """A visitor until bound to a roster record, then a member."""
        return {
            "id": self.id,
            "roles": ["member"] if member else ["visitor"],
            "phone_masked": self.phone_masked,
            "phone_country": self.phone_country,
            "created_at": self.created_at,
            "member": member,
        }


def _user(row: Any, cipher: PiiCipher) -> User:
    phone = cipher.decrypt(row.phone_enc, purpose=PHONE) if row.phone_enc else None
    return User(
        id=row.id,
        openid=row.openid,
        unionid=row.unionid,
        phone_masked=mask_phone(phone) if phone else None,
        created_at=row.created_at,
        phone_country=row.phone_country,
    )


async def get(conn: AsyncConnection, user_id: int, cipher: PiiCipher) -> User:
    """The user with this id, phone decrypted to its masked form (404 user_not_found)."""
    row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
    if row is None:
        raise NotFound("user_not_found", "用户不存在")
    return _user(row, cipher)


async def login_wechat(
    conn: AsyncConnection,
    cipher: PiiCipher,
    *,
    openid: str,
    unionid: str | None,
    session_key: str,
) -> User:
    """Find the user by openid or create them; keep the unionid when WeChat gives one."""
    now = utcnow()
    session_key_enc = cipher.encrypt(session_key, purpose=SESSION_KEY)
    changes: dict[str, Any] = {"session_key_enc": session_key_enc, "last_login_at": now}
    if unionid:
        changes["unionid"] = unionid
    # One statement, insert or update: concurrent first logins of one person make one row, and on
    # InnoDB none of them waits on a shared lock it must then upgrade (which deadlocks).
    await conn.execute(upsert(conn, users, {"openid": openid, "created_at": now, **changes}, ["openid"], changes))
    row = (await conn.execute(sa.select(users).where(users.c.openid == openid))).one()
    return _user(row, cipher)


async def set_phone(conn: AsyncConnection, cipher: PiiCipher, user_id: int, phone: str,
                    country_code: str = "86") -> User:
    """Store the user's phone encrypted, with a blind index to find it by number, and its country code."""
    await conn.execute(
        users.update()
        .where(users.c.id == user_id)
        .values(
            phone_enc=cipher.encrypt(phone, purpose=PHONE),
            phone_bidx=cipher.blind_index(phone, purpose=PHONE),
            phone_country=country_code,
        )
    )
    return await get(conn, user_id, cipher)
