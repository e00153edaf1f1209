"""A relief application as a record: its steps and statuses, loading and saving it under optimistic
concurrency, and its timeline. Applying (the worker's side) and reviewing (the staff's) build on this.

Every change is one conditional UPDATE on ``version``: two people acting at once cannot both move an
application (the second gets 409 ``application_changed``).
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core.clock import LOCAL_TZ, utcnow
from models.core.errors import Conflict, NotFound
from models.core.ports import PiiCipher
from models.network.tables import orgs
from models.relief import tallies
from models.relief.kinds import Definition
from models.relief.tables import relief_applications, relief_events

#: The statuses of ../shared/API.md.
STATUSES = ("draft", "submitted", "returned", "rejected", "withdrawn", "paid", "archived")
#: The review steps in order, and the staff role that decides each.
STEPS = ("verification", "county_review", "collective_review", "notice", "approval", "payment", "archived")
STEP_ROLE = {"verification": "station", "county_review": "reviewer", "collective_review": "approver",
             "notice": "reviewer", "approval": "approver", "payment": "finance"}
STEP_NAMES = {"verification": "基层核实", "county_review": "县级审核", "collective_review": "集体评议",
              "notice": "公示", "approval": "审批", "payment": "发放", "archived": "归档"}
#: What each timeline action is called, for the phone and the archive.
ACTION_NAMES = {"created": "创建申请", "submitted": "提交申请", "resubmitted": "补充后重新提交", "withdrawn": "撤回",
                "visited": "入户核查", "passed": "审核通过", "returned": "退回补充", "rejected": "不予通过",
                "meeting": "集体评议通过", "published": "公示", "objection": "收到异议",
                "objection_upheld": "异议成立", "objection_dismissed": "异议不成立", "notice_ended": "公示期满",
                "paid": "发放", "payment_reversed": "发放退回", "archived": "办结归档"}
#: Statuses in which an application is still alive (it counts for duplicates).
OPEN = ("submitted", "returned")
#: Working days an application may wait at a step when its kind sets no deadline.
DEFAULT_DEADLINE_DAYS = 5
FORM_PURPOSE = "relief_form"


def not_found() -> NotFound:
    """The one answer for an application that is missing or out of the caller's reach (they read the same)."""
    return NotFound("application_not_found", "找不到该救助申请")


def next_step(step: str) -> str:
    """The step after ``step``."""
    return STEPS[STEPS.index(step) + 1]


def add_working_days(start: datetime, days: int, holidays: frozenset[date] = frozenset(),
                     workdays: frozenset[date] = frozenset()) -> datetime:
    """The end of the ``days``-th working day (Beijing) after ``start``: weekends and ``holidays`` skipped,
    weekend days in ``workdays`` (make-up working days, 调休) counted.

    The one place that knows what a working day is; the editable calendar (models/relief/calendar.py)
    loads the two sets."""
    day = start.astimezone(LOCAL_TZ).date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day in workdays or (day.weekday() < 5 and day not in holidays):
            left -= 1
    return datetime.combine(day, time(23, 59, 59), tzinfo=LOCAL_TZ)


@dataclass(frozen=True)
class Application:
    """One application, its form decrypted."""

    id: int
    member_id: int
    user_id: int
    org_id: int
    org_path: str
    kind: str
    definition: Definition
    status: str
    step: str | None
    version: int
    form: Mapping[str, Any]
    requested_amount: int | None
    proposed_amount: int | None
    approved_amount: int | None
    consent_version: str | None
    consented_at: datetime | None
    content_status: str | None
    returned_step: str | None
    missing: list[dict[str, str]] | None
    reject_reason: str | None
    flagged: bool
    step_since: datetime | None
    due_at: datetime | None
    submitted_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def editable(self) -> bool:
        """Whether the worker may change it (a draft, or one staff returned)."""
        return self.status in ("draft", "returned")

    def overdue(self, now: datetime | None = None) -> bool:
        """Whether it has waited at its step past the deadline."""
        return self.status == "submitted" and self.due_at is not None and self.due_at < (now or utcnow())


@functools.lru_cache(maxsize=256)
def _definition(text: str) -> Definition:
    """A kept definition, parsed once per process: a queue page holds dozens of applications under the same few
    snapshots, and validating each anew cost more than the page's queries. (Definitions are frozen; shared.)"""
    return Definition.model_validate_json(text)


def _of(row: Any, cipher: PiiCipher) -> Application:
    return Application(
        row.id, row.member_id, row.user_id, row.org_id, row.org_path, row.kind, _definition(row.kind_definition), row.status, row.step, row.version,
        json.loads(cipher.decrypt(row.form_enc, purpose=FORM_PURPOSE)), row.requested_amount, row.proposed_amount,
        row.approved_amount, row.consent_version, row.consented_at, row.content_status, row.returned_step,
        json.loads(row.missing) if row.missing else None, row.reject_reason, bool(row.flagged), row.step_since,
        row.due_at, row.submitted_at, row.created_at, row.updated_at)


def from_row(row: Any, cipher: PiiCipher) -> Application:
    """The application a row of ``relief_applications`` holds (other columns of a join are ignored)."""
    return _of(row, cipher)


def encrypt_form(cipher: PiiCipher, form: Mapping[str, Any]) -> str:
    """The stored form of an application's form values."""
    return cipher.encrypt(json.dumps(dict(form), ensure_ascii=False, sort_keys=True), purpose=FORM_PURPOSE)


async def load(conn: AsyncConnection, cipher: PiiCipher, application_id: int, *, lock: bool = False) -> Application:
    """The application (404 ``application_not_found``); ``lock`` takes its row for the transaction."""
    query = sa.select(relief_applications).where(relief_applications.c.id == application_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise not_found()
    return _of(row, cipher)


async def rows(conn: AsyncConnection, cipher: PiiCipher, query: sa.Select[Any]) -> list[Application]:
    """The applications a query over ``relief_applications`` selects."""
    return [_of(row, cipher) for row in (await conn.execute(query)).all()]


async def save(conn: AsyncConnection, cipher: PiiCipher, app: Application, **changes: Any) -> Application:
    """Write ``changes`` if nobody changed the application since it was read (else 409); the new record.

    ``form`` and ``missing`` are given as values and stored in their column forms."""
    now = utcnow()
    values = dict(changes)
    if "form" in values:
        values["form_enc"] = encrypt_form(cipher, values.pop("form"))
    if "missing" in values:
        values["missing"] = json.dumps(values["missing"], ensure_ascii=False) if values["missing"] else None
    done = await conn.execute(relief_applications.update()
                              .where(relief_applications.c.id == app.id, relief_applications.c.version == app.version)
                              .values(**values, version=app.version + 1, updated_at=now))
    if done.rowcount != 1:
        raise Conflict("application_changed", "该申请刚刚被他人处理，请刷新后重试")
    kept = {k: v for k, v in changes.items() if k in Application.__dataclass_fields__}
    return replace(app, **kept, version=app.version + 1, updated_at=now)


async def event(conn: AsyncConnection, app: Application, action: str, *, step: str | None = None,
                org_id: int | None = None, staff_id: int | None = None, comment: str | None = None,
                detail: Mapping[str, Any] | None = None, amount: int | None = None) -> None:
    """Add a line to the application's timeline, and count it in the statistics' summary (``tallies``) in the same
    transaction: the timeline's one writer is the summary's."""
    at, step = utcnow(), step if step is not None else app.step
    await conn.execute(relief_events.insert().values(
        application_id=app.id, step=step, action=action, org_id=org_id,
        staff_id=staff_id, comment=comment, detail=json.dumps(dict(detail), ensure_ascii=False) if detail else None,
        amount=amount, at=at))
    await tallies.record(conn, application_id=app.id, org_path=app.org_path, kind=app.kind, member_id=app.member_id,
                         approved_amount=app.approved_amount, submitted_at=app.submitted_at, action=action, step=step,
                         at=at)


@dataclass(frozen=True)
class Event:
    """A line of the timeline."""

    step: str | None
    action: str
    org_id: int | None
    org_name: str | None
    staff_id: int | None
    comment: str | None
    detail: Mapping[str, Any] | None
    amount: int | None
    at: datetime

    def worker_view(self) -> dict[str, Any]:
        """What the worker sees: what happened, when, by which unit; never a member of staff."""
        return {"step": self.step, "step_name": STEP_NAMES.get(self.step or ""), "action": self.action,
                "action_name": ACTION_NAMES.get(self.action, self.action), "unit": self.org_name,
                "comment": self.comment, "at": self.at}

    def staff_view(self) -> dict[str, Any]:
        """What staff see: the worker's view with who acted, the detail and the amount."""
        return {**self.worker_view(), "staff_id": self.staff_id, "detail": self.detail, "amount": self.amount}


_e = relief_events.c
#: Built once, the columns an Event shows (every file view and the worker's own view read it).
_TIMELINE = (sa.select(_e.id, _e.step, _e.action, _e.org_id, orgs.c.name.label("org_name"), _e.staff_id, _e.comment,
                       _e.detail, _e.amount, _e.at)
             .outerjoin(orgs, orgs.c.id == _e.org_id).where(_e.application_id == sa.bindparam("application_id"))
             .order_by(_e.id))


async def timeline(conn: AsyncConnection, application_id: int) -> list[Event]:
    """The application's timeline, oldest first."""
    rows_ = (await conn.execute(_TIMELINE, {"application_id": application_id})).all()
    return [Event(r.step, r.action, r.org_id, r.org_name, r.staff_id, r.comment,
                  json.loads(r.detail) if r.detail else None, r.amount, r.at) for r in rows_]
