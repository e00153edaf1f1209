"""Objections (异议) to an entry of a public notice: anyone may raise one without logging in; staff resolve it.

An open objection pauses its entry (the period's end does not move the application). The reason is never
published and the contact is stored encrypted and shown only to staff (each reading audited). Resolution,
with a written finding: upheld takes the application back to the county step or rejects it; dismissed
puts the entry back in the notice (the job moves it once the period has ended).

The content check: WeChat's msg_sec_check v2 requires the openid of a user who opened the mini-program
lately. An objection sent from the mini-program by a logged-in user is checked with their openid; one from
the web page has no WeChat identity and is held ``unchecked`` for staff. The text is never published.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, outbox, policy, throttle
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Invalid, NotFound, RateLimited, Unprocessable
from models.core.ports import PiiCipher
from models.core.typed import Body, Id, PageQuery, text
from models.relief import calendar, records
from models.relief.tables import relief_applications, relief_notice_entries, relief_notices, relief_objections

CONTACT_PURPOSE = "objection_contact"
STATUSES = ("open", "upheld", "dismissed")
#: Objections one address may raise per hour, and one entry may receive per day.
IP_LIMIT, IP_WINDOW = 5, timedelta(hours=1)
ENTRY_LIMIT, ENTRY_WINDOW = 20, timedelta(days=1)
RISKY = ("objection_risky", "异议内容含有不当信息，请修改后重新提交")
NOT_FOUND = ("objection_not_found", "找不到该异议")


class ObjectionBody(Body):
    """An objection to one entry: why (never published) and how to reach the objector (encrypted)."""

    entry: Id
    reason: Annotated[str, text(500, min_len=5)]
    contact: Annotated[str, text(100, min_len=1)]


class ResolveBody(Body):
    """The finding, and for an upheld objection where the application goes: back to the county step, or rejected."""

    upheld: bool
    finding: Annotated[str, text(1000, min_len=2)]
    outcome: Literal["county_review", "rejected"] | None = None

    @model_validator(mode="after")
    def _outcome_with_upheld(self) -> ResolveBody:
        if self.upheld and self.outcome is None:
            raise ValueError("异议成立时须指定 outcome：county_review（退回县级审核）或 rejected（不予救助）")
        if not self.upheld and self.outcome is not None:
            raise ValueError("异议不成立时不能指定 outcome")
        return self


class ObjectionsQuery(PageQuery):
    """Filters of the staff's list of objections."""

    status: Annotated[Literal["open", "upheld", "dismissed"] | None, Field(description="状态")] = None
    overdue: Literal["0", "1"] | None = None


def _keys(ip: str | None, entry: int) -> tuple[str, str]:
    return "objection:ip:" + (ip or "unknown")[:64], f"objection:entry:{entry}"


async def throttled(conn: AsyncConnection, ip: str | None, entry: int) -> None:
    """Count one objection from ``ip`` on ``entry``; 429 with Retry-After while either is over its limit.

    Run it in a transaction of its own before the objection, so refused attempts count too."""
    now = utcnow()
    for key in _keys(ip, entry):
        until = await throttle.locked_until(conn, key)
        if until is not None:
            seconds = max(1, int((until - now).total_seconds()) + 1)
            raise RateLimited("rate_limited", "提交异议过于频繁，请稍后再试", headers={"Retry-After": str(seconds)})
    ip_key, entry_key = _keys(ip, entry)
    await throttle.fail(conn, ip_key, limit=IP_LIMIT, window=IP_WINDOW, lock_for=IP_WINDOW)
    await throttle.fail(conn, entry_key, limit=ENTRY_LIMIT, window=ENTRY_WINDOW, lock_for=ENTRY_WINDOW)


async def raise_objection(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, notice_id: int,
                          body: ObjectionBody, *, verdict: str | None, due_days: int) -> dict[str, Any]:
    """Record the objection and pause its entry; ``verdict`` is the content check's (None: not checked)."""
    now = utcnow()
    e, n = relief_notice_entries, relief_notices
    row = (await conn.execute(sa.select(e, n.c.starts_at, n.c.ends_at, n.c.org_path).join(n, n.c.id == e.c.notice_id)
                              .where(e.c.id == body.entry, e.c.notice_id == notice_id, n.c.starts_at <= now)
                              .with_for_update())).first()
    if row is None:
        raise NotFound("notice_entry_not_found", "找不到该公示对象")
    if row.ends_at <= now or row.state not in ("in_notice", "paused"):
        raise Conflict("notice_ended", "该公示已结束，不能再提出异议")
    if verdict == "risky":
        raise Unprocessable(*RISKY)
    done = await conn.execute(relief_objections.insert().values(
        entry_id=row.id, application_id=row.application_id, reason=body.reason,
        contact_enc=cipher.encrypt(body.contact, purpose=CONTACT_PURPOSE),
        content_status=verdict or "unchecked", user_id=actor.user_id, status="open",
        due_at=await calendar.add_working_days(conn, now, due_days), created_at=now))
    objection_id = int(done.inserted_primary_key[0])  # type: ignore[index]
    await conn.execute(e.update().where(e.c.id == row.id).values(state="paused"))
    app = await records.load(conn, cipher, row.application_id)
    await records.event(conn, app, "objection", step="notice", detail={"objection_id": objection_id})
    await audit.record(conn, actor, "relief.objection", target_kind="relief_objection", target_id=objection_id,
                       org_path=app.org_path, summary={"notice_id": notice_id, "entry": row.id,
                                                       "content_status": verdict or "unchecked"})
    return {"id": objection_id, "status": "open"}


def _view(row: Any, cipher: PiiCipher, now: datetime) -> dict[str, Any]:
    return {"id": row.id, "notice_id": row.notice_id, "entry": row.entry_id, "application_id": row.application_id,
            "reason": row.reason, "contact": cipher.decrypt(row.contact_enc, purpose=CONTACT_PURPOSE),
            "content_status": row.content_status, "status": row.status, "due_at": row.due_at,
            "overdue": row.status == "open" and row.due_at < now, "upheld": None if row.status == "open"
            else row.status == "upheld", "outcome": row.outcome, "finding": row.finding,
            "resolved_at": row.resolved_at, "created_at": row.created_at}


def _select() -> Any:
    o, e, n = relief_objections, relief_notice_entries, relief_notices
    return (sa.select(o, e.c.notice_id, n.c.org_path).join(e, e.c.id == o.c.entry_id)
            .join(n, n.c.id == e.c.notice_id))


async def listing(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, q: ObjectionsQuery) -> list[dict[str, Any]]:
    """Objections to applications in the actor's subtree, contacts decrypted (the reading audited)."""
    policy.require(actor, "relief.objection_resolve")
    o = relief_objections
    a = relief_applications
    now = utcnow()
    query = (_select().join(a, a.c.id == o.c.application_id)
             .where(a.c.org_path.startswith(policy.scope(actor), autoescape=True))
             .order_by(o.c.id).limit(q.limit + 1))
    if q.status:
        query = query.where(o.c.status == q.status)
    if q.overdue == "1":
        query = query.where(o.c.status == "open", o.c.due_at < now)
    elif q.overdue == "0":
        query = query.where(sa.or_(o.c.status != "open", o.c.due_at >= now))
    if q.cursor:
        query = query.where(o.c.id > q.cursor)
    rows = (await conn.execute(query)).all()
    items = [_view(r, cipher, now) for r in rows]
    if items:
        await audit.record(conn, actor, "relief.objection_view", target_kind="relief_objection",
                           summary={"objections": [i["id"] for i in items[:q.limit]]})
    return items


async def resolve(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, objection_id: int,
                  body: ResolveBody) -> dict[str, Any]:
    """Resolve an open objection with a finding; the objection as it now stands. Audited, notice to the worker."""
    policy.require(actor, "relief.objection_resolve")
    o, e = relief_objections, relief_notice_entries
    row = (await conn.execute(_select().where(o.c.id == objection_id).with_for_update())).first()
    app = await records.load(conn, cipher, row.application_id, lock=True) if row is not None else None
    if row is None or app is None or not app.org_path.startswith(policy.scope(actor)):
        raise NotFound(*NOT_FOUND)
    if row.status != "open":
        raise Conflict("objection_resolved", "该异议已处理")
    now = utcnow()
    status = "upheld" if body.upheld else "dismissed"
    done = await conn.execute(o.update().where(o.c.id == objection_id, o.c.status == "open").values(
        status=status, outcome=body.outcome, finding=body.finding, resolved_by=actor.id, resolved_at=now))
    if done.rowcount != 1:
        raise Conflict("objection_resolved", "该异议已处理")
    name = app.definition.name
    if body.upheld:
        await _withdraw(conn, cipher, actor, app, row.entry_id, body, now)
    else:
        others = (await conn.execute(sa.select(o.c.id).where(o.c.entry_id == row.entry_id, o.c.status == "open")
                                     .limit(1))).first()
        if others is None:
            await conn.execute(e.update().where(e.c.id == row.entry_id, e.c.state == "paused")
                               .values(state="in_notice"))
        await records.event(conn, app, "objection_dismissed", step="notice", org_id=actor.org_id, staff_id=actor.id,
                            comment="经核查，异议不成立，公示继续", detail={"objection_id": objection_id})
        await outbox.enqueue(conn, app.user_id, "relief.objection", title=f"{name}申请异议已处理",
                             body=f"对您的{name}申请的异议经核查不成立，申请继续办理。",
                             values={"kind": name, "step": "异议不成立"})
    await audit.record(conn, actor, "relief.objection_resolve", target_kind="relief_objection",
                       target_id=objection_id, org_path=app.org_path,
                       summary={"upheld": body.upheld, "outcome": body.outcome, "application_id": app.id})
    row = (await conn.execute(_select().where(o.c.id == objection_id))).one()
    return _view(row, cipher, now)


async def _withdraw(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, app: records.Application,
                    entry_id: int, body: ResolveBody, now: datetime) -> None:
    """An upheld objection: the entry leaves the notice; the application goes back to the county step or is
    rejected with the finding as its reason (other open objections on the entry are closed with it)."""
    o, e = relief_objections, relief_notice_entries
    await conn.execute(e.update().where(e.c.id == entry_id).values(state="withdrawn_by_objection", ended_at=now))
    await conn.execute(o.update().where(o.c.entry_id == entry_id, o.c.status == "open").values(
        status="upheld", outcome=body.outcome, finding=body.finding, resolved_by=actor.id, resolved_at=now))
    name = app.definition.name
    if app.status != "submitted" or app.step != "notice":
        return
    if body.outcome == "county_review":
        await records.save(conn, cipher, app, step="county_review", step_since=now,
                           due_at=await calendar.add_working_days(conn, now, records.DEFAULT_DEADLINE_DAYS))
        await records.event(conn, app, "objection_upheld", step="notice", org_id=actor.org_id, staff_id=actor.id,
                            comment="经核查，异议成立，退回县级审核", detail={"outcome": body.outcome})
        text_ = f"对您的{name}申请的异议经核查成立，申请退回县级审核重新办理。"
        phrase = "退回审核"
    else:
        reason = body.finding[:500]
        await records.save(conn, cipher, app, status="rejected", reject_reason=reason, due_at=None)
        await records.event(conn, app, "objection_upheld", step="notice", org_id=actor.org_id, staff_id=actor.id,
                            comment=reason, detail={"outcome": body.outcome})
        text_ = f"您的{name}申请在公示期间经核查不予救助：{reason}"
        phrase = "未通过"
    await outbox.enqueue(conn, app.user_id, "relief.objection", title=f"{name}申请异议已处理", body=text_,
                         values={"kind": name, "step": phrase})


def check_body(body: ObjectionBody) -> None:
    """Refuse a reason that is only whitespace (the length counts characters written, not padding)."""
    if len(body.reason.strip()) < 5:
        raise Invalid("reason_too_short", "异议理由至少 5 个字")


async def one(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, objection_id: int) -> dict[str, Any]:
    """One objection to an application in the actor's subtree, its contact decrypted (the reading audited, as
    the list's); a missing one and one out of reach answer the same 404."""
    policy.require(actor, "relief.objection_resolve")
    a = relief_applications
    row = (await conn.execute(_select().join(a, a.c.id == relief_objections.c.application_id)
                              .where(relief_objections.c.id == objection_id,
                                     a.c.org_path.startswith(policy.scope(actor), autoescape=True)))).first()
    if row is None:
        raise NotFound(*NOT_FOUND)
    await audit.record(conn, actor, "relief.objection_view", target_kind="relief_objection", target_id=row.id,
                       org_path=row.org_path, summary={"objections": [row.id]})
    return _view(row, cipher, utcnow())
