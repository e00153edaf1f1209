"""Demo data: a union network, staff, a roster and a difficult worker, the partners and their deals, and
the relief work of the district in every state of the procedure (scripts/demo_relief.py), for
`serve --demo` and `demo-data`; and the walkthrough `serve --demo` prints.

Loading twice changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models.cards import usecases as card_flows
from models.core.actors import SYSTEM, Actor
from models.core.clock import local_today
from models.identity import staff_accounts as staff
from models.identity.tables import staff as staff_table
from models.members import hardship, hardship_review
from models.members import membership as members
from models.members.idcard import age_on, check_digit, parse_id_number
from models.members.roster import RosterParse, RosterRow
from models.network import tree as orgs
from models.network.tables import orgs as orgs_table
from models.partners import partnership as merchants
from models.partners import programmes as benefits
from models.partners.rules import PRESETS
from models.partners.tables import merchants as merchants_table
from models.partners.tables import stores as stores_table
from scripts import demo_relief
from server.config import Config
from server.crypto import PiiCipher, load_keyring
from server.passwords import ARGON2

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
    # Four eyes: the committee's approver, the city's approver, and finance, each deciding one step.
    ("approver", ["approver"], "CS-FR", "区帮扶中心评议组"),
    ("director", ["approver"], "CS", "市总帮扶中心主任"),
    ("accountant", ["finance"], "CS-FR", "区帮扶中心会计"),
    ("treasurer", ["finance"], "CS-FR", "区帮扶中心出纳"),
]
# The region code of 长沙市芙蓉区, where every demo member was registered.
REGION = "430102"


@dataclass(frozen=True)
class Person:
    """A demo member: the ID number is built from the birth date and gender, so they always agree."""

    name: str
    gender: str  # male | female
    birth: date
    employer: str
    org: str

    def id_number(self, index: int) -> str:
        """GB 11643: region, birth date, a sequence whose last digit is odd for a man and even for a woman."""
        first17 = f"{REGION}{self.birth:%Y%m%d}{index % 100:02d}{1 if self.gender == 'male' else 2}"
        return first17 + check_digit(first17)


# The roster: 张秀英 (the difficult worker of the walkthrough) at the embroidery factory, the rest at the community.
PEOPLE = [
    Person("张秀英", "female", date(1971, 3, 12), "湘绣厂", "CS-FR-DH-02"),
    *(Person(name, gender, date.fromisoformat(birth), "东湖社区", "CS-FR-DH-01") for name, gender, birth in [
        ("李建华", "male", "1975-06-08"), ("王桂兰", "female", "1968-11-23"), ("刘志强", "male", "1982-02-14"),
        ("陈玉梅", "female", "1979-09-30"), ("杨海燕", "female", "1986-04-17"), ("黄春生", "male", "1972-12-05"),
        ("赵丽娟", "female", "1990-07-21"), ("吴国华", "male", "1967-01-09"), ("周秀珍", "female", "1984-05-26"),
        ("王卫东", "male", "1978-10-03"), ("李淑芬", "female", "1981-08-15"), ("张德明", "male", "1970-03-28"),
        ("刘晓燕", "female", "1993-12-11"), ("陈宏伟", "male", "1988-06-19"), ("杨美玲", "female", "1976-02-02"),
        ("黄文斌", "male", "1995-09-07"), ("赵春梅", "female", "1983-11-29"), ("吴海波", "male", "1991-04-04"),
        ("周建军", "male", "1974-07-16"),
    ]),
]
# 张秀英's husband: in her household, not a member himself.
SPOUSE = ("李建国", date(1969, 8, 20))

# The person a newcomer binds with from the printed walkthrough.
DEMO_MEMBER = (PEOPLE[0].name, PEOPLE[0].id_number(1))

# The seeds' partners, each with its stores and the presets of its deals.
PARTNERS = [
    ("步步高爱心超市", "supermarket", ["东湖店", "五一广场店", "火车站店"],
     ["supermarket_card"]),
    ("老百姓爱心大药房", "pharmacy", ["东湖店", "芙蓉中路店"], ["pharmacy_drug_card", "discount_pharmacy"]),
    ("长沙市第一医院", "hospital", ["本部"], ["hospital_registration", "hospital_large_exam",
                                          "hospital_inpatient"]),
    ("东湖小学", "school", ["本部"], ["school_tuition"]),
]
# Where the walkthrough's cashier works: the pharmacy's first store.
COUNTER = ("老百姓爱心大药房", "东湖店")


class _OneHash:
    """Argon2id as the service hashes, each password once: every demo account has the one password the
    walkthrough prints, so one hash serves them all (a hash is a quarter of a second of CPU)."""

    def __init__(self) -> None:
        self._hashes: dict[str, str] = {}

    async def hash(self, password: str) -> str:
        """The password's argon2id hash, made on first use."""
        if password not in self._hashes:
            self._hashes[password] = await ARGON2.hash(password)
        return self._hashes[password]

    async def verify(self, stored: str | None, password: str) -> bool:
        """As the service verifies."""
        return await ARGON2.verify(stored, password)


async def load_demo(config: Config, engine: AsyncEngine, *, actor: Actor = SYSTEM) -> dict[str, Any]:
    """Create the demo records unless they are there; returns ``created`` and the walkthrough's counter.

    Every audit record carries ``actor``'s request id (``demo-data`` seals its own records by it)."""
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        if (await conn.execute(sa.select(orgs_table.c.id).where(orgs_table.c.code == "HN"))).first():
            return {"created": False, **await _counter(conn)}
        units = {}
        for code, name, type_, parent in NETWORK:
            units[code] = await orgs.create(conn, actor, code=code, name=name, type_=type_, parent_code=parent)
        hasher = _OneHash()
        for username, roles, org_code, display in STAFF:
            await staff.create(conn, actor, hasher=hasher, username=username, password=DEMO_PASSWORD, roles=roles,
                               org_code=org_code, display_name=display)
        rows = [RosterRow(line=n + 1, name=p.name, id_number=parse_id_number(p.id_number(n)),
                          phone=f"1380000{n:04d}", employer=p.employer, org=p.org)
                for n, p in enumerate(PEOPLE, 1)]
        await card_flows.import_roster(conn, cipher, actor, RosterParse(rows=rows, total=len(rows)),
                                    org=units["CS-FR-DH"])
        actors = {}
        for username in ("admin", "clerk", "reviewer"):
            staff_id = (await conn.execute(sa.select(staff_table.c.id).where(staff_table.c.username == username))
                        ).scalar_one()
            actors[username] = await staff.actor_for(conn, staff_id, actor.request_id, actor.ip)
        await hardship.set_income_lines(conn, actors["admin"], "CS", 60000, 120000)
        clerk = actors["clerk"]
        first = (await members.search(conn, cipher, clerk, id_number=DEMO_MEMBER[1]))[0]
        today = local_today()
        # The station's clerk enters her; the district's reviewer, a second person, confirms the entry.
        entered = await hardship.enter(conn, cipher, clerk, first.id, hardship.HardshipEntry.of({
            "causes": ["illness"], "verification_method": "home_visit",
            "household": [
                {"relation": "本人", "name": PEOPLE[0].name, "age": age_on(PEOPLE[0].birth, today),
                 "health": "慢性肾病，每周透析", "work": "湘绣厂绣工（病休）", "monthly_income": 90000},
                {"relation": "配偶", "name": SPOUSE[0], "age": age_on(SPOUSE[1], today), "health": "腰伤",
                 "work": "无业", "monthly_income": 0},
            ],
            "visit_note": "入户走访：家中两人，本人病休，配偶因腰伤无业、无收入。",
        }))
        await hardship_review.confirm(conn, actors["reviewer"], entered.id, note="已核对入户走访记录")
        await _partners(conn, actors["admin"], units["CS-FR"].id)
        counter = await _counter(conn)
    await demo_relief.load(config, engine, request_id=actor.request_id)  # its own transactions, as the service would run them
    return {"created": True, **counter}


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
        program = await benefits.create(conn, admin, org_id, benefits.ProgramDraft.of(
            {"preset": preset, "valid_from": "2026-01-01", "valid_to": "2028-12-31", "priority": priority}))
        await benefits.set_merchants(conn, admin, program.id, made.get(preset, []))


async def _counter(conn: Any) -> dict[str, int]:
    """The ids of the walkthrough's merchant and store, as this database numbered them."""
    row = (await conn.execute(
        sa.select(merchants_table.c.id.label("merchant_id"), stores_table.c.id.label("store_id"))
        .join(stores_table, stores_table.c.merchant_id == merchants_table.c.id)
        .where(merchants_table.c.name == COUNTER[0], stores_table.c.name == COUNTER[1])
        .order_by(merchants_table.c.id, stores_table.c.id).limit(1))).first()
    return {"merchant_id": row.merchant_id, "store_id": row.store_id} if row else {}


# Keeps one field of a JSON answer: `python3 -c` so the lines need nothing but curl and Python. An error
# answer has no such field: the script then prints the answer (with its message) and fails.
def _pick(*path: str) -> str:
    keys = "".join(f'["{k}"]' for k in path)
    return (f"python3 -c 'import json,sys; a=json.load(sys.stdin); "
            f"print(a{keys}) if \"{path[0]}\" in a else sys.exit(a)'")


def demo_help(base: str, sandbox: str, counter: dict[str, Any] | None = None) -> str:
    """The walkthrough `serve --demo` prints: bash lines to paste in order, each variable set just above its use.

    ``counter`` holds the ids of the pharmacy and store the cashier is invited to (from load_demo).
    """
    counter = counter or {"merchant_id": 2, "store_id": 4}
    name, id_number = DEMO_MEMBER
    api = f"{base}/api/v1"
    json_h = "-H 'Content-Type: application/json'"
    worker = '-H "Authorization: Bearer $TOKEN"'
    staff_h = '-H "Authorization: Bearer $STAFF_TOKEN"'
    cashier = '-H "Authorization: Bearer $CASHIER_TOKEN"'
    return f"""
Demo mode: WeChat is the sandbox at {sandbox}: a login code works once, and the part
before its first '.' names the person (xiuying.1 and xiuying.2 are the same WeChat user).
Demo data: the 长沙市总工会 network, 20 members, three difficult workers ({name}, 湘绣厂; 王桂兰 and 黄春生, 东湖社区),
partner merchants and their deals (爱心超市, 爱心药店, 爱心医院, 爱心学校).
Staff logins, password {DEMO_PASSWORD}: admin (市总, 管理员), reviewer (芙蓉区, 审核/审批), clerk (东湖街道服务站, 经办),
approver (芙蓉区, 集体评议), director (市总, 审批), accountant and treasurer (芙蓉区, 财务).
{demo_relief.summary()}
The staff console: {base}/console/ (log in with one of the staff logins above).
The API is described at {api}/openapi.json

The story at the counter: paste these lines into bash, in order (lines starting with # are comments).
Each answer a later line needs is kept in a shell variable. `unionaid demo-tour` plays it all and shows every answer.
# 1. The worker {name} logs in with WeChat (a new WeChat user is a visitor until bound):
TOKEN=$(curl -s -X POST {api}/auth/wechat {json_h} -d '{{"code": "xiuying.1"}}' | {_pick("token")})
# 2. She claims her roster record by real name and ID number:
curl -s -w '\\n' -X POST {api}/me/bind {worker} {json_h} -d '{{"name": "{name}", "id_number": "{id_number}"}}'
# 3. Her service card and the benefits on it:
curl -s -w '\\n' {api}/me/card {worker}
# 4. The city union's admin logs in:
STAFF_TOKEN=$(curl -s -X POST {api}/auth/staff {json_h} -d '{{"username": "admin", "password": "{DEMO_PASSWORD}"}}' | {_pick("token")})
# 5. ... and invites a cashier for the pharmacy {COUNTER[0]}, store {COUNTER[1]} (prints the one-time invite code):
INVITE=$(curl -s -X POST {api}/staff/merchants/{counter["merchant_id"]}/invites {staff_h} {json_h} -d '{{"role": "cashier", "store_id": {counter["store_id"]}}}' | {_pick("invite", "code")}); echo "$INVITE"
# 6. The cashier, a second WeChat user, logs in:
CASHIER_TOKEN=$(curl -s -X POST {api}/auth/wechat {json_h} -d '{{"code": "cashier.1"}}' | {_pick("token")})
# 7. ... and joins the store with the invite code:
curl -s -w '\\n' -X POST {api}/merchant/bind {cashier} {json_h} -d '{{"invite_code": "'$INVITE'"}}'
# 8. At the counter {name} shows her QR code. It lives 60 seconds: run the next line within a minute.
QR=$(curl -s {api}/me/card/qr {worker} | {_pick("token")})
# 9. The cashier scans it (the scan can be redeemed for 5 minutes):
SCAN=$(curl -s -X POST {api}/merchant/scan {cashier} {json_h} -d '{{"qr": "'$QR'"}}' | {_pick("scan_id")})
# 10. ... and redeems a 128.00 yuan drug bill: the drug card pays it all, the union 85 %, the pharmacy 15 %:
curl -s -w '\\n' -X POST {api}/merchant/redemptions {cashier} -H "Idempotency-Key: demo-$SCAN" {json_h} -d '{{"scan_id": "'$SCAN'", "items": [{{"category": "drug", "amount": 12800}}]}}'
# 11. {name} sees it in her history:
curl -s -w '\\n' {api}/me/redemptions {worker}
# 12. ... and in her notices (kept in the app; sent by WeChat too when she allowed that kind of notice):
curl -s -w '\\n' {api}/me/notices {worker}

To walk it again while this server runs, use new login codes (xiuying.2, cashier.2): each works once.
Stop the service with Ctrl-C.
"""
