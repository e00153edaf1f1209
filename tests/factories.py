"""Small builders for test data: valid ID numbers, a union tree, a roster in the database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from models.cards import usecases as card_flows
from models.core.actors import SYSTEM, Actor
from models.members import membership as members
from models.members.idcard import check_digit
from models.members.roster import parse_roster
from models.network import tree as orgs
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
    return await card_flows.import_roster(conn, cipher, SYSTEM, parsed, org=org, strict=strict)


def staff_actor(org: orgs.Org, *roles: str, staff_id: int = 1) -> Actor:
    """A member of staff at ``org`` (no account row: enough for domain functions)."""
    return Actor(kind="staff", id=staff_id, roles=frozenset(roles or {"admin"}), org_id=org.id, org_path=org.path)


@dataclass
class Counter:
    """A bound worker with a card, and a partner merchant with a bound cashier."""

    tree: dict[str, orgs.Org]
    worker: str  # bearer token of the worker
    member_id: int
    card_id: int
    merchant_id: int
    store_id: int
    cashier: str  # bearer token of the cashier
    admin: Actor
    cipher: PiiCipher


async def counter(api: Any, engine: Any, running: Any, *, worker_code: str = "wang.1", cashier_code: str = "cash.1",
                  merchant_type: str = "pharmacy", seq: int = 21) -> Counter:
    """Build the scene at a pharmacy counter through the real paths (roster, bind, invite)."""
    from models.partners import invites
    from models.partners import partnership as merchants

    cipher: PiiCipher = running.settings["cipher"]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("王秀英", id_number(seq), "13800000021")])
        admin = staff_actor(tree["K01"], "admin")
        merchant = await merchants.create(conn, admin, name="老百姓大药房", type=merchant_type, org_id=tree["K01"].id,
                                          agreement_from=date(2020, 1, 1), agreement_to=date(2099, 12, 31))
        store = await merchants.add_store(conn, admin, merchant.id, name="东湖店", address="东湖路 1 号")
        invite = await invites.create(conn, cipher, admin, merchant.id, role="cashier", store_id=store["id"])
    worker = await api.login(worker_code)
    bound = await api.post("/api/v1/me/bind", {"name": "王秀英", "id_number": id_number(seq)}, token=worker)
    assert bound.status == 200, bound.data
    cashier = await api.login(cashier_code)
    joined = await api.post("/api/v1/merchant/bind", {"invite_code": invite.code}, token=cashier)
    assert joined.status == 200, joined.data
    card = await api.get("/api/v1/me/card", token=worker)
    assert card.status == 200, card.data
    return Counter(tree, worker, bound.data["member"]["id"], card.data["id"], merchant.id, store["id"], cashier, admin,
                   cipher)
