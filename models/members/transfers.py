"""Member transfers (会籍转接): a unit asks for a member whose record another unit holds.

A roster import that names a person who is a member outside the importer's subtree
does not touch the record and says nothing about it but "a transfer was requested"
(models/members.py). The request goes to the staff whose subtree holds the member:
they see who asks and whether the name given matches, and accept (the member moves,
with the roster's employer and phone) or refuse with a reason. The asking side sees
its own requests and their status, never the member's unit or recorded name. The
asking side may withdraw a pending request.

While a request is pending its ``from_org`` is the member's unit: when the member
moves meanwhile the request follows them (``follow_member``), or is granted when
they moved into the asking unit's subtree.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Invalid, NotFound
from models.core.masking import mask_id_number, mask_phone
from models.core.ports import PiiCipher
from models.db.sql import insert_ignore
from models.identity.accounts import PHONE
from models.members import membership as members
from models.members.roster import normalize_name
from models.members.tables import member_transfers
from models.members.tables import members as members_t
from models.network import tree as orgs
from models.network.tables import orgs as orgs_t
from models.network.tree import Org, in_subtree

STATUS_LABELS = {"pending": "待处理", "accepted": "已同意转入", "refused": "已拒绝", "cancelled": "已撤回"}
DIRECTIONS = ("incoming", "outgoing")
_NOT_FOUND = ("transfer_not_found", "找不到该转入申请")


@dataclass(frozen=True)
class Ask:
    """One roster row asking for a member held outside the importer's subtree."""

    member_id: int
    from_org_id: int
    to_org: Org
    name: str
    employer: str | None
    phone: str | None


@dataclass(frozen=True)
class Unit:
    """A unit as a transfer shows it: id, code and name."""

    id: int
    code: str
    name: str

    def view(self) -> dict[str, Any]:
        """The unit as the API shows it."""
        return {"id": self.id, "code": self.code, "name": self.name}


@dataclass(frozen=True)
class Transfer:
    """A transfer request: from which unit to which, the roster's details, the member, and its outcome."""

    id: int
    status: str
    from_org: Unit
    to_org: Unit
    name: str  # as the roster gave it
    employer: str | None
    phone: str | None
    id_last4: str
    member: members.Member
    created_at: datetime
    decided_at: datetime | None
    reason: str | None

    def _common(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status, "status_label": STATUS_LABELS[self.status],
            "to_org": self.to_org.view(), "name": self.name,
            "id_number_masked": mask_id_number("*" * 14 + self.id_last4),
            "employer": self.employer, "phone_masked": mask_phone(self.phone) if self.phone else None,
            "created_at": self.created_at, "decided_at": self.decided_at, "reason": self.reason,
        }

    def incoming_view(self) -> dict[str, Any]:
        """What the member's unit sees: their member (while the request is pending) and who asks."""
        pending = self.status == "pending"
        return {
            **self._common(),
            "from_org": self.from_org.view(),
            "member_id": self.member.id,
            "member": self.member.view() if pending else None,
            "name_matches": normalize_name(self.member.name) == normalize_name(self.name) if pending else None,
        }

    def outgoing_view(self) -> dict[str, Any]:
        """What the asking unit sees: what it gave, and the status; nothing of the member's unit or record."""
        return self._common()


_from = orgs_t.alias("from_org")
_to = orgs_t.alias("to_org")


def _select() -> sa.Select[Any]:
    t, m = member_transfers.c, members_t.c
    return (
        sa.select(t.id, t.status, t.from_org_id, t.to_org_id, t.name, t.employer, t.phone_enc, t.created_at,
                  t.decided_at, t.reason, m.id.label("m_id"), m.name.label("m_name"), m.id_last4, m.gender,
                  m.birth_date, m.employer.label("m_employer"), m.org_id.label("m_org_id"),
                  m.status.label("m_status"), m.user_id, _from.c.code.label("from_code"),
                  _from.c.name.label("from_name"), _to.c.code.label("to_code"), _to.c.name.label("to_name"))
        .join(members_t, m.id == t.member_id)
        .join(_from, _from.c.id == t.from_org_id)
        .join(_to, _to.c.id == t.to_org_id)
    )


def _transfer(cipher: PiiCipher, row: Any) -> Transfer:
    member = members.Member(row.m_id, row.m_name, row.id_last4, row.gender, row.birth_date, row.m_employer,
                            row.m_org_id, row.m_status, row.user_id)
    return Transfer(
        row.id, row.status, Unit(row.from_org_id, row.from_code, row.from_name),
        Unit(row.to_org_id, row.to_code, row.to_name), row.name, row.employer,
        cipher.decrypt(row.phone_enc, purpose=PHONE) if row.phone_enc else None, row.id_last4, member,
        row.created_at, row.decided_at, row.reason,
    )


async def _get(conn: AsyncConnection, cipher: PiiCipher, transfer_id: int) -> Transfer:
    return _transfer(cipher, (await conn.execute(_select().where(member_transfers.c.id == transfer_id))).one())


async def request_many(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, asks: list[Ask]) -> None:
    """Ask each member's unit for a transfer; a pending request of the same unit is refreshed, not repeated."""
    policy.require(actor, "member_transfer.request")
    now = utcnow()
    for ask in asks:
        phone_enc = cipher.encrypt(ask.phone, purpose=PHONE) if ask.phone else None
        result = await conn.execute(insert_ignore(member_transfers).values(
            member_id=ask.member_id, pending_member_id=ask.member_id, from_org_id=ask.from_org_id,
            to_org_id=ask.to_org.id, requested_by=actor.id, status="pending", name=ask.name,
            employer=ask.employer, phone_enc=phone_enc, created_at=now, updated_at=now))
        if result.rowcount == 1:
            transfer_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            # The asking side's record: it names no more than the asking side may know.
            await audit.record(conn, actor, "member.transfer_request", target_kind="member_transfer",
                               target_id=transfer_id, org_path=ask.to_org.path, summary={"to_org_id": ask.to_org.id})
            continue
        # Asked before and still pending: keep one request, with the latest roster's details.
        old = (await conn.execute(sa.select(member_transfers).where(
            member_transfers.c.pending_member_id == ask.member_id,
            member_transfers.c.to_org_id == ask.to_org.id).with_for_update())).one()
        old_phone = cipher.decrypt(old.phone_enc, purpose=PHONE) if old.phone_enc else None
        if (old.name, old.employer, old_phone) == (ask.name, ask.employer, ask.phone):
            continue
        await conn.execute(member_transfers.update().where(member_transfers.c.id == old.id).values(
            name=ask.name, employer=ask.employer, phone_enc=phone_enc, updated_at=now))
        await audit.record(conn, actor, "member.transfer_request", target_kind="member_transfer", target_id=old.id,
                           org_path=ask.to_org.path, summary={"to_org_id": ask.to_org.id, "refreshed": True})


async def listing(
    conn: AsyncConnection, cipher: PiiCipher, actor: Actor, *, direction: str, status: str | None = None,
    member_id: int | None = None, after: int = 0, limit: int = 50,
) -> list[Transfer]:
    """Requests for members of the actor's subtree (incoming) or asked by units of it (outgoing), oldest first;
    ``member_id`` keeps one member's."""
    policy.require(actor, "member_transfer.view")
    if direction not in DIRECTIONS:
        raise Invalid("invalid_query", "direction 只能为 incoming 或 outgoing")
    if status is not None and status not in STATUS_LABELS:
        raise Invalid("invalid_query", "status 只能为 " + "、".join(STATUS_LABELS))
    side = _from if direction == "incoming" else _to
    query = (_select().where(in_subtree(side.c.path, policy.scope(actor)), member_transfers.c.id > after)
             .order_by(member_transfers.c.id).limit(limit))
    if status is not None:
        query = query.where(member_transfers.c.status == status)
    if member_id is not None:
        query = query.where(member_transfers.c.member_id == member_id)
    return [_transfer(cipher, r) for r in (await conn.execute(query)).all()]


async def _pending_in(conn: AsyncConnection, actor: Actor, transfer_id: int, side: Any) -> Any:
    """The request, locked, when ``side`` (its from- or to-unit) lies in the actor's subtree; else not found."""
    found = (await conn.execute(
        sa.select(member_transfers.c.id).join(side, side.c.id == (
            member_transfers.c.from_org_id if side is _from else member_transfers.c.to_org_id))
        .where(member_transfers.c.id == transfer_id, in_subtree(side.c.path, policy.scope(actor))))).first()
    if found is None:
        raise NotFound(*_NOT_FOUND)
    row = (await conn.execute(sa.select(member_transfers).where(member_transfers.c.id == transfer_id)
                              .with_for_update())).one()
    if row.status != "pending":
        raise Conflict("transfer_decided", f"该申请{STATUS_LABELS[row.status]}，不能再处理")
    return row


async def accept(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, transfer_id: int) -> Transfer:
    """The member's unit agrees: the member moves to the asking unit with the roster's employer and phone."""
    policy.require(actor, "member_transfer.decide")
    row = await _pending_in(conn, actor, transfer_id, _from)
    member = (await conn.execute(sa.select(members_t.c.id, members_t.c.org_id, members_t.c.user_id,
                                           members_t.c.employer, members_t.c.phone_bidx)
                                 .where(members_t.c.id == row.member_id).with_for_update())).one()
    if member.org_id != row.from_org_id:
        raise Conflict("transfer_stale", "该会员的所属单位刚刚发生变化，请刷新后重试")
    # The roster row's details, where it gave any that differ from the record.
    values: dict[str, Any] = {}
    if row.employer and row.employer != member.employer:
        values["employer"] = row.employer
    phone_bidx = cipher.blind_index(cipher.decrypt(row.phone_enc, purpose=PHONE), purpose=PHONE) \
        if row.phone_enc else None
    if phone_bidx and phone_bidx != member.phone_bidx:
        values.update(phone_enc=row.phone_enc, phone_bidx=phone_bidx)
    # The move grants this request (and any other the move satisfies), audited there.
    await members.move(conn, actor, member, await orgs.get(conn, row.to_org_id), values=values)
    return await _get(conn, cipher, transfer_id)


async def refuse(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, transfer_id: int, *, reason: str) -> Transfer:
    """The member's unit says no, with a reason the asking side will read; the member stays."""
    policy.require(actor, "member_transfer.decide")
    why = (reason or "").strip()
    if not why:
        raise Invalid("reason_required", "请填写拒绝的原因（对方可见）")
    if len(why) > 200:
        raise Invalid("reason_too_long", "原因不能超过 200 字")
    row = await _pending_in(conn, actor, transfer_id, _from)
    await _decide(conn, actor, row, "refused", why)
    from_path = (await conn.execute(sa.select(orgs_t.c.path).where(orgs_t.c.id == row.from_org_id))).scalar_one()
    await audit.record(conn, actor, "member.transfer_refuse", target_kind="member_transfer", target_id=transfer_id,
                       org_path=from_path, summary={"member_id": row.member_id, "to_org_id": row.to_org_id,
                                                    "reason": why})
    return await _get(conn, cipher, transfer_id)


async def cancel(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, transfer_id: int) -> Transfer:
    """The asking side withdraws its pending request."""
    policy.require(actor, "member_transfer.request")
    row = await _pending_in(conn, actor, transfer_id, _to)
    await _decide(conn, actor, row, "cancelled", None)
    to_path = (await conn.execute(sa.select(orgs_t.c.path).where(orgs_t.c.id == row.to_org_id))).scalar_one()
    await audit.record(conn, actor, "member.transfer_cancel", target_kind="member_transfer", target_id=transfer_id,
                       org_path=to_path, summary={"to_org_id": row.to_org_id})
    return await _get(conn, cipher, transfer_id)


async def _decide(conn: AsyncConnection, actor: Actor, row: Any, status: str, reason: str | None) -> None:
    done = await conn.execute(member_transfers.update().where(
        member_transfers.c.id == row.id, member_transfers.c.status == "pending").values(
        status=status, pending_member_id=None, reason=reason, decided_by=actor.id if actor.kind == "staff" else None,
        decided_at=utcnow(), updated_at=utcnow()))
    if done.rowcount != 1:
        raise Conflict("transfer_decided", "该申请刚刚已被处理，请刷新")


async def follow_member(conn: AsyncConnection, actor: Actor, member_id: int, to_org: Org) -> None:
    """A member moved to ``to_org``: grant the pending requests this satisfies; the others follow the member."""
    pending = (await conn.execute(
        sa.select(member_transfers.c.id, member_transfers.c.from_org_id, member_transfers.c.to_org_id, _to.c.path)
        .join(_to, _to.c.id == member_transfers.c.to_org_id)
        .where(member_transfers.c.pending_member_id == member_id))).all()
    for p in pending:
        if to_org.path.startswith(p.path):
            await _decide(conn, actor, p, "accepted", None)
            await audit.record(conn, actor, "member.transfer_accept", target_kind="member_transfer", target_id=p.id,
                               org_path=to_org.path, summary={"member_id": member_id, "from_org_id": p.from_org_id,
                                                              "to_org_id": p.to_org_id})
        else:
            await conn.execute(member_transfers.update().where(member_transfers.c.id == p.id)
                               .values(from_org_id=to_org.id, updated_at=utcnow()))
