"""The append-only audit log, sealed into a hash chain.

A record is a plain INSERT in the caller's transaction, so audited writes never
queue behind one another. The sealer (``seal``, run every few seconds by the
serving process, and before every verification) takes the committed records not
yet sealed, in id order, gives each the next position ``seq`` in the chain and
the hash of the one before it. A record is tamper-evident once sealed; until
then (seconds) it is only as safe as the database.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.tables import audit_head, audit_log

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
    """Append one record in the caller's transaction (sealed into the chain once it commits)."""
    # A constant statement with parameters: compiled once, whatever the values.
    result = await conn.execute(audit_log.insert(), dict(
        created_at=utcnow(), actor_kind=actor.kind, actor_id=actor.id, actor_role=actor.role_text or None,
        action=action, target_kind=target_kind, target_id=None if target_id is None else str(target_id),
        org_path=org_path, summary=json.dumps(summary or {}, ensure_ascii=False, sort_keys=True, default=str),
        request_id=actor.request_id, ip=actor.ip))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


async def seal(conn: AsyncConnection, *, batch: int = 2000) -> int:
    """Chain the committed records not yet sealed, oldest first; returns how many were sealed.

    The chain head is locked for the sealing only, so concurrent sealers queue and
    writers never wait.
    """
    head = (await conn.execute(sa.select(audit_head).where(audit_head.c.id == 1).with_for_update())).one()
    rows = (await conn.execute(sa.select(audit_log).where(audit_log.c.seq.is_(None))
                               .order_by(audit_log.c.id).limit(batch))).mappings().all()
    seq, prev = head.last_id, head.last_hash
    for row in rows:
        seq += 1
        digest = _digest(prev, _fields(row))
        await conn.execute(audit_log.update().where(audit_log.c.id == row["id"], audit_log.c.seq.is_(None))
                           .values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    if rows:
        await conn.execute(audit_head.update().where(audit_head.c.id == 1).values(last_id=seq, last_hash=prev))
    return len(rows)


@dataclass(frozen=True)
class Verification:
    """The outcome of a chain check: whether it holds, how many records, the first bad one and why."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""
    pending: int = 0  # committed records the sealer has not reached yet


async def verify(conn: AsyncConnection, *, batch: int = 5000) -> Verification:
    """Recompute the chain from its first position; report the first record that does not fit."""
    prev = GENESIS
    expected = 1
    checked = 0
    last_seq = 0
    last_id: int | None = None
    while True:
        rows = (
            await conn.execute(
                sa.select(audit_log).where(audit_log.c.seq > last_seq).order_by(audit_log.c.seq).limit(batch)
            )
        ).mappings().all()
        if not rows:
            break
        for row in rows:
            if row["seq"] != expected:
                return Verification(False, checked, row["id"], f"record {expected} is missing")
            if row["prev_hash"] != prev:
                return Verification(False, checked, row["id"], "link to the previous record is broken")
            if _digest(prev, _fields(row)) != row["hash"]:
                return Verification(False, checked, row["id"], "record content was changed")
            prev = row["hash"]
            expected += 1
            checked += 1
            last_seq = row["seq"]
            last_id = row["id"]
    head = (await conn.execute(sa.select(audit_head).where(audit_head.c.id == 1))).one()
    if head.last_id != last_seq or head.last_hash != prev:
        return Verification(False, checked, (last_id or 0) + 1, "records after the last one were removed")
    pending = (await conn.execute(sa.select(sa.func.count()).select_from(audit_log)
                                  .where(audit_log.c.seq.is_(None)))).scalar_one()
    return Verification(True, checked, pending=int(pending))
