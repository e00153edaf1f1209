"""Member changes that reach the card: binding issues one, a release kills its codes, leaving cancels it,
a move takes it along.

The cards domain stacks on members, not the reverse, so these flows live here and
handlers, the CLI and scripts call them instead of the members functions they wrap.
``bind_member`` owns its transactions (a failed attempt is counted although the
binding rolls back); the others run in the caller's transaction, like any domain
function, so that the member's change and the card's are both kept or neither.
"""
from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.cards import lifecycle as cards
from models.core.actors import Actor
from models.core.errors import Forbidden, NotFound
from models.core.offload import Offload, inline
from models.core.ports import PiiCipher
from models.members import membership as members
from models.members import transfers
from models.members.roster import RosterParse
from models.network.tree import Org

#: What a member search looks for: the kinds of ``find_members``'s ``by`` ("" guesses from the text).
SEARCH_KINDS = {"name": "姓名", "card": "服务卡号", "id_number": "身份证号", "phone": "手机号"}
_ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
_CARD_NO = re.compile(r"^8\d{15}$")
_PHONE = re.compile(r"^1\d{10}$")


async def claim_membership(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, *, name: str,
                           id_number: str) -> members.Member:
    """Bind the acting worker to their roster record and issue the card a new binding brings (both or neither)."""
    bound = await members.bind(conn, cipher, actor, name=name, id_number=id_number)
    if bound.newly:
        # From here on the worker acts as the member they just became.
        member_actor = replace(actor, member_id=bound.member.id, roles=actor.roles - {"visitor"} | {"member"})
        await cards.issue(conn, member_actor, bound.member.id)
    return bound.member


async def bind_member(engine: AsyncEngine, cipher: PiiCipher, actor: Actor, *, name: str,
                      id_number: str) -> members.Member:
    """A worker claims their record: refused while locked; a wrong name/ID pair is counted and kept.

    Three transactions: the lock check; the binding with its card; and, when the
    pair matched no record, the failure count, committed although the binding
    rolled back (enough of them lock binding for this user).
    """
    user_id = actor.user_id if actor.user_id is not None else actor.id
    if actor.kind != "user" or user_id is None:
        raise Forbidden("forbidden", "没有权限进行此操作")
    async with engine.begin() as conn:
        await members.bind_guard(conn, user_id)
    try:
        async with engine.begin() as conn:
            return await claim_membership(conn, cipher, actor, name=name, id_number=id_number)
    except NotFound:
        async with engine.begin() as conn:
            await members.bind_failed(conn, user_id)
        raise


async def release_binding(conn: AsyncConnection, actor: Actor, member_id: int, *, scope: str) -> members.Member:
    """Staff free a record from its WeChat account; the released phone's codes stop working at once."""
    member = await members.release_binding(conn, actor, member_id, scope=scope)
    await cards.invalidate_codes(conn, member_id)
    return member


async def update_member(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, member_id: int, *,
                        changes: members.MemberChanges) -> members.Member:
    """Staff correct a record; ending the membership cancels the live card (its holder is told)."""
    user_id = await members.bound_user(conn, member_id)  # ending the membership unbinds: ask first
    member = await members.update(conn, cipher, actor, member_id, changes=changes)
    if changes.status == "ended":
        await cards.cancel_for_member(conn, actor, member_id, user_id=user_id)
    return member


async def import_roster(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, parsed: RosterParse, *, org: Org,
                        strict: bool = False, offload: Offload = inline) -> members.ImportReport:
    """Import a roster (``members.import_roster``); the live cards of the members it moved move with them."""
    report = await members.import_roster(conn, cipher, actor, parsed, org=org, strict=strict, offload=offload)
    if report.moved_member_ids:
        await cards.follow_members(conn, report.moved_member_ids)
    return report


async def accept_transfer(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, transfer_id: int) -> transfers.Transfer:
    """The member's unit agrees to a transfer (``transfers.accept``); the live card moves with the member."""
    transfer = await transfers.accept(conn, cipher, actor, transfer_id)
    await cards.follow_members(conn, [transfer.member.id])
    return transfer


def search_kind(text: str, by: str = "") -> str:
    """What a search text is: the ``by`` asked for, else guessed (18 characters an ID number, 16 digits from 8 a
    card number, 11 digits from 1 a phone number, anything else the start of a name)."""
    if by in SEARCH_KINDS:
        return by
    compact = "".join(text.split())
    if _ID_NUMBER.match(compact):
        return "id_number"
    if _CARD_NO.match(compact):
        return "card"
    if _PHONE.match(compact):
        return "phone"
    return "name"


async def find_members(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, *, text: str, by: str = "",
                       org: Org | None = None, after: int = 0, limit: int = 50) -> list[members.Member]:
    """Members of the actor's subtree (or of ``org``'s) by name, card number, ID number (its blind index, as the
    API's search) or phone; a card number finds the holder of that card, live or past. Empty text lists them all."""
    text = text.strip()
    compact = "".join(text.split())
    kind = search_kind(text, by)
    if not text:
        return await members.search(conn, cipher, actor, org=org, after=after, limit=limit)
    if kind == "card":
        holder = await cards.holder_of(conn, compact)
        if holder is None:
            return []
        return await members.search(conn, cipher, actor, org=org, member_ids=[holder], after=after, limit=limit)
    if kind == "id_number":
        return await members.search(conn, cipher, actor, org=org, id_number=compact.upper(), after=after, limit=limit)
    if kind == "phone":
        return await members.search(conn, cipher, actor, org=org, phone=compact, after=after, limit=limit)
    return await members.search(conn, cipher, actor, org=org, name=text, after=after, limit=limit)
