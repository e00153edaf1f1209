"""Staff decide an application at its step: pass it on, return it to the worker with what is missing
(一次性告知), or reject it with a reason the worker reads.

Rules, in the order they are checked: the application is within the actor's subtree (else the same 404
as a missing one), under review at the named step (409 ``step_mismatch``), the actor holds the step's
role, decided no other step of it (four eyes), and, for a pass, a home visit at verification, an amount
within the kind's cap from the county step on, and no open flag unless overridden with a reason.

The step's role is required as such: ``admin`` does not stand in for it. Four eyes is about who is
accountable for each level of the procedure; an administrator who could decide any step would be one
person able to carry an application through several levels under different hats.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, outbox, policy
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from models.core.ports import PiiCipher
from models.core.typed import Body, Fen, Id, text
from models.relief import calendar, flags, kinds, records, reservations
from models.relief.records import STEP_NAMES, STEP_ROLE, STEPS, Application
from models.relief.tables import relief_events, relief_flags, relief_visits

DECISIONS = ("pass", "return", "reject")
#: Events that decide a step: a member of staff behind one may decide no other step of the application.
DECIDING = ("passed", "returned", "rejected", "meeting")
#: Roles that may override a flag blocking a pass (besides holding the step's role).
OVERRIDERS = frozenset({"reviewer", "approver", "admin"})
#: Steps passed by another route than the decision: the meeting, the public notice, the payment.
PASSED_ELSEWHERE = {"collective_review": "请通过集体评议会议记录表决结果", "notice": "公示结束后方可进入审批",
                    "payment": "请通过发放登记完成该环节"}
MISSING_OTHER = ("household", "other")
#: The short phrase (≤ 5 characters) a notice's ``step`` value carries for each decision.
PHRASES = {"pass": "审核通过", "return": "已退回", "reject": "未通过"}
NOTICES = {"pass": "relief.passed", "return": "relief.returned", "reject": "relief.rejected"}
FOUR_EYES = ("four_eyes", "同一申请的不同环节须由不同人员办理")


class Missing(Body):
    """One thing the worker must add or correct: a proof type, a form field, ``household`` or ``other``."""

    item: Annotated[str, text(40, min_len=1)]
    note: Annotated[str, text(200)] = ""


class Override(Body):
    """Why a pass goes ahead despite open flags."""

    reason: Annotated[str, text(500, min_len=2)]


class Decision(Body):
    """A decision at the step the caller names."""

    step: Annotated[str, Field(pattern="^(" + "|".join(STEPS) + ")$")]
    decision: Literal["pass", "return", "reject"]
    comment: Annotated[str, text(500)] = ""
    amount: Fen | None = None
    fund_id: Id | None = None
    missing: Annotated[list[Missing], Field(max_length=30)] | None = None
    override: Override | None = None


async def load_in_scope(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int, *,
                        lock: bool = False) -> Application:
    """The application when it lies in the actor's subtree, else the same 404 as a missing one."""
    app = await records.load(conn, cipher, application_id, lock=lock)
    if not app.org_path.startswith(policy.scope(actor)):
        raise records.not_found()
    return app


async def check_four_eyes(conn: AsyncConnection, actor: Actor, app: Application, step: str) -> None:
    """403 when this member of staff decided another step of the application."""
    other = (await conn.execute(sa.select(relief_events.c.id).where(
        relief_events.c.application_id == app.id, relief_events.c.staff_id == actor.id,
        relief_events.c.action.in_(DECIDING), relief_events.c.step != step).limit(1))).first()
    if other is not None:
        raise Forbidden(*FOUR_EYES)


async def notify(conn: AsyncConnection, app: Application, decision: str, *, step: str, comment: str = "") -> None:
    """Tell the worker what happened at ``step`` (through the outbox: never blocks the review)."""
    name, step_name = app.definition.name, STEP_NAMES.get(step, step)
    if decision == "pass":
        title, body = f"{name}申请已通过{step_name}", f"您的{name}申请已通过{step_name}，进入下一环节。"
    elif decision == "return":
        title, body = f"{name}申请需补充材料", f"您的{name}申请在{step_name}环节被退回：{comment}。请按要求补充后重新提交。"
    else:
        title, body = f"{name}申请未通过", f"您的{name}申请在{step_name}环节未通过：{comment}"
    await outbox.enqueue(conn, app.user_id, NOTICES[decision], title=title, body=body,
                         values={"kind": name, "step": PHRASES[decision]})


async def override_flags(conn: AsyncConnection, actor: Actor, app: Application, open_: list[flags.Flag],
                         reason: str) -> None:
    """Mark the open flags overridden by this actor with a reason, audited."""
    ids = [f.id for f in open_]
    await conn.execute(relief_flags.update().where(relief_flags.c.id.in_(ids), relief_flags.c.status == "open")
                       .values(status="overridden", override_reason=reason, override_by=actor.id,
                               resolved_at=utcnow()))
    await audit.record(conn, actor, "relief.override", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"flags": ids, "reason": reason, "step": app.step})


async def amount_cap(conn: AsyncConnection, app: Application) -> int | None:
    """The most this application may be granted (the kind's cap with the member's lines and register status)."""
    ctx = await kinds.member_context(conn, app.member_id)
    return kinds.cap_for(app.definition, app.form, deep_line=ctx.lines[0] if ctx.lines else None,
                         registered=ctx.registered)


def _check_missing(app: Application, body: Decision) -> list[dict[str, str]]:
    if not body.missing:
        raise Invalid("missing_required", "退回时须一次性列明需要补充或更正的全部事项")
    known = {p.type for p in app.definition.proofs} | set(app.definition.fields.get("properties", {})) \
        | set(MISSING_OTHER)
    items = [m.model_dump() for m in body.missing]
    bad = [m["item"] for m in items if m["item"] not in known]
    if bad:
        raise Invalid("missing_item", f"退回事项应为该类别的材料类型、表单字段、household 或 other：{'、'.join(bad)}")
    return items


async def _check_pass(conn: AsyncConnection, actor: Actor, app: Application, body: Decision) -> int | None:
    """The checks a pass alone has; the proposed amount when this step names one."""
    step = app.step or ""
    if step in PASSED_ELSEWHERE:
        raise Unprocessable("step_passed_elsewhere", PASSED_ELSEWHERE[step])
    if step == "verification":
        visited = (await conn.execute(sa.select(relief_visits.c.id)
                                      .where(relief_visits.c.application_id == app.id).limit(1))).first()
        if visited is None:
            raise Unprocessable("visit_required", "基层核实须先登记入户核查记录")
    amount = None
    if STEPS.index(step) >= STEPS.index("county_review") and app.definition.amount.basis != "none":
        if body.amount is None:
            raise Invalid("amount_required", "县级审核起须填写拟救助金额（分）")
        cap = await amount_cap(conn, app)
        if cap is None:
            raise Unprocessable("amount_cap_unknown", "无法确定该申请的救助上限：请先设置困难标准或补全申请表")
        if body.amount > cap:
            raise Unprocessable("amount_over_cap", f"拟救助金额超过该类别上限（{cap} 分）")
        amount = body.amount
    if step == "approval":
        _check_approval(app, body, amount)
    open_ = await flags.open_flags(conn, app.id)
    if open_:
        if body.override is None:
            raise Unprocessable("flagged", "该申请有未处理的重复或超限提示，须说明理由后方可通过")
        if not actor.roles & OVERRIDERS:
            raise Forbidden("override_forbidden", "只有审核、审批人员或管理员可以说明理由后放行")
        await override_flags(conn, actor, app, open_, body.override.reason)
    if step == "approval" and amount is not None and body.fund_id is not None:
        await reservations.reserve(conn, actor, app, body.fund_id, amount)
    return amount


def _check_approval(app: Application, body: Decision, amount: int | None) -> None:
    """An approval's pass names the source (for a kind with money), and stays within the proposed amount
    unless the comment says why."""
    if amount is None:
        if body.fund_id is not None:
            raise Invalid("fund_not_needed", "该类别不涉及救助金额，无需指定资金来源")
        return
    if body.fund_id is None:
        raise Invalid("fund_required", "审批通过须指定资金来源")
    if app.proposed_amount is not None and amount > app.proposed_amount and not body.comment.strip():
        raise Unprocessable("amount_over_proposed",
                            f"审批金额高于拟救助金额（{app.proposed_amount} 分），须在 comment 中说明理由")


async def decide(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                 body: Decision) -> Application:
    """Decide the application at ``body.step``; the application as it now stands. Audited, with its event and notice."""
    policy.require(actor, "relief.decide")
    app = await load_in_scope(conn, cipher, actor, application_id, lock=True)
    if app.status != "submitted" or app.step != body.step:
        raise Conflict("step_mismatch", "该申请已不在该审核环节，请刷新后查看")
    step = body.step
    if STEP_ROLE.get(step) not in actor.roles:
        raise Forbidden("step_role", f"{STEP_NAMES.get(step, step)}环节须由{policy.ROLES[STEP_ROLE[step]]}人员办理"
                        if step in STEP_ROLE else "该环节无需办理")
    await check_four_eyes(conn, actor, app, step)
    if body.fund_id is not None and (step != "approval" or body.decision != "pass"):
        raise Invalid("fund_not_yet", "只有审批通过时才指定资金来源")
    comment = body.comment.strip()
    if body.decision != "pass" and not comment:
        raise Invalid("comment_required", "退回或不予通过时须填写申请人可见的说明")
    now = utcnow()
    detail: dict[str, Any] = {}
    if body.decision == "pass":
        amount = await _check_pass(conn, actor, app, body)
        nxt = records.next_step(step)
        changes: dict[str, Any] = {"step": nxt, "step_since": now, "due_at": await calendar.step_due(conn, app, nxt, now),
                                   "returned_step": None, "missing": None, "flagged": False}
        if amount is not None:
            changes["approved_amount" if step == "approval" else "proposed_amount"] = amount
        if body.override is not None:
            detail["override"] = body.override.reason
        new = await records.save(conn, cipher, app, **changes)
        # raise_flags keeps the row's ``flagged`` itself (without a version bump).
        new = replace(new, flagged=bool(await flags.raise_flags(conn, new, nxt, cipher=cipher)))
        await records.event(conn, app, "passed", step=step, org_id=actor.org_id, staff_id=actor.id,
                            comment=None, detail={**detail, "staff_comment": comment} if comment else detail or None,
                            amount=amount)
    elif body.decision == "return":
        missing = _check_missing(app, body)
        new = await records.save(conn, cipher, app, status="returned", returned_step=step, missing=missing,
                                 due_at=None)
        await records.event(conn, app, "returned", step=step, org_id=actor.org_id, staff_id=actor.id,
                            comment=comment, detail={"missing": missing})
        detail["missing"] = missing
    else:
        if step == "payment":  # the approval's reservation goes back to the source
            detail["released"] = await reservations.release(conn, actor, app, note="发放环节不予通过")
        new = await records.save(conn, cipher, app, status="rejected", reject_reason=comment, due_at=None)
        await records.event(conn, app, "rejected", step=step, org_id=actor.org_id, staff_id=actor.id,
                            comment=comment)
    await notify(conn, app, body.decision, step=step, comment=comment)
    await audit.record(conn, actor, "relief.decide", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"step": step, "decision": body.decision, "to": new.step,
                                                       "status": new.status, "amount": body.amount, **detail})
    return new


def answer(app: Application) -> dict[str, Any]:
    """What the decision and the meeting answer for one application."""
    return {"id": app.id, "status": app.status, "step": app.step}
