"""Kinds of relief as data: a definition per kind (form, proofs, who may apply, amount rule, frequency,
deadlines), the presets in code, each unit's own definitions in ``relief_kinds``, inherited down the tree.

Inheritance is the hardship lines' rule (``models.network.tree.get_setting``): at a unit, a kind's
definition is the one of the nearest unit on the path from the unit up to the root that defines the
code, else the preset. A unit's definition is whole (a change is merged onto what was in force there,
then kept entire), so a later change further up does not reach below a unit that has its own.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Mapping

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Invalid, NotFound
from models.core.money import yuan
from models.core.typed import Body, Fen, one_of, text
from models.members import hardship, means
from models.members.tables import members
from models.network import tree as orgs
from models.relief import forms
from models.relief.presets import PRESETS
from models.relief.tables import relief_kinds

CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
#: Who may apply: any member, members in the difficult-worker register, or members not (yet) in it.
WHO = {"member": "全体会员", "registered": "已建档困难职工", "unregistered": "尚未建档的会员"}
#: How the amount is set: a standard amount, a cap, months of the deep line (the minimum-living line) per
#: household, at most a form field (medical: the self-paid part), a table by a choice (school stage), none.
BASES = ("fixed", "cap", "line_months", "field", "by_choice", "none")
#: The review steps a kind may set a deadline (working days) for (docs/api.md, the relief procedure).
STEPS = ("verification", "county_review", "collective_review", "notice", "approval", "payment")
Code = Annotated[str, text(32, pattern=CODE.pattern)]
_NOT_FOUND = ("relief_kind_not_found", "找不到该救助类别")


class Proof(Body):
    """A proof the kind asks for; proofs sharing a ``group`` are alternatives (any one of them will do)."""

    type: Code
    name: Annotated[str, text(50, min_len=1)]
    required: bool = True
    group: Code | None = None
    max_files: Annotated[int, Field(ge=1, le=20)] = 5
    note: Annotated[str, text(200)] | None = None


class Amount(Body):
    """The amount rule, in fen: ``amount`` is the standard (fixed), the cap, or the ceiling of the other bases."""

    basis: Annotated[str, one_of(BASES)]
    amount: Fen | None = None
    months: Annotated[int, Field(ge=1, le=36)] | None = None
    field: Annotated[str, text(40)] | None = None
    threshold: Fen | None = None
    amounts: Annotated[dict[str, Fen], Field(max_length=forms.MAX_ENUM)] | None = None
    registered_amounts: Annotated[dict[str, Fen], Field(max_length=forms.MAX_ENUM)] | None = None


class Frequency(Body):
    """How often: ``times`` a ``period`` per household, or per value of ``per_field`` (a child's ID number)."""

    period: Literal["year", "ever", "none"]
    times: Annotated[int, Field(ge=1, le=12)] | None = None
    per_field: Annotated[str, text(40)] | None = None


class Definition(Body):
    """A whole kind of relief as a unit defines it."""

    name: Annotated[str, text(30, min_len=2)]
    description: Annotated[str, text(500)] | None = None
    enabled: bool = True
    who: Annotated[str, one_of(WHO)]
    suggest_for: Annotated[list[Annotated[str, one_of(means.CATEGORIES)]], Field(max_length=3)] = []
    fields: dict[str, Any]
    proofs: Annotated[list[Proof], Field(max_length=20)]
    amount: Amount
    frequency: Frequency
    deadlines: Annotated[dict[Annotated[str, one_of(STEPS)], Annotated[int, Field(ge=1, le=60)]],
                         Field(max_length=len(STEPS))] = {}


class Change(Body):
    """What an admin changes of a kind at a unit: the fields sent replace those in force there (a new code: all)."""

    name: Annotated[str, text(30, min_len=2)] | None = None
    description: Annotated[str, text(500)] | None = None
    enabled: bool | None = None
    who: Annotated[str, one_of(WHO)] | None = None
    suggest_for: Annotated[list[Annotated[str, one_of(means.CATEGORIES)]], Field(max_length=3)] | None = None
    fields: dict[str, Any] | None = None
    proofs: Annotated[list[Proof], Field(max_length=20)] | None = None
    amount: Amount | None = None
    frequency: Frequency | None = None
    deadlines: Annotated[dict[Annotated[str, one_of(STEPS)], Annotated[int, Field(ge=1, le=60)]],
                         Field(max_length=len(STEPS))] | None = None


def _problem(field: str, reason: str) -> Invalid:
    return Invalid("relief_kind_invalid", f"救助类别定义有误：{field} {reason}",
                   details=[{"field": field, "reason": reason}])


def check(defn: Definition) -> Definition:
    """The definition when its parts agree (form safe, amount and frequency naming fields it has), else 400."""
    schema = forms.check_schema(defn.fields)
    props: dict[str, Any] = schema["properties"]
    types = [p.type for p in defn.proofs]
    if len(set(types)) != len(types):
        raise _problem("proofs", "材料类型不能重复")
    rule = defn.amount
    needs = {"fixed": "amount", "cap": "amount", "line_months": "months", "field": "field", "by_choice": "field"}
    if rule.basis in needs and getattr(rule, needs[rule.basis]) is None:
        raise _problem(f"amount.{needs[rule.basis]}", "必填")
    if rule.basis == "field" and props.get(rule.field or "", {}).get("x-unit") != "fen":
        raise _problem("amount.field", "应为表单中的金额字段（x-unit 为 fen）")
    if rule.basis == "by_choice":
        values = set(props.get(rule.field or "", {}).get("enum", []))
        if not values:
            raise _problem("amount.field", "应为表单中的选择字段（enum）")
        for name in ("amounts", "registered_amounts"):
            table = getattr(rule, name)
            if (table is None and name == "amounts") or (table is not None and set(table) != values):
                raise _problem(f"amount.{name}", "应为该选择字段每个选项的金额")
    freq = defn.frequency
    if freq.period != "none" and freq.times is None:
        raise _problem("frequency.times", "必填")
    if freq.per_field is not None and freq.per_field not in props:
        raise _problem("frequency.per_field", "应为表单中的字段")
    return defn


def _definition(data: Mapping[str, Any]) -> Definition:
    return check(Definition.of({k: v for k, v in data.items() if v is not None or k == "description"}))


PRESET_DEFINITIONS: dict[str, Definition] = {code: _definition(data) for code, data in PRESETS.items()}


@dataclass(frozen=True)
class Kind:
    """A kind in force at a unit: its code, definition, and where it comes from (the defining unit, or the preset)."""

    code: str
    definition: Definition
    source_org_id: int | None  # None: the preset

    @property
    def preset(self) -> bool:
        """Whether the code is one of the presets (a unit may still have changed it)."""
        return self.code in PRESETS

    def staff_view(self, org_codes: Mapping[int, str]) -> dict[str, Any]:
        """The whole definition, and where it comes from."""
        return {"code": self.code, **self.definition.model_dump(), "preset": self.preset,
                "defined_at": org_codes.get(self.source_org_id) if self.source_org_id else None}


async def in_force(conn: AsyncConnection, org: orgs.Org, *, enabled_only: bool = False) -> list[Kind]:
    """The kinds in force at ``org``: presets first in their order, then the units' own kinds by code."""
    chain = await orgs.ancestors(conn, org)
    rows = (await conn.execute(sa.select(relief_kinds.c.org_id, relief_kinds.c.code, relief_kinds.c.definition)
                               .where(relief_kinds.c.org_id.in_(chain)))).all()
    depth = {org_id: i for i, org_id in enumerate(chain)}
    nearest: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: depth[r.org_id]):
        nearest[row.code] = row  # deeper units come later and win
    found = [Kind(code, Definition.model_validate_json(nearest[code].definition), nearest[code].org_id)
             if code in nearest else Kind(code, defn, None) for code, defn in PRESET_DEFINITIONS.items()]
    found += [Kind(code, Definition.model_validate_json(nearest[code].definition), nearest[code].org_id)
              for code in sorted(set(nearest) - set(PRESETS))]
    return [k for k in found if k.definition.enabled or not enabled_only]


async def _kind_at(conn: AsyncConnection, org: orgs.Org, code: str) -> Kind | None:
    return next((k for k in await in_force(conn, org) if k.code == code), None)


async def listing(conn: AsyncConnection, actor: Actor, org_code: str) -> tuple[orgs.Org, list[Kind]]:
    """Staff: the kinds in force at a unit of their subtree, disabled ones included."""
    policy.require(actor, "relief_kinds.view")
    org = await orgs.by_code(conn, org_code, within=policy.scope(actor))
    return org, await in_force(conn, org)


async def define(conn: AsyncConnection, actor: Actor, org_code: str, code: str, change: Change) -> Kind:
    """Set a kind at a unit (change a preset or inherited one, disable or enable it, or add a new code), audited."""
    policy.require(actor, "relief_kinds.manage")
    org = await orgs.by_code(conn, org_code, within=policy.scope(actor))
    if not CODE.match(code):
        raise Invalid("relief_kind_code", "救助类别代码只能由小写字母、数字和 _ 组成，以字母开头，2–32 位")
    current = await _kind_at(conn, org, code)
    base = current.definition.model_dump() if current else {}
    given = change.model_dump(include=change.given())
    defn = _definition({**base, **given})
    text_ = defn.model_dump_json()
    now = utcnow()
    updated = await conn.execute(relief_kinds.update()
                                 .where(relief_kinds.c.org_id == org.id, relief_kinds.c.code == code)
                                 .values(definition=text_, updated_by=actor.id, updated_at=now))
    if updated.rowcount == 0:
        await conn.execute(relief_kinds.insert().values(org_id=org.id, code=code, definition=text_,
                                                        updated_by=actor.id, updated_at=now))
    await audit.record(conn, actor, "relief_kind.define", target_kind="org", target_id=org.id, org_path=org.path,
                       summary={"code": code, "new": current is None, "changed": sorted(given),
                                "definition": json.loads(text_)})
    return Kind(code, defn, org.id)


async def undefine(conn: AsyncConnection, actor: Actor, org_code: str, code: str) -> Kind | None:
    """Drop a unit's own definition of a kind: what is inherited (or nothing, for its own kind) is in force again."""
    policy.require(actor, "relief_kinds.manage")
    org = await orgs.by_code(conn, org_code, within=policy.scope(actor))
    gone = await conn.execute(relief_kinds.delete().where(relief_kinds.c.org_id == org.id,
                                                          relief_kinds.c.code == code))
    if gone.rowcount != 1:
        raise NotFound("relief_kind_not_defined", "本单位没有自行设置该救助类别")
    await audit.record(conn, actor, "relief_kind.undefine", target_kind="org", target_id=org.id, org_path=org.path,
                       summary={"code": code})
    return await _kind_at(conn, org, code)


# --- what the worker sees ---------------------------------------------------------------------------


def _title(defn: Definition, field: str | None) -> str:
    return str(defn.fields["properties"].get(field or "", {}).get("title", field or ""))


def amount_view(defn: Definition, *, deep_line: int | None, registered: bool) -> dict[str, Any]:
    """The amount rule as the phone shows it: basis, the most in fen (None when it depends on the form), text."""
    rule = defn.amount
    out: dict[str, Any] = {"basis": rule.basis, "max": None, "text": ""}
    if rule.basis in ("fixed", "cap"):
        out["max"] = rule.amount
        out["text"] = f"{'标准' if rule.basis == 'fixed' else '最高'} {yuan(rule.amount or 0)} 元"
    elif rule.basis == "line_months":
        months = rule.months or 0
        out["max"] = months * deep_line if deep_line is not None else None
        if rule.amount is not None and out["max"] is not None:
            out["max"] = min(out["max"], rule.amount)
        out["text"] = f"每户每年最高 {months} 个月当地最低生活保障标准" + (
            f"（{yuan(out['max'])} 元）" if out["max"] is not None else "")
    elif rule.basis == "field":
        out["field"] = rule.field
        out["max"] = rule.amount
        out["text"] = f"不超过{_title(defn, rule.field)}" + (
            f"，最高 {yuan(rule.amount)} 元" if rule.amount is not None else "")
        if rule.threshold is not None:
            out["threshold"] = rule.threshold
            out["text"] += f"；{_title(defn, rule.field)}超过 {yuan(rule.threshold)} 元方可申请"
    elif rule.basis == "by_choice":
        table = (rule.registered_amounts if registered and rule.registered_amounts else rule.amounts) or {}
        labels = defn.fields["properties"][rule.field]["x-labels"]
        out.update(field=rule.field, amounts=dict(table), max=max(table.values()) if table else None)
        out["text"] = f"按{_title(defn, rule.field)}：" + "，".join(
            f"{labels[k]} {yuan(v)} 元" for k, v in table.items())
    else:
        out["text"] = "不涉及救助金额"
    return out


def frequency_view(defn: Definition) -> dict[str, Any]:
    """How often, as the phone shows it."""
    freq = defn.frequency
    per = f"按{_title(defn, freq.per_field)}计，" if freq.per_field else "每户"
    text_ = {"year": f"{per}每年限 {freq.times} 次", "ever": f"{per}限 {freq.times} 次", "none": "不限次数"}
    return {**freq.model_dump(), "text": text_[freq.period]}


def cap_for(defn: Definition, form: Mapping[str, Any], *, deep_line: int | None, registered: bool) -> int | None:
    """The most this application may be granted, in fen (pure; for the review's proposed amount);
    None when the kind has no amount or the form does not yet say."""
    rule = defn.amount
    if rule.basis in ("fixed", "cap"):
        return rule.amount
    if rule.basis == "line_months":
        if deep_line is None:
            return None
        most = (rule.months or 0) * deep_line
        return min(most, rule.amount) if rule.amount is not None else most
    if rule.basis == "field":
        value = form.get(rule.field or "")
        if not isinstance(value, int) or (rule.threshold is not None and value <= rule.threshold):
            return None if not isinstance(value, int) else 0
        return min(value, rule.amount) if rule.amount is not None else value
    if rule.basis == "by_choice":
        table = (rule.registered_amounts if registered and rule.registered_amounts else rule.amounts) or {}
        choice = form.get(rule.field or "")
        return table.get(choice) if isinstance(choice, str) else None
    return None


def may_apply(defn: Definition, *, registered: bool) -> bool:
    """Whether a member (in the register or not) may apply for this kind."""
    return defn.enabled and (defn.who == "member" or (defn.who == "registered") == registered)


def member_view(kind: Kind, *, deep_line: int | None, registered: bool) -> dict[str, Any]:
    """The kind as the worker's phone shows it: form, proofs, who, amount and frequency."""
    d = kind.definition
    return {"code": kind.code, "name": d.name, "description": d.description, "who": d.who,
            "fields": d.fields, "proofs": [p.model_dump() for p in d.proofs],
            "amount": amount_view(d, deep_line=deep_line, registered=registered),
            "frequency": frequency_view(d), "suggest_for": list(d.suggest_for)}


@dataclass(frozen=True)
class MemberContext:
    """What the worker's kinds depend on: their unit, whether they are in the register, the unit's lines."""

    org: orgs.Org
    registered: bool
    lines: tuple[int, int] | None


async def member_context(conn: AsyncConnection, member_id: int) -> MemberContext:
    """The member's unit, register status and the lines in force there (None when unset)."""
    org_id = (await conn.execute(sa.select(members.c.org_id).where(members.c.id == member_id))).scalar_one_or_none()
    if org_id is None:
        raise NotFound("member_not_bound", "请先完成会员实名绑定")
    org = await orgs.get(conn, int(org_id))
    try:
        lines: tuple[int, int] | None = await hardship.income_lines(conn, org)
    except Invalid:
        lines = None
    return MemberContext(org, await hardship.registered(conn, member_id) is not None, lines)


async def for_member(conn: AsyncConnection, member_id: int) -> tuple[MemberContext, list[Kind]]:
    """The kinds in force at the member's unit that this member may apply for."""
    ctx = await member_context(conn, member_id)
    kinds = [k for k in await in_force(conn, ctx.org, enabled_only=True)
             if may_apply(k.definition, registered=ctx.registered)]
    return ctx, kinds


def suggested(kinds: list[Kind], category: str | None) -> list[str]:
    """The codes of the kinds a self-test category points to (none when no category)."""
    return [k.code for k in kinds if category is not None and category in k.definition.suggest_for]
