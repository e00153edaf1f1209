"""Union members: real-name records, roster import, and a worker claiming their record."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any, Literal, NamedTuple, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, throttle
from models.core import outbox as notifications
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Invalid, NotFound, RateLimited
from models.core.masking import mask_id_number, mask_name
from models.core.offload import Offload, inline
from models.core.ports import PiiCipher
from models.core.typed import Body, Date, text
from models.identity.accounts import PHONE
from models.members.idcard import parse_id_number
from models.members.roster import RosterParse, RosterRow, RowProblem, normalize_name
from models.members.tables import hardship_records, members
from models.network.tables import orgs
from models.network.tree import Org, in_subtree

ID_NUMBER = "id_number"
BIND_LIMIT = 5
BIND_WINDOW = timedelta(hours=1)
CHUNK = 1000


@dataclass(frozen=True)
class Member:
    """A roster member: name, last four of the ID number, gender, birth date, employer, unit, binding."""

    id: int
    name: str
    id_last4: str
    gender: str
    birth_date: date
    employer: str | None
    org_id: int
    status: str
    user_id: int | None

    def view(self) -> dict[str, Any]:
        """The masked view: what a worker sees of themself and what most staff see."""
        return {
            "id": self.id,
            "name_masked": mask_name(self.name),
            "id_number_masked": mask_id_number("*" * 14 + self.id_last4),
            "gender": self.gender,
            "employer": self.employer,
            "org_id": self.org_id,
            "status": self.status,
            "bound": self.user_id is not None,
        }


def _member(row: Any) -> Member:
    return Member(row.id, row.name, row.id_last4, row.gender, row.birth_date, row.employer, row.org_id,
                  row.status, row.user_id)


async def for_user(conn: AsyncConnection, user_id: int) -> Member | None:
    """The member bound to this WeChat user, or None."""
    row = (await conn.execute(sa.select(members).where(members.c.user_id == user_id))).first()
    return _member(row) if row else None


@dataclass
class ImportReport:
    """What an import did, by row; ``problems`` and ``notices`` carry the file's line numbers.

    ``problems`` are rows refused (fix and import again); ``notices`` are rows taken
    care of another way: a person who is a member outside the importer's subtree gets
    ``transfer_requested``, whatever their name and wherever they are, so the report
    says nothing more about them than that.
    """

    total: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    transfer_requested: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    notices: list[RowProblem] = field(default_factory=list)
    committed: bool = False
    #: The members this import moved to another unit (what follows a member is moved by the caller's use case).
    moved_member_ids: list[int] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        """The report as the API answers it: counts, refused rows, committed, problems and notices."""
        def rows(entries: list[RowProblem]) -> list[dict[str, Any]]:
            return [{"line": p.line, "field": p.field, "code": p.code, "reason": p.reason} for p in entries]

        return {
            "total": self.total, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "moved": self.moved, "transfer_requested": self.transfer_requested,
            "refused": len({p.line for p in self.problems}), "committed": self.committed,
            "problems": rows(self.problems), "notices": rows(self.notices),
        }


TRANSFER_REQUESTED = "该身份证号已在其他单位登记会籍，已向其所属单位发起转入申请，待对方确认"


async def import_roster(
    conn: AsyncConnection, cipher: PiiCipher, actor: Actor, parsed: RosterParse, *, org: Org, strict: bool = False,
    offload: Offload = inline,
) -> ImportReport:
    """Import every valid row into ``org`` (or the unit its 所属工会 names, inside ``org``'s subtree).

    Idempotent by ID number. A known person inside the actor's subtree with the same
    name is updated or left as is, and moved to the row's unit unless they already
    are in it or below it. A known person outside the actor's subtree is never
    written: the row asks their unit for a transfer (one pending request per unit
    and member) and reads the same whether the name matched or not. With ``strict``,
    any problem means nothing is written. The blind indexes and the encryption of the rows
    (the import's CPU work) run through ``offload``: a server passes its worker pool.
    """
    from models.core import policy
    from models.members import transfers

    within = policy.reach(actor)
    report = ImportReport(total=parsed.total, problems=list(parsed.problems))
    unit_codes = {r.org for r in parsed.rows if r.org}
    units: dict[str, Org] = {}
    if unit_codes:
        rows = (await conn.execute(sa.select(orgs).where(
            orgs.c.code.in_(unit_codes), in_subtree(orgs.c.path, org.path)))).all()
        units = {r.code: Org(r.id, r.code, r.name, r.type, r.parent_id, r.path, r.depth) for r in rows}
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    moves: list[tuple[Any, Org, dict[str, Any]]] = []
    asks: list[tuple[int, transfers.Ask]] = []
    for start in range(0, len(parsed.rows), CHUNK):
        chunk = parsed.rows[start:start + CHUNK]
        indexes = await offload(_blind_indexes, cipher, chunk)
        keyed = {bidx: (r, phone_bidx) for r, (bidx, phone_bidx) in zip(chunk, indexes)}
        existing = {
            row.id_number_bidx: row
            for row in (await conn.execute(sa.select(
                members.c.id, members.c.id_number_bidx, members.c.name, members.c.employer, members.c.phone_bidx,
                members.c.org_id, members.c.user_id, orgs.c.path).join(orgs, orgs.c.id == members.c.org_id)
                .where(members.c.id_number_bidx.in_(list(keyed))))).all()
        }
        for bidx, (r, phone_bidx) in keyed.items():
            unit = org
            if r.org:
                if r.org not in units:
                    report.problems.append(RowProblem(r.line, "org", "org_not_found",
                                                      f"所属工会 {r.org} 不存在或不在 {org.name} 之下"))
                    continue
                unit = units[r.org]
            old = existing.get(bidx)
            if old is None:
                inserts.append({
                    "name": r.name, "_id_number": r.id_number.value,
                    "id_number_bidx": bidx, "id_last4": r.id_number.value[-4:],
                    "_phone": r.phone,
                    "phone_bidx": phone_bidx, "gender": r.id_number.gender, "birth_date": r.id_number.birth_date,
                    "employer": r.employer, "org_id": unit.id, "status": "active", "joined_on": now.date(),
                    "created_at": now, "updated_at": now,
                })
                continue
            if not old.path.startswith(within):
                # Outside the importer's subtree: nothing about the record (its name, its unit,
                # whether anything would change) may shape the answer, so it is not even compared.
                asks.append((r.line, transfers.Ask(member_id=old.id, from_org_id=old.org_id, to_org=unit,
                                                   name=r.name, employer=r.employer, phone=r.phone)))
                continue
            if normalize_name(old.name) != r.name:
                report.problems.append(RowProblem(r.line, "name", "name_mismatch",
                                                  "该身份证号已登记为另一个姓名，请核对"))
                continue
            change: dict[str, Any] = {}
            if (r.employer or old.employer) != old.employer:
                change["employer"] = r.employer
            if phone_bidx and phone_bidx != old.phone_bidx:
                change["_phone"] = r.phone or ""
                change["phone_bidx"] = phone_bidx
            if not old.path.startswith(unit.path):
                # Inside the subtree the importer has the authority over both units: the roster
                # is obeyed at once (a person already in the row's unit or below it stays put).
                moves.append((old, unit, change))
            elif change:
                updates.append({"_id": old.id, "updated_at": now, **change})
            else:
                report.unchanged += 1
    report.problems.sort(key=lambda p: p.line)
    if strict and report.problems:
        return report
    # The values' "_id_number"/"_phone" are encrypted into their columns, all at once, off the loop.
    await offload(_seal, cipher, [*inserts, *updates, *(change for _, _, change in moves)])
    if inserts:
        for start in range(0, len(inserts), CHUNK):
            await conn.execute(members.insert(), inserts[start:start + CHUNK])
    for change in updates:
        member_id = change.pop("_id")
        await conn.execute(members.update().where(members.c.id == member_id).values(**change))
    for old, unit, change in moves:
        await move(conn, actor, old, unit, values=change)
    if asks:
        await transfers.request_many(conn, cipher, actor, [ask for _, ask in asks])
    report.notices = [RowProblem(line, "id_number", "transfer_requested", TRANSFER_REQUESTED) for line, _ in asks]
    report.created, report.updated, report.moved = len(inserts), len(updates), len(moves)
    report.moved_member_ids = [old.id for old, _, _ in moves]
    report.transfer_requested, report.committed = len(asks), True
    await audit.record(conn, actor, "member.import", target_kind="org", target_id=org.id, org_path=org.path,
                       summary={k: v for k, v in report.view().items() if k not in ("problems", "notices")})
    return report


def _blind_indexes(cipher: PiiCipher, rows: list[RosterRow]) -> list[tuple[str, str | None]]:
    """(ID number, phone) blind indexes of each row (CPU work: run it off the event loop)."""
    return [(cipher.blind_index(r.id_number.value, purpose=ID_NUMBER),
             cipher.blind_index(r.phone, purpose=PHONE) if r.phone else None) for r in rows]


def _seal(cipher: PiiCipher, pending: list[dict[str, Any]]) -> None:
    """Encrypt each value set's "_id_number" and "_phone" into their columns, in place (CPU work)."""
    for values in pending:
        if "_id_number" in values:
            values["id_number_enc"] = cipher.encrypt(values.pop("_id_number"), purpose=ID_NUMBER)
        if "_phone" in values:
            phone = values.pop("_phone")
            values["phone_enc"] = cipher.encrypt(phone, purpose=PHONE) if phone else None


async def move(
    conn: AsyncConnection, actor: Actor, member: Any, to_org: Org, *, values: dict[str, Any] | None = None,
) -> None:
    """Move a member (a row with ``id``, ``org_id``, ``user_id``) to ``to_org``, with what follows them; audited.

    An active hardship record moves too (the new unit re-checks it from now on), and one waiting for
    confirmation (the new unit confirms it).
    Pending transfer requests for them are granted when the member now lies in the
    asking unit's subtree, and otherwise follow them to their new unit, whose staff
    decide them from now on. Their live card is the cards domain's: its use cases
    (models/cards/usecases.py) move it after this.
    """
    from models.members import transfers

    now = utcnow()
    await conn.execute(members.update().where(members.c.id == member.id)
                       .values(org_id=to_org.id, updated_at=now, **(values or {})))
    await conn.execute(hardship_records.update().where(hardship_records.c.member_id == member.id,
                                                       hardship_records.c.status.in_(("active", "pending")))
                       .values(org_id=to_org.id))
    fields = sorted({k.removesuffix("_enc") for k in values or {} if not k.endswith("_bidx")})
    await audit.record(conn, actor, "member.move", target_kind="member", target_id=member.id, org_path=to_org.path,
                       summary={"from_org_id": member.org_id, "to_org_id": to_org.id, "fields": fields})
    await transfers.follow_member(conn, actor, member.id, to_org)
    if member.user_id is not None:
        await notifications.enqueue(conn, member.user_id, "member.moved", title="会籍已转接",
                                    body=f"现属{to_org.name}", values={"status": "已转接"})


def _bind_key(user_id: int) -> str:
    return f"bind:{user_id}"


async def bind_guard(conn: AsyncConnection, user_id: int) -> None:
    """Refuse while this user's binding is locked after too many wrong tries."""
    until = await throttle.locked_until(conn, _bind_key(user_id))
    if until is not None:
        minutes = max(1, int((until - utcnow()).total_seconds() // 60) + 1)
        raise RateLimited("bind_locked", f"核对失败次数过多，请 {minutes} 分钟后再试，或到服务站办理",
                          headers={"Retry-After": str(minutes * 60)})


async def bind_failed(conn: AsyncConnection, user_id: int) -> None:
    """Count one wrong name/ID pair (in its own transaction: it must stay though binding fails)."""
    await throttle.fail(conn, _bind_key(user_id), limit=BIND_LIMIT, window=BIND_WINDOW, lock_for=BIND_WINDOW)


class Bound(NamedTuple):
    """A bound member, and whether this call bound them (False: they already were, to this user)."""

    member: Member
    newly: bool


async def bind(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, *, name: str, id_number: str) -> Bound:
    """Link the acting WeChat user to the roster record with this name and ID number.

    A wrong pair never says which half was wrong. Raises NotFound ``member_not_found``
    (counted by the caller as a failure) or Conflict ``already_bound``. The card a
    new binding brings is issued by models/cards/usecases.py.
    """
    not_found = NotFound("member_not_found", "未找到与姓名和身份证号相符的会员记录，请核对或联系所在工会")
    user_id = actor.user_id if actor.user_id is not None else actor.id
    assert actor.kind == "user" and user_id is not None
    try:
        parsed = parse_id_number(id_number)
    except Invalid:
        raise not_found from None
    row = (await conn.execute(
        sa.select(members).where(members.c.id_number_bidx == cipher.blind_index(parsed.value, purpose=ID_NUMBER))
        .with_for_update())).first()
    if row is None or normalize_name(row.name) != normalize_name(name) or row.status != "active":
        raise not_found
    if row.user_id == user_id:
        return Bound(_member(row), False)
    if row.user_id is not None:
        raise Conflict("already_bound", "该会员已绑定其他微信账号，请到所在工会服务站办理解绑")
    if await for_user(conn, user_id) is not None:
        raise Conflict("user_already_member", "您的微信账号已绑定会员")
    await conn.execute(members.update().where(members.c.id == row.id, members.c.user_id.is_(None))
                       .values(user_id=user_id, bound_at=utcnow(), updated_at=utcnow()))
    await throttle.reset(conn, _bind_key(user_id))
    return Bound(_member((await conn.execute(sa.select(members).where(members.c.id == row.id))).one()), True)


async def release_binding(conn: AsyncConnection, actor: Actor, member_id: int, *, scope: str) -> Member:
    """Staff free a record bound to a WeChat account (lost phone, wrong person); audited.

    The released phone's card codes are killed by the caller's use case (models/cards/usecases.py).
    """
    row, path = await get_in_scope(conn, member_id, scope)
    await conn.execute(members.update().where(members.c.id == member_id)
                       .values(user_id=None, bound_at=None, updated_at=utcnow()))
    await audit.record(conn, actor, "member.release_binding", target_kind="member", target_id=member_id,
                       org_path=path, summary={"user_id": row.user_id})
    return _member((await conn.execute(sa.select(members).where(members.c.id == member_id))).one())


async def bound_user(conn: AsyncConnection, member_id: int) -> int | None:
    """The WeChat user the member is bound to now, the row locked for the caller's change."""
    return (await conn.execute(sa.select(members.c.user_id).where(members.c.id == member_id)
                               .with_for_update())).scalar_one_or_none()


async def search(
    conn: AsyncConnection, cipher: PiiCipher, actor: Actor, *, id_number: str | None = None,
    phone: str | None = None, org: Org | None = None, name: str | None = None,
    member_ids: Sequence[int] | None = None, after: int = 0, limit: int = 50,
) -> list[Member]:
    """Members in the actor's subtree, found by exact ID number or phone (blind index), by the start of
    their name, among ``member_ids`` (a card number's holder), or by unit."""
    from models.core import policy

    query = (sa.select(members).join(orgs, orgs.c.id == members.c.org_id)
             .where(in_subtree(orgs.c.path, (org.path if org else policy.scope(actor))), members.c.id > after)
             .order_by(members.c.id).limit(limit))
    if member_ids is not None:
        query = query.where(members.c.id.in_(list(member_ids)[:CHUNK]))
    if name:
        wanted = normalize_name(name)
        if not wanted:
            return []
        escaped = wanted.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        query = query.where(members.c.name.like(escaped + "%", escape="\\"))
    if id_number:
        try:
            value = parse_id_number(id_number).value
        except Invalid:
            return []
        query = query.where(members.c.id_number_bidx == cipher.blind_index(value, purpose=ID_NUMBER))
    if phone:
        query = query.where(members.c.phone_bidx == cipher.blind_index(phone, purpose=PHONE))
    return [_member(r) for r in (await conn.execute(query)).all()]


async def get_in_scope(conn: AsyncConnection, member_id: int, scope: str) -> tuple[Any, str]:
    """The member row and its unit's path; not found when outside ``scope``."""
    row = (await conn.execute(sa.select(members, orgs.c.path).join(orgs, orgs.c.id == members.c.org_id)
                              .where(members.c.id == member_id, in_subtree(orgs.c.path, scope)))).first()
    if row is None:
        raise NotFound("member_not_found", "找不到该会员")
    return row, row.path


async def get_for_staff(conn: AsyncConnection, actor: Actor, member_id: int) -> Member:
    """A member of the actor's subtree, masked when shown (``member_not_found`` outside it)."""
    from models.core import policy

    policy.require(actor, "member.view")
    row, _ = await get_in_scope(conn, member_id, policy.scope(actor))
    return _member(row)


async def full_view(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, member_id: int) -> dict[str, Any]:
    """The unmasked record for a role that needs it; every such view is audited."""
    from models.core import policy

    policy.require(actor, "member.view_full")
    row, path = await get_in_scope(conn, member_id, policy.scope(actor))
    view = _member(row).view()
    view.update({
        "name": row.name,
        "id_number": cipher.decrypt(row.id_number_enc, purpose=ID_NUMBER),
        "phone": cipher.decrypt(row.phone_enc, purpose=PHONE) if row.phone_enc else None,
        "birth_date": row.birth_date.isoformat(),
    })
    await audit.record(conn, actor, "member.view_full", target_kind="member", target_id=member_id, org_path=path,
                       summary={"fields": ["name", "id_number", "phone"]})
    return view


class MemberChanges(Body):
    """What staff may correct on a member (a field sent as null clears it), or the end of the membership."""

    phone: Annotated[str, text(20)] | None = None
    employer: Annotated[str, text(200)] | None = None
    bank_account: Annotated[str, text(40)] | None = None
    status: Literal["active", "ended"] | None = None
    ended_on: Date | None = None


async def update(
    conn: AsyncConnection, cipher: PiiCipher, actor: Actor, member_id: int, *, changes: MemberChanges,
) -> Member:
    """Staff correct a record: phone, employer, bank account, or end the membership; audited without values.

    Ending a membership cancels the live card: the caller's use case does it (models/cards/usecases.py).
    """
    from models.core import policy
    from models.members.roster import normalize_phone

    policy.require(actor, "member.manage")
    _, path = await get_in_scope(conn, member_id, policy.scope(actor))
    values: dict[str, Any] = {}
    given = changes.given()
    if "phone" in given:
        phone = normalize_phone(changes.phone) if changes.phone else None
        if changes.phone and phone is None:
            raise Invalid("phone_format", "手机号格式不对")
        values["phone_enc"] = cipher.encrypt(phone, purpose=PHONE) if phone else None
        values["phone_bidx"] = cipher.blind_index(phone, purpose=PHONE) if phone else None
    if "employer" in given:
        values["employer"] = (changes.employer or "").strip() or None
    if "bank_account" in given:
        account = "".join((changes.bank_account or "").split())
        if account and not (account.isdigit() and 12 <= len(account) <= 30):
            raise Invalid("bank_account_format", "银行账号应为 12 到 30 位数字")
        values["bank_account_enc"] = cipher.encrypt(account, purpose="bank_account") if account else None
    if changes.status == "ended":
        values.update(status="ended", ended_on=changes.ended_on or utcnow().date(), user_id=None)
    elif changes.status == "active":
        values.update(status="active", ended_on=None)
    if not values:
        raise Invalid("nothing_to_change", "没有要修改的内容")
    values["updated_at"] = utcnow()
    await conn.execute(members.update().where(members.c.id == member_id).values(**values))
    await audit.record(conn, actor, "member.update", target_kind="member", target_id=member_id, org_path=path,
                       summary={"fields": sorted(given), "status": changes.status})
    return _member((await conn.execute(sa.select(members).where(members.c.id == member_id))).one())
