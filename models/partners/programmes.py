"""Benefit programmes: who is eligible, at which merchants, and what is left of each card's quotas.

The arithmetic lives in models/benefit_rules.py (pure); this module stores the
programmes, decides eligibility and keeps the quotas with locked rows and
conditional updates, so no quota ever goes below zero under concurrency.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Iterable, Literal, Mapping

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy, stamps
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Invalid, NotFound
from models.core.typed import Body, Date, PositiveFen, one_of, text
from models.db.direct import Direct
from models.db.sql import insert_ignore
from models.members.tables import hardship_records, members
from models.network.tables import orgs
from models.network.tree import in_subtree
from models.partners.partnership import Merchant
from models.partners.rules import (
    CATEGORIES,
    PRESETS,
    ProgramTerms,
    Remaining,
    benefit_summary,
    parse_rule,
)
from models.partners.tables import merchants, program_merchants, programs, quota_usage

FUNDS = {"union_funds": "工会经费", "central_special": "中央财政专项", "local_matching": "地方财政配套",
         "donations": "社会捐赠"}
HARDSHIP = ("deep", "relative", "accident")


def period_key(period: str, day: date) -> str:
    """The quota period a day falls in: "YYYY-MM" for a monthly quota, "YYYY" for a yearly one."""
    return f"{day.year:04d}-{day.month:02d}" if period == "month" else f"{day.year:04d}"


@dataclass(frozen=True)
class Program:
    """A benefit programme: its unit, terms, who is eligible, quota period and quotas, fund, validity."""

    id: int
    name: str
    org_id: int
    org_path: str
    terms: ProgramTerms
    eligibility: str
    hardship_categories: frozenset[str]
    period: str
    money_quota: int | None
    count_quota: int | None
    fund: str
    priority: int
    status: str
    valid_from: date
    valid_to: date

    def view(self) -> dict[str, Any]:
        """The programme as the API shows it: rule, readable summary, shares, quotas and validity."""
        return {
            "id": self.id, "name": self.name, "org_id": self.org_id, "rule": self.terms.rule.to_json(),
            "summary": benefit_summary(self.terms), "union_bp": self.terms.union_bp,
            "categories": sorted(self.terms.categories), "excluded": sorted(self.terms.excluded),
            "per_txn_cap": self.terms.per_txn_cap, "eligibility": self.eligibility,
            "hardship_categories": sorted(self.hardship_categories), "period": self.period,
            "money_quota": self.money_quota, "count_quota": self.count_quota, "fund": self.fund,
            "priority": self.priority, "status": self.status, "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
        }


def _split(text: str) -> frozenset[str]:
    return frozenset(t for t in text.split(",") if t)


def _program(row: Any) -> Program:
    terms = ProgramTerms(row.id, row.name, parse_rule(json.loads(row.rule)), row.union_bp, _split(row.categories),
                         _split(row.excluded), row.per_txn_cap)
    return Program(row.id, row.name, row.org_id, row.path, terms, row.eligibility, _split(row.hardship_categories),
                   row.period, row.money_quota, row.count_quota, row.fund, row.priority, row.status, row.valid_from,
                   row.valid_to)


@dataclass(frozen=True)
class Offer:
    """A programme this card can use now, with what remains of its quotas this period."""

    program: Program
    remaining: Remaining

    def view(self) -> dict[str, Any]:
        """The offer as the API shows it: programme, summary, what remains and the full quotas."""
        p = self.program
        return {"program_id": p.id, "program": p.name, "summary": benefit_summary(p.terms), "period": p.period,
                "remaining": {"money": self.remaining.money, "count": self.remaining.count},
                "quota": {"money": p.money_quota, "count": p.count_quota},
                "categories": sorted(p.terms.categories)}


def _programs_query() -> Any:
    return sa.select(programs, orgs.c.path).join(orgs, orgs.c.id == programs.c.org_id)


async def _hardship(conn: AsyncConnection, member_id: int, today: date) -> frozenset[str]:
    """The categories of the member's entries in the difficult-worker register in force today."""
    found = (await conn.execute(sa.select(hardship_records.c.category).where(
        hardship_records.c.member_id == member_id, hardship_records.c.status == "active",
        hardship_records.c.valid_from <= today, hardship_records.c.valid_to >= today))).scalars().all()
    return frozenset(found)


# The queries of every scan and redemption, built once.
_MEMBER = (sa.select(members.c.status, orgs.c.path).join(orgs, orgs.c.id == members.c.org_id)
           .where(members.c.id == sa.bindparam("member_id")))
_IN_FORCE = (_programs_query().where(programs.c.status == "active", programs.c.valid_from <= sa.bindparam("today"),
                                     programs.c.valid_to >= sa.bindparam("today"))
             .order_by(programs.c.priority, programs.c.id))
_IN_FORCE_AT = (_IN_FORCE.join(program_merchants, program_merchants.c.program_id == programs.c.id)
                .where(program_merchants.c.merchant_id == sa.bindparam("merchant_id")))
_USAGE = sa.select(quota_usage).where(quota_usage.c.member_id == sa.bindparam("member_id"),
                                      quota_usage.c.program_id.in_(sa.bindparam("ids", expanding=True)))
_USAGE_LOCKED = _USAGE.with_for_update()
_LOCK_MEMBER = sa.select(members.c.id).where(members.c.id == sa.bindparam("member_id")).with_for_update()
# A quota given as NULL is no limit.
_TAKE = Direct(quota_usage.update()
         .where(quota_usage.c.program_id == sa.bindparam("b_program_id"),
                quota_usage.c.member_id == sa.bindparam("b_member_id"),
                quota_usage.c.period_key == sa.bindparam("b_period_key"),
                sa.or_(sa.bindparam("money_quota", type_=sa.BigInteger).is_(None),
                       quota_usage.c.money_used + sa.bindparam("money") <= sa.bindparam("money_quota")),
                sa.or_(sa.bindparam("count_quota", type_=sa.Integer).is_(None),
                       quota_usage.c.count_used + sa.bindparam("count") <= sa.bindparam("count_quota")))
         .values(money_used=quota_usage.c.money_used + sa.bindparam("money"),
                 count_used=quota_usage.c.count_used + sa.bindparam("count")))
_FIRST_TAKE = Direct(quota_usage.insert())


# Every programme a merchant honours that is still active, whatever its dates: what a process caches.
_ACTIVE_AT = (_programs_query().join(program_merchants, program_merchants.c.program_id == programs.c.id)
              .where(programs.c.status == "active", program_merchants.c.merchant_id == sa.bindparam("merchant_id"))
              .order_by(programs.c.priority, programs.c.id))


class ProgramCache:
    """The active programmes each merchant honours, kept in one process under the reference stamp.

    Filled from the database on first use for a merchant; emptied whenever a request brings
    another stamp (``models/core/stamps.py``: every change of a programme, its merchants or the
    union tree draws one), so what it answers is never older than the stamp the request read.
    """

    def __init__(self, *, limit: int = 10_000) -> None:
        self.stamp: str | None = None
        self.limit = limit
        self._at: dict[int, list[Program]] = {}

    def under(self, stamp: str | None) -> Catalog:
        """The cache as one request sees it: emptied first when the request read another stamp."""
        if stamp != self.stamp or len(self._at) > self.limit:
            self._at.clear()
            self.stamp = stamp
        return Catalog(self, stamp)

    async def at(self, conn: AsyncConnection, merchant_id: int, stamp: str | None) -> list[Program]:
        """The merchant's active programmes (any dates), by priority."""
        found = self._at.get(merchant_id) if stamp == self.stamp else None
        if found is None:
            found = [_program(r) for r in (await conn.execute(_ACTIVE_AT, {"merchant_id": merchant_id})).all()]
            if stamp == self.stamp:
                self._at[merchant_id] = found
        return found


@dataclass(frozen=True)
class Catalog:
    """The programme cache under the stamp one request read with its caller."""

    cache: ProgramCache
    stamp: str | None

    async def at(self, conn: AsyncConnection, merchant: Merchant, today: date) -> list[Program]:
        """The programmes in force ``today`` at ``merchant``, by priority."""
        return [p for p in await self.cache.at(conn, merchant.id, self.stamp) if p.valid_from <= today <= p.valid_to]


def eligible(program: Program, hardship: frozenset[str]) -> bool:
    """Whether a member of the funding union's subtree with these register categories may use the programme:
    everyone for ``all_members``, registered difficult workers (of its categories) for ``difficult``."""
    if program.eligibility == "all_members":
        return True
    return bool(hardship) and (not program.hardship_categories or bool(hardship & program.hardship_categories))


async def programs_for(conn: AsyncConnection, member_id: int, *, today: date, merchant: Merchant | None = None,
                       member: tuple[str, str] | None = None, catalog: Catalog | None = None) -> list[Program]:
    """The programmes in force today that this member may use (at ``merchant`` when given), by priority.

    ``member`` is the member's (status, unit path) when the caller has just read them; ``catalog``
    the process's cache of the merchants' programmes, when the caller has one.
    """
    if member is None:
        row = (await conn.execute(_MEMBER, {"member_id": member_id})).first()
        if row is None:
            raise NotFound("member_not_found", "找不到该会员")
        member = (row.status, row.path)
    status, path = member
    if status != "active":
        return []
    in_force: list[Program]
    if merchant is None:
        in_force = [_program(r) for r in (await conn.execute(_IN_FORCE, {"today": today})).all()]
    elif not merchant.in_force(today):
        return []
    elif catalog is not None:
        in_force = await catalog.at(conn, merchant, today)
    else:
        in_force = [_program(r) for r in (await conn.execute(_IN_FORCE_AT, {"today": today,
                                                                            "merchant_id": merchant.id})).all()]
    found = [p for p in in_force if path.startswith(p.org_path)]  # the funding union's members only
    # The register is read only when a programme asks for it (most scans need no such query).
    hardship = await _hardship(conn, member_id, today) if any(p.eligibility == "difficult" for p in found) \
        else frozenset()
    return [p for p in found if eligible(p, hardship)]


async def remaining(conn: AsyncConnection, member_id: int, found: Iterable[Program], *, today: date,
                    lock: bool = False) -> dict[int, Remaining]:
    """What is left of each programme's quotas this period (rows locked for update when ``lock``)."""
    found = list(found)
    # Only programmes with a quota need what was used (and a lock on it).
    keys = {(p.id, period_key(p.period, today)) for p in found
            if p.money_quota is not None or p.count_quota is not None}
    used: dict[int, tuple[int, int]] = {}
    if keys:
        params = {"member_id": member_id, "ids": sorted({k[0] for k in keys})}
        for row in (await conn.execute(_USAGE_LOCKED if lock else _USAGE, params)).all():
            if (row.program_id, row.period_key) in keys:
                used[row.program_id] = (row.money_used, row.count_used)
    out = {}
    for p in found:
        money_used, count_used = used.get(p.id, (0, 0))
        out[p.id] = Remaining(None if p.money_quota is None else max(0, p.money_quota - money_used),
                              None if p.count_quota is None else max(0, p.count_quota - count_used))
    return out


def remaining_of(found: Iterable[Program], used: Mapping[tuple[int, str], tuple[int, int]], *,
                 today: date) -> dict[int, Remaining]:
    """What is left of each programme's quotas this period, from its usage rows ((programme, period) -> used)."""
    out = {}
    for p in found:
        money_used, count_used = used.get((p.id, period_key(p.period, today)), (0, 0))
        out[p.id] = Remaining(None if p.money_quota is None else max(0, p.money_quota - money_used),
                              None if p.count_quota is None else max(0, p.count_quota - count_used))
    return out


async def for_member(conn: AsyncConnection, member_id: int, *, today: date, merchant: Merchant | None = None,
                     member: tuple[str, str] | None = None, catalog: Catalog | None = None,
                     used: Mapping[tuple[int, str], tuple[int, int]] | None = None) -> list[Offer]:
    """The programmes the member can use today (at ``merchant`` when given), with what remains.

    ``used``: the member's usage rows of today's month and year when the caller has just read them.
    """
    found = await programs_for(conn, member_id, today=today, merchant=merchant, member=member, catalog=catalog)
    left = remaining_of(found, used, today=today) if used is not None else \
        await remaining(conn, member_id, found, today=today)
    return [Offer(p, left[p.id]) for p in found]


async def lock_member(conn: AsyncConnection, member_id: int) -> None:
    """Take the member's row for update: whatever changes a member's quotas (redeem, void, refund) holds it
    first, so they queue per member. Locking the quota rows alone is not enough on InnoDB: a SELECT … FOR
    UPDATE and an UPDATE may reach the same row through different indexes and deadlock, and a duplicate-key
    error on a concurrent first use leaves a shared lock that two redemptions then both try to upgrade."""
    await conn.execute(_LOCK_MEMBER, {"member_id": member_id})


async def ensure_usage_rows(conn: AsyncConnection, member_id: int, found: Iterable[Program], *, today: date) -> None:
    """Create the period's usage rows that do not exist yet (one statement), so they can be locked."""
    rows = [{"program_id": p.id, "member_id": member_id, "period_key": period_key(p.period, today), "money_used": 0,
             "count_used": 0} for p in found]
    if rows:
        await conn.execute(insert_ignore(quota_usage), rows)


async def take(conn: AsyncConnection, member_id: int, program: Program, key: str, *, money: int, count: int) -> None:
    """Use quota; the conditional UPDATE refuses to go past the quota even if a lock were missed."""
    result = await _TAKE.run(conn, {"b_program_id": program.id, "b_member_id": member_id, "b_period_key": key,
                                        "money": money, "count": count, "money_quota": program.money_quota,
                                        "count_quota": program.count_quota})
    if result.rowcount != 1:
        raise Conflict("quota_exhausted", "本期优惠额度已用完")


async def first_take(conn: AsyncConnection, member_id: int, program: Program, key: str, *, money: int,
                     count: int) -> None:
    """Use quota in a period that has no usage row yet: the row is made holding it. The caller holds the
    member's lock (``lock_member``), so no one makes it meanwhile; a quota is still checked here."""
    if (program.money_quota is not None and money > program.money_quota) or \
            (program.count_quota is not None and count > program.count_quota):
        raise Conflict("quota_exhausted", "本期优惠额度已用完")
    await _FIRST_TAKE.run(conn, {"program_id": program.id, "member_id": member_id, "period_key": key,
                                 "money_used": money, "count_used": count})


async def give_back(conn: AsyncConnection, member_id: int, program_id: int, key: str, *, money: int,
                    count: int) -> None:
    """Return quota after a void or refund; never below zero."""
    result = await conn.execute(quota_usage.update().where(
        quota_usage.c.program_id == program_id, quota_usage.c.member_id == member_id,
        quota_usage.c.period_key == key, quota_usage.c.money_used >= money, quota_usage.c.count_used >= count)
        .values(money_used=quota_usage.c.money_used - money, count_used=quota_usage.c.count_used - count))
    if result.rowcount != 1:
        raise Conflict("quota_inconsistent", "额度记录与核销记录不一致，请联系管理员")


# --- staff: programmes ---

def _codes(value: Any, field: str, allowed: Mapping[str, str] | Iterable[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("invalid_program", f"{field} 应为字符串列表")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise Invalid("invalid_program", f"{field} 含未知项：{'、'.join(unknown)}")
    return sorted(set(value))


def _parse_date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid("invalid_program", f"{field} 应为日期（YYYY-MM-DD）") from None


def _optional_int(value: Any, field: str, low: int) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < low:
        raise Invalid("invalid_program", f"{field} 应为不小于 {low} 的整数")
    return value


Code = Annotated[str, text(32)]


class ProgramDraft(Body):
    """A programme as staff write it: a preset and what they change of it, or every field.

    A field left out keeps the preset's value; one sent (even as null) replaces it.
    """

    preset: Annotated[str, one_of(PRESETS)] | None = None
    name: Annotated[str, text(100)] | None = None
    rule: dict[str, Any] | None = None
    union_bp: Annotated[int, Field(ge=0, le=10000)] | None = None
    categories: list[Code] | None = None
    excluded: list[Code] | None = None
    eligibility: Literal["all_members", "difficult"] | None = None
    hardship_categories: list[Annotated[str, one_of(HARDSHIP)]] | None = None
    period: Literal["month", "year"] | None = None
    money_quota: PositiveFen | None = None
    count_quota: Annotated[int, Field(ge=1, le=10**6)] | None = None
    per_txn_cap: PositiveFen | None = None
    fund: Annotated[str, one_of(FUNDS)] | None = None
    priority: Annotated[int, Field(ge=0, le=10**6)] | None = None
    valid_from: Date
    valid_to: Date


def program_values(draft: ProgramDraft) -> dict[str, Any]:
    """Check a programme (from staff, or a preset merged with staff's choices) into column values."""
    data = draft.model_dump(exclude_unset=True, include=set(ProgramDraft.model_fields))
    data.update(valid_from=draft.valid_from, valid_to=draft.valid_to)
    base: dict[str, Any] = dict(PRESETS[data["preset"]]) if data.get("preset") else {}
    if data.get("preset") and data["preset"] not in PRESETS:
        raise Invalid("invalid_program", "预设不存在")
    base.update({k: v for k, v in data.items() if k != "preset"})
    rule = parse_rule(base.get("rule") or {})
    categories = _codes(base.get("categories"), "categories", CATEGORIES)
    excluded = _codes(base.get("excluded", []), "excluded", CATEGORIES)
    hardship = _codes(base.get("hardship_categories", []), "hardship_categories", HARDSHIP)
    if base.get("eligibility") not in ("all_members", "difficult"):
        raise Invalid("invalid_program", "eligibility 应为 all_members 或 difficult")
    if base.get("period") not in ("month", "year"):
        raise Invalid("invalid_program", "period 应为 month 或 year")
    fund = base.get("fund", "union_funds")
    if fund not in FUNDS:
        raise Invalid("invalid_program", "fund 应为 " + "、".join(FUNDS))
    name = base.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise Invalid("invalid_program", "请填写项目名称（100 字以内）")
    union_bp = _optional_int(base.get("union_bp"), "union_bp", 0)
    if union_bp is None or union_bp > 10000:
        raise Invalid("invalid_program", "union_bp 应在 0 到 10000 之间")
    valid_from = _parse_date(base.get("valid_from"), "valid_from")
    valid_to = _parse_date(base.get("valid_to"), "valid_to")
    if valid_to < valid_from:
        raise Invalid("invalid_program", "结束日期不能早于开始日期")
    values = {
        "name": name.strip(), "rule": json.dumps(rule.to_json(), ensure_ascii=False, sort_keys=True),
        "union_bp": union_bp, "categories": ",".join(categories), "excluded": ",".join(excluded),
        "eligibility": base["eligibility"], "hardship_categories": ",".join(hardship), "period": base["period"],
        "money_quota": _optional_int(base.get("money_quota"), "money_quota", 1),
        "count_quota": _optional_int(base.get("count_quota"), "count_quota", 1),
        "per_txn_cap": _optional_int(base.get("per_txn_cap"), "per_txn_cap", 1), "fund": fund,
        "priority": _optional_int(base.get("priority", 100), "priority", 0), "valid_from": valid_from,
        "valid_to": valid_to,
    }
    # ProgramTerms checks what is left (categories vs. exclusions, caps).
    ProgramTerms(0, values["name"], rule, union_bp, frozenset(categories), frozenset(excluded),
                 values["per_txn_cap"])
    return values


async def get(conn: AsyncConnection, program_id: int, *, within: str | None = None) -> Program:
    """The programme with this id, within the subtree ``within`` when given (404 program_not_found)."""
    query = _programs_query().where(programs.c.id == program_id)
    if within is not None:
        query = query.where(in_subtree(orgs.c.path, within))
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("program_not_found", "找不到该优惠项目")
    return _program(row)


async def merchant_ids(conn: AsyncConnection, program_id: int) -> list[int]:
    """The ids of the merchants that honour the programme, in order."""
    rows = (await conn.execute(sa.select(program_merchants.c.merchant_id)
                               .where(program_merchants.c.program_id == program_id)
                               .order_by(program_merchants.c.merchant_id))).all()
    return [r.merchant_id for r in rows]


async def create(conn: AsyncConnection, actor: Actor, org_id: int, data: ProgramDraft) -> Program:
    """A new benefit programme of a unit in the actor's subtree."""
    policy.require(actor, "program.manage")
    org = (await conn.execute(sa.select(orgs.c.path).where(orgs.c.id == org_id,
                                                           in_subtree(orgs.c.path, policy.scope(actor))))).first()
    if org is None:
        raise NotFound("org_not_found", "找不到该组织")
    values = program_values(data)
    now = utcnow()
    result = await conn.execute(programs.insert().values(**values, org_id=org_id, status="active", created_at=now,
                                                         updated_at=now))
    program_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    await stamps.bump(conn)
    await audit.record(conn, actor, "program.create", target_kind="program", target_id=program_id,
                       org_path=org.path, summary={k: str(v) for k, v in values.items()})
    return await get(conn, program_id)


async def set_merchants(conn: AsyncConnection, actor: Actor, program_id: int, merchant_list: list[int]) -> list[int]:
    """Which partners honour the programme: merchants of the actor's subtree."""
    policy.require(actor, "program.manage")
    program = await get(conn, program_id, within=policy.scope(actor))
    wanted = sorted(set(merchant_list))
    if wanted:
        found = (await conn.execute(sa.select(merchants.c.id).join(orgs, orgs.c.id == merchants.c.org_id).where(
            merchants.c.id.in_(wanted), in_subtree(orgs.c.path, policy.scope(actor))))).scalars().all()
        missing = sorted(set(wanted) - set(found))
        if missing:
            raise NotFound("merchant_not_found", f"找不到商家：{', '.join(map(str, missing))}")
    await conn.execute(program_merchants.delete().where(program_merchants.c.program_id == program_id))
    if wanted:
        await conn.execute(program_merchants.insert(), [{"program_id": program_id, "merchant_id": m} for m in wanted])
    await stamps.bump(conn)
    await audit.record(conn, actor, "program.set_merchants", target_kind="program", target_id=program_id,
                       org_path=program.org_path, summary={"merchants": wanted})
    return wanted


async def end(conn: AsyncConnection, actor: Actor, program_id: int) -> Program:
    """End a programme of the actor's subtree, audited; redemptions already made stand."""
    policy.require(actor, "program.manage")
    program = await get(conn, program_id, within=policy.scope(actor))
    await conn.execute(programs.update().where(programs.c.id == program_id)
                       .values(status="ended", updated_at=utcnow()))
    await stamps.bump(conn)
    await audit.record(conn, actor, "program.end", target_kind="program", target_id=program_id,
                       org_path=program.org_path)
    return await get(conn, program_id)


async def list_in_scope(conn: AsyncConnection, actor: Actor, *, after: int = 0,
                        limit: int | None = None) -> list[Program]:
    """The programmes of the actor's subtree in id order, those after ``after`` (``limit`` when given)."""
    policy.require(actor, "program.view")
    rows = (await conn.execute(_programs_query().where(in_subtree(orgs.c.path, policy.scope(actor)),
                                                       programs.c.id > after)
                               .order_by(programs.c.id).limit(limit))).all()
    return [_program(r) for r in rows]
