"""The household of an application: who lives with the applicant, their relation, ID number and income.

ID numbers are validated like members' (``models.members.idcard``), encrypted with the members' cipher
purpose and blind-indexed the same way, so a household member of one application is found as the
applicant (``members.id_number_bidx``) or a household member of another (duplicate flags).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Sequence

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.errors import Invalid
from models.core.masking import mask_id_number
from models.core.ports import PiiCipher
from models.core.typed import Body, Fen, Id, one_of, text
from models.members.idcard import parse_id_number
from models.members.membership import ID_NUMBER
from models.relief.tables import relief_household

#: The relations a household member may have to the applicant (the applicant is not listed).
RELATIONS = {"spouse": "配偶", "child": "子女", "parent": "父母", "sibling": "兄弟姐妹",
             "grandparent": "祖父母或外祖父母", "grandchild": "孙子女或外孙子女", "other": "其他共同生活的家庭成员"}
MAX_PEOPLE = 20


class Person(Body):
    """A household member as the worker enters it; ``id`` names a listed one whose ID number is kept when omitted."""

    id: Id | None = None
    name: Annotated[str, text(50, min_len=1)]
    relation: Annotated[str, one_of(RELATIONS)]
    id_number: Annotated[str, text(20, min_len=1)] | None = None
    monthly_income: Fen | None = None


Household = Annotated[list[Person], Field(max_length=MAX_PEOPLE)]


@dataclass(frozen=True)
class Member:
    """A stored household member, ID number decrypted."""

    id: int
    name: str
    relation: str
    id_number: str | None
    monthly_income: int | None

    def worker_view(self) -> dict[str, Any]:
        """What the applicant sees: the ID number masked like members' views."""
        return {"id": self.id, "name": self.name, "relation": self.relation,
                "relation_name": RELATIONS.get(self.relation, self.relation),
                "id_number_masked": mask_id_number(self.id_number) if self.id_number else None,
                "monthly_income": self.monthly_income}


async def load(conn: AsyncConnection, cipher: PiiCipher, application_id: int) -> list[Member]:
    """The household of an application, in the order entered."""
    rows = (await conn.execute(sa.select(relief_household).where(relief_household.c.application_id == application_id)
                               .order_by(relief_household.c.id))).all()
    return [Member(r.id, r.name, r.relation,
                   cipher.decrypt(r.id_number_enc, purpose=ID_NUMBER) if r.id_number_enc else None,
                   r.monthly_income) for r in rows]


def _problem(index: int, field: str, reason: str) -> dict[str, str]:
    return {"field": f"household[{index}].{field}", "reason": reason}


def _id_number(raw: str) -> str:
    return parse_id_number(raw).value


async def replace(conn: AsyncConnection, cipher: PiiCipher, application_id: int, people: Sequence[Person],
                  *, applicant_bidx: str | None) -> None:
    """Replace the household with ``people`` (400 ``relief_household`` naming every problem at once).

    A person sent with the ``id`` of a listed one and no ``id_number`` keeps the stored number (the
    applicant's view shows it masked, so the phone cannot send it back)."""
    current = {m.id: m for m in await load(conn, cipher, application_id)}
    problems: list[dict[str, str]] = []
    values: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, person in enumerate(people):
        number: str | None = None
        if person.id_number is not None:
            try:
                number = _id_number(person.id_number)
            except Invalid as exc:
                problems.append(_problem(i, "id_number", f"{person.name}的{exc.message}"))
        elif person.id is not None:
            if person.id not in current:
                problems.append(_problem(i, "id", "没有这位家庭成员"))
            else:
                number = current[person.id].id_number
        bidx = cipher.blind_index(number, purpose=ID_NUMBER) if number else None
        if bidx is not None and bidx == applicant_bidx:
            problems.append(_problem(i, "id_number", "家庭成员中不必填写申请人本人"))
        elif bidx is not None and bidx in seen:
            problems.append(_problem(i, "id_number", f"与第 {seen[bidx] + 1} 位家庭成员的身份证号相同"))
        if bidx is not None:
            seen.setdefault(bidx, i)
        values.append({"application_id": application_id, "name": person.name.strip(), "relation": person.relation,
                       "id_number_enc": cipher.encrypt(number, purpose=ID_NUMBER) if number else None,
                       "id_number_bidx": bidx, "monthly_income": person.monthly_income})
    if problems:
        raise Invalid("relief_household", "家庭成员填写有误：" + "；".join(p["reason"] for p in problems[:5]),
                      details=problems)
    await conn.execute(relief_household.delete().where(relief_household.c.application_id == application_id))
    if values:
        await conn.execute(relief_household.insert(), values)


def incomplete(people: Sequence[Member]) -> list[dict[str, str]]:
    """What a submission still lacks in the household: every member's ID number."""
    return [{"item": f"household[{i}].id_number", "reason": f"请填写家庭成员{m.name}的身份证号"}
            for i, m in enumerate(people) if not m.id_number]


async def bidxes(conn: AsyncConnection, application_id: int) -> set[str]:
    """The blind indexes of the household's ID numbers."""
    rows = await conn.execute(sa.select(relief_household.c.id_number_bidx).where(
        relief_household.c.application_id == application_id, relief_household.c.id_number_bidx.is_not(None)))
    return {str(r[0]) for r in rows}
