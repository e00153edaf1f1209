"""Small builders for test data: valid ID numbers, a union tree, a roster in the database."""
from __future__ import annotations

from typing import Any

from models import members, orgs
from models.actors import SYSTEM
from models.idcard import check_digit
from models.roster import parse_roster
from server.crypto import PiiCipher


def id_number(seq: int, birth: str = "19800101", region: str = "110101") -> str:
    first17 = f"{region}{birth}{seq % 1000:03d}"
    return first17 + check_digit(first17)


async def org_tree(conn: Any) -> dict[str, orgs.Org]:
    """city → county → street → two grassroots units, plus a second county."""
    made: dict[str, orgs.Org] = {}
    for code, name, type_, parent in [
        ("C01", "长沙市总工会", "city", None),
        ("K01", "芙蓉区总工会", "county", "C01"),
        ("S01", "东湖街道服务站", "street", "K01"),
        ("G01", "东湖社区工会", "grassroots", "S01"),
        ("G02", "湘绣厂工会", "grassroots", "S01"),
        ("K02", "天心区总工会", "county", "C01"),
    ]:
        made[code] = await orgs.create(conn, SYSTEM, code=code, name=name, type_=type_, parent_code=parent)
    return made


def roster_csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["姓名,身份证号,手机号,工作单位"] + [f"{n},{i},{p},湘绣厂" for n, i, p in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


async def import_rows(conn: Any, cipher: PiiCipher, org: orgs.Org, rows: list[tuple[str, str, str]],
                      *, strict: bool = False) -> members.ImportReport:
    parsed = parse_roster(roster_csv(rows), "roster.csv")
    return await members.import_roster(conn, cipher, SYSTEM, parsed, org=org, strict=strict)
