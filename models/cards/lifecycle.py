"""The mutual-aid service card (职工互助服务卡): issuance and its lifecycle.

active ⇄ frozen (staff, with a reason); active/frozen → lost (reported; a new
card with a new number is issued at once) or cancelled (membership ends).
Every change bumps the card's version, which kills every code already shown,
is audited and, when the holder has a WeChat account, notified.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from models.cards.tables import cards
from models.core import audit, policy
from models.core import outbox as notifications
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import AppError, Conflict, Invalid, NotFound
from models.members.tables import members
from models.network.tables import orgs
from models.network.tree import in_subtree

STATUS_LABELS = {"active": "正常", "frozen": "已冻结", "lost": "已挂失", "cancelled": "已注销"}
LIVE = ("active", "frozen")


def luhn_digit(digits: str) -> str:
    """The Luhn check digit for ``digits`` (the same rule as bank cards)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def valid_card_no(card_no: str) -> bool:
    """Sixteen digits starting with 8 whose last digit checks the others."""
    return (len(card_no) == 16 and card_no.isascii() and card_no.isdigit() and card_no[0] == "8"
            and luhn_digit(card_no[:-1]) == card_no[-1])


def new_card_no() -> str:
    """A random card number: it says nothing about its holder, and a typo is caught by the check digit."""
    body = "8" + "".join(secrets.choice("0123456789") for _ in range(14))
    return body + luhn_digit(body)


def display_card_no(card_no: str) -> str:
    """The card number in groups of four digits, as printed."""
    return " ".join(card_no[i:i + 4] for i in range(0, len(card_no), 4))


@dataclass(frozen=True)
class Card:
    """A service card: number, holder, unit, code version, status and the print in force."""

    id: int
    card_no: str
    member_id: int
    org_id: int
    version: int
    status: str
    status_reason: str | None
    print_nonce: str | None
    printed_at: datetime | None
    issued_at: datetime
    replaces_id: int | None

    def view(self) -> dict[str, Any]:
        """The card as the API shows it: number (also grouped), status with its label, issue and print times."""
        return {
            "id": self.id,
            "card_no": self.card_no,
            "card_no_display": display_card_no(self.card_no),
            "status": self.status,
            "status_label": STATUS_LABELS[self.status],
            "status_reason": self.status_reason,
            "issued_at": self.issued_at,
            "printed_at": self.printed_at,
        }


def _card(row: Any) -> Card:
    return Card(row.id, row.card_no, row.member_id, row.org_id, row.version, row.status, row.status_reason,
                row.print_nonce, row.printed_at, row.issued_at, row.replaces_id)


async def get(conn: AsyncConnection, card_id: int, *, lock: bool = False) -> Card:
    """The card with this id, optionally locked for update (404 card_not_found)."""
    query = sa.select(cards).where(cards.c.id == card_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise NotFound("card_not_found", "找不到该服务卡")
    return _card(row)


async def live_for_member(conn: AsyncConnection, member_id: int) -> Card | None:
    """The member's live card, or None when they have none."""
    row = (await conn.execute(sa.select(cards).where(cards.c.live_member_id == member_id))).first()
    return _card(row) if row else None


async def shown_card(conn: AsyncConnection, member_id: int) -> Card | None:
    """The card a holder sees: the live one, else the latest (a card staff cancelled stays cancelled:
    only staff issue the next one); None when the member never had a card."""
    live = await live_for_member(conn, member_id)
    if live is not None:
        return live
    past = await history(conn, member_id)
    return past[0] if past else None


async def history(conn: AsyncConnection, member_id: int) -> list[Card]:
    """Every card the member has had, newest first."""
    rows = (await conn.execute(sa.select(cards).where(cards.c.member_id == member_id)
                               .order_by(cards.c.id.desc()))).all()
    return [_card(r) for r in rows]


async def holder_of(conn: AsyncConnection, card_no: str) -> int | None:
    """The member who holds or held the card with this number (typed with or without spaces), or None."""
    digits = "".join(card_no.split())
    if not valid_card_no(digits):
        return None
    found = (await conn.execute(sa.select(cards.c.member_id).where(cards.c.card_no == digits))).scalar_one_or_none()
    return int(found) if found is not None else None


async def _insert(conn: AsyncConnection, member: Any, *, replaces_id: int | None = None) -> Card:
    now = utcnow()
    for _ in range(5):
        try:
            async with conn.begin_nested():
                result = await conn.execute(cards.insert().values(
                    card_no=new_card_no(), member_id=member.id, live_member_id=member.id, org_id=member.org_id,
                    version=1, status="active", issued_at=now, updated_at=now, replaces_id=replaces_id))
            return await get(conn, int(result.inserted_primary_key[0]))  # type: ignore[index]
        except IntegrityError:
            if await live_for_member(conn, member.id) is not None:
                raise Conflict("card_exists", "该会员已有有效的服务卡") from None
            # else: a card number collision (one in 10^14); draw another
    raise AppError("card_no_exhausted", "暂时无法生成卡号，请重试", status=503)


async def _member_row(conn: AsyncConnection, member_id: int) -> Any:
    row = (await conn.execute(sa.select(members, orgs.c.path).join(orgs, orgs.c.id == members.c.org_id)
                              .where(members.c.id == member_id))).first()
    if row is None:
        raise NotFound("member_not_found", "找不到该会员")
    return row


async def issue(conn: AsyncConnection, actor: Actor, member_id: int) -> Card:
    """The member's live card, issuing one when there is none (idempotent)."""
    if actor.kind == "staff":
        policy.require(actor, "card.manage")  # role before any lookup: a refusal says nothing of the member
    member = await _member_row(conn, member_id)
    if actor.kind == "staff" and not member.path.startswith(policy.scope(actor)):
        raise NotFound("member_not_found", "找不到该会员")  # outside the subtree reads like a missing member
    existing = await live_for_member(conn, member_id)
    if existing is not None:
        return existing
    if member.status != "active":
        raise Conflict("member_inactive", "会员关系已终止，不能发卡")
    try:
        card = await _insert(conn, member)
    except Conflict:
        raced = await live_for_member(conn, member_id)  # issued by a concurrent request: the same answer
        if raced is None:
            raise
        return raced
    await audit.record(conn, actor, "card.issue", target_kind="card", target_id=card.id, org_path=member.path,
                       summary={"member_id": member_id, "card_no": card.card_no})
    if member.user_id is not None:
        await notifications.enqueue(conn, member.user_id, "card.issued", title="服务卡已开通",
                                    body=f"卡号尾号 {card.card_no[-4:]}", page="pages/card/index",
                                    values={"status": "已开通", "card_no": _tail(card.card_no)})
    return card


async def for_staff(conn: AsyncConnection, actor: Actor, card_id: int, action: str = "card.view") -> tuple[Card, Any]:
    """The card and its holder's row when the card lies in the actor's subtree."""
    policy.require(actor, action)
    row = (await conn.execute(
        sa.select(cards.c.id, members.c.id.label("member_id"), orgs.c.path)
        .join(members, members.c.id == cards.c.member_id).join(orgs, orgs.c.id == members.c.org_id)
        .where(cards.c.id == card_id, in_subtree(orgs.c.path, policy.scope(actor))))).first()
    if row is None:
        raise NotFound("card_not_found", "找不到该服务卡")
    return await get(conn, card_id, lock=True), await _member_row(conn, row.member_id)


_NOTICES = {  # title, body, the status as a template's short phrase
    "frozen": ("服务卡已冻结", "如有疑问请联系所在工会", "已冻结"),
    "active": ("服务卡已恢复使用", "可以正常出示服务卡", "已恢复"),
    "lost": ("服务卡已挂失补办", "旧卡已作废，已补发新卡号", "已补办"),
    "cancelled": ("服务卡已注销", "会员关系已终止", "已注销"),
}


def _tail(card_no: str) -> str:
    """A card number as a notice shows it: its last four digits only."""
    return "****" + card_no[-4:]


async def _change(
    conn: AsyncConnection, actor: Actor, card: Card, member: Any, status: str, reason: str | None, action: str,
    *, notify_user: int | None = None,
) -> Card:
    """Move ``card`` to ``status``; the version bump kills every code already shown."""
    values: dict[str, Any] = {"status": status, "status_reason": reason, "version": card.version + 1,
                              "updated_at": utcnow()}
    if status not in LIVE:
        values["live_member_id"] = None
    result = await conn.execute(cards.update().where(cards.c.id == card.id, cards.c.version == card.version)
                                .values(**values))
    if result.rowcount != 1:
        raise Conflict("card_changed", "服务卡状态刚刚发生变化，请刷新后重试")
    await audit.record(conn, actor, action, target_kind="card", target_id=card.id, org_path=member.path,
                       summary={"from": card.status, "to": status, "reason": reason})
    user_id = notify_user if notify_user is not None else member.user_id
    if user_id is not None:
        title, body, phrase = _NOTICES[status]
        await notifications.enqueue(conn, user_id, f"card.{status}", title=title, body=body,
                                    page="pages/card/index", values={"status": phrase, "card_no": _tail(card.card_no)})
    return await get(conn, card.id)


def _reason(reason: str | None, *, required: bool = True) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise Invalid("reason_required", "请填写原因")
    if len(text) > 200:
        raise Invalid("reason_too_long", "原因不能超过 200 字")
    return text or None


async def freeze(conn: AsyncConnection, actor: Actor, card_id: int, *, reason: str) -> Card:
    """Freeze an active card with a reason (staff), audited."""
    card, member = await for_staff(conn, actor, card_id, "card.manage")
    if card.status != "active":
        raise Conflict("card_not_active", f"服务卡{STATUS_LABELS[card.status]}，不能冻结")
    return await _change(conn, actor, card, member, "frozen", _reason(reason), "card.freeze")


async def unfreeze(conn: AsyncConnection, actor: Actor, card_id: int, *, reason: str | None = None) -> Card:
    """Lift a card's freeze (staff), refused once the membership has ended."""
    card, member = await for_staff(conn, actor, card_id, "card.manage")
    if card.status != "frozen":
        raise Conflict("card_not_frozen", "服务卡未被冻结")
    if member.status != "active":
        raise Conflict("member_inactive", "会员关系已终止，不能解冻")
    return await _change(conn, actor, card, member, "active", _reason(reason, required=False), "card.unfreeze")


async def report_lost(conn: AsyncConnection, actor: Actor, card_id: int, *, reason: str | None = None) -> Card:
    """The card is dead at once; the holder gets a new card with a new number. Returns the new card."""
    if actor.kind == "staff":
        card, member = await for_staff(conn, actor, card_id, "card.manage")
    else:
        card = await get(conn, card_id, lock=True)
        member = await _member_row(conn, card.member_id)
        if member.user_id != actor.id:
            raise NotFound("card_not_found", "找不到该服务卡")
    if card.status not in LIVE:
        raise Conflict("card_not_live", f"服务卡{STATUS_LABELS[card.status]}")
    if member.status != "active":
        raise Conflict("member_inactive", "会员关系已终止")
    # The replacement keeps a freeze: reporting a loss must not lift one.
    await _change(conn, actor, card, member, "lost", _reason(reason, required=False) or "挂失", "card.report_lost")
    new = await _insert(conn, member, replaces_id=card.id)
    if card.status == "frozen":
        await conn.execute(cards.update().where(cards.c.id == new.id)
                           .values(status="frozen", status_reason=card.status_reason))
        new = await get(conn, new.id)
    await audit.record(conn, actor, "card.issue", target_kind="card", target_id=new.id, org_path=member.path,
                       summary={"member_id": member.id, "card_no": new.card_no, "replaces": card.id})
    return new


async def cancel(conn: AsyncConnection, actor: Actor, card_id: int, *, reason: str) -> Card:
    """Cancel a live card for good with a reason (staff), audited."""
    card, member = await for_staff(conn, actor, card_id, "card.manage")
    if card.status not in LIVE:
        raise Conflict("card_not_live", f"服务卡{STATUS_LABELS[card.status]}")
    return await _change(conn, actor, card, member, "cancelled", _reason(reason), "card.cancel")


async def cancel_for_member(conn: AsyncConnection, actor: Actor, member_id: int, *, user_id: int | None) -> None:
    """Membership ended: its live card is cancelled in the same transaction."""
    card = await live_for_member(conn, member_id)
    if card is not None:
        member = await _member_row(conn, member_id)
        await _change(conn, actor, await get(conn, card.id, lock=True), member, "cancelled", "会员关系终止",
                      "card.cancel", notify_user=user_id)


async def follow_members(conn: AsyncConnection, member_ids: list[int]) -> None:
    """Members moved to another unit: their live cards move with them (issued and printed there from now on)."""
    unit = sa.select(members.c.org_id).where(members.c.id == cards.c.live_member_id).scalar_subquery()
    for start in range(0, len(member_ids), 1000):
        await conn.execute(cards.update().where(cards.c.live_member_id.in_(member_ids[start:start + 1000]))
                           .values(org_id=unit))


async def invalidate_codes(conn: AsyncConnection, member_id: int) -> None:
    """Kill the codes already shown for the member's live card (its WeChat binding was released)."""
    await conn.execute(cards.update().where(cards.c.live_member_id == member_id)
                       .values(version=cards.c.version + 1, updated_at=utcnow()))


async def reprint(conn: AsyncConnection, actor: Actor, card_id: int) -> Card:
    """A new printed card: a new print nonce, so the previous print stops working."""
    card, member = await for_staff(conn, actor, card_id, "card.print")
    if card.status != "active":
        raise Conflict("card_not_active", f"服务卡{STATUS_LABELS[card.status]}，不能制卡")
    now = utcnow()
    nonce = secrets.token_bytes(8).hex()
    await conn.execute(cards.update().where(cards.c.id == card.id).values(print_nonce=nonce, printed_at=now,
                                                                          updated_at=now))
    await audit.record(conn, actor, "card.print", target_kind="card", target_id=card.id, org_path=member.path,
                       summary={"replaces_print": card.print_nonce is not None})
    return await get(conn, card.id)


async def org_name(conn: AsyncConnection, org_id: int) -> str:
    """The name of the unit with this id."""
    return str((await conn.execute(sa.select(orgs.c.name).where(orgs.c.id == org_id))).scalar_one())


async def audit_print_download(conn: AsyncConnection, actor: Actor, card: Card, org_path: str, fmt: str) -> None:
    """A printed card's code is a long-lived credential: every download is on record."""
    await audit.record(conn, actor, "card.print_download", target_kind="card", target_id=card.id, org_path=org_path,
                       summary={"format": fmt})


async def issued_between(conn: AsyncConnection, org_path: str, since: datetime, until: datetime) -> list[Any]:
    """(issued_at, whether it replaces another card) of the cards issued in [since, until) to units of the
    subtree at ``org_path``: what the statistics count as cards issued (新发) and reissued (补换)."""
    return list((await conn.execute(
        sa.select(cards.c.issued_at, cards.c.replaces_id.is_not(None).label("reissue"))
        .join(orgs, orgs.c.id == cards.c.org_id)
        .where(in_subtree(orgs.c.path, org_path), cards.c.issued_at >= since, cards.c.issued_at < until))).all())
