"""Relief review in the console: the queue of a step with its filters, an application's whole file (proofs
shown inline, flags with the other application, the timeline) and the decision of my step."""
from __future__ import annotations

from typing import Any

from handlers.console.base import ConsoleHandler, Refusal, yuan
from models.core.clock import local_today
from models.core.errors import AppError
from models.core.policy import Access, Target
from models.core.typed import paged
from models.funds import sources as funds
from models.relief import queue, reviewing
from models.relief.records import STATUSES, STEP_NAMES, STEP_ROLE, STEPS, Application

APPLICATION = Target("application", "application_id")
QUEUE_URL = "/console/relief/queue"
STATUS_NAMES = {"draft": "草稿", "submitted": "审核中", "returned": "已退回", "rejected": "不予通过",
                "withdrawn": "已撤回", "paid": "已发放", "archived": "已归档"}
DECISION_NAMES = {"pass": "通过", "return": "退回补充", "reject": "不予通过"}
#: What the file says after the later steps' forms (handlers/console/payments.py) sent the browser back to it.
DONE_NOTES = {"paid": "发放已登记。", "reversed": "发放已冲正，申请回到待发放。", "archived": "已办结归档，可下载办结档案。"}


def file_url(application_id: int) -> str:
    """The console page of one application's file."""
    return f"/console/relief/applications/{application_id}"


def attachment_url(application_id: int, attachment_id: int) -> str:
    """Where the console shows one proof or visit photo (streamed as the API streams it, audited)."""
    return f"{file_url(application_id)}/attachments/{attachment_id}"


class QueuePage(ConsoleHandler):
    """The applications waiting at a step of my subtree, filtered by the URL (step, status, flagged, overdue)."""

    access = {"get": Access("relief.queue")}

    async def get(self) -> None:
        """One page of the queue, oldest first, with a 下一页 link carrying the cursor."""
        actor = await self.actor()
        q = self.url_query(queue.QueueQuery)
        async with self.reading() as conn:
            items, _ = await queue.listing(conn, self.cipher, actor, q)
        shown, nxt = paged(items, q.limit, lambda i: int(i["id"]))
        step_name = STEP_NAMES.get(q.step or "", "我的环节")
        self.page("relief_queue.html", f"救助审核 · {step_name}", crumbs=[("救助审核", None)],
                  items=shown, next_url=self.page_url(cursor=nxt) if nxt else None, q=q,
                  steps=[(s, STEP_NAMES[s]) for s in STEPS], statuses=[(s, STATUS_NAMES[s]) for s in STATUSES],
                  my_steps=queue.my_steps(actor), status_names=STATUS_NAMES, file_url=file_url)


class FilePage(ConsoleHandler):
    """One application's whole file (every view audited, as the API's), with the decision form of my step."""

    access = {"get": Access("relief.view", APPLICATION)}

    async def get(self, application_id: int) -> None:
        """The file; ``full=1`` unmasks the household for roles that may see it (audited)."""
        await show_file(self, int(application_id), full=self.get_query_argument("full", "") == "1",
                        done=self.get_query_argument("done", "") or None)


async def show_file(handler: ConsoleHandler, application_id: int, *, full: bool = False, done: str | None = None,
                    form: dict[str, Any] | None = None, refusal: Refusal | None = None) -> None:
    """Render the file page (again, after a refused decision: what was typed kept, the refusal by its field)."""
    actor = await handler.actor()
    async with handler.writing() as conn:
        view = await queue.file_view(conn, handler.cipher, actor, application_id, full=full)
        app = await reviewing.load_in_scope(conn, handler.cipher, actor, application_id)
        mine = _my_decision(handler, app)
        fund_list = (await funds.listing(conn, actor, org=None, year=None)
                     if mine and app.step == "approval" else [])
    for proof in view["proofs"]:
        proof["url"] = attachment_url(application_id, proof["id"])
    for visit in view["visits"]:
        for photo in visit["photos"]:
            photo["url"] = attachment_url(application_id, photo["id"])
    usable = [f for f in fund_list if f.status == "active" and (not f.kinds or app.kind in f.kinds)]
    title = f"申请 {application_id} · {view['kind_name']}"
    handler.page("relief_file.html", title, crumbs=[("救助审核", QUEUE_URL), (title, None)],
                 status=refusal.status if refusal else 200, view=view, app=app, decide=mine,
                 checklist=_checklist(app), funds=usable, form_rows=form_rows(app, view["form"]), full=full, done=DECISION_NAMES.get(done or ""),
                 form=form or {}, errors=refusal.fields if refusal else {}, refusal=refusal,
                 step_names=STEP_NAMES, status_names=STATUS_NAMES, file_url=file_url,
                 may_pass=app.step not in reviewing.PASSED_ELSEWHERE,
                 open_flags=[f for f in view["flags"] if f["status"] == "open"],
                 note=DONE_NOTES.get(done or ""), today=local_today().isoformat())


def _my_decision(handler: ConsoleHandler, app: Application) -> bool:
    """Whether the decision form of the application's step is for me (the route checks everything again)."""
    return (app.status == "submitted" and app.step in STEP_ROLE and handler.may("relief.decide")
            and STEP_ROLE[app.step] in (handler.current_actor.roles if handler.current_actor else frozenset()))


def form_rows(app: Application, form: dict[str, Any]) -> list[tuple[str, str]]:
    """The form's answers as (the field's title, the answer as people read it: a choice's label, fen in yuan)."""
    properties = app.definition.fields.get("properties", {})
    rows = []
    for name, value in form.items():
        found = properties.get(name)
        spec: dict[str, Any] = found if isinstance(found, dict) else {}
        labels: dict[str, Any] = spec["x-labels"] if isinstance(spec.get("x-labels"), dict) else {}
        if spec.get("x-unit") == "fen" and isinstance(value, int) and not isinstance(value, bool):
            shown = yuan(value) + " 元"
        elif isinstance(value, bool):
            shown = "是" if value else "否"
        elif isinstance(value, list):
            shown = "、".join(str(labels.get(v, v)) for v in value)
        else:
            shown = str(labels.get(value, value)) if isinstance(value, str) else str(value)
        rows.append((str(spec.get("title", name)), shown))
    return rows


def _checklist(app: Application) -> list[tuple[str, str]]:
    """What a return may ask for: the kind's proofs, its form's fields, the household, anything else."""
    items = [(p.type, f"材料：{p.name}") for p in app.definition.proofs]
    for name, spec in app.definition.fields.get("properties", {}).items():
        items.append((name, f"填写：{spec.get('title', name) if isinstance(spec, dict) else name}"))
    return [*items, ("household", "家庭成员信息"), ("other", "其他（请在说明中写明）")]


class AttachmentFile(ConsoleHandler):
    """A proof or visit photo, streamed inline for an <img> or <iframe> of the file page (audited)."""

    access = {"get": Access("relief.view", APPLICATION)}

    async def get(self, application_id: int, attachment_id: int) -> None:
        """Decrypt it off the loop and serve it inline, framed by the console alone."""
        actor = await self.actor()
        async with self.writing() as conn:
            key, mime, purpose = await queue.attachment(conn, self.cipher, actor, int(application_id),
                                                        int(attachment_id))
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'")
        self.set_header("X-Frame-Options", "SAMEORIGIN")
        self.set_header("Cache-Control", "private, no-store")
        await self.send_stored(key, purpose=purpose, mime=mime, name=f"relief-{attachment_id}")


class DecisionForm(ConsoleHandler):
    """Decide the application at my step: pass (amount in yuan), return (checklist), reject (reason), with a
    flag override; a refusal shows the file again with what was typed."""

    access = {"post": Access("relief.decide", APPLICATION)}

    async def post(self, application_id: int) -> None:
        """Build the API's Decision from the form and decide; back to the file either way."""
        actor = await self.actor()
        values = self.form_values()
        typed: dict[str, Any] = {**values, "missing": self.form_list("missing")}
        if values.get("decision") == "reject" and values.get("confirmed") != "1":
            self.ask_once(f"确定对申请 {application_id} 不予通过吗？该决定会通知申请人，不能撤回。", "确认不予通过",
                          back=file_url(int(application_id)))
            return
        try:
            extra: dict[str, Any] = {}
            if values.get("decision") == "return":
                extra["missing"] = [{"item": item, "note": values.get(f"note_{item}", "")}
                                    for item in self.form_list("missing")]
            if values.get("override_reason"):
                extra["override"] = {"reason": values["override_reason"]}
            body = self.form_model(reviewing.Decision, values, yuan_fields=("amount",), extra=extra)
            async with self.writing() as conn:
                await reviewing.decide(conn, self.cipher, actor, int(application_id), body)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code in ("missing_required", "missing_item"):
                refusal.fields.setdefault("missing", refusal.message)
            elif exc.code in ("flagged", "override_forbidden"):
                refusal.fields.setdefault("override_reason", refusal.message)
            elif exc.code.startswith("amount") or exc.code.startswith("fund"):
                refusal.fields.setdefault("fund_id" if exc.code.startswith("fund") else "amount", refusal.message)
            elif exc.code == "comment_required":
                refusal.fields.setdefault("comment", refusal.message)
            await show_file(self, int(application_id), form=typed, refusal=refusal)
            return
        self.redirect(file_url(int(application_id)) + "?done=" + values.get("decision", ""))


_APP = r"/console/relief/applications/(?P<application_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (QUEUE_URL, QueuePage),
    (_APP, FilePage),
    (_APP + r"/attachments/(?P<attachment_id>[0-9]+)", AttachmentFile),
    (_APP + r"/decision", DecisionForm),
]
