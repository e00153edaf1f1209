"""Public notices (公示) and objections (异议) in the console: publish a batch of applications at the notice step,
the batches with their periods, the objections (status filter in the URL), one objection with its application,
and its resolution (asked once when it dismisses the objection or rejects the application)."""
from __future__ import annotations

from typing import Any

from handlers.console.base import ConsoleHandler, Refusal, whole_numbers
from handlers.console.relief import file_url
from models.core.errors import AppError, Invalid
from models.core.policy import Access, Target
from models.core.typed import paged
from models.relief import notices, objections, queue

NOTICES_URL = "/console/relief/notices"
PUBLISH_URL = "/console/relief/notices/new"
OBJECTIONS_URL = "/console/relief/objections"
OBJECTION = Target("objection", "objection_id")
STATE_NAMES = {"in_notice": "公示中", "paused": "有异议待处理", "ended": "公示期满",
               "withdrawn_by_objection": "因异议撤下"}
OBJECTION_STATUS = {"open": "待处理", "upheld": "异议成立", "dismissed": "异议不成立"}
OUTCOMES = {"county_review": "退回县级审核", "rejected": "不予救助"}
#: The resolution as the form names it: (upheld, outcome), and whether it asks once.
RESOLUTIONS = {"dismiss": (False, None), "county_review": (True, "county_review"), "rejected": (True, "rejected")}
ASKS_ONCE = ("dismiss", "rejected")
#: The applications the publish form offers at once, the oldest first (the rest once these are published).
LISTED = 100


def objection_url(objection_id: int) -> str:
    """The page of one objection."""
    return f"{OBJECTIONS_URL}/{objection_id}"


class NoticesPage(ConsoleHandler):
    """The batches published in my subtree, newest first, each with its period and entries."""

    access = {"get": Access("relief.publish")}

    async def get(self) -> None:
        """One page of batches."""
        actor = await self.actor()
        q = self.url_query(notices.NoticesQuery)
        async with self.reading() as conn:
            items = await notices.listing(conn, actor, q)
        shown, nxt = paged(items, q.limit, lambda i: int(i["id"]))
        done = self.get_query_argument("done", "")
        self.page("relief_notices.html", "公示批次", crumbs=[("公示批次", None)], items=shown,
                  next_url=self.page_url(cursor=nxt) if nxt else None, state_names=STATE_NAMES, file_url=file_url,
                  done=int(done) if done.isdigit() else None)


class PublishForm(ConsoleHandler):
    """Choose applications at the notice step and publish them as one batch for a number of days."""

    access = {"get": Access("relief.publish"), "post": Access("relief.publish")}

    async def _show(self, *, form: dict[str, Any] | None = None, chosen: list[str] | None = None,
                    refusal: Refusal | None = None) -> None:
        actor = await self.actor()
        async with self.reading() as conn:
            items, _ = await queue.listing(conn, self.cipher, actor, queue.QueueQuery(step=notices.STEP, limit=LISTED))
        self.page("relief_notice_new.html", "发布公示", crumbs=[("公示批次", NOTICES_URL), ("发布公示", None)],
                  status=refusal.status if refusal else 200, items=items[:LISTED], file_url=file_url,
                  more=len(items) > LISTED, listed=LISTED,
                  form=form or {"days": str(notices.DEFAULT_DAYS)}, chosen=chosen or [], refusal=refusal,
                  errors=refusal.fields if refusal else {})

    async def get(self) -> None:
        """The applications waiting to be published."""
        await self._show()

    async def post(self) -> None:
        """Publish as the API does; to the batches, or the form again with the refusal."""
        actor = await self.actor()
        values = self.form_values()
        chosen = self.form_list("application")
        try:
            if not chosen:
                raise Invalid("notice_applications_required", "请至少选择一个申请",
                              details=[{"field": "application", "reason": "请至少选择一个申请"}])
            ids = [int(i) if i.isdigit() and len(i) < 16 else i for i in chosen]
            body = self.form_model(notices.PublishBody, whole_numbers(values, "days"), extra={"application_ids": ids})
            async with self.writing() as conn:
                batch = await notices.publish(conn, self.cipher, actor, body,
                                              visible_days=self.config.relief_notice_visible_days)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code.startswith("notice_") or "application_ids" in refusal.fields:
                refusal.fields.setdefault("application", refusal.fields.pop("application_ids", refusal.message))
            await self._show(form=values, chosen=chosen, refusal=refusal)
            return
        self.redirect(f"{NOTICES_URL}?done={batch['id']}")


class ObjectionsPage(ConsoleHandler):
    """Objections to applications in my subtree, oldest first, filtered by status and overdue (the reading audited)."""

    access = {"get": Access("relief.objection_resolve")}

    async def get(self) -> None:
        """One page of objections."""
        actor = await self.actor()
        q = self.url_query(objections.ObjectionsQuery)
        async with self.writing() as conn:
            items = await objections.listing(conn, self.cipher, actor, q)
        shown, nxt = paged(items, q.limit, lambda i: int(i["id"]))
        self.page("relief_objections.html", "异议", crumbs=[("异议", None)], items=shown, q=q,
                  next_url=self.page_url(cursor=nxt) if nxt else None, status_names=OBJECTION_STATUS,
                  outcomes=OUTCOMES, file_url=file_url, objection_url=objection_url)


async def show_objection(handler: ConsoleHandler, objection_id: int, *, form: dict[str, Any] | None = None,
                         refusal: Refusal | None = None, done: bool = False) -> None:
    """The objection page: what was said, by whom (contact), the application linked, the resolution form."""
    actor = await handler.actor()
    async with handler.writing() as conn:
        item = await objections.one(conn, handler.cipher, actor, objection_id)
    title = f"异议 {objection_id}"
    handler.page("relief_objection.html", title, crumbs=[("异议", OBJECTIONS_URL), (title, None)],
                 status=refusal.status if refusal else 200, item=item, form=form or {}, refusal=refusal,
                 errors=refusal.fields if refusal else {}, status_names=OBJECTION_STATUS, outcomes=OUTCOMES,
                 file_url=file_url, done=done, asks_once=" ".join(ASKS_ONCE))


class ObjectionPage(ConsoleHandler):
    """One objection with its application linked, and the form that resolves it while it is open."""

    access = {"get": Access("relief.objection_resolve", OBJECTION)}

    async def get(self, objection_id: int) -> None:
        """The objection (its reading audited)."""
        await show_objection(self, int(objection_id), done=self.get_query_argument("done", "") == "1")


class ResolveForm(ConsoleHandler):
    """Resolve an open objection with a finding: dismissed, or upheld (back to county review, or rejected)."""

    access = {"post": Access("relief.objection_resolve", OBJECTION)}

    async def post(self, objection_id: int) -> None:
        """Ask once for a dismissal or a rejection; resolve as the API does."""
        actor = await self.actor()
        values = self.form_values()
        decision = values.get("decision", "")
        if decision in ASKS_ONCE and values.get("confirmed") != "1" and values.get("finding"):
            question = ("确定异议不成立吗？公示将继续，期满后申请进入审批。" if decision == "dismiss"
                        else "确定异议成立并对该申请不予救助吗？核查结论将作为理由告知申请人，不能撤回。")
            self.ask_once(question, "确认处理", back=objection_url(int(objection_id)))
            return
        try:
            if decision not in RESOLUTIONS:
                raise Invalid("decision_required", "请选择处理结果", details=[{"field": "decision", "reason": "请选择处理结果"}])
            upheld, outcome = RESOLUTIONS[decision]
            body = self.form_model(objections.ResolveBody, values, extra={"upheld": upheld, "outcome": outcome})
            async with self.writing() as conn:
                await objections.resolve(conn, self.cipher, actor, int(objection_id), body)
        except AppError as exc:
            await show_objection(self, int(objection_id), form=values, refusal=self.refused(exc))
            return
        self.redirect(objection_url(int(objection_id)) + "?done=1")


routes: list[tuple[str, Any]] = [
    (NOTICES_URL, NoticesPage),
    (PUBLISH_URL, PublishForm),
    (OBJECTIONS_URL, ObjectionsPage),
    (OBJECTIONS_URL + r"/(?P<objection_id>[0-9]+)", ObjectionPage),
    (OBJECTIONS_URL + r"/(?P<objection_id>[0-9]+)/resolve", ResolveForm),
]
