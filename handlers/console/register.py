"""The difficult-worker register in the console: what waits for a second person (proposed and chosen category,
the reason for an override) with its confirmation or decline, and the re-check list (expired records first).
A member's register page and the entry and re-check forms are in ``register_records``."""
from __future__ import annotations

from typing import Any

from handlers.console.base import ConsoleHandler, Refusal
from handlers.hardship import RECORD_TARGET, ConfirmBody, DeclineBody, DueQuery
from models.core.errors import AppError
from models.core.policy import Access
from models.core.typed import PageQuery, paged
from models.members import hardship, hardship_review

PENDING_URL = "/console/register"
RECHECKS_URL = "/console/register/rechecks"
STATUS_NAMES = {"pending": "待确认", "active": "有效", "declined": "已退回", "renewed": "已复核更新",
                "exited": "已脱困", "expired": "已过期"}
KIND_NAMES = {"entry": "入档", "recheck": "复核"}


def member_url(member_id: int) -> str:
    """A member's register page (history, entry form)."""
    return f"{PENDING_URL}/members/{member_id}"


def record_url(record_id: int, action: str) -> str:
    """Where an action on one record is posted (confirm, decline) or shown (recheck)."""
    return f"{PENDING_URL}/records/{record_id}/{action}"


def category_name(code: str) -> str:
    """A category's Chinese name (``above_line``: above both lines)."""
    return hardship.CATEGORIES.get(code, "高于认定标准" if code == hardship.ABOVE_LINE else code)


#: What every register template needs to name things.
NAMES: dict[str, Any] = {"status_names": STATUS_NAMES, "kind_names": KIND_NAMES, "category_name": category_name,
                         "causes": hardship.CAUSES, "methods": hardship.METHODS, "member_url": member_url,
                         "record_url": record_url}


class PendingPage(ConsoleHandler):
    """Entries and re-checks of my subtree waiting for a second person, oldest first, each with its forms."""

    access = {"get": Access("hardship.view")}

    async def get(self) -> None:
        """One page of what waits."""
        await show_pending(self)


async def show_pending(handler: ConsoleHandler, *, failed: int | None = None, form: dict[str, Any] | None = None,
                       refusal: Refusal | None = None) -> None:
    """Render the pending list (again after a refused confirmation or decline of record ``failed``)."""
    actor = await handler.actor()
    q = handler.url_query(PageQuery)
    async with handler.reading() as conn:
        found = await hardship_review.pending(conn, actor, after=q.cursor, limit=q.limit + 1)
    shown, nxt = paged(found, q.limit, lambda r: r.id)
    done = {"confirmed": "已确认，档案生效。", "declined": "已退回。"}.get(handler.get_query_argument("done", ""))
    handler.page("register_pending.html", "待确认的困难职工档案", crumbs=[("困难职工档案", None)],
                 status=refusal.status if refusal else 200, items=shown, done=done,
                 next_url=handler.page_url(cursor=nxt) if nxt else None, failed=failed, form=form or {},
                 errors=refusal.fields if refusal else {}, refusal=refusal, **NAMES)


class ConfirmForm(ConsoleHandler):
    """A second member of staff confirms a pending entry or re-check (four eyes refused in Chinese)."""

    access = {"post": Access("hardship.confirm", RECORD_TARGET)}

    async def post(self, record_id: int) -> None:
        """Confirm it; back to the list either way."""
        rid = int(record_id)
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(ConfirmBody, values)
            async with self.writing() as conn:
                await hardship_review.confirm(conn, actor, rid, note=body.note)
        except AppError as exc:
            await show_pending(self, failed=rid, form=values, refusal=self.refused(exc))
            return
        self.redirect(PENDING_URL + "?done=confirmed")


class DeclineForm(ConsoleHandler):
    """A second member of staff declines a pending entry or re-check, with a reason."""

    access = {"post": Access("hardship.confirm", RECORD_TARGET)}

    async def post(self, record_id: int) -> None:
        """Decline it; the reason is required."""
        rid = int(record_id)
        actor = await self.actor()
        values = self.form_values()
        if values.get("reason") and values.get("confirmed") != "1":
            self.ask_once(f"确定退回档案 {rid} 吗？退回后该档案不再生效，需要时须重新录入。", "确认退回",
                          back=PENDING_URL)
            return
        try:
            body = self.form_model(DeclineBody, {k: v for k, v in values.items() if k != "confirmed"})
            async with self.writing() as conn:
                await hardship_review.decline(conn, actor, rid, reason=body.reason)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code in ("invalid_body", "hardship_field"):
                refusal.fields.setdefault("reason", refusal.message)
            await show_pending(self, failed=rid, form=values, refusal=refusal)
            return
        self.redirect(PENDING_URL + "?done=declined")


class RechecksPage(ConsoleHandler):
    """Records of my subtree due for their yearly re-check (expired ones shown 已过期), soonest first."""

    access = {"get": Access("hardship.view")}

    async def get(self) -> None:
        """One page of the list, ``within_days`` ahead (30 by default)."""
        actor = await self.actor()
        q = self.url_query(DueQuery)
        async with self.reading() as conn:
            found = await hardship.due_for_recheck(conn, actor, within_days=q.within_days, after=q.cursor,
                                                   limit=q.limit + 1)
        shown, nxt = paged(found, q.limit, lambda r: (r.valid_to, r.id))
        self.page("register_rechecks.html", "待复核的困难职工档案", crumbs=[("困难职工档案", PENDING_URL), ("待复核", None)],
                  items=shown, q=q, next_url=self.page_url(cursor=nxt) if nxt else None, **NAMES)


routes: list[tuple[str, Any]] = [
    (PENDING_URL + "/?", PendingPage),  # the nav's link ends in "/" (its area's prefix)
    (RECHECKS_URL, RechecksPage),
    (PENDING_URL + r"/records/(?P<record_id>[0-9]+)/confirm", ConfirmForm),
    (PENDING_URL + r"/records/(?P<record_id>[0-9]+)/decline", DeclineForm),
]
