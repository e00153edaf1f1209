"""Members of the console scene: three in 东湖社区工会 (one bound to WeChat, with a card), one in 湘绣厂工会, one in
the other county; and a roster file with good and bad rows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models.cards import lifecycle as cards
from models.core.actors import SYSTEM
from models.core.clock import utcnow
from models.identity.tables import users
from models.members.tables import members
from tests.console.scene import Scene
from tests.factories import id_number, import_rows

BOUNDARY = "----unionaid-console-boundary"


@dataclass
class People:
    """Member ids, the card of the bound one, and the ID numbers typed in searches."""

    wang: int  # 王秀英, G01, bound, with a card
    wang_card: int
    wang_card_no: str
    wang_id_number: str
    wangli: int  # 王丽, G01
    li: int  # 李建华, G02
    far: int  # 孙八, K02 (the other county)
    far_card: int


async def member_id(conn: Any, name: str) -> int:
    return int((await conn.execute(sa.select(members.c.id).where(members.c.name == name))).scalar_one())


async def people(running: Any, engine: Any, scene: Scene) -> People:
    cipher = running.settings["cipher"]
    tree = scene.tree
    async with engine.begin() as conn:
        await import_rows(conn, cipher, tree["G01"], [("王秀英", id_number(71), "13800000071"),
                                                      ("王丽", id_number(72), "")])
        await import_rows(conn, cipher, tree["G02"], [("李建华", id_number(73), "")])
        await import_rows(conn, cipher, tree["K02"], [("孙八", id_number(74), "")])
        wang, wangli, li, far = [await member_id(conn, n) for n in ("王秀英", "王丽", "李建华", "孙八")]
        now = utcnow()
        done = await conn.execute(users.insert().values(openid="console-wang", created_at=now, last_login_at=now))
        await conn.execute(members.update().where(members.c.id == wang)
                           .values(user_id=int(done.inserted_primary_key[0]), bound_at=now))
        card = await cards.issue(conn, SYSTEM, wang)
        far_card = await cards.issue(conn, SYSTEM, far)
    return People(wang, card.id, card.card_no, id_number(71), wangli, li, far, far_card.id)


def roster(rows: list[tuple[str, str]]) -> bytes:
    lines = ["姓名,身份证号,手机号,工作单位"] + [f"{n},{i},,湘绣厂" for n, i in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def multipart(fields: list[tuple[str, str]], filename: str | None, content: bytes) -> tuple[bytes, dict[str, str]]:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields]
    if filename is not None:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                     "Content-Type: text/csv\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def upload(client: Any, fields: dict[str, str], content: bytes | None, *, filename: str = "名册.csv",
                 xsrf: bool = True, header: bool = False) -> Any:
    """Post the import form as a browser does (multipart, the XSRF token among the fields)."""
    if not client.xsrf:
        await client.get("/console/login", check=False)
    items = list(fields.items()) + ([("_xsrf", client.xsrf)] if xsrf and not header else [])
    body, headers = multipart(items, filename if content is not None else None, content or b"")
    if header:  # as htmx sends it
        headers["X-XSRFToken"] = client.xsrf if xsrf else "forged"
    return await client.request("POST", "/console/members/import", body=body, headers=headers)
