"""The home-visit record (入户核查) in the console: record a visit to an application under review (date, who went,
what they found) and upload its photos; the file shows them (handlers/console/relief.py)."""
from __future__ import annotations

import re
from typing import Any

from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.relief import APPLICATION, QUEUE_URL, attachment_url, file_url
from handlers.console.uploads import ConsoleUploadHandler, Upload
from models.core.clock import local_today
from models.core.errors import AppError, Invalid
from models.core.policy import Access, Target
from models.relief import queue, visits

VISIT = Target("relief_visit", "visit_id")
_SEPARATORS = re.compile(r"[、，,;；\s]+")
DONE = {"visit": "入户核查已登记，可以继续上传照片。", "photo": "照片已上传。"}


def visit_url(application_id: int) -> str:
    """The page that records a visit to one application and takes its photos."""
    return f"{file_url(application_id)}/visit"


def visitors_of(text: str) -> list[str]:
    """The visitors typed as one line ("张三、李四" or one per line) as a list of names."""
    return [name for name in _SEPARATORS.split(text or "") if name]


async def show_visits(handler: ConsoleHandler, application_id: int, *, form: dict[str, Any] | None = None,
                      refusal: Refusal | None = None, photo_for: int | None = None, done: str | None = None) -> None:
    """The visit page: the application in brief, the form for a new visit, the visits with their photos."""
    actor = await handler.actor()
    async with handler.writing() as conn:
        view = await queue.file_view(conn, handler.cipher, actor, application_id)
    for visit in view["visits"]:
        for photo in visit["photos"]:
            photo["url"] = attachment_url(application_id, photo["id"])
    title = f"入户核查 · 申请 {application_id}"
    handler.page("relief_visit.html", title,
                 crumbs=[("救助审核", QUEUE_URL), (f"申请 {application_id}", file_url(application_id)), ("入户核查", None)],
                 status=refusal.status if refusal else 200, view=view, file_url=file_url(application_id),
                 form=form or {"date": local_today().isoformat()}, errors=refusal.fields if refusal else {},
                 refusal=refusal, photo_for=photo_for, done=DONE.get(done or ""), max_photos=visits.MAX_PHOTOS,
                 open_=view["status"] == "submitted")


class VisitPage(ConsoleHandler):
    """Record a home visit (station or reviewer of the application's subtree), then add its photos."""

    access = {"get": Access("relief.visit", APPLICATION), "post": Access("relief.visit", APPLICATION)}

    async def get(self, application_id: int) -> None:
        """The form and the visits so far."""
        await show_visits(self, int(application_id), done=self.get_query_argument("done", "") or None)

    async def post(self, application_id: int) -> None:
        """Record the visit as the API does; on to its photos, or the form again with the refusal."""
        actor = await self.actor()
        values = self.form_values()
        try:
            names = visitors_of(values.get("visitors", ""))
            body = self.form_model(visits.VisitBody, values, extra={"visitors": names} if names else {})
            async with self.writing() as conn:
                await visits.record(conn, self.cipher, actor, int(application_id), body)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code == "visit_date_future":
                refusal.fields.setdefault("date", refusal.message)
            await show_visits(self, int(application_id), form=values, refusal=refusal)
            return
        self.redirect(visit_url(int(application_id)) + "?done=visit")


class VisitPhotoUpload(ConsoleUploadHandler):
    """Upload one photo of a visit (JPEG or PNG, re-encoded without EXIF, encrypted at rest), as the API does."""

    access = {"post": Access("relief.visit", VISIT)}

    async def received(self, upload: Upload, visit_id: int) -> None:
        """The token checked: check the visit, store the photo off the loop, keep it; back to the visit page."""
        actor = await self.actor()
        async with self.reading() as conn:
            application_id, _ = await visits.visit_in_scope(conn, actor, int(visit_id))
        try:
            photo = upload.file("file")
            if photo is None:
                raise Invalid("file_required", "请选择一张照片", details=[{"field": "file", "reason": "请选择一张照片"}])
            async with self.reading() as conn:
                await visits.check_photo_room(conn, actor, int(visit_id))
            store = self.settings["attachments"]
            stored = await self.offload(store.put, photo.file, purpose=visits.PHOTO_PURPOSE)
            try:
                async with self.writing() as conn:
                    await visits.add_photo(conn, actor, int(visit_id), stored)
            except BaseException:
                await self.offload(store.delete, stored.key)
                raise
        except AppError as exc:
            refusal = self.refused(exc)
            refusal.fields.setdefault("file", refusal.message)
            await show_visits(self, application_id, refusal=refusal, photo_for=int(visit_id))
            return
        self.redirect(visit_url(application_id) + "?done=photo")


routes: list[tuple[str, Any]] = [
    (r"/console/relief/applications/(?P<application_id>[0-9]+)/visit", VisitPage),
    (r"/console/relief/visits/(?P<visit_id>[0-9]+)/photos", VisitPhotoUpload),
]
