"""Service cards in the console: a member's card with its status and history; issue, freeze, unfreeze and reissue
(each destructive one asked once); make the printed card and open its PDF for the card printer (the API's print)."""
from __future__ import annotations

from typing import Any

from handlers.cards import IMAGE_TYPES, ReasonBody, ReasonRequired, make_print, print_file
from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.members import MEMBER, SEARCH_URL, member_url
from models.cards import lifecycle as cards
from models.core.errors import AppError
from models.core.masking import mask_name
from models.core.policy import Access, Target
from models.members import membership as members

CARD = Target("card", "card_id")
DONE = {"issued": "已发卡。", "freeze": "服务卡已冻结，已出示的卡码随即失效。", "unfreeze": "服务卡已解冻，可以正常使用。",
        "reissue": "已挂失补办：旧卡已作废，新卡号见下。", "print": "已制作实体卡，旧的实体卡随即作废。请打开 PDF 打印。",
        "cancel": "服务卡已注销。"}
#: Each card action: the API's domain function, whether the reason is required, the question asked once and its
#: button (None: not asked).
ACTIONS: dict[str, tuple[Any, bool, str | None, str]] = {
    "freeze": (cards.freeze, True, "确定冻结这张服务卡吗？冻结后持卡人不能使用权益，已出示的卡码立即失效。", "确认冻结"),
    "unfreeze": (cards.unfreeze, False, "确定解冻这张服务卡吗？解冻后持卡人可以正常使用权益。", "确认解冻"),
    "reissue": (cards.report_lost, False, "确定挂失补办吗？旧卡号立即作废（已印的实体卡也随之作废），并发放新卡号。",
                "确认挂失补办"),
    "cancel": (cards.cancel, True, "确定注销这张服务卡吗？注销后不能恢复，持卡人不能再使用权益，已出示的卡码立即失效。", "确认注销"),
}


def card_url(member_id: int) -> str:
    """The console page of a member's card."""
    return f"/console/members/{member_id}/card"


def print_url(card_id: int) -> str:
    """Where the card's print opens (GET: the PDF for the card printer; POST: make a new print)."""
    return f"/console/cards/{card_id}/print"


async def show_card(handler: ConsoleHandler, member_id: int, *, form: dict[str, Any] | None = None,
                    refusal: Refusal | None = None, action: str | None = None, done: str | None = None) -> None:
    """The card page (again after a refusal: what was typed kept, the refusal by the action's reason field)."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        member = await members.get_for_staff(conn, actor, member_id)
        live = await cards.live_for_member(conn, member_id)
        past = await cards.history(conn, member_id)
    holder = mask_name(member.name)
    title = f"{holder} 的服务卡"
    handler.page("cards_card.html", title, crumbs=[("会员查询", SEARCH_URL), (f"会员 {holder}", member_url(member_id)),
                                                   ("服务卡", None)],
                 status=refusal.status if refusal else 200, member=member, card=live,
                 history=[c for c in past if live is None or c.id != live.id], form=form or {},
                 errors=refusal.fields if refusal else {}, refusal=refusal, action=action, done=DONE.get(done or ""),
                 status_labels=cards.STATUS_LABELS, display_card_no=cards.display_card_no, print_url=print_url,
                 card_url=card_url, member_url=member_url)


class CardPage(ConsoleHandler):
    """A member's card and their past cards (the API's ``GET .../card``); issue one when they have none."""

    access = {"get": Access("card.view", MEMBER), "post": Access("card.manage", MEMBER)}

    async def get(self, member_id: int) -> None:
        """The card page."""
        await show_card(self, int(member_id), done=self.get_query_argument("done", "") or None)

    async def post(self, member_id: int) -> None:
        """Issue the member a card (the live one when they have one), as the API does."""
        actor = await self.actor()
        try:
            async with self.writing() as conn:
                await cards.issue(conn, actor, int(member_id))
        except AppError as exc:
            await show_card(self, int(member_id), refusal=self.refused(exc), action="issue")
            return
        self.redirect(card_url(int(member_id)) + "?done=issued")


class CardActionForm(ConsoleHandler):
    """Freeze or cancel (a reason required), unfreeze or reissue one card, each asked once, each the API's own call."""

    access = {"post": Access("card.manage", CARD)}

    async def post(self, card_id: int, action: str) -> None:
        """Check the form, ask once, act; back to the card page, or the page again with the refusal."""
        actor = await self.actor()
        fn, required, question, yes = ACTIONS[action]
        values = self.form_values()
        async with self.reading() as conn:
            member_id = (await cards.get(conn, int(card_id))).member_id
        try:
            model: type[ReasonBody] | type[ReasonRequired] = ReasonRequired if required else ReasonBody
            body = self.form_model(model, values)
            if question and values.get("confirmed") != "1":
                self.ask_once(question, yes, back=card_url(member_id))
                return
            async with self.writing() as conn:
                await fn(conn, actor, int(card_id), reason=body.reason)
        except AppError as exc:
            refusal = self.refused(exc)
            if required and not values.get("reason"):
                refusal.message = refusal.fields["reason"] = "请填写原因（持卡人会收到通知）"
            elif exc.code.startswith("reason") or not refusal.fields:
                refusal.fields.setdefault("reason", refusal.message)
            await show_card(self, member_id, form=values, refusal=refusal, action=action)
            return
        self.redirect(card_url(member_id) + "?done=" + action)


class CardPrintPage(ConsoleHandler):
    """The printed card: POST makes a new print (asked once: the old one dies); GET opens its PDF inline in a new
    tab for the card printer. The same checks, audit and file as the API's ``/staff/cards/{id}/print``."""

    access = {"post": Access("card.print", CARD), "get": Access("card.print", CARD)}

    async def get(self, card_id: int) -> None:
        """The PDF of the print in force, inline (the browser's viewer prints it), the download audited."""
        data, filename = await print_file(self, await self.actor(), int(card_id), "pdf")
        self.set_header("Content-Type", IMAGE_TYPES["pdf"])
        self.set_header("Content-Disposition", f'inline; filename="{filename}"')
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        self.set_header("Cache-Control", "private, no-store")
        self.finish(data)

    async def post(self, card_id: int) -> None:
        """Ask once, then make the print as the API does; back to the card page, which links the PDF."""
        actor = await self.actor()
        async with self.reading() as conn:
            card = await cards.get(conn, int(card_id))
        if self.form_values().get("confirmed") != "1" and card.printed_at is not None:
            self.ask_once("确定重新制作实体卡吗？之前印制的实体卡将立即作废。", "确认重新制卡", back=card_url(card.member_id))
            return
        try:
            await make_print(self, actor, int(card_id))
        except AppError as exc:
            await show_card(self, card.member_id, refusal=self.refused(exc), action="print")
            return
        self.redirect(card_url(card.member_id) + "?done=print")


_CARD = r"/console/cards/(?P<card_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (r"/console/members/(?P<member_id>[0-9]+)/card", CardPage),
    (_CARD + r"/(?P<action>freeze|unfreeze|reissue|cancel)", CardActionForm),
    (_CARD + r"/print", CardPrintPage),
]
