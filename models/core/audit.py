"""The append-only audit log, sealed into a hash chain whose head is checkpointed outside the database.

A record is a plain INSERT in the caller's transaction, so audited writes never
queue behind one another. The sealer (``seal``, run every second by the serving
process, and by every CLI command for the records it wrote, before it exits)
takes the committed records not yet sealed, in id order, gives each the next
position ``seq`` in the chain and the hash of the one before it. A record is
tamper-evident once sealed; until then (about a second) it is only as safe as
the database, and ``verify`` reports it as pending, never seals it.

The chain alone cannot tell a cut tail whose head was rolled back with it: the
head is also signed into a checkpoint file in the data dir (``server/audit_checkpoints.py``),
and ``verify`` checks the chain against every checkpoint given.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, utcnow
from models.core.ports import AuditCheckpoint
from models.core.tables import audit_head, audit_log
from models.db.direct import Direct

_APPEND = Direct(audit_log.insert())  # in most writing requests, the counter's included: straight to the driver

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
    done = await _APPEND.run(conn, dict(
        created_at=utcnow(), actor_kind=actor.kind, actor_id=actor.id, actor_role=actor.role_text or None,
        action=action, target_kind=target_kind, target_id=None if target_id is None else str(target_id),
        org_path=org_path, summary=json.dumps(summary or {}, ensure_ascii=False, sort_keys=True, default=str),
        request_id=actor.request_id, ip=actor.ip))
    assert done.lastrowid is not None
    return done.lastrowid


async def seal(conn: AsyncConnection, *, batch: int = 2000, request_id: str | None = None) -> int:
    """Chain the committed records not yet sealed, oldest first; returns how many were sealed.

    With ``request_id``, only that request's records (a CLI command sealing what it wrote, and
    nothing written by anyone else). The chain head is locked for the sealing only, so
    concurrent sealers queue and writers never wait.
    """
    head = (await conn.execute(sa.select(audit_head).where(audit_head.c.id == 1).with_for_update())).one()
    unsealed = sa.select(audit_log).where(audit_log.c.seq.is_(None))
    if request_id is not None:
        unsealed = unsealed.where(audit_log.c.request_id == request_id)
    rows = (await conn.execute(unsealed.order_by(audit_log.c.id).limit(batch))).mappings().all()
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


async def head(conn: AsyncConnection) -> tuple[int, str]:
    """The chain's head: the position of the last sealed record and its hash (0 and GENESIS when empty)."""
    row = (await conn.execute(sa.select(audit_head.c.last_id, audit_head.c.last_hash)
                              .where(audit_head.c.id == 1))).one()
    return int(row.last_id), str(row.last_hash)


async def has_pending(conn: AsyncConnection) -> bool:
    """Whether any committed record waits for the sealer (one indexed lookup, no lock)."""
    found = await conn.execute(sa.select(audit_log.c.id).where(audit_log.c.seq.is_(None)).limit(1))
    return found.first() is not None


@dataclass(frozen=True)
class Verification:
    """The outcome of a check of the chain and its checkpoints.

    ``reason`` is Chinese, for staff; ``code`` the same for programs: ``record_missing``,
    ``link_broken``, ``content_changed``, ``tail_removed``, ``checkpoint_mismatch``,
    ``head_behind_checkpoint``, ``checkpoint_invalid``. ``problems`` lists every problem
    found (the first is ``reason``). Records the sealer has not reached yet are ``pending``,
    the oldest written at ``pending_since``: they are reported, never sealed by a check.
    """

    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""
    pending: int = 0  # committed records the sealer has not reached yet
    code: str = ""
    pending_since: datetime | None = None
    head: int = 0  # the position of the last sealed record, as the chain's head says
    checkpoints: int = 0  # valid checkpoints the chain was checked against
    newest_checkpoint: AuditCheckpoint | None = None
    problems: tuple[str, ...] = ()

    def view(self) -> dict[str, Any]:
        """The outcome as the API answers it."""
        newest = self.newest_checkpoint
        return {"ok": self.ok, "checked": self.checked, "first_bad_id": self.first_bad_id, "reason": self.reason,
                "code": self.code or None, "pending": self.pending, "pending_since": self.pending_since,
                "head": self.head, "checkpoints": self.checkpoints,
                "newest_checkpoint": None if newest is None else newest.view(), "problems": list(self.problems)}


class _Broken(Exception):
    def __init__(self, code: str, reason: str, record_id: int | None) -> None:
        super().__init__(reason)
        self.code, self.reason, self.record_id = code, reason, record_id


@dataclass
class _Walk:
    """How far the walk along the chain got: records checked, the last position, its hash and record id."""

    checked: int = 0
    seq: int = 0
    hash: str = GENESIS
    id: int | None = None


def beijing(at: datetime | str) -> str:
    """A time as staff read it: Beijing time to the second (an unreadable text is shown as it is)."""
    try:
        moment = at if isinstance(at, datetime) else datetime.fromisoformat(at.replace("Z", "+00:00"))
        return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, TypeError):
        return str(at)


def _where(cp: AuditCheckpoint) -> str:
    return f"检查点文件第 {cp.line} 行（北京时间 {beijing(cp.at)} 签署）"


async def verify(conn: AsyncConnection, *, checkpoints: Sequence[AuditCheckpoint] = (),
                 batch: int = 5000) -> Verification:
    """Recompute the chain from its first position and check it against every checkpoint.

    Broken when a record does not fit its place (missing, relinked, changed), when the head
    does not name the last record, when a record at a checkpoint's position has another hash
    (the chain was rewritten behind it), when the head is behind the newest checkpoint (the
    tail was cut and the head rolled back), or when a checkpoint line is not to be trusted.
    Nothing is sealed: records not yet sealed are counted as pending, with the oldest's time.
    """
    problems: list[tuple[str, str, int | None]] = [
        ("checkpoint_invalid", f"检查点文件第 {cp.line} 行不可信：{cp.problem}", None)
        for cp in checkpoints if cp.problem]
    valid = [cp for cp in checkpoints if not cp.problem]
    at_seq: dict[int, list[AuditCheckpoint]] = {}
    for cp in valid:
        at_seq.setdefault(cp.seq, []).append(cp)
    newest = max(valid, key=lambda cp: (cp.seq, cp.line), default=None)
    # The head first, then the chain up to it: records a sealer adds meanwhile are not this check's.
    head_seq, head_hash = await head(conn)
    walk = _Walk()
    try:
        await _walk(conn, walk, at_seq, batch, upto=head_seq)
        if head_seq != walk.seq or head_hash != walk.hash:
            raise _Broken("tail_removed", f"审计链头记载到第 {head_seq} 条，链上只到第 {walk.seq} 条："
                          "链尾的记录被删除或链头被改动", (walk.id or 0) + 1)
    except _Broken as broken:
        problems.insert(0, (broken.code, broken.reason, broken.record_id))
    else:
        if newest is not None and newest.seq > head_seq:
            problems.insert(0, ("head_behind_checkpoint",
                                f"审计链只到第 {head_seq} 条，而{_where(newest)}记载链已封存到第 {newest.seq} 条："
                                "链尾的记录被删除，链头被回滚", None))
    pending = (await conn.execute(sa.select(sa.func.count(), sa.func.min(audit_log.c.created_at))
                                  .where(audit_log.c.seq.is_(None)))).one()
    code, reason, record_id = problems[0] if problems else ("", "", None)
    return Verification(not problems, walk.checked, record_id, reason, int(pending[0]), code, pending[1], head_seq,
                        len(valid), newest, tuple(p[1] for p in problems))


async def _walk(conn: AsyncConnection, walk: _Walk, at_seq: dict[int, list[AuditCheckpoint]], batch: int, *,
                upto: int) -> None:
    """Walk the chain in order up to position ``upto``, advancing ``walk``; _Broken at the first record that
    does not fit."""
    while True:
        rows = (
            await conn.execute(
                sa.select(audit_log).where(audit_log.c.seq > walk.seq, audit_log.c.seq <= upto)
                .order_by(audit_log.c.seq).limit(batch)
            )
        ).mappings().all()
        if not rows:
            return
        for row in rows:
            expected = walk.seq + 1
            if row["seq"] != expected:
                raise _Broken("record_missing", f"审计链第 {expected} 条记录缺失", row["id"])
            if row["prev_hash"] != walk.hash:
                raise _Broken("link_broken", f"第 {expected} 条记录（id {row['id']}）与前一条记录的链接断开",
                              row["id"])
            if _digest(walk.hash, _fields(row)) != row["hash"]:
                raise _Broken("content_changed", f"第 {expected} 条记录（id {row['id']}）的内容被改动", row["id"])
            for cp in at_seq.get(expected, ()):
                if cp.hash != row["hash"]:
                    raise _Broken("checkpoint_mismatch", f"第 {expected} 条记录（id {row['id']}）的哈希与"
                                  f"{_where(cp)}不符：此前的审计链被改写", row["id"])
            walk.checked, walk.seq, walk.hash, walk.id = walk.checked + 1, expected, row["hash"], row["id"]
