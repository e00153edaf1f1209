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
