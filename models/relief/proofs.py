"""The proofs of an application: files in the attachment store, one row each, per proof type of the kind.

The blob is stored (checked, re-encoded, encrypted) before its row is written; the caller deletes the
blob when the row cannot be written (the application changed or is no longer editable).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import utcnow
from models.core.errors import NotFound, Unprocessable
from models.core.ports import StoredFile
from models.relief.kinds import Definition
from models.relief.tables import relief_attachments

PURPOSE = "relief_proof"
_NOT_FOUND = ("attachment_not_found", "找不到该附件")


@dataclass(frozen=True)
class Proof:
    """A proof file of an application."""

    id: int
    application_id: int
    proof_type: str
    store_key: str
    mime: str
    size: int
    created_at: datetime

    def view(self) -> dict[str, Any]:
        """What the applicant sees of it."""
        return {"id": self.id, "proof_type": self.proof_type, "mime": self.mime, "size": self.size,
                "created_at": self.created_at}


def _proof(row: Any) -> Proof:
    return Proof(row.id, row.application_id, row.proof_type, row.store_key, row.mime, row.size, row.created_at)


def _proofs_of(application_id: int) -> Any:
    return sa.select(relief_attachments).where(relief_attachments.c.application_id == application_id,
                                               relief_attachments.c.visit_id.is_(None))


async def listing(conn: AsyncConnection, application_id: int) -> list[Proof]:
    """The application's proofs (not the home-visit photos), oldest first."""
    rows = (await conn.execute(_proofs_of(application_id).order_by(relief_attachments.c.id))).all()
    return [_proof(r) for r in rows]


async def one(conn: AsyncConnection, application_id: int, attachment_id: int) -> Proof:
    """One proof of the application (404 ``attachment_not_found`` for anything else)."""
    row = (await conn.execute(_proofs_of(application_id).where(relief_attachments.c.id == attachment_id))).first()
    if row is None:
        raise NotFound(*_NOT_FOUND)
    return _proof(row)


def check_type(defn: Definition, proof_type: str) -> None:
    """422 ``proof_type`` unless ``proof_type`` is one of the kind's proofs."""
    if proof_type not in {p.type for p in defn.proofs}:
        raise Unprocessable("proof_type", "该救助类别不需要这种材料，请按材料清单上传：" + "、".join(
            f"{p.name}（{p.type}）" for p in defn.proofs))


async def add(conn: AsyncConnection, defn: Definition, application_id: int, proof_type: str, stored: StoredFile,
              *, uploaded_by: str, max_total: int) -> Proof:
    """Record a stored file as a proof: at most the proof's ``max_files`` of its type, ``max_total`` in all (422)."""
    check_type(defn, proof_type)
    spec = next(p for p in defn.proofs if p.type == proof_type)
    have = await listing(conn, application_id)
    if sum(1 for p in have if p.proof_type == proof_type) >= spec.max_files:
        raise Unprocessable("proof_too_many", f"{spec.name}最多上传 {spec.max_files} 个文件，请先删除不需要的")
    if len(have) >= max_total:
        raise Unprocessable("attachments_too_many", f"一份申请最多上传 {max_total} 个文件，请先删除不需要的")
    now = utcnow()
    result = await conn.execute(relief_attachments.insert().values(
        application_id=application_id, visit_id=None, proof_type=proof_type, store_key=stored.key, mime=stored.mime,
        size=stored.size, sha256=stored.sha256, key_id=stored.key_id, uploaded_by=uploaded_by, created_at=now))
    return Proof(int(result.inserted_primary_key[0]), application_id, proof_type, stored.key, stored.mime,  # type: ignore[index]
                 stored.size, now)


async def remove(conn: AsyncConnection, application_id: int, attachment_id: int) -> Proof:
    """Delete a proof's row; the caller deletes its blob once the transaction commits."""
    proof = await one(conn, application_id, attachment_id)
    await conn.execute(relief_attachments.delete().where(relief_attachments.c.id == proof.id))
    return proof


def missing(defn: Definition, have: Sequence[Proof] | Mapping[str, int]) -> list[dict[str, str]]:
    """The required proofs not yet given, every one at once: a proof, or a group where any one of it will do."""
    types = set(have) if isinstance(have, Mapping) else {p.proof_type for p in have}
    out: list[dict[str, str]] = []
    groups: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    for spec in defn.proofs:
        if spec.group is not None:
            groups.setdefault(spec.group, []).append(spec.type)
            names.setdefault(spec.group, []).append(spec.name)
        elif spec.required and spec.type not in types:
            out.append({"item": spec.type, "reason": f"请上传{spec.name}"})
    for group, members in groups.items():
        required = any(p.required for p in defn.proofs if p.group == group)
        if required and not types & set(members):
            out.append({"item": group, "reason": "请上传" + "或".join(names[group])})
    return out
