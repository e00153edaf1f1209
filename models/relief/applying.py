"""The worker's side of a relief application: a draft saved as they go, submitted with consent, withdrawn.

Ownership: an application belongs to the member who made it; another's answers exactly like a missing one
(404 ``application_not_found``). The content check of the free text is the caller's (it is slow and must
run outside any transaction); its verdict is passed in here: ``risky`` is refused with nothing saved,
``review`` and ``unchecked`` are saved and held for staff (``content_status``).

``form`` in a change is merged: the fields sent replace those fields, ``null`` removes one; a draft is
checked loosely (types, limits, unknown fields), a submission strictly (every required field and proof).
``household`` is replaced whole.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any, Mapping

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, outbox
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Invalid, NotFound, Unprocessable
from models.core.ports import PiiCipher, StoredFile
from models.core.typed import Body, Fen, text
from models.members.tables import members
from models.relief import calendar, consent, flags, forms, kinds, proofs, records
from models.relief import household as households
from models.relief.records import Application
from models.relief.tables import relief_applications

STATUS_NAMES = {"draft": "草稿", "submitted": "审核中", "returned": "已退回补充", "rejected": "未通过",
                "withdrawn": "已撤回", "paid": "已发放", "archived": "已归档"}
#: A string field of a form is free text (checked by WeChat) unless it is a choice or a date, or short.
FREE_TEXT_MIN = 20
#: Worker-given amounts are allowed where the kind sets only a ceiling.
GIVEN_AMOUNT = ("cap", "line_months")
RISKY = ("content_risky", "内容含有不适宜发布的信息，请修改后再提交")


class NewApplication(Body):
    """A new draft: the kind, and whatever the worker has filled in so far."""

    kind: Annotated[str, text(32, min_len=1)]
    form: Annotated[dict[str, Any], Field(max_length=forms.MAX_FIELDS)] = {}
    household: households.Household = []
    amount: Fen | None = None


class Change(Body):
    """What the worker changes: ``form`` merged (``null`` removes a field), ``household`` replaced, ``amount``."""

    form: Annotated[dict[str, Any], Field(max_length=forms.MAX_FIELDS)] | None = None
    household: households.Household | None = None
    amount: Fen | None = None


class Submission(Body):
    """The submission: the version of the consent text the worker agreed to."""

    consent_version: Annotated[str, text(32)] | None = None


# --- free text --------------------------------------------------------------------------------------


def free_text(defn: kinds.Definition, form: Mapping[str, Any]) -> str:
    """The form's free text (string fields that are neither a choice nor a date, longer than
    ``FREE_TEXT_MIN`` or marked ``x-free-text``), one field a line, for WeChat's content check."""
    props: Mapping[str, Any] = defn.fields["properties"]
    lines = []
    for name, prop in props.items():
        value = form.get(name)
        if prop.get("type") != "string" or "enum" in prop or "format" in prop or not isinstance(value, str):
            continue
        if prop.get("maxLength", 0) > FREE_TEXT_MIN or prop.get("x-free-text") is True:
            lines.append(value)
    return "\n".join(v for v in lines if v.strip())


def _verdict(check: Any | None, current: str | None) -> str | None:
    """The content status after a check (None: nothing checked, the status stands); 422 when risky."""
    if check is None:
        return current
    verdict = str(check.verdict)
    if verdict == "risky":
        raise Unprocessable(*RISKY)
    return verdict


# --- ownership and reading --------------------------------------------------------------------------


def _member_of(actor: Actor) -> int:
    if actor.member_id is None:
        raise NotFound("member_not_bound", "请先完成会员实名绑定")
    return actor.member_id


async def get(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
              *, lock: bool = False) -> Application:
    """The caller's own application; another's is 404 exactly like a missing one."""
    member_id = _member_of(actor)
    app = await records.load(conn, cipher, application_id, lock=lock)
    if app.member_id != member_id:
        raise records.not_found()
    return app


async def mine(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, *, before: int | None,
               limit: int) -> list[Application]:
    """The caller's applications, newest first, those with an id below ``before`` (a cursor page)."""
    a = relief_applications.c
    query = sa.select(relief_applications).where(a.member_id == _member_of(actor))
    if before:
        query = query.where(a.id < before)
    return await records.rows(conn, cipher, query.order_by(a.id.desc()).limit(limit))


def summary(app: Application) -> dict[str, Any]:
    """An application as the worker's list shows it."""
    return {"id": app.id, "kind": app.kind, "kind_name": app.definition.name, "status": app.status,
            "status_name": STATUS_NAMES.get(app.status, app.status), "step": app.step,
            "step_name": records.STEP_NAMES.get(app.step or ""), "requested_amount": app.requested_amount,
            "editable": app.editable, "created_at": app.created_at, "submitted_at": app.submitted_at,
            "updated_at": app.updated_at}


async def view(conn: AsyncConnection, cipher: PiiCipher, app: Application) -> dict[str, Any]:
    """The whole application as the worker sees it: form, household (ID numbers masked), proofs, timeline."""
    people = await households.load(conn, cipher, app.id)
    files = await proofs.listing(conn, app.id)
    timeline = await records.timeline(conn, app.id)
    return {**summary(app), "form": dict(app.form), "household": [p.worker_view() for p in people],
            "proofs": [p.view() for p in files], "missing": app.missing if app.status == "returned" else None,
            "reject_reason": app.reject_reason if app.status == "rejected" else None,
            "consent_version": app.consent_version, "consented_at": app.consented_at,
            "timeline": [e.worker_view() for e in timeline]}


# --- the amount -------------------------------------------------------------------------------------


def _amount(defn: kinds.Definition, form: Mapping[str, Any], given: int | None,
            ctx: kinds.MemberContext) -> int | None:
    """The requested amount: the kind's where it sets one, else the worker's within the cap (422 above it)."""
    deep = ctx.lines[0] if ctx.lines else None
    cap = kinds.cap_for(defn, form, deep_line=deep, registered=ctx.registered)
    if defn.amount.basis not in GIVEN_AMOUNT:
        if given is not None:
            raise Invalid("amount_not_allowed", "该救助类别的金额按规定确定，无需填写申请金额")
        return cap
    if given is not None and cap is not None and given > cap:
        raise Unprocessable("amount_over_cap", f"申请金额不能超过该类别的最高金额 {cap / 100:.2f} 元",
                            details=[{"field": "amount", "max": cap}])
    return given


def _merged(app_form: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    form = dict(app_form)
    for name, value in change.items():
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value
    return form


def form_after(defn: kinds.Definition, before: Mapping[str, Any], change: Mapping[str, Any] | None) -> dict[str, Any]:
    """The form after a change, checked loosely (400 ``relief_form`` naming every problem)."""
    form = _merged(before, change or {})
    return forms.check_form(defn.fields, form, complete=False)


# --- writing ----------------------------------------------------------------------------------------


async def _applicant_bidx(conn: AsyncConnection, member_id: int) -> str | None:
    value = (await conn.execute(sa.select(members.c.id_number_bidx).where(members.c.id == member_id))).scalar()
    return str(value) if value else None


async def _offered(conn: AsyncConnection, member_id: int, code: str) -> tuple[kinds.MemberContext, kinds.Kind]:
    ctx, offered = await kinds.for_member(conn, member_id)
    kind = next((k for k in offered if k.code == code), None)
    if kind is None:
        if any(k.code == code for k in await kinds.in_force(conn, ctx.org, enabled_only=True)):
            raise Unprocessable("relief_kind_not_offered", "您目前不能申请该救助类别（请查看可申请的类别）")
        raise NotFound("relief_kind_not_found", "找不到该救助类别")
    return ctx, kind


async def offered_kind(conn: AsyncConnection, actor: Actor, code: str) -> kinds.Kind:
    """The kind ``code`` as in force for the caller, when they may apply for it (404 / 422 otherwise)."""
    return (await _offered(conn, _member_of(actor), code))[1]


async def create(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, draft: NewApplication,
                 *, check: Any | None = None) -> Application:
    """A new draft of a kind offered to this member, its definition kept as it is now; audited."""
    member_id = _member_of(actor)
    ctx, kind = await _offered(conn, member_id, draft.kind)
    defn = kind.definition
    form = form_after(defn, {}, draft.form)
    requested = _amount(defn, form, draft.amount, ctx)
    status = _verdict(check, None)
    now = utcnow()
    result = await conn.execute(relief_applications.insert().values(
        member_id=member_id, user_id=actor.user_id or actor.id, org_id=ctx.org.id, org_path=ctx.org.path,
        kind=kind.code, kind_definition=defn.model_dump_json(), status="draft", step=None, version=1,
        form_enc=records.encrypt_form(cipher, form), requested_amount=requested, content_status=status,
        flagged=False, created_at=now, updated_at=now))
    app_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    if draft.household:
        await households.replace(conn, cipher, app_id, draft.household,
                                 applicant_bidx=await _applicant_bidx(conn, member_id))
    app = await records.load(conn, cipher, app_id)
    await records.event(conn, app, "created", org_id=app.org_id)
    await audit.record(conn, actor, "relief.create", target_kind="relief_application", target_id=app_id,
                       org_path=app.org_path, summary={"kind": kind.code, "fields": sorted(form),
                                                       "household": len(draft.household)})
    return app


def _editable(app: Application) -> None:
    if not app.editable:
        raise Conflict("application_not_editable", "申请已提交，不能再修改；如需修改，请先撤回或等待退回")


async def update(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, app: Application, change: Change,
                 *, check: Any | None = None) -> Application:
    """Save a change to the caller's draft or returned application as read (``app``; 409 if it changed since)."""
    _editable(app)
    given = change.given()
    ctx = await kinds.member_context(conn, app.member_id)
    form = form_after(app.definition, app.form, change.form) if "form" in given else dict(app.form)
    amount = change.amount if "amount" in given else (
        app.requested_amount if app.definition.amount.basis in GIVEN_AMOUNT else None)
    requested = _amount(app.definition, form, amount, ctx)
    status = _verdict(check, app.content_status)
    if "household" in given:
        await households.replace(conn, cipher, app.id, change.household or [],
                                 applicant_bidx=await _applicant_bidx(conn, app.member_id))
    saved = await records.save(conn, cipher, app, form=form, requested_amount=requested, content_status=status)
    await audit.record(conn, actor, "relief.update", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"changed": sorted(given),
                                                       "fields": sorted((change.form or {}).keys())})
    return saved


async def _complete(conn: AsyncConnection, cipher: PiiCipher, app: Application) -> None:
    """422 ``application_incomplete`` naming every missing field, household ID number and proof at once."""
    problems: list[dict[str, str]] = []
    try:
        forms.check_form(app.definition.fields, app.form, complete=True)
    except Invalid as exc:
        problems += [{"item": d["field"], "reason": d["reason"]} for d in exc.details or []]
    problems += households.incomplete(await households.load(conn, cipher, app.id))
    problems += proofs.missing(app.definition, await proofs.listing(conn, app.id))
    if problems:
        raise Unprocessable("application_incomplete", "申请还不完整：" + "；".join(p["reason"] for p in problems),
                            details=problems)


@dataclass(frozen=True)
class Ready:
    """An application checked complete for submission, and whether its free text needs checking again."""

    app: Application
    text: str


async def ready(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                submission: Submission) -> Ready:
    """Check a submission before anything is written: editable, consent, every required field, household ID
    number and proof (422 ``application_incomplete`` naming every missing item at once)."""
    app = await get(conn, cipher, actor, application_id)
    _editable(app)
    if not submission.consent_version:
        raise Unprocessable("consent_required", "请阅读并同意《敏感个人信息处理同意书》后再提交")
    if submission.consent_version != consent.CONSENT_VERSION:
        raise Unprocessable("consent_outdated", "同意书已更新，请重新阅读并同意后再提交")
    await _complete(conn, cipher, app)
    text_ = free_text(app.definition, app.form) if app.content_status != "pass" else ""
    return Ready(app, text_)


async def submit(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, ready_: Ready,
                 *, check: Any | None = None) -> Application:
    """Submit (or resubmit, back to the step that returned it): frozen, consent recorded, deadline set, flags
    raised, the event, audit and the worker's notice, in the caller's transaction (409 if it changed since read)."""
    app = ready_.app
    await _complete(conn, cipher, app)  # again in this transaction: a proof may have gone meanwhile
    status = _verdict(check, app.content_status)
    now = utcnow()
    step = app.returned_step if app.status == "returned" and app.returned_step else "verification"
    resubmitted = app.status == "returned"
    saved = await records.save(
        conn, cipher, app, status="submitted", step=step, step_since=now,
        due_at=await calendar.step_due(conn, app, step, now), submitted_at=app.submitted_at or now,
        consent_version=consent.CONSENT_VERSION, consented_at=now, missing=None, returned_step=None,
        content_status=status)
    raised = await flags.raise_flags(conn, saved, step, cipher=cipher)
    await records.event(conn, saved, "resubmitted" if resubmitted else "submitted", step=step, org_id=app.org_id)
    await audit.record(conn, actor, "relief.submit", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"kind": app.kind, "step": step, "resubmitted": resubmitted,
                                                       "consent_version": consent.CONSENT_VERSION,
                                                       "content_status": status,
                                                       "flags": [f.reason for f in raised]})
    name = app.definition.name
    await outbox.enqueue(conn, app.user_id, "relief.submitted", title=f"{name}申请已{'重新' if resubmitted else ''}提交",
                         body=f"您的{name}申请已受理，正在{records.STEP_NAMES[step]}。",
                         page=f"pages/relief/detail?id={app.id}",
                         values={"kind": name, "step": "重新受理" if resubmitted else "已受理"})
    return replace(saved, flagged=bool(raised))


WITHDRAWABLE_BEFORE = "approval"


async def withdraw(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int) -> Application:
    """Withdraw the caller's application while a draft, submitted or returned, before approval; audited."""
    app = await get(conn, cipher, actor, application_id, lock=True)
    before = records.STEPS.index(WITHDRAWABLE_BEFORE)
    if app.status not in ("draft", "submitted", "returned") or (
            app.step is not None and records.STEPS.index(app.step) >= before):
        raise Conflict("application_not_withdrawable", "该申请已进入审批或已办结，不能撤回")
    saved = await records.save(conn, cipher, app, status="withdrawn", due_at=None)
    await flags.clear_all(conn, app.id)
    saved = replace(saved, flagged=False)
    await records.event(conn, saved, "withdrawn", org_id=app.org_id)
    await audit.record(conn, actor, "relief.withdraw", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"kind": app.kind, "status": app.status, "step": app.step})
    return saved


# --- proofs -----------------------------------------------------------------------------------------


async def before_upload(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                        proof_type: str) -> None:
    """Refuse an upload before its file is stored: not the caller's, not editable, not a proof of the kind."""
    app = await get(conn, cipher, actor, application_id)
    _editable(app)
    proofs.check_type(app.definition, proof_type)


async def attach(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int, proof_type: str,
                 stored: StoredFile, *, max_total: int) -> proofs.Proof:
    """Record a stored file as a proof of the caller's editable application (the row locked); audited."""
    app = await get(conn, cipher, actor, application_id, lock=True)
    _editable(app)
    proof = await proofs.add(conn, app.definition, app.id, proof_type, stored,
                             uploaded_by=f"user:{actor.user_id or actor.id}", max_total=max_total)
    await audit.record(conn, actor, "relief.attach", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"attachment_id": proof.id, "proof_type": proof_type,
                                                       "mime": stored.mime, "size": stored.size})
    return proof


async def detach(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                 attachment_id: int) -> proofs.Proof:
    """Remove a proof of the caller's editable application; the caller deletes the blob after commit."""
    app = await get(conn, cipher, actor, application_id, lock=True)
    _editable(app)
    proof = await proofs.remove(conn, app.id, attachment_id)
    await audit.record(conn, actor, "relief.detach", target_kind="relief_application", target_id=app.id,
                       org_path=app.org_path, summary={"attachment_id": proof.id, "proof_type": proof.proof_type})
    return proof


async def proof_file(conn: AsyncConnection, cipher: PiiCipher, actor: Actor, application_id: int,
                     attachment_id: int) -> proofs.Proof:
    """One proof of the caller's own application (404 for another's, exactly like a missing one)."""
    app = await get(conn, cipher, actor, application_id)
    return await proofs.one(conn, app.id, attachment_id)
