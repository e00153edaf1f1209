"""Collective review (集体评议): the committee's meeting, recorded by an approver, decides the applications
it voted on. Quorum: at least two thirds of the committee present; an application carries with at least
two thirds of those present in favour. Either every vote is recorded, or (422) nothing is."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, policy
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, utcnow
from models.core.errors import Invalid, NotFound, Unprocessable
from models.core.ports import PiiCipher
from models.core.typed import Body, Date, Id, Int32, text
from models.network import tree as orgs
from models.network.tables import orgs as org_table
from models.relief import calendar, flags, records, reviewing, tallies
from models.relief.records import Application
from models.relief.tables import relief_meetings, relief_votes

STEP = "collective_review"
NOT_CARRIED = "集体评议未通过"


def two_thirds(n: int) -> int:
    """⌈2n/3⌉: the least whole number that is at least two thirds of ``n``."""
    return (2 * n + 2) // 3


class Vote(Body):
    """The votes on one application."""

    application_id: Id
    votes_for: Annotated[Int32, Field(alias="for")]
    against: Int32
    # A carried vote on an application with open flags (duplicates, limits) needs the approver's reason.
    override: reviewing.Override | None = None


class MeetingBody(Body):
    """A meeting: the unit whose committee met, the day, the committee's size, who came, the minutes, the votes."""

    org: Annotated[str, text(32, min_len=1)]
    date: Date
    members: Annotated[int, Field(ge=1, le=200)]
    present: Annotated[list[Annotated[str, text(50, min_len=1)]], Field(min_length=1, max_length=200)]
    minutes: Annotated[str, text(5000, min_len=2)]
    votes: Annotated[list[Vote], Field(min_length=1, max_length=100)]


@dataclass(frozen=True)
class Meeting:
    """A recorded meeting and what it decided."""

    id: int
    org_code: str
    meeting_date: date
    members: int
    present: list[str]
    results: list[dict[str, Any]]

    def view(self) -> dict[str, Any]:
        """The record as staff see it."""
        return {"id": self.id, "org": self.org_code, "date": self.meeting_date.isoformat(), "members": self.members,
                "present": self.present, "quorum": two_thirds(self.members), "results": self.results}


def _refuse(code: str, message: str) -> Unprocessable:
    return Unprocessable(code, message)


async def _check(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, org: orgs.Org,
                 body: MeetingBody) -> list[tuple[Application, list[flags.Flag]]]:
    present = len(set(body.present))
    if present != len(body.present):
        raise Invalid("meeting_present_duplicate", "出席人员名单有重复")
    if present > body.members:
        raise _refuse("meeting_present", "出席人数不能多于评议组成员人数")
    if present < two_thirds(body.members):
        raise _refuse("meeting_quorum", f"出席人数不足评议组成员的三分之二（至少 {two_thirds(body.members)} 人）")
    ids = [v.application_id for v in body.votes]
    if len(set(ids)) != len(ids):
        raise Invalid("meeting_vote_duplicate", "同一申请只能表决一次")
    apps = []
    for vote in body.votes:
        if vote.votes_for + vote.against > present:
            raise _refuse("meeting_votes", f"申请 {vote.application_id} 的赞成与反对票数之和超过出席人数")
        app: Application | None
        try:
            app = await reviewing.load_in_scope(conn, cipher, actor, vote.application_id, lock=True)
        except NotFound:  # missing or out of reach: the same answer, naming the id asked for
            app = None
        if app is None or not app.org_path.startswith(org.path) or app.status != "submitted" or app.step != STEP:
            raise _refuse("meeting_application", f"申请 {vote.application_id} 不在该单位范围内待集体评议的申请中")
        await reviewing.check_four_eyes(conn, actor, app, STEP)
        open_ = await flags.open_flags(conn, app.id)
        if open_ and vote.votes_for >= two_thirds(present) and vote.override is None:
            raise _refuse("flagged", f"申请 {vote.application_id} 有未处理的重复或超限提示，"
                                     "通过须在表决中说明放行理由（override）")
        apps.append((app, open_))
    return apps


async def record(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, body: MeetingBody) -> Meeting:
    """Record the meeting and decide every application it voted on: carried to ``notice``, else rejected."""
    policy.require(actor, "relief.meeting")
    org = await orgs.by_code(conn, body.org, within=policy.scope(actor))
    if body.date > utcnow().astimezone(LOCAL_TZ).date():
        raise Invalid("meeting_date_future", "会议日期不能晚于今天")
    apps = await _check(conn, cipher, actor, org, body)
    assert actor.id is not None
    now = utcnow()
    done = await conn.execute(relief_meetings.insert().values(
        org_id=org.id, meeting_date=body.date, members=body.members,
        present=json.dumps(list(body.present), ensure_ascii=False), minutes=body.minutes, recorded_by=actor.id,
        created_at=now))
    meeting_id = int(done.inserted_primary_key[0])  # type: ignore[index]
    need = two_thirds(len(body.present))
    results = []
    async with tallies.batched(conn):  # the rejections counted at the end, in one lock order
        for vote, (app, open_) in zip(body.votes, apps):
            carried = vote.votes_for >= need
            if carried and open_ and vote.override is not None:
                await reviewing.override_flags(conn, actor, app, open_, vote.override.reason)
            await conn.execute(relief_votes.insert().values(meeting_id=meeting_id, application_id=app.id,
                                                            votes_for=vote.votes_for, votes_against=vote.against,
                                                            carried=carried))
            detail = {"meeting_id": meeting_id, "for": vote.votes_for, "against": vote.against,
                      "present": len(body.present), "carried": carried}
            if carried:
                nxt = records.next_step(STEP)
                new = await records.save(conn, cipher, app, step=nxt, step_since=now,
                                         due_at=await calendar.step_due(conn, app, nxt, now))
                new = replace(new, flagged=bool(await flags.raise_flags(conn, new, nxt, cipher=cipher)))
                await records.event(conn, app, "meeting", step=STEP, org_id=actor.org_id, staff_id=actor.id,
                                    detail=detail)
                await reviewing.notify(conn, app, "pass", step=STEP)
            else:
                new = await records.save(conn, cipher, app, status="rejected", reject_reason=NOT_CARRIED, due_at=None)
                await records.event(conn, app, "rejected", step=STEP, org_id=actor.org_id, staff_id=actor.id,
                                    comment=NOT_CARRIED, detail=detail)
                await reviewing.notify(conn, app, "reject", step=STEP, comment=NOT_CARRIED)
            results.append({**reviewing.answer(new), "for": vote.votes_for, "against": vote.against,
                            "carried": carried})
    await audit.record(conn, actor, "relief.meeting", target_kind="relief_meeting", target_id=meeting_id,
                       org_path=org.path, summary={"members": body.members, "present": len(body.present),
                                                   "results": results})
    return Meeting(meeting_id, org.code, body.date, body.members, list(body.present), results)


async def get_in_scope(conn: AsyncConnection, actor: Actor, meeting_id: int) -> dict[str, Any]:
    """A recorded meeting of a unit in the actor's subtree with its minutes and each application's result;
    a missing one and one out of reach answer the same 404."""
    policy.require(actor, "relief.view")
    row = (await conn.execute(sa.select(relief_meetings, org_table.c.code, org_table.c.name, org_table.c.path)
                              .join(org_table, org_table.c.id == relief_meetings.c.org_id)
                              .where(relief_meetings.c.id == meeting_id))).first()
    if row is None or not str(row.path).startswith(policy.scope(actor)):
        raise NotFound("meeting_not_found", "找不到该集体评议会议")
    votes = (await conn.execute(sa.select(relief_votes).where(relief_votes.c.meeting_id == meeting_id)
                                .order_by(relief_votes.c.application_id))).all()
    present = json.loads(row.present)
    return {"id": row.id, "org": row.code, "org_name": row.name, "date": row.meeting_date.isoformat(),
            "members": row.members, "quorum": two_thirds(row.members), "present": present,
            "needed": two_thirds(len(present)), "minutes": row.minutes, "recorded_by": row.recorded_by,
            "results": [{"id": v.application_id, "for": v.votes_for, "against": v.votes_against,
                         "carried": bool(v.carried)} for v in votes]}
