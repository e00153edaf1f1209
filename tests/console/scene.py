"""A small union tree with the console's staff, and relief applications waiting at their steps."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.core.actors import SYSTEM
from models.identity import staff_accounts
from models.network import tree as orgs
from server.passwords import ARGON2
from tests.factories import org_tree

PASSWORD = "Console-Pass-2026!"
#: username, roles, home unit
STAFF = [
    ("station1", ["station"], "S01"),       # 东湖街道服务站: verification
    ("reviewer1", ["reviewer"], "K01"),     # 芙蓉区: county review, notices, objections
    ("approver1", ["approver"], "K01"),     # 芙蓉区: collective review, approval
    ("finance1", ["finance"], "K01"),
    ("admin1", ["admin"], "C01"),
    ("outsider", ["station", "reviewer"], "K02"),  # 天心区: another county
]


@dataclass
class Scene:
    tree: dict[str, orgs.Org]
    staff: dict[str, staff_accounts.Staff]


async def make_scene(engine: Any) -> Scene:
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        made = {}
        for username, roles, org in STAFF:
            made[username] = await staff_accounts.create(conn, SYSTEM, hasher=ARGON2, username=username,
                                                         password=PASSWORD, roles=roles, org_code=org,
                                                         display_name=f"{username}的名字")
    return Scene(tree, made)


@dataclass
class Relief:
    """Applications of the scene: at verification (with a proof and a visit), overdue and flagged, back after a
    return; one at the county step; one in the other county."""

    fresh: int
    overdue_flagged: int
    resubmitted: int
    county: int
    elsewhere: int
    proof: int


def actor_of(member: staff_accounts.Staff) -> Any:
    from models.core.actors import Actor

    return Actor(kind="staff", id=member.id, roles=member.roles, org_id=member.org.id, org_path=member.org.path)


async def relief_scene(running: Any, engine: Any, scene: Scene) -> Relief:
    import io
    from datetime import date

    from models.relief import proofs, visits
    from models.relief.kinds import PRESET_DEFINITIONS
    from models.relief.tables import relief_applications
    from tests import hostile_files
    from tests.relief_helpers import flag, resubmit, submitted, worker

    cipher = running.settings["cipher"]
    store = running.settings["attachments"]
    stored = store.put(io.BytesIO(hostile_files.jpeg()), purpose="relief_proof")
    async with engine.begin() as conn:
        tree = scene.tree
        m1, u1 = await worker(conn, cipher, tree["G01"], 61, name="王秀英")
        m2, u2 = await worker(conn, cipher, tree["G01"], 62, name="李建华")
        m3, u3 = await worker(conn, cipher, tree["G02"], 63, name="赵六")
        m4, u4 = await worker(conn, cipher, tree["G02"], 64, name="钱七")
        m5, u5 = await worker(conn, cipher, tree["K02"], 65, name="孙八")
        fresh = await submitted(conn, cipher, m1, u1, tree["G01"])
        proof = await proofs.add(conn, PRESET_DEFINITIONS["temporary"], fresh, "event_proof", stored,
                                 uploaded_by="worker", max_total=30)
        await visits.record(conn, cipher, actor_of(scene.staff["station1"]), fresh, visits.VisitBody.of(
            {"date": date.today().isoformat(), "visitors": ["站长甲", "干事乙"], "findings": "家中确有困难，情况属实。"}))
        overdue = await submitted(conn, cipher, m2, u2, tree["G01"], due_in_days=-2)
        await flag(conn, overdue, other=fresh)
        back = await submitted(conn, cipher, m3, u3, tree["G02"])
        await conn.execute(relief_applications.update().where(relief_applications.c.id == back)
                           .values(status="returned", returned_step="verification"))
        await resubmit(conn, cipher, back)
        county = await submitted(conn, cipher, m4, u4, tree["G02"], step="county_review")
        await flag(conn, county, other=fresh)
        elsewhere = await submitted(conn, cipher, m5, u5, tree["K02"])
    return Relief(fresh, overdue, back, county, elsewhere, proof.id)
