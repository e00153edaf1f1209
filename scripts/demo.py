"""Demo data: a union network, staff, a roster and a difficult worker, for `serve --demo` and `demo-data`.

Loading twice changes nothing. Relief applications join the demo as that
feature lands.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from datetime import date

from models import benefits, hardship, members, merchants, orgs, staff
from models.benefit_rules import PRESETS
from models.actors import SYSTEM
from models.idcard import check_digit, parse_id_number
from models.roster import RosterParse, RosterRow
from models.tables import orgs as orgs_table
from models.tables import staff as staff_table
from server.config import Config
from server.crypto import PiiCipher, load_keyring

DEMO_PASSWORD = "demo-Passw0rd-2026"
NETWORK = [
    ("HN", "湖南省总工会", "province", None),
    ("CS", "长沙市总工会", "city", "HN"),
    ("CS-FR", "芙蓉区总工会（职工服务中心）", "county", "CS"),
    ("CS-FR-DH", "东湖街道工会服务站", "street", "CS-FR"),
    ("CS-FR-DH-01", "东湖社区工会", "grassroots", "CS-FR-DH"),
    ("CS-FR-DH-02", "湘绣厂工会", "grassroots", "CS-FR-DH"),
    ("CS-TX", "天心区总工会", "county", "CS"),
]
STAFF = [
    ("admin", ["admin"], "CS", "市总管理员"),
    ("clerk", ["station"], "CS-FR-DH", "服务站经办"),
    ("reviewer", ["reviewer", "approver"], "CS-FR", "区帮扶中心审核"),
]
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = "秀英建国桂兰志强玉梅海燕春生"
# The seeds' partners, each with its stores and the presets of its deals.
PARTNERS = [
    ("步步高爱心超市", "supermarket", ["东湖店", "五一广场店", "火车站店"],
     ["supermarket_card"]),
    ("老百姓爱心大药房", "pharmacy", ["东湖店", "芙蓉中路店"], ["pharmacy_drug_card", "discount_pharmacy"]),
    ("长沙市第一医院", "hospital", ["本部"], ["hospital_registration", "hospital_large_exam",
                                          "hospital_inpatient"]),
    ("东湖小学", "school", ["本部"], ["school_tuition"]),
]


def demo_id(seq: int) -> str:
    first17 = f"430102{1960 + seq % 30}{seq % 12 + 1:02d}{seq % 28 + 1:02d}{seq:03d}"
    return first17 + check_digit(first17)


# The person a newcomer binds with from the printed curl line.
DEMO_MEMBER = ("张秀英", demo_id(1))


async def load_demo(config: Config, engine: AsyncEngine) -> dict[str, Any]:
    """Create the demo records unless they are there; returns what to print."""
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        if (await conn.execute(sa.select(orgs_table.c.id).where(orgs_table.c.code == "HN"))).first():
            return {"created": False}
        units = {}
        for code, name, type_, parent in NETWORK:
            units[code] = await orgs.create(conn, SYSTEM, code=code, name=name, type_=type_, parent_code=parent)
        for username, roles, org_code, display in STAFF:
            await staff.create(conn, SYSTEM, username=username, password=DEMO_PASSWORD, roles=roles,
                               org_code=org_code, display_name=display)
        rows = [RosterRow(line=2, name=DEMO_MEMBER[0], id_number=parse_id_number(DEMO_MEMBER[1]),
                          phone="13800000001", employer="湘绣厂", org="CS-FR-DH-02")]
        for seq in range(2, 21):
            name = SURNAMES[seq % 10] + GIVEN[(seq * 2) % 12:(seq * 2) % 12 + 2]
            rows.append(RosterRow(line=seq + 1, name=name, id_number=parse_id_number(demo_id(seq)),
                                  phone=f"1380000{seq:04d}", employer="东湖社区", org="CS-FR-DH-01"))
        parsed = RosterParse(rows=rows, total=len(rows))
        await members.import_roster(conn, cipher, SYSTEM, parsed, org=units["CS-FR-DH"])
        actors = {}
        for username in ("admin", "clerk"):
            staff_id = (await conn.execute(sa.select(staff_table.c.id).where(staff_table.c.username == username))
                        ).scalar_one()
            actors[username] = await staff.actor_for(conn, staff_id, None, None)
        await hardship.set_income_lines(conn, actors["admin"], "CS", 60000, 120000)
        actor = actors["clerk"]
        first = (await members.search(conn, cipher, actor, id_number=DEMO_MEMBER[1]))[0]
        await hardship.enter(
            conn, cipher, actor, first.id, causes=["illness"], verification_method="home_visit",
            household=[
                {"relation": "本人", "name": DEMO_MEMBER[0], "age": 58, "health": "慢性肾病", "work": "退休",
                 "monthly_income": 90000},
                {"relation": "配偶", "name": "李建国", "age": 60, "health": "良好", "work": "无业",
                 "monthly_income": 0},
            ],
            visit_note="2026 年 11 月入户走访，家中两人，配偶无收入。",
        )
        await _partners(conn, actors["admin"], units["CS-FR"].id)
    return {"created": True}


async def _partners(conn: Any, admin: Any, org_id: int) -> None:
    """The seeds' partners and deals, signed by the district's assistance center."""
    made: dict[str, list[int]] = {}
    for name, type_, store_names, presets in PARTNERS:
        merchant = await merchants.create(conn, admin, name=name, type=type_, org_id=org_id,
                                          agreement_from=date(2026, 1, 1), agreement_to=date(2028, 12, 31),
                                          contact="0731-8888" + str(len(made)).zfill(4))
        for n, store in enumerate(store_names, 1):
            await merchants.add_store(conn, admin, merchant.id, name=store, address=f"长沙市芙蓉区{store}{n}号")
        for preset in presets:
            made.setdefault(preset, []).append(merchant.id)
    for priority, preset in enumerate(PRESETS):
        program = await benefits.create(conn, admin, org_id, {"preset": preset, "valid_from": "2026-01-01",
                                                              "valid_to": "2028-12-31", "priority": priority})
        await benefits.set_merchants(conn, admin, program.id, made.get(preset, []))


def demo_help(base: str, sandbox: str) -> str:
    """How to try the demo with curl: a worker login through the sandbox, binding, a staff login."""
    name, id_number = DEMO_MEMBER
    return _sandbox_help(base, sandbox) + f"""Demo data: the 长沙市总工会 network, 20 members, one difficult worker (张秀英),
partners with the seeds' deals (爱心超市, 爱心药店, 爱心医院, 爱心学校).
Staff logins (password {DEMO_PASSWORD}): admin (市总), reviewer (芙蓉区), clerk (东湖街道服务站)
  curl -s -X POST {base}/api/v1/auth/staff -H 'Content-Type: application/json' -d '{{"username": "clerk", "password": "{DEMO_PASSWORD}"}}'
A worker claims their record (with the token of the worker login above):
  curl -s -X POST {base}/api/v1/me/bind -H 'Authorization: Bearer TOKEN' -H 'Content-Type: application/json' -d '{{"name": "{name}", "id_number": "{id_number}"}}'
Their service card and its one-minute QR code:
  curl -s {base}/api/v1/me/card -H 'Authorization: Bearer TOKEN'
  curl -s {base}/api/v1/me/card/qr -H 'Authorization: Bearer TOKEN'
A cashier: the admin invites one for the pharmacy's first store, a second WeChat user binds with the code:
  curl -s -X POST {base}/api/v1/staff/merchants/2/invites -H 'Authorization: Bearer STAFF_TOKEN' -H 'Content-Type: application/json' -d '{{"role": "cashier", "store_id": 4}}'
  curl -s -X POST {base}/api/v1/merchant/bind -H 'Authorization: Bearer CASHIER_TOKEN' -H 'Content-Type: application/json' -d '{{"invite_code": "CODE"}}'
  curl -s -X POST {base}/api/v1/merchant/scan -H 'Authorization: Bearer CASHIER_TOKEN' -H 'Content-Type: application/json' -d '{{"qr": "QR_TOKEN"}}'
  curl -s -X POST {base}/api/v1/merchant/redemptions -H 'Authorization: Bearer CASHIER_TOKEN' -H 'Idempotency-Key: demo-0001' -H 'Content-Type: application/json' -d '{{"scan_id": "SCAN_ID", "items": [{{"category": "drug", "amount": 12800}}]}}'
"""


def _sandbox_help(base: str, sandbox: str) -> str:
    return f"""
Demo mode: the WeChat sandbox answers at {sandbox}
Log in as a worker (any code works once; the part before the first '.' names the person):
  curl -s -X POST {base}/api/v1/auth/wechat -H 'Content-Type: application/json' -d '{{"code": "alice.1"}}'
Then, with the token from that answer:
  curl -s {base}/api/v1/me -H 'Authorization: Bearer TOKEN'
  curl -s -X POST {base}/api/v1/me/phone -H 'Authorization: Bearer TOKEN' -H 'Content-Type: application/json' -d '{{"code": "13812345678"}}'
The API is described at {base}/api/v1/openapi.json
"""
