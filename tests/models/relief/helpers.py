"""Shared by the relief model tests: a worker with a user row and a member at G01, and their Actor."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from models.core.actors import Actor
from models.core.clock import utcnow
from models.identity.tables import users
from models.members.tables import members
from models.relief import applying, consent, proofs
from models.relief.records import Application
from models.core.ports import StoredFile
from tests.factories import id_number, import_rows


async def worker(conn: Any, cipher: Any, org: Any, seq: int, name: str = "王秀英") -> Actor:
    """A roster member at ``org`` and a WeChat user; the worker's Actor."""
    await import_rows(conn, cipher, org, [(name, id_number(seq), "")])
    member_id = (await conn.execute(sa.select(members.c.id).where(members.c.name == name))).scalar_one()
    now = utcnow()
    uid = (await conn.execute(users.insert().values(openid=f"openid-{seq}", created_at=now,
                                                    last_login_at=now))).inserted_primary_key[0]
    return Actor(kind="user", id=uid, user_id=uid, roles=frozenset({"member"}), member_id=member_id)


def stored(n: int = 0) -> StoredFile:
    """A stored file as the attachment store answers (no blob needed by the domain)."""
    return StoredFile(key=f"{n:032x}", sha256="0" * 64, size=100, mime="application/pdf", key_id="k1")


async def submitted(conn: Any, cipher: Any, actor: Actor, kind: str, form: dict[str, Any],
                    household: list[dict[str, Any]] | None = None) -> Application:
    """A complete application of ``kind`` submitted (every proof given one file)."""
    app = await applying.create(conn, cipher, actor, applying.NewApplication.of(
        {"kind": kind, "form": form, "household": household or []}))
    for i, spec in enumerate(app.definition.proofs):
        await proofs.add(conn, app.definition, app.id, spec.type, stored(app.id * 100 + i), uploaded_by="user:1",
                         max_total=30)
    ready = await applying.ready(conn, cipher, actor, app.id,
                                 applying.Submission.of({"consent_version": consent.CONSENT_VERSION}))
    return await applying.submit(conn, cipher, actor, ready)
