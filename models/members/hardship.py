"""The difficult-worker register (困难职工档案): entry and re-check (复核) with the proposal of the category,
the re-check list, exit, and what counts as registered. Confirmation by a second person is in
``models.members.hardship_review``.

A record's life: entered (or re-checked) ``pending``; confirmed ``active`` or declined ``declined`` by
another member of staff; an active record past its ``valid_to`` shows ``expired`` and counts for nothing
until a re-check; a confirmed re-check makes the record it re-checked ``renewed``; an exit makes it
``exited``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Iterable

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import local_today, utcnow
from models.core.errors import Conflict, Invalid, NotFound
from models.core.masking import mask_name
from models.core.money import yuan
from models.core.ports import PiiCipher
from models.core.typed import Body, Date, one_of, text
from models.members import means
from models.members.tables import hardship_records, household_members, members
from models.network import tree as orgs
from models.network.tables import orgs as orgs_t

CAUSES = {
    "illness": "因病",
    "disability": "因残",
    "unemployment": "下岗失业",
    "schooling": "因学",
    "disaster": "因灾",
    "accident": "意外",
}
CATEGORIES = {"deep": "深度困难", "relative": "相对困难", "accident": "意外致困"}
# Proposed when the figures are above both lines and no accident/disaster explains the hardship.
ABOVE_LINE = "above_line"
METHODS = {"home_visit": "入户核查", "document": "材料审核", "interview": "面谈"}
DEEP_LINE = "hardship.deep_line"
RELATIVE_LINE = "hardship.relative_line"
HEALTH = "health"
VISIT_NOTE = "hardship_note"
MAX_HOUSEHOLD = means.MAX_HOUSEHOLD
MAX_NOTE = 2000
MAX_HEALTH = 200
MAX_RECHECK_DAYS = 366
NOT_FOUND = ("hardship_not_found", "找不到该困难职工档案")
#: Stored states; ``expired`` is shown for an active record whose validity has ended (never stored).
STATES = ("pending", "active", "declined", "renewed", "exited")
EXPIRED = "expired"
SHOWN_STATES = (*STATES, EXPIRED)
#: Records that hold a member's place in the register: a second entry is refused while one exists.
OPEN_STATES = ("pending", "active")
_NOT_ACTIVE = {
    "pending": "该档案尚待确认，不能办理；可由审核人员确认或退回",
    "declined": "该档案已被退回，不能办理",
    "renewed": "该档案已经复核更新，请对最新的档案办理",
    "exited": "该档案已办理脱困",
}


def per_capita(household_income: int, household_size: int) -> int:
    """Per-capita monthly income in fen: the means test's rule (rounded down); the register counts no rigid expense."""
    return means.disposable_per_capita(household_size, household_income)


def one_year_from(start: date) -> date:
    """The last day of a one-year validity starting on ``start`` (29 February starts end on 28 February)."""
    try:
        return start.replace(year=start.year + 1) - timedelta(days=1)
    except ValueError:
        return date(start.year + 1, 3, 1) - timedelta(days=1)


def propose(per_capita_income: int, causes: Iterable[str], *, deep_line: int, relative_line: int) -> str:
    """The category the figures suggest (the means test, on a per-capita figure); ``ABOVE_LINE`` when none applies.

    The register records no rigid expense, so the means test's accident rule (expenses over 80 % of
    income) never fires here; an accident or disaster cause stands for it.
    """
    return _proposal(means.assess(1, per_capita_income, 0, deep_line=deep_line, relative_line=relative_line), causes)


def _proposal(found: means.Assessment, causes: Iterable[str]) -> str:
    if found.category is None and {"accident", "disaster"} & set(causes):
        return "accident"
    return found.category or ABOVE_LINE


def shown_status(status: str, valid_to: date, today: date) -> str:
    """The status as every view shows it: an active record whose validity ended before ``today`` is expired."""
    return EXPIRED if status == "active" and valid_to < today else status


def in_force(today: date) -> Any:
    """A WHERE clause: the record is confirmed (active) and its validity covers ``today``."""
    return sa.and_(hardship_records.c.status == "active", hardship_records.c.valid_from <= today,
                   hardship_records.c.valid_to >= today)


async def registered(conn: AsyncConnection, member_id: int, *, today: date | None = None) -> str | None:
    """The category of the member's record in force today (confirmed, within its validity), None when
    they have none: a pending, declined, expired, renewed or exited record counts for nothing."""
    return (await conn.execute(sa.select(hardship_records.c.category).where(
        hardship_records.c.member_id == member_id, in_force(today or local_today()))
        .order_by(hardship_records.c.id.desc()).limit(1))).scalar_one_or_none()


@dataclass(frozen=True)
class HouseholdMember:
    """One person of a hardship household: relation, name, age, health, work and monthly income."""

    relation: str
    name: str
    age: int
    health: str | None
    work: str | None
    monthly_income: int

    def view(self, *, full: bool = False) -> dict[str, Any]:
        """The household member as the API shows them: name masked; full adds the name and health."""
        out: dict[str, Any] = {
            "relation": self.relation,
            "name_masked": mask_name(self.name),
            "age": self.age,
            "work": self.work,
            "monthly_income": self.monthly_income,
        }
        if full:
            out["name"] = self.name
            out["health"] = self.health
        return out


@dataclass(frozen=True)
class HardshipRecord:
    """A hardship record: category, causes, household and its income, validity, verification and exit."""

    id: int
    member_id: int
    org_id: int
    category: str
    proposed_category: str
    causes: list[str]
    household_size: int
    household_income: int
    per_capita_income: int
    valid_from: date
    valid_to: date
    status: str  # as shown: the stored state, or ``expired``
    category_reason: str | None
    verified_by: int
    verification_method: str
    visit_note: str | None
    exit_reason: str | None
    exited_at: datetime | None
    exited_by: int | None
    decided_by: int | None
    decided_at: datetime | None
    decline_reason: str | None
    supersedes_id: int | None
    superseded_by_id: int | None
    created_at: datetime
    household: list[HouseholdMember]

    @property
    def kind(self) -> str:
        """``recheck`` for a re-check (复核) of an earlier record, ``entry`` for a first entry."""
        return "entry" if self.supersedes_id is None else "recheck"

    def view(self, *, full: bool = False) -> dict[str, Any]:
        """Masked by default: household names masked, no health facts, no visit note."""
        out: dict[str, Any] = {
            "id": self.id,
            "member_id": self.member_id,
            "org_id": self.org_id,
            "kind": self.kind,
            "category": self.category,
            "category_label": CATEGORIES.get(self.category, self.category),
            "proposed_category": self.proposed_category,
            "overridden": self.category != self.proposed_category,
            "category_reason": self.category_reason,
            "causes": self.causes,
            "household_size": self.household_size,
            "household_income": self.household_income,
            "per_capita_income": self.per_capita_income,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "status": self.status,
            "verified_by": self.verified_by,
            "verification_method": self.verification_method,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "decline_reason": self.decline_reason,
            "supersedes_id": self.supersedes_id,
            "superseded_by_id": self.superseded_by_id,
            "exit_reason": self.exit_reason,
            "exited_at": self.exited_at,
            "exited_by": self.exited_by,
            "created_at": self.created_at,
            "household": [h.view(full=full) for h in self.household],
        }
        if full:
            out["visit_note"] = self.visit_note
        return out


def _text(value: str | None, field: str, label: str, *, required: bool = True) -> str | None:
    """Text with its surrounding blanks removed; blank counts as missing."""
    if value is None or not value.strip():
        if required:
            raise Invalid("hardship_field", f"{label}不能为空", details=[{"field": field, "reason": "不能为空"}])
        return None
    return value.strip()


class HouseholdEntry(Body):
    """One person of the household, the member included."""

    relation: Annotated[str, text(20, min_len=1)]
    name: Annotated[str, text(50, min_len=1)]
    age: Annotated[int, Field(ge=0, le=150)]
    health: Annotated[str, text(MAX_HEALTH)] | None = None
    work: Annotated[str, text(100)] | None = None
    monthly_income: Annotated[int, Field(ge=0, le=10**11)]


class HardshipEntry(Body):
    """What staff record to enter a member in the register."""

    household: Annotated[list[HouseholdEntry], Field(min_length=1, max_length=MAX_HOUSEHOLD)]
    causes: Annotated[list[Annotated[str, one_of(CAUSES)]], Field(min_length=1, max_length=6)]
    category: Annotated[str, one_of(CATEGORIES)] | None = None
    category_reason: Annotated[str, text(500)] | None = None
    valid_from: Date | None = None
    valid_to: Date | None = None
    verification_method: Annotated[str, one_of(METHODS)]
    visit_note: Annotated[str, text(MAX_NOTE)] | None = None


class HardshipRecheck(HardshipEntry):
    """The annual re-check (复核): the household's figures now, the visit (method and note), the causes, the
    category (proposed again from the figures unless chosen, with a reason) and the new validity."""

    visit_note: Annotated[str, text(MAX_NOTE, min_len=1)]


def _household(entries: list[HouseholdEntry]) -> list[HouseholdMember]:
    out = []
    for i, e in enumerate(entries):
        f = f"household.{i}"
        out.append(HouseholdMember(
            relation=_text(e.relation, f + ".relation", "与本人关系") or "",
            name=_text(e.name, f + ".name", "家庭成员姓名") or "",
            age=e.age,
            health=_text(e.health, f + ".health", "健康状况", required=False),
            work=_text(e.work, f + ".work", "工作情况", required=False),
            monthly_income=e.monthly_income,
        ))
    return out


async def income_lines(conn: AsyncConnection, org: orgs.Org) -> tuple[int, int]:
    """The (deep, relative) per-capita lines in fen per month that apply to ``org``, inherited from above."""
    deep = await orgs.get_setting(conn, org, DEEP_LINE)
    relative = await orgs.get_setting(conn, org, RELATIVE_LINE)
    if deep is None or relative is None:
        raise Invalid("hardship_lines_unset",
                      "本单位及上级单位尚未设置困难职工认定标准（深度困难线、相对困难线），请管理员先行设置")
    return int(deep), int(relative)


async def lines_in_force(conn: AsyncConnection, org: orgs.Org) -> tuple[int, int, orgs.Org] | None:
    """The (deep, relative) lines in fen per month in force at ``org`` and the unit that sets them (``org`` itself,
    or the nearest unit above it: inherited); None when neither it nor any unit above sets them."""
    deep = await orgs.setting_source(conn, org, DEEP_LINE)
    relative = await orgs.setting_source(conn, org, RELATIVE_LINE)
    if deep is None or relative is None:
        return None
    source = org if deep[1] == org.id else await orgs.get(conn, deep[1])
    return int(deep[0]), int(relative[0]), source


async def _member_in_scope(conn: AsyncConnection, actor: Actor, member_id: int, *, lock: bool = False) -> Any:
    query = (sa.select(members.c.id, members.c.status, members.c.org_id, orgs_t.c.path)
             .join(orgs_t, orgs_t.c.id == members.c.org_id)
             .where(members.c.id == member_id, orgs.in_subtree(orgs_t.c.path, policy.scope(actor))))
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("member_not_found", "找不到该会员")
    if lock:
        await lock_member(conn, member_id)
    return row


async def lock_member(conn: AsyncConnection, member_id: int) -> None:
    """Take the member's row for update: whatever opens, confirms or closes one of their records holds it
    first, so two of them never both see the register as it was (one entry, one pending re-check)."""
    await conn.execute(sa.select(members.c.id).where(members.c.id == member_id).with_for_update())


async def record_in_scope(conn: AsyncConnection, actor: Actor, record_id: int) -> Any:
    """The record's row with its unit's path, in the actor's subtree; out of reach answers like missing."""
    row = (await conn.execute(sa.select(hardship_records, orgs_t.c.path)
                              .join(orgs_t, orgs_t.c.id == hardship_records.c.org_id)
                              .where(hardship_records.c.id == record_id,
                                     orgs.in_subtree(orgs_t.c.path, policy.scope(actor))))).first()
    if row is None:
        raise NotFound(*NOT_FOUND)
    return row


async def current_status(conn: AsyncConnection, record_id: int) -> str:
    """The record's stored status as it is now (read again after taking the member's lock)."""
    return str((await conn.execute(sa.select(hardship_records.c.status)
                                   .where(hardship_records.c.id == record_id))).scalar_one())


def not_active(status: str) -> Conflict:
    """The refusal of an action that needs an active record, saying what the record is instead."""
    return Conflict("hardship_not_active", _NOT_ACTIVE.get(status, "该档案不是有效档案"))


async def load(conn: AsyncConnection, cipher: PiiCipher | None, rows: list[Any],
               *, today: date | None = None) -> list[HardshipRecord]:
    """Records from their rows, with their households; health facts and the note decrypted with ``cipher``."""
    today = today or local_today()
    ids = [r.id for r in rows]
    house: dict[int, list[HouseholdMember]] = {i: [] for i in ids}
    if ids:
        for h in (await conn.execute(sa.select(household_members).where(household_members.c.record_id.in_(ids))
                                     .order_by(household_members.c.id))).all():
            health = cipher.decrypt(h.health_enc, purpose=HEALTH) if cipher and h.health_enc else None
            house[h.record_id].append(HouseholdMember(h.relation, h.name, h.age, health, h.work, h.monthly_income))
    return [
        HardshipRecord(
            r.id, r.member_id, r.org_id, r.category, r.proposed_category, r.causes.split(","), r.household_size,
            r.household_income, r.per_capita_income, r.valid_from, r.valid_to,
            shown_status(r.status, r.valid_to, today), r.category_reason, r.verified_by, r.verification_method,
            cipher.decrypt(r.visit_note_enc, purpose=VISIT_NOTE) if cipher and r.visit_note_enc else None,
            r.exit_reason, r.exited_at, r.exited_by, r.decided_by, r.decided_at, r.decline_reason,
            r.supersedes_id, r.superseded_by_id, r.created_at, house[r.id],
        )
        for r in rows
    ]


async def load_one(conn: AsyncConnection, cipher: PiiCipher | None, record_id: int) -> HardshipRecord:
    """One record by id, as it is now."""
    return (await load(conn, cipher, [(await conn.execute(
        sa.select(hardship_records).where(hardship_records.c.id == record_id))).one()]))[0]


def _period(valid_from: date | None, valid_to: date | None, today: date, *, recheck: bool) -> tuple[date, date]:
    """The validity asked for (a year from today by default), refused when it ends before it starts or has
    already ended; a re-check's starts no later than today, so the record it renews leaves no gap."""
    start = valid_from or today
    end = valid_to or one_year_from(start)
    if end <= start:
        raise Invalid("hardship_valid_period", "有效期的结束日期应晚于开始日期",
                      details=[{"field": "valid_to", "reason": "应晚于开始日期"}])
    if end < today:
        raise Invalid("hardship_valid_ended",
                      f"有效期已于 {end.isoformat()} 结束，不能登记已过期的有效期；请按本次核查填写新的有效期",
                      details=[{"field": "valid_to", "reason": "不能早于今天"}])
    if recheck and start > today:
        raise Invalid("hardship_recheck_start",
                      "复核后的有效期应自今天或更早开始（原档案在确认复核时即被更新，不能留出空档）",
                      details=[{"field": "valid_from", "reason": "不能晚于今天"}])
    return start, end


@dataclass(frozen=True)
class _Figures:
    """What the household's figures and the unit's lines say: income, per capita, proposed and chosen."""

    people: list[HouseholdMember]
    causes: list[str]
    income: int
    per_capita: int
    proposed: str
    chosen: str
    reason: str | None
    note: str | None


async def _figures(conn: AsyncConnection, org_id: int, entry: HardshipEntry) -> _Figures:
    """The category proposed from the income lines in force at ``org_id``; the one chosen, checked."""
    people = _household(entry.household)
    causes = list(dict.fromkeys(entry.causes))
    # A re-check is a visit: its note is required.
    note = _text(entry.visit_note, "visit_note", "核查记录", required=isinstance(entry, HardshipRecheck))
    reason = _text(entry.category_reason, "category_reason", "调整类别的理由", required=False)
    deep_line, relative_line = await income_lines(conn, await orgs.get(conn, org_id))
    income = sum(p.monthly_income for p in people)
    found = means.assess(len(people), income, 0, deep_line=deep_line, relative_line=relative_line)
    proposed = _proposal(found, causes)
    chosen = entry.category or proposed
    if chosen == ABOVE_LINE:
        raise Invalid("hardship_above_line",
                      f"家庭月人均收入 {yuan(found.per_capita)} 元高于相对困难标准 {yuan(relative_line)} 元，"
                      "不符合认定条件；如确需认定，请选择类别并说明理由")
    if chosen != proposed and reason is None:
        raise Invalid("hardship_reason_required", "所选类别与系统建议不同，请填写调整理由")
    return _Figures(people, causes, income, found.per_capita, proposed, chosen, reason, note)


async def _insert(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, member: Any, entry: HardshipEntry,
                  fig: _Figures, start: date, end: date, *, supersedes: int | None = None) -> int:
    """A pending record with its household; its id."""
    result = await conn.execute(hardship_records.insert().values(
        member_id=member.id, org_id=member.org_id, category=fig.chosen, proposed_category=fig.proposed,
        category_reason=fig.reason, causes=",".join(fig.causes), household_size=len(fig.people),
        household_income=fig.income, per_capita_income=fig.per_capita, valid_from=start, valid_to=end,
        status="pending", verified_by=actor.id, verification_method=entry.verification_method,
        visit_note_enc=cipher.encrypt(fig.note, purpose=VISIT_NOTE) if fig.note else None,
        supersedes_id=supersedes, created_at=utcnow(),
    ))
    assert result.inserted_primary_key is not None
    record_id = int(result.inserted_primary_key[0])
    await conn.execute(household_members.insert(), [
        {"record_id": record_id, "relation": p.relation, "name": p.name, "age": p.age,
         "health_enc": cipher.encrypt(p.health, purpose=HEALTH) if p.health else None,
         "work": p.work, "monthly_income": p.monthly_income}
        for p in fig.people
    ])
    return record_id


def _summary(fig: _Figures, entry: HardshipEntry, start: date, end: date) -> dict[str, Any]:
    return {"category": fig.chosen, "proposed_category": fig.proposed, "category_reason": fig.reason,
            "causes": fig.causes, "household_size": len(fig.people), "per_capita_income": fig.per_capita,
            "valid_from": start, "valid_to": end, "verification_method": entry.verification_method}


async def enter(
    conn: AsyncConnection,
    cipher: PiiCipher,
    actor: Actor,
    member_id: int,
    entry: HardshipEntry,
) -> HardshipRecord:
    """Enter a member in the register: a pending record that another member of staff confirms.

    The category is proposed from the unit's income lines; staff may choose another with a reason, which
    the record keeps for the confirmer. A validity that has already ended is refused.
    """
    policy.require(actor, "hardship.manage")
    today = local_today()
    start, end = _period(entry.valid_from, entry.valid_to, today, recheck=False)
    member = await _member_in_scope(conn, actor, member_id, lock=True)
    if member.status != "active":
        raise Conflict("member_not_active", "该会员不是在册会员，不能建立困难职工档案")
    held = (await conn.execute(sa.select(hardship_records.c.id, hardship_records.c.status).where(
        hardship_records.c.member_id == member_id, hardship_records.c.status.in_(OPEN_STATES))
        .order_by(hardship_records.c.id.desc()).limit(1))).first()
    if held is not None and held.status == "pending":
        raise Conflict("hardship_pending",
                       f"该会员已有待确认的困难职工档案（编号 {held.id}），请等待审核人员确认或退回")
    if held is not None:
        raise Conflict("hardship_active",
                       f"该会员已有困难职工档案（编号 {held.id}），请对该档案办理复核（年度复核可更新家庭收入、"
                       "类别和有效期），或先办理脱困")
    fig = await _figures(conn, member.org_id, entry)
    record_id = await _insert(conn, cipher, actor, member, entry, fig, start, end)
    await audit.record(conn, actor, "hardship.enter", target_kind="hardship", target_id=record_id,
                       org_path=member.path, summary={"member_id": member_id, **_summary(fig, entry, start, end)})
    return await load_one(conn, cipher, record_id)


async def recheck(
    conn: AsyncConnection,
    cipher: PiiCipher,
    actor: Actor,
    record_id: int,
    entry: HardshipRecheck,
) -> HardshipRecord:
    """复核: re-check an active (or expired) record with the household's figures now and a visit.

    The answer is a pending record that supersedes the old one once another member of staff confirms it
    (the old one then becomes ``renewed``); until then the old one stays as it is. The category is proposed
    again from the figures; the new validity starts today at the latest and must not have ended.
    """
    policy.require(actor, "hardship.manage")
    today = local_today()
    start, end = _period(entry.valid_from, entry.valid_to, today, recheck=True)
    old = await record_in_scope(conn, actor, record_id)
    member = await _member_in_scope(conn, actor, old.member_id, lock=True)
    status = await current_status(conn, record_id)
    if status != "active":
        raise not_active(status)
    if member.status != "active":
        raise Conflict("member_not_active", "该会员不是在册会员，不能复核困难职工档案，请办理脱困")
    waiting = (await conn.execute(sa.select(hardship_records.c.id).where(
        hardship_records.c.supersedes_id == record_id, hardship_records.c.status == "pending"))).scalar()
    if waiting is not None:
        raise Conflict("hardship_recheck_pending",
                       f"该档案已有待确认的复核（编号 {waiting}），请等待审核人员确认或退回")
    fig = await _figures(conn, member.org_id, entry)
    new_id = await _insert(conn, cipher, actor, member, entry, fig, start, end, supersedes=record_id)
    await audit.record(conn, actor, "hardship.recheck", target_kind="hardship", target_id=new_id,
                       org_path=member.path, summary={
                           "member_id": member.id, "supersedes_id": record_id, "previous_category": old.category,
                           "previous_per_capita_income": old.per_capita_income,
                           **_summary(fig, entry, start, end)})
    return await load_one(conn, cipher, new_id)


async def exit(conn: AsyncConnection, actor: Actor, record_id: int, *, reason: str) -> HardshipRecord:
    """脱困: close an active (or expired) record with a reason; the row stays for the history.

    A re-check of it still waiting for confirmation is declined with it: there is nothing left to renew.
    """
    policy.require(actor, "hardship.manage")
    why = _text(reason, "reason", "脱困原因") or ""
    row = await record_in_scope(conn, actor, record_id)
    await lock_member(conn, row.member_id)
    now = utcnow()
    done = await conn.execute(
        hardship_records.update()
        .where(hardship_records.c.id == record_id, hardship_records.c.status == "active")
        .values(status="exited", exit_reason=why, exited_at=now, exited_by=actor.id))
    if done.rowcount != 1:
        raise not_active(await current_status(conn, record_id))
    waiting = list((await conn.execute(sa.select(hardship_records.c.id).where(
        hardship_records.c.supersedes_id == record_id, hardship_records.c.status == "pending"))).scalars())
    if waiting:
        await conn.execute(hardship_records.update()
                           .where(hardship_records.c.id.in_(waiting), hardship_records.c.status == "pending")
                           .values(status="declined", decline_reason="原档案已办理脱困，本次复核不再确认",
                                   decided_by=actor.id, decided_at=now))
    await audit.record(conn, actor, "hardship.exit", target_kind="hardship", target_id=record_id,
                       org_path=row.path, summary={"member_id": row.member_id, "reason": why,
                                                   "declined_rechecks": waiting})
    return await load_one(conn, None, record_id)


def _due(actor: Actor, within_days: int, on: date | None) -> Any:
    """The WHERE clause of the re-check list: active, ending by ``on`` + ``within_days``, in the actor's
    subtree, no re-check of it waiting for confirmation."""
    policy.require(actor, "hardship.view")
    if isinstance(within_days, bool) or not 0 <= within_days <= MAX_RECHECK_DAYS:
        raise Invalid("hardship_within_days", f"天数应在 0–{MAX_RECHECK_DAYS} 之间")
    until = (on or local_today()) + timedelta(days=within_days)
    successor = hardship_records.alias("successor")
    return sa.and_(hardship_records.c.status == "active", hardship_records.c.valid_to <= until,
                   orgs.in_subtree(orgs_t.c.path, policy.scope(actor)),
                   ~sa.exists().where(successor.c.supersedes_id == hardship_records.c.id,
                                      successor.c.status == "pending"))


async def count_due_for_recheck(conn: AsyncConnection, actor: Actor, *, within_days: int = 30,
                                on: date | None = None) -> int:
    """How many records ``due_for_recheck`` lists (expired ones included), counted exactly."""
    where = _due(actor, within_days, on)
    return int((await conn.execute(sa.select(sa.func.count()).select_from(hardship_records)
                                   .join(orgs_t, orgs_t.c.id == hardship_records.c.org_id).where(where)))
               .scalar_one())


async def due_for_recheck(
    conn: AsyncConnection, actor: Actor, *, within_days: int = 30, on: date | None = None,
    after: tuple[date, int] | None = None, limit: int | None = None,
) -> list[HardshipRecord]:
    """Active records in the actor's subtree whose validity ends within ``within_days`` (or has ended: those
    show ``expired``), soonest first, but not those whose re-check waits for confirmation; those after the
    position ``after`` (end date, id), ``limit`` of them when given."""
    query = (sa.select(hardship_records).join(orgs_t, orgs_t.c.id == hardship_records.c.org_id)
             .where(_due(actor, within_days, on)))
    if after is not None:
        query = query.where(sa.or_(hardship_records.c.valid_to > after[0], sa.and_(
            hardship_records.c.valid_to == after[0], hardship_records.c.id > after[1])))
    rows = (await conn.execute(query.order_by(hardship_records.c.valid_to, hardship_records.c.id)
                               .limit(limit))).all()
    return await load(conn, None, list(rows))


async def history(
    conn: AsyncConnection, cipher: PiiCipher, actor: Actor, member_id: int, *, full: bool = False,
    before: int | None = None, page: int | None = None,
) -> list[HardshipRecord]:
    """A member's records, newest first; ``full`` (names, health, notes) needs "member.view_full" and is audited.

    With ``page``, one record more than the page is returned (so the caller knows a next
    page exists) but only the page's records, the ones shown, are named in the audit.
    """
    policy.require(actor, "hardship.view")
    if full:
        policy.require(actor, "member.view_full")
    member = await _member_in_scope(conn, actor, member_id)
    query = sa.select(hardship_records).where(hardship_records.c.member_id == member_id)
    if before is not None:
        query = query.where(hardship_records.c.id < before)
    rows = (await conn.execute(query.order_by(hardship_records.c.id.desc())
                               .limit(None if page is None else page + 1))).all()
    if full:
        shown = rows if page is None else rows[:page]
        await audit.record(conn, actor, "hardship.view_full", target_kind="member", target_id=member_id,
                           org_path=member.path, summary={"records": [r.id for r in shown]})
    return await load(conn, cipher if full else None, list(rows))


async def set_income_lines(
    conn: AsyncConnection, actor: Actor, org_code: str, deep_line: int, relative_line: int,
) -> dict[str, Any]:
    """Set a unit's per-capita income lines (fen per month); units below inherit them."""
    policy.require(actor, "org.manage")
    for value in (deep_line, relative_line):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise Invalid("hardship_lines_invalid", "困难标准应为正整数（分/月）")
    if deep_line >= relative_line:
        raise Invalid("hardship_lines_invalid", "深度困难线应低于相对困难线")
    org = await orgs.by_code(conn, org_code, within=policy.scope(actor))
    await orgs.set_setting(conn, actor, org, DEEP_LINE, str(deep_line))
    await orgs.set_setting(conn, actor, org, RELATIVE_LINE, str(relative_line))
    return {"org_code": org.code, "deep_line": deep_line, "relative_line": relative_line}
