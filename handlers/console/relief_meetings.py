"""The collective review meeting (集体评议) in the console: choose applications waiting at ``collective_review``,
record the committee's size, who came, the votes on each and the minutes; then the result (who passed)."""
from __future__ import annotations

from typing import Any

from handlers.console.base import ConsoleHandler, Refusal, whole_numbers
from handlers.console.relief import QUEUE_URL, file_url
from models.core.clock import local_today
from models.core.errors import AppError, Invalid
from models.core.policy import Access
from models.relief import meetings, queue

NEW_URL = "/console/relief/meetings/new"
CHOICES = 100  # the most votes one meeting records (meetings.MeetingBody)


def meeting_url(meeting_id: int) -> str:
    """The result page of one recorded meeting."""
    return f"/console/relief/meetings/{meeting_id}"


def _count(values: dict[str, str], name: str) -> Any:
    """A vote count as typed: an int when it is one, else the text (the model refuses it by its field)."""
    text = values.get(name, "").strip()
    return int(text) if text.isdigit() and len(text) < 6 else (text or 0)


class MeetingForm(ConsoleHandler):
    """The meeting form: the applications at collective review in my subtree, each chosen with its votes."""

    access = {"get": Access("relief.meeting"), "post": Access("relief.meeting")}

    async def _show(self, *, form: dict[str, Any] | None = None, chosen: list[str] | None = None,
                    refusal: Refusal | None = None) -> None:
        actor = await self.actor()
        async with self.reading() as conn:
            items, _ = await queue.listing(conn, self.cipher, actor,
                                           queue.QueueQuery(step=meetings.STEP, limit=CHOICES))
        org = self.staff.org if self.staff else None
        self.page("relief_meeting_new.html", "记录集体评议会议", crumbs=[("救助审核", QUEUE_URL), ("集体评议", None)],
                  status=refusal.status if refusal else 200, items=items[:CHOICES], org=org, file_url=file_url,
                  form=form or {"date": local_today().isoformat()}, chosen=chosen or [], refusal=refusal,
                  errors=refusal.fields if refusal else {})

    async def get(self) -> None:
        """The form."""
        await self._show()

    async def post(self) -> None:
        """Record it as the API does (every vote or none); to its result, or the form again with the refusal."""
        actor = await self.actor()
        values = self.form_values()
        chosen = self.form_list("application")
        try:
            votes = []
            for ident in chosen:
                vote: dict[str, Any] = {"application_id": int(ident) if ident.isdigit() and len(ident) < 16 else ident, "for": _count(values, f"for_{ident}"),
                                        "against": _count(values, f"against_{ident}")}
                if values.get(f"override_{ident}"):
                    vote["override"] = {"reason": values[f"override_{ident}"]}
                votes.append(vote)
            if not votes:
                raise Invalid("meeting_votes_required", "请至少选择一个申请并填写表决票数",
                              details=[{"field": "application", "reason": "请至少选择一个申请"}])
            present = [line.strip() for line in values.get("present", "").splitlines() if line.strip()]
            body = self.form_model(meetings.MeetingBody, whole_numbers(values, "members"),
                                   extra={"votes": votes, "present": present, "org": values.get("org") or (self.staff.org.code if self.staff else "")})
            async with self.writing() as conn:
                done = await meetings.record(conn, self.cipher, actor, body)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code in ("meeting_quorum", "meeting_present", "meeting_present_duplicate"):
                refusal.fields.setdefault("present", refusal.message)
            elif exc.code == "meeting_date_future":
                refusal.fields.setdefault("date", refusal.message)
            elif exc.code in ("meeting_votes", "meeting_application", "flagged", "meeting_vote_duplicate", "four_eyes"):
                refusal.fields.setdefault("application", refusal.message)
            await self._show(form=values, chosen=chosen, refusal=refusal)
            return
        self.redirect(meeting_url(done.id))


class MeetingPage(ConsoleHandler):
    """A recorded meeting: the committee, who came, the minutes, and each application's result."""

    access = {"get": Access("relief.view")}

    async def get(self, meeting_id: int) -> None:
        """The record."""
        actor = await self.actor()
        async with self.reading() as conn:
            meeting = await meetings.get_in_scope(conn, actor, int(meeting_id))
        title = f"集体评议会议 {meeting['date']}"
        self.page("relief_meeting.html", title, crumbs=[("救助审核", QUEUE_URL), ("集体评议", NEW_URL
                                                                                 if self.may("relief.meeting") else None),
                                                         (title, None)],
                  meeting=meeting, file_url=file_url,
                  passed=[r for r in meeting["results"] if r["carried"]],
                  failed=[r for r in meeting["results"] if not r["carried"]])


routes: list[tuple[str, Any]] = [
    (NEW_URL, MeetingForm),
    (r"/console/relief/meetings/(?P<meeting_id>[0-9]+)", MeetingPage),
]
