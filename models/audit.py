"""The append-only audit log; each record carries the hash of the one before it."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.actors import Actor
from models.tables import audit_head, audit_log
from models.types import utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + "\n" + canonical).encode("utf-8")).hexdigest()


def _fields(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "created_at": row["created_at"].isoformat(),
        "actor_kind": row["actor_kind"],
        "actor_id": row["actor_id"],
        "actor_role": row["actor_role"],
        "action": row["action"],
        "target_kind": row["target_kind"],
        "target_id": row["target_id"],
        "org_path": row["org_path"],
        "summary": row["summary"],
        "request_id": row["request_id"],
        "ip": row["ip"],
    }


async def record(
    conn: AsyncConnection,
    actor: Actor,
    action: str,
    *,
    target_kind: str | None = None,
    target_id: Any = None,
    org_path: str | None = None,
    summary: dict[str, Any] | None = None,
) -> int:
    """Append one record in the caller's transaction; the chain head is locked until it commits."""
    head = (
        await conn.execute(sa.select(audit_head).where(audit_head.c.id == 1).with_for_update())
    ).one()
    row: dict[str, Any] = {
        "id": head.last_id + 1,
        "created_at": utcnow(),
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_role": actor.role_text or None,
        "action": action,
        "target_kind": target_kind,
        "target_id": None if target_id is None else str(target_id),
        "org_path": org_path,
        "summary": json.dumps(summary or {}, ensure_ascii=False, sort_keys=True, default=str),
        "request_id": actor.request_id,
        "ip": actor.ip,
    }
    digest = _digest(head.last_hash, _fields(row))
    await conn.execute(audit_log.insert().values(**row, prev_hash=head.last_hash, hash=digest))
    await conn.execute(
        audit_head.update().where(audit_head.c.id == 1).values(last_id=row["id"], last_hash=digest)
    )
    return int(row["id"])


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""


async def verify(conn: AsyncConnection, *, batch: int = 5000) -> Verification:
    """Recompute the chain from the first record; report the first record that does not fit."""
    prev = GENESIS
    expected_id = 1
    checked = 0
    last_id = 0
    while True:
        rows = (
            await conn.execute(
                sa.select(audit_log).where(audit_log.c.id > last_id).order_by(audit_log.c.id).limit(batch)
            )
        ).mappings().all()
        if not rows:
            break
        for row in rows:
            if row["id"] != expected_id:
                return Verification(False, checked, row["id"], f"record {expected_id} is missing")
            if row["prev_hash"] != prev:
                return Verification(False, checked, row["id"], "link to the previous record is broken")
            if _digest(prev, _fields(row)) != row["hash"]:
                return Verification(False, checked, row["id"], "record content was changed")
            prev = row["hash"]
            expected_id += 1
            checked += 1
            last_id = row["id"]
    head = (await conn.execute(sa.select(audit_head).where(audit_head.c.id == 1))).one()
    if head.last_id != last_id or head.last_hash != prev:
        return Verification(False, checked, last_id + 1, "records after the last one were removed")
    return Verification(True, checked)
