"""What staff read: the queue of applications waiting at their steps, and the whole file of one application
(fields, household, proofs, flags, visits, votes, timeline). Every view of a file is audited."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import NotFound
from models.core.masking import mask_id_number, mask_name
from models.core.ports import PiiCipher
from models.core.typed import PageQuery, one_of
from models.db.direct import Direct
from models.members.membership import ID_NUMBER
from models.members.tables import members
from models.network.tables import orgs
from models.relief import flags, records, visits
from models.relief.records import FORM_PURPOSE, STATUSES, STEP_NAMES, STEP_ROLE, STEPS
from models.relief.reviewing import load_in_scope
from models.relief.tables import (
    relief_applications,
    relief_attachments,
    relief_events,
    relief_flags,
    relief_household,
    relief_meetings,
    relief_visits,
    relief_votes,
)

BASE = "/api/v1/staff/relief/applications"
PROOF_PURPOSE = "relief_proof"
WAITING_INDEX = "ix_relief_applications_waiting"


class QueueQuery(PageQuery):
    """Filters of the staff queue; by default what waits at the steps the caller's roles act on."""

    step: Annotated[str, one_of(STEPS), Field(description="环节；默认为本人角色办理的环节")] | None = None
    status: Annotated[str, one_of(STATUSES), Field(description="状态；默认 submitted（待审核）")] | None = None
    flagged: Literal["0", "1"] | None = None
    overdue: Literal["0", "1"] | None = None
    resubmitted: Annotated[Literal["0", "1"], Field(description="1：仅退回后补充重新提交的")] | None = None


def resubmitted_here() -> Any:
    """Whether an application came back to its step after a return (resubmitted since it reached the step)."""
    t, e = relief_applications.c, relief_events.c
    return sa.exists(sa.select(e.id).where(e.application_id == t.id, e.action == "resubmitted", e.step == t.step,
                                           e.at >= t.step_since))


def my_steps(actor: Actor) -> list[str]:
    """The steps the actor's roles decide; an administrator oversees every step."""
    if "admin" in actor.roles:
        return list(STEP_ROLE)
    return [step for step, role in STEP_ROLE.items() if role in actor.roles]


_t = relief_applications.c
#: What a line of the queue shows, and no more: each column of a result costs the driver per statement, and
#: each value per row. The kind's name comes out of the kept definition in SQL (its first key), not the whole
#: snapshot (kilobytes a row); the applicant's and the unit's names come joined; the times come as stored
#: (naive UTC) and ``_line`` writes them in the API's form (three a line, each otherwise made aware by the
#: column type and then encoded by a callback of the JSON encoder). The first column names the statement for
#: tests/models/relief/test_query_plans.py.
_LINE = (_t.id, _t.kind, sa.type_coerce(_t.kind_definition, sa.JSON)["name"].as_string().label("kind_name"),
         _t.status, _t.step, _t.requested_amount, _t.proposed_amount, _t.flagged, _t.content_status,
         _t.returned_step, *(sa.type_coerce(column, sa.DateTime).label(column.name)
                             for column in (_t.submitted_at, _t.step_since, _t.due_at)),
         members.c.name.label("applicant"), orgs.c.name.label("unit"))
_WIDTH = len(_LINE)
_FROM = (relief_applications.outerjoin(members, members.c.id == _t.member_id)
         .outerjoin(orgs, orgs.c.id == _t.org_id))


def _iso(stored: datetime | None) -> str | None:
    """A stored naive UTC time as the API writes times (``handlers.base.json_default``'s form)."""
    return None if stored is None else stored.isoformat() + "Z"


def _stored(now: datetime) -> datetime:
    """An aware time as the columns store it (naive UTC), to compare with what ``_LINE`` reads."""
    return now.astimezone(timezone.utc).replace(tzinfo=None)


def _line(row: Any, stored_now: datetime) -> dict[str, Any]:
    """One line of the queue from a row that starts with the columns of ``_LINE``. (The row is unpacked: a
    value by name costs a lookup, and a page has 51 rows of 15.) ``waited`` is the seconds the application has
    waited at its step (None when nobody has to act on it); ``overdue`` whether that is past its deadline."""
    (id_, kind, kind_name, status, step, requested, proposed, flagged, content_status, returned_step, submitted_at,
     step_since, due_at, applicant, unit) = row[:_WIDTH]
    waiting = status == "submitted"
    return {"id": id_, "kind": kind, "kind_name": kind_name, "status": status, "step": step,
            "step_name": STEP_NAMES.get(step or ""), "applicant": mask_name(applicant or ""), "unit": unit or "",
            "requested_amount": requested, "proposed_amount": proposed, "flagged": bool(flagged),
            "content_status": content_status, "returned_step": returned_step, "submitted_at": _iso(submitted_at),
            "step_since": _iso(step_since), "due_at": _iso(due_at),
            "waited": (max(0, int((stored_now - step_since).total_seconds()))
                       if waiting and step_since is not None else None),
            "overdue": waiting and due_at is not None and due_at < stored_now}


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern (escape character ``/``) for the values that start with ``prefix``, as
    ``startswith(..., autoescape=True)`` writes it."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


#: The queue's statements by the shape of the query (step named or the caller's steps, flagged, overdue,
#: resubmitted, cursor): at most 2 x 3 x 3 x 3 x 2, each built once, the values its parameters; building and
#: keying the statement anew cost more than running it. Statements only: nothing here goes stale.
_QUEUES: dict[tuple[bool, str | None, str | None, str | None, bool], sa.Select[Any]] = {}


def _queue_statement(q: QueueQuery) -> sa.Select[Any]:
    shape = (q.step is not None, q.flagged, q.overdue, q.resubmitted, bool(q.cursor))
    found = _QUEUES.get(shape)
    if found is not None:
        return found
    t = _t
    # Read what waits in id order through (status, id, step, org_path), step and subtree checked in the index.
    # Left to itself MariaDB walks the primary key for ORDER BY id LIMIT, through years of closed applications
    # before the first waiting one (ids follow time); tests/models/relief/test_query_plans.py checks the plan.
    query = (sa.select(*_LINE).select_from(_FROM)
             .with_hint(relief_applications, f"FORCE INDEX ({WAITING_INDEX})", dialect_name="mysql")
             .where(t.org_path.like(sa.bindparam("scope"), escape="/"), t.status == sa.bindparam("status")))
    query = query.where(t.step == sa.bindparam("step") if q.step is not None
                        else t.step.in_(sa.bindparam("steps", expanding=True)))
    if q.flagged is not None:
        query = query.where(t.flagged.is_(q.flagged == "1"))
    if q.overdue == "1":
        query = query.where(t.status == "submitted", t.due_at < sa.bindparam("now"))
    elif q.overdue == "0":
        query = query.where(sa.or_(t.status != "submitted", t.due_at.is_(None), t.due_at >= sa.bindparam("now")))
    if q.resubmitted is not None:
        query = query.where(resubmitted_here() if q.resubmitted == "1" else ~resubmitted_here())
    if q.cursor:
        query = query.where(t.id > sa.bindparam("cursor"))
    query = query.order_by(t.id).limit(sa.bindparam("limit", type_=sa.Integer))
    _QUEUES[shape] = query
    return query


async def listing(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, q: QueueQuery,
                  ) -> tuple[list[dict[str, Any]], list[Any]]:
    """The queue page (``limit + 1`` applications, oldest first) within the actor's subtree: its lines, and the
    rows they came from (each with its ``id``), in one statement."""
    policy.require(actor, "relief.queue")
    now = utcnow()
    values: dict[str, Any] = {"scope": _like_prefix(policy.scope(actor)), "status": q.status or "submitted",
                              "limit": q.limit + 1}
    if q.step is not None:
        values["step"] = q.step
    else:
        values["steps"] = my_steps(actor)
    if q.overdue is not None:
        values["now"] = now
    if q.cursor:
        values["cursor"] = q.cursor
    found = (await conn.execute(_queue_statement(q), values)).all()
    stored_now = _stored(now)
    return [_line(r, stored_now) for r in found], list(found)


#: The file's reads, each built once with the application's id as its parameter: building and keying a
#: statement anew cost more than running it. Each reads the columns the file shows, no more, and on MySQL goes
#: straight to the driver (models/db/direct.py).
_BY_ID: sa.BindParameter[int] = sa.bindparam("application_id")
_h, _at, _v, _m = relief_household.c, relief_attachments.c, relief_votes.c, relief_meetings.c
_FILE_HEAD = Direct(sa.select(*_LINE, _t.member_id, _t.org_path, _t.form_enc, _t.consent_version, _t.consented_at,
                        _t.missing, _t.reject_reason,
                        *(sa.exists().where(part.c.application_id == _t.id).label(f"has_{part.name}")
                          for part in (relief_household, relief_flags, relief_visits, relief_votes)))
              .select_from(_FROM).where(_t.id == _BY_ID))
#: The parts of a file that most applications lack (no household, flags, visits or votes yet): the head says
#: which exist (an index probe each), and a missing part costs no statement.
_PARTS = ("relief_household", "relief_flags", "relief_visits", "relief_votes")
_ATTACHMENTS = Direct(sa.select(_at.id, _at.visit_id, _at.proof_type, _at.mime, _at.size, _at.created_at)
                .where(_at.application_id == _BY_ID).order_by(_at.id))
_HOUSEHOLD = Direct(sa.select(_h.id, _h.name, _h.relation, _h.id_number_enc, _h.monthly_income)
              .where(_h.application_id == _BY_ID).order_by(_h.id))
_VOTES = Direct(sa.select(_v.meeting_id, _v.votes_for, _v.votes_against, _v.carried, _m.meeting_date, _m.members,
                    _m.present, _m.recorded_by)
          .join(relief_meetings, _m.id == _v.meeting_id).where(_v.application_id == _BY_ID).order_by(_v.meeting_id))


async def _household(conn: AsyncConnection, cipher: PiiCipher, application_id: int, full: bool) -> list[dict[str, Any]]:
    out = []
    for r in await _HOUSEHOLD.all(conn, {"application_id": application_id}):
        number = cipher.decrypt(r.id_number_enc, purpose=ID_NUMBER) if r.id_number_enc else None
        out.append({"id": r.id, "name": r.name if full else mask_name(r.name), "relation": r.relation,
                    "id_number": number if full else (mask_id_number(number) if number else None),
                    "monthly_income": r.monthly_income})
    return out


async def _flags(conn: AsyncConnection, application_id: int) -> list[dict[str, Any]]:
    """Every flag of the application (open, overridden, cleared), each naming the other application."""
    out = []
    for flag in await flags.all_flags(conn, application_id):
        other = ({"id": flag.other_application_id, "kind": flag.other_kind, "status": flag.other_status}
                 if flag.other_application_id else None)
        out.append({**flag.view(), "other_application": other})
    return out


async def _votes(conn: AsyncConnection, application_id: int) -> list[dict[str, Any]]:
    return [{"meeting_id": r.meeting_id, "date": r.meeting_date.isoformat(), "members": r.members,
             "present": len(json.loads(r.present)), "for": r.votes_for, "against": r.votes_against,
             "carried": bool(r.carried), "recorded_by": r.recorded_by}
            for r in await _VOTES.all(conn, {"application_id": application_id})]


async def _file_head(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                     full: bool, now: datetime) -> tuple[dict[str, Any], str, set[str]]:
    """The head of the file (the queue's line and the application's own fields, with its applicant's and
    unit's names), the application's org path and which of ``_PARTS`` it has, in one query, when it lies in
    the actor's subtree; else the same 404 as a missing one (``reviewing.load_in_scope``)."""
    row = await _FILE_HEAD.first(conn, {"application_id": application_id})
    if row is None or not row.org_path.startswith(policy.scope(actor)):
        raise records.not_found()
    head = _line(row, _stored(now))
    person = row.applicant or ""
    head.update({
        "applicant": person if full else head["applicant"], "member_id": row.member_id,
        "form": json.loads(cipher.decrypt(row.form_enc, purpose=FORM_PURPOSE)),
        "missing": json.loads(row.missing) if row.missing else None, "reject_reason": row.reject_reason,
        "consent_version": row.consent_version, "consented_at": row.consented_at})
    return head, str(row.org_path), {part for part in _PARTS if getattr(row, f"has_{part}")}


async def file_view(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int, *,
                    full: bool = False) -> dict[str, Any]:
    """The whole file of an application in the actor's subtree; ``full`` unmasks the household's names and ID
    numbers (``member.view_full`` roles). Every view is audited: it shows health and income facts."""
    policy.require(actor, "relief.view")
    if full:
        policy.require(actor, "member.view_full")
    view, org_path, has = await _file_head(conn, cipher, actor, application_id, full, utcnow())
    app_id = int(view["id"])
    attachments = await _ATTACHMENTS.all(conn, {"application_id": app_id})
    view.update({
        "household": await _household(conn, cipher, app_id, full) if "relief_household" in has else [],
        "proofs": [{"id": p.id, "proof_type": p.proof_type, "mime": p.mime, "size": p.size,
                    "created_at": p.created_at, "url": f"{BASE}/{app_id}/attachments/{p.id}"}
                   for p in attachments if p.visit_id is None],
        "flags": await _flags(conn, app_id) if "relief_flags" in has else [],
        "visits": [v.view(f"{BASE}/{app_id}/attachments")
                   for v in await visits.of_application(conn, cipher, app_id, attachments=attachments)]
        if "relief_visits" in has else [],
        "votes": await _votes(conn, app_id) if "relief_votes" in has else [],
        "timeline": [e.staff_view() for e in await records.timeline(conn, app_id)],
    })
    await audit.record(conn, actor, "relief.view", target_kind="relief_application", target_id=app_id,
                       org_path=org_path, summary={"full": full})
    return view


async def attachment(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                     attachment_id: int) -> tuple[str, str, str]:
    """(store key, mime, store purpose) of a proof or visit photo of an application in reach; the view audited."""
    policy.require(actor, "relief.view")
    app = await load_in_scope(conn, cipher, actor, application_id)
    row = (await conn.execute(sa.select(relief_attachments).where(
        relief_attachments.c.id == attachment_id, relief_attachments.c.application_id == app.id))).first()
    if row is None:
        raise NotFound("attachment_not_found", "找不到该附件")
    await audit.record(conn, actor, "relief.attachment_view", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"attachment_id": attachment_id, "type": row.proof_type})
    purpose = visits.PHOTO_PURPOSE if row.visit_id is not None else PROOF_PURPOSE
    return str(row.store_key), str(row.mime), purpose
