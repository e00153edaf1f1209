"""Home visits (入户核查): the station's record of who visited, when and what they found, with photos."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from collections.abc import Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, utcnow
from models.core.errors import Invalid, NotFound, Unprocessable
from models.core.ports import PiiCipher, StoredFile
from models.core.typed import Body, Date, text
from models.relief import records
from models.relief.reviewing import load_in_scope
from models.relief.tables import relief_attachments, relief_visits

FINDINGS_PURPOSE = "relief_visit"
#: The attachment store's purpose for visit photos (bound into their encryption).
PHOTO_PURPOSE = "relief_visit"
MAX_PHOTOS = 20


class VisitBody(Body):
    """A home visit: the day, who went, what they found."""

    date: Date
    visitors: Annotated[list[Annotated[str, text(50, min_len=1)]], Field(min_length=1, max_length=10)]
    findings: Annotated[str, text(2000, min_len=2)]


@dataclass(frozen=True)
class Visit:
    """A home-visit record, its findings decrypted, with its photos' ids."""

    id: int
    application_id: int
    visit_date: date
    visitors: list[str]
    findings: str
    staff_id: int
    org_id: int
    created_at: datetime
    photos: list[dict[str, Any]]

    def view(self, photo_url: str = "") -> dict[str, Any]:
        """The visit as staff see it; each photo with its URL under ``photo_url``."""
        return {"id": self.id, "application_id": self.application_id, "date": self.visit_date.isoformat(),
                "visitors": self.visitors, "findings": self.findings, "staff_id": self.staff_id,
                "created_at": self.created_at,
                "photos": [{**p, "url": f"{photo_url}/{p['id']}"} if photo_url else p for p in self.photos]}


async def record(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                 body: VisitBody) -> Visit:
    """Record a visit to an application under review in the actor's subtree; audited, on the timeline."""
    policy.require(actor, "relief.visit")
    app = await load_in_scope(conn, cipher, actor, application_id)
    if app.status != "submitted":
        raise Unprocessable("application_not_under_review", "该申请当前不在审核中")
    if body.date > utcnow().astimezone(LOCAL_TZ).date():
        raise Invalid("visit_date_future", "核查日期不能晚于今天")
    assert actor.id is not None and actor.org_id is not None
    now = utcnow()
    done = await conn.execute(relief_visits.insert().values(
        application_id=app.id, visit_date=body.date, visitors=json.dumps(body.visitors, ensure_ascii=False),
        findings_enc=cipher.encrypt(body.findings, purpose=FINDINGS_PURPOSE), staff_id=actor.id,
        org_id=actor.org_id, created_at=now))
    visit_id = int(done.inserted_primary_key[0])  # type: ignore[index]
    await records.event(conn, app, "visited", org_id=actor.org_id, staff_id=actor.id,
                        detail={"visit_id": visit_id, "date": body.date.isoformat()})
    await audit.record(conn, actor, "relief.visit", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"visit_id": visit_id, "visitors": len(body.visitors)})
    return Visit(visit_id, app.id, body.date, list(body.visitors), body.findings, actor.id, actor.org_id, now, [])


#: Built once (the file reads it on every view).
_OF_APPLICATION = (sa.select(relief_visits).where(relief_visits.c.application_id == sa.bindparam("application_id"))
                   .order_by(relief_visits.c.id))


async def of_application(conn: AsyncConnection, cipher: PiiCipher, application_id: int, *,
                         attachments: Sequence[Any] | None = None) -> list[Visit]:
    """An application's visits, oldest first, with their photos (read here, or picked from ``attachments``,
    the application's attachment rows when the caller has read them already)."""
    rows = (await conn.execute(_OF_APPLICATION, {"application_id": application_id})).all()
    if attachments is None:
        attachments = (await conn.execute(sa.select(relief_attachments).where(
            relief_attachments.c.application_id == application_id, relief_attachments.c.visit_id.is_not(None))
            .order_by(relief_attachments.c.id))).all()
    photos = [p for p in attachments if p.visit_id is not None]
    return [Visit(r.id, r.application_id, r.visit_date, json.loads(r.visitors),
                  cipher.decrypt(r.findings_enc, purpose=FINDINGS_PURPOSE), r.staff_id, r.org_id, r.created_at,
                  [{"id": p.id, "mime": p.mime, "size": p.size} for p in photos if p.visit_id == r.id])
            for r in rows]


async def visit_in_scope(conn: AsyncConnection, actor: Actor, visit_id: int) -> tuple[int, str]:
    """(application id, its org path) of a visit in the actor's subtree; else 404 like a missing one. Its
    application must still be under review (422, as for a visit): an archived file is read-only."""
    from models.relief.tables import relief_applications

    row = (await conn.execute(sa.select(relief_visits.c.application_id, relief_applications.c.org_path,
                                        relief_applications.c.status)
                              .join_from(relief_visits, relief_applications,
                                         relief_applications.c.id == relief_visits.c.application_id)
                              .where(relief_visits.c.id == visit_id))).first()
    if row is None or not row.org_path.startswith(policy.scope(actor)):
        raise NotFound("visit_not_found", "找不到该入户核查记录")
    if row.status != "submitted":
        raise Unprocessable("application_not_under_review", "该申请当前不在审核中")
    return int(row.application_id), str(row.org_path)


async def check_photo_room(conn: AsyncConnection, actor: Actor, visit_id: int) -> None:
    """Refuse before storing when the visit is out of reach or has its most photos."""
    policy.require(actor, "relief.visit")
    await visit_in_scope(conn, actor, visit_id)
    count = (await conn.execute(sa.select(sa.func.count()).select_from(relief_attachments)
                                .where(relief_attachments.c.visit_id == visit_id))).scalar_one()
    if count >= MAX_PHOTOS:
        raise Unprocessable("too_many_photos", f"每次入户核查最多上传 {MAX_PHOTOS} 张照片")


async def add_photo(conn: AsyncConnection, actor: Actor, visit_id: int, stored: StoredFile) -> dict[str, Any]:
    """Keep a stored photo as the visit's attachment, audited; ``{"id", "kind", "size", "mime"}``."""
    policy.require(actor, "relief.visit")
    application_id, path = await visit_in_scope(conn, actor, visit_id)
    done = await conn.execute(relief_attachments.insert().values(
        application_id=application_id, visit_id=visit_id, proof_type="visit_photo", store_key=stored.key,
        mime=stored.mime, size=stored.size, sha256=stored.sha256, key_id=stored.key_id,
        uploaded_by=f"staff:{actor.id}", created_at=utcnow()))
    photo_id = int(done.inserted_primary_key[0])  # type: ignore[index]
    await audit.record(conn, actor, "relief.visit_photo", target_kind="relief_application",
                       target_id=application_id, org_path=path,
                       summary={"visit_id": visit_id, "attachment_id": photo_id, "size": stored.size})
    return {"id": photo_id, "kind": "visit_photo", "size": stored.size, "mime": stored.mime}
