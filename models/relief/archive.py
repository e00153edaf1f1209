"""The archive (办结): a paid application closed read-only with a completion record, and its whole file
gathered as plain data for the paper archive's PDF (drawn by the handler, off the event loop).

Archived, an application is read-only: every route that changes one refuses any status but its own
(the decision route ``submitted``, the worker's ``draft``/``returned``, visits ``submitted``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, outbox, policy
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, local_today, utcnow
from models.core.errors import Conflict, Invalid
from models.core.masking import mask_id_number, mask_name
from models.core.ports import PiiCipher
from models.core.typed import Body, Date, text
from models.db.metadata import metadata
from models.identity.tables import staff
from models.members.membership import ID_NUMBER
from models.members.tables import members
from models.network.tables import orgs
from models.relief import household, records, visits
from models.relief.queue import PROOF_PURPOSE
from models.relief.records import STEP_NAMES, Application
from models.relief.reviewing import load_in_scope
from models.relief.tables import (
    relief_attachments,
    relief_completions,
    relief_household,
    relief_meetings,
    relief_votes,
)

STEP = "archived"
#: The short phrase (≤ 5 characters) of the worker's notice.
PHRASE = "已办结"
IMAGE_MIMES = ("image/jpeg", "image/png")

# Parts of the file held in other engineers' tables (the public notice: N; the payment: F), read only when
# the table is on the MetaData, so the merge lights them up. Each: (title, table, the column naming the
# application, or (the column, via table, via column) when the rows are found through another table).
# Columns holding secrets (``*_enc``, ``*_bidx``) are never shown. Adapt here when their columns settle.
LINKED_PARTS: tuple[tuple[str, str, str | tuple[str, str, str]], ...] = (
    ("公示", "relief_notice_entries", "application_id"),
    ("公示批次", "relief_notices", ("id", "relief_notice_entries", "notice_id")),
    ("异议", "relief_objections", "application_id"),
    ("发放", "relief_payments", "application_id"),
    ("资金流水", "fund_ledger", "application_id"),
)
_SECRET_SUFFIXES = ("_enc", "_bidx", "_hash")


class ArchiveBody(Body):
    """The completion record: the day the case was closed and a note."""

    completed_on: Date
    note: Annotated[str, text(500)] = ""


@dataclass(frozen=True)
class Completion:
    """An archived application's completion record."""

    completed_on: date
    note: str
    staff_id: int
    staff_name: str
    created_at: datetime


async def archive(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                  body: ArchiveBody) -> Application:
    """Close a paid application in the actor's subtree: status ``archived`` with its completion record, the
    event, the worker's notice, audited. 409 ``application_not_paid`` for any other status."""
    policy.require(actor, "relief.archive")
    app = await load_in_scope(conn, cipher, actor, application_id, lock=True)
    if app.status != "paid":
        raise Conflict("application_not_paid", "只有已发放的申请才能办结归档")
    if body.completed_on > local_today():
        raise Invalid("completed_on_future", "办结日期不能晚于今天")
    assert actor.id is not None
    now = utcnow()
    note = body.note.strip()
    new = await records.save(conn, cipher, app, status="archived", step=STEP, step_since=now, due_at=None)
    await conn.execute(relief_completions.insert().values(
        application_id=app.id, completed_on=body.completed_on, note=note, staff_id=actor.id, created_at=now))
    await records.event(conn, app, "archived", step=STEP, org_id=actor.org_id, staff_id=actor.id,
                        detail={"completed_on": body.completed_on.isoformat()})
    name = app.definition.name
    await outbox.enqueue(conn, app.user_id, "relief.archived", title=f"{name}申请已办结",
                         body=f"您的{name}申请已办结归档，感谢您的配合。",
                         page=f"pages/relief/detail?id={app.id}", values={"kind": name, "step": PHRASE})
    await audit.record(conn, actor, "relief.archive", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"completed_on": body.completed_on.isoformat(),
                                                       "note": bool(note)})
    return new


# --- the whole file, as plain data --------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """A file in the attachment store, named by what the archive lists about it."""

    id: int
    title: str
    mime: str
    size: int
    sha256: str
    store_key: str
    purpose: str

    @property
    def image(self) -> bool:
        """Whether the PDF can embed it (a PDF proof is listed, not embedded)."""
        return self.mime in IMAGE_MIMES


@dataclass(frozen=True)
class ArchiveFile:
    """Everything the archived file shows, gathered in one transaction; values already masked."""

    id: int
    kind: str
    kind_name: str
    status: str
    applicant: str  # masked
    id_number: str  # masked
    unit: str
    fields: list[tuple[str, str]]  # (the field's Chinese title, its value as text)
    amounts: list[tuple[str, int | None]]
    household: list[dict[str, Any]]
    proofs: list[Stored]
    decisions: list[dict[str, Any]]
    visits: list[dict[str, Any]]
    meetings: list[dict[str, Any]]
    linked: list[tuple[str, list[dict[str, Any]]]]  # (title, rows) of LINKED_PARTS found
    completion: Completion | None
    photos: list[Stored] = field(default_factory=list)

    @property
    def filename(self) -> str:
        """A safe ASCII file name for the download."""
        return f"relief-{self.id}-archive.pdf"


def _text(value: Any, schema: dict[str, Any]) -> str:
    """A form value as the archive prints it: choices by their label, money in yuan."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    labels = schema.get("x-labels") or {}
    if isinstance(value, str) and value in labels:
        return str(labels[value])
    if schema.get("x-unit") == "fen" and isinstance(value, int):
        return f"{value / 100:.2f} 元"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def form_fields(app: Application) -> list[tuple[str, str]]:
    """The form's values in the kind's order, each under its Chinese title."""
    props: dict[str, Any] = app.definition.fields.get("properties", {})
    shown = [(str(schema.get("title") or key), _text(app.form[key], schema))
             for key, schema in props.items() if key in app.form]
    return shown + [(key, _text(value, {})) for key, value in app.form.items() if key not in props]


async def _staff_names(conn: AsyncConnection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await conn.execute(sa.select(staff.c.id, staff.c.username, staff.c.display_name)
                              .where(staff.c.id.in_(ids)))
    return {r.id: r.display_name or r.username for r in rows}


async def _applicant(conn: AsyncConnection, cipher: PiiCipher, app: Application) -> tuple[str, str, str]:
    row = (await conn.execute(sa.select(members.c.name, members.c.id_number_enc, orgs.c.name.label("unit"))
                              .join(orgs, orgs.c.id == app.org_id).where(members.c.id == app.member_id))).one()
    number = cipher.decrypt(row.id_number_enc, purpose=ID_NUMBER)
    return mask_name(row.name), mask_id_number(number), str(row.unit)


async def _household(conn: AsyncConnection, cipher: PiiCipher, application_id: int) -> list[dict[str, Any]]:
    rows = (await conn.execute(sa.select(relief_household).where(relief_household.c.application_id == application_id)
                               .order_by(relief_household.c.id))).all()
    return [{"name": mask_name(r.name), "relation": household.RELATIONS.get(r.relation, r.relation),
             "id_number": mask_id_number(cipher.decrypt(r.id_number_enc, purpose=ID_NUMBER))
             if r.id_number_enc else "", "monthly_income": r.monthly_income} for r in rows]


async def _meetings(conn: AsyncConnection, application_id: int) -> list[dict[str, Any]]:
    rows = (await conn.execute(
        sa.select(relief_votes, relief_meetings.c.meeting_date, relief_meetings.c.members,
                  relief_meetings.c.present, relief_meetings.c.minutes, orgs.c.name.label("unit"))
        .join(relief_meetings, relief_meetings.c.id == relief_votes.c.meeting_id)
        .join(orgs, orgs.c.id == relief_meetings.c.org_id)
        .where(relief_votes.c.application_id == application_id).order_by(relief_votes.c.meeting_id))).all()
    return [{"date": r.meeting_date.isoformat(), "unit": r.unit, "members": r.members,
             "present": json.loads(r.present), "minutes": r.minutes, "for": r.votes_for,
             "against": r.votes_against, "carried": bool(r.carried)} for r in rows]


def _plain(row: Any) -> dict[str, Any]:
    return {k: v for k, v in row._mapping.items() if not k.endswith(_SECRET_SUFFIXES)}


async def linked_parts(conn: AsyncConnection, application_id: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """The LINKED_PARTS whose tables exist, with the application's rows (secret columns left out)."""
    out = []
    for title, name, link in LINKED_PARTS:
        table = metadata.tables.get(name)
        if table is None:
            continue
        if isinstance(link, str):
            if link not in table.c:
                continue
            where = table.c[link] == application_id
        else:
            column, via_name, via_column = link
            via = metadata.tables.get(via_name)
            if via is None or column not in table.c or via_column not in via.c or "application_id" not in via.c:
                continue
            where = table.c[column].in_(sa.select(via.c[via_column]).where(via.c.application_id == application_id))
        order = [table.c[c] for c in ("id",) if c in table.c]
        rows = (await conn.execute(sa.select(table).where(where).order_by(*order))).all()
        out.append((title, [_plain(r) for r in rows]))
    return out


async def _completion(conn: AsyncConnection, application_id: int) -> Completion | None:
    row = (await conn.execute(sa.select(relief_completions)
                              .where(relief_completions.c.application_id == application_id))).first()
    if row is None:
        return None
    names = await _staff_names(conn, {row.staff_id})
    return Completion(row.completed_on, row.note, row.staff_id, names.get(row.staff_id, ""), row.created_at)


async def gather(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int) -> ArchiveFile:
    """The archived file of an application in the actor's subtree (409 ``application_not_archived`` before
    it is archived), masked; the download audited (``relief.archive_pdf``)."""
    policy.require(actor, "relief.view")
    app = await load_in_scope(conn, cipher, actor, application_id)
    if app.status != "archived":
        raise Conflict("application_not_archived", "该申请尚未办结归档，不能下载档案")
    name, number, unit = await _applicant(conn, cipher, app)
    files = (await conn.execute(sa.select(relief_attachments).where(relief_attachments.c.application_id == app.id)
                                .order_by(relief_attachments.c.id))).all()
    titles = {p.type: p.name for p in app.definition.proofs}
    proofs = [Stored(f.id, titles.get(f.proof_type, f.proof_type), f.mime, f.size, f.sha256, f.store_key,
                     PROOF_PURPOSE) for f in files if f.visit_id is None]
    photos = [Stored(f.id, f"入户照片（核查 {f.visit_id}）", f.mime, f.size, f.sha256, f.store_key,
                     visits.PHOTO_PURPOSE) for f in files if f.visit_id is not None]
    timeline = await records.timeline(conn, app.id)
    seen = await visits.of_application(conn, cipher, app.id)
    people = await _staff_names(conn, {e.staff_id for e in timeline if e.staff_id} | {v.staff_id for v in seen})
    decisions = [{"step": STEP_NAMES.get(e.step or "", e.step or ""),
                  "action": records.ACTION_NAMES.get(e.action, e.action),
                  "unit": e.org_name or "", "staff_id": e.staff_id,
                  "staff": people.get(e.staff_id, "") if e.staff_id else "",
                  "at": e.at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"), "amount": e.amount,
                  "comment": e.comment or str((e.detail or {}).get("staff_comment") or "")} for e in timeline]
    visit_views = [{"id": v.id, "date": v.visit_date.isoformat(), "visitors": v.visitors, "findings": v.findings,
                    "staff": people.get(v.staff_id, ""), "photos": [p["id"] for p in v.photos]} for v in seen]
    amounts = [("申请金额", app.requested_amount), ("拟救助金额", app.proposed_amount),
               ("批准金额", app.approved_amount)]
    out = ArchiveFile(
        id=app.id, kind=app.kind, kind_name=app.definition.name, status=app.status, applicant=name,
        id_number=number, unit=unit, fields=form_fields(app), amounts=amounts,
        household=await _household(conn, cipher, app.id), proofs=proofs, decisions=decisions, visits=visit_views,
        meetings=await _meetings(conn, app.id), linked=await linked_parts(conn, app.id),
        completion=await _completion(conn, app.id), photos=photos)
    await audit.record(conn, actor, "relief.archive_pdf", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"proofs": len(proofs), "photos": len(photos)})
    return out
