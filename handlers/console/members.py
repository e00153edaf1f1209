"""Members in the console: the search (name, card number, or ID number through its blind index, as the API's),
a member's page (masked; the full view audited as the API's ``member.view_full``), their card and transfers, and
releasing their WeChat binding."""
from __future__ import annotations

from typing import Annotated, Any

from handlers.console.base import ConsoleHandler
from models.cards import lifecycle as cards
from models.cards import usecases as card_flows
from models.core import policy
from models.core.actors import Actor
from models.core.masking import mask_name
from models.core.policy import Access, Target
from models.core.typed import PageQuery, one_of, paged, text
from models.members import membership as members
from models.members import transfers
from models.network import tree as orgs

MEMBER = Target("member", "member_id")
SEARCH_URL = "/console/members/"
GENDERS = {"M": "男", "F": "女", "male": "男", "female": "女"}
MEMBER_STATUS = {"active": "在会", "ended": "已终止会籍"}
#: The most units a unit list (filter, import) offers; a larger subtree is filtered by the code typed.
UNIT_CHOICES = 500
DONE = {"released": "已解除与微信账号的绑定，该微信上已出示的服务卡码随即失效。", "edited": "会员信息已保存。"}


def member_url(member_id: int) -> str:
    """The console page of one member."""
    return f"/console/members/{member_id}"


def register_url(member_id: int) -> str:
    """The member's page in the difficult-worker register (its pages are another area's)."""
    return f"/console/register/members/{member_id}"


class SearchQuery(PageQuery):
    """The search box: what was typed, what it is (guessed when empty), and a unit of my subtree."""

    q: Annotated[str, text(50)] = ""
    by: Annotated[str, one_of(card_flows.SEARCH_KINDS)] = ""
    org: Annotated[str, text(32)] = ""


async def units(conn: Any, actor: Actor) -> list[orgs.Org]:
    """The units of the caller's subtree, in tree order (for a filter or the import's unit), at most UNIT_CHOICES."""
    if actor.org_id is None:
        return []
    root = await orgs.get(conn, actor.org_id)
    return await orgs.subtree(conn, root, limit=UNIT_CHOICES)


class SearchPage(ConsoleHandler):
    """Find members of my subtree by name, card number, ID number or phone; the query and cursor in the URL."""

    access = {"get": Access("member.view")}

    async def get(self) -> None:
        """One page of the members found (all of my subtree when nothing is typed), masked as the API's."""
        actor = await self.actor()
        q = self.url_query(SearchQuery)
        async with self.reading() as conn:
            unit_list = await units(conn, actor)
            org = await orgs.by_code(conn, q.org, within=policy.scope(actor)) if q.org else None
            found, nxt = paged(await card_flows.find_members(conn, self.cipher, actor, text=q.q, by=q.by, org=org,
                                                             after=q.cursor or 0, limit=q.limit + 1),
                               q.limit, lambda m: m.id)
            names = {u.id: u.name for u in unit_list}
            for member in found:
                if member.org_id not in names:
                    names[member.org_id] = (await orgs.get(conn, member.org_id)).name
        kind = card_flows.search_kind(q.q, q.by) if q.q else None
        self.page("members_search.html", "会员查询", crumbs=[("会员查询", None)], q=q, found=found,
                  next_url=self.page_url(cursor=nxt) if nxt else None, kinds=card_flows.SEARCH_KINDS,
                  kind=kind, units=unit_list, unit_names=names, genders=GENDERS, statuses=MEMBER_STATUS,
                  member_url=member_url)


async def show_member(handler: ConsoleHandler, member_id: int, *, full: dict[str, Any] | None = None,
                      done: str | None = None) -> None:
    """The member's page: their record (``full`` when the audited full view was asked for), unit, card, transfers."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        member = await members.get_for_staff(conn, actor, member_id)
        unit = await orgs.get(conn, member.org_id)
        live = await cards.live_for_member(conn, member_id)
        past = await cards.history(conn, member_id)
        asked = (await transfers.listing(conn, handler.cipher, actor, direction="incoming", member_id=member_id,
                                         limit=20) if handler.may("member_transfer.view") else [])
    title = f"会员 {full['name'] if full else mask_name(member.name)}"
    handler.page("members_member.html", title, crumbs=[("会员查询", SEARCH_URL), (title, None)], member=member,
                 view=member.view(), full=full, unit=unit, card=live, cards_count=len(past), transfers=asked,
                 done=DONE.get(done or ""), genders=GENDERS, statuses=MEMBER_STATUS, member_url=member_url,
                 register_url=register_url(member_id), status_labels=cards.STATUS_LABELS,
                 display_card_no=cards.display_card_no)


class MemberPage(ConsoleHandler):
    """A member of my subtree: masked as the API shows them, with their card, transfers and binding."""

    access = {"get": Access("member.view", MEMBER)}

    async def get(self, member_id: int) -> None:
        """The member's page."""
        await show_member(self, int(member_id), done=self.get_query_argument("done", "") or None)


class MemberFullPage(ConsoleHandler):
    """The member's page unmasked, for the roles that may see it: each view audited as the API's full view."""

    access = {"get": Access("member.view_full", MEMBER)}

    async def get(self, member_id: int) -> None:
        """The API's full view (written to the audit log in its own transaction), shown in the member's page."""
        actor = await self.actor()
        async with self.writing() as conn:
            view = await members.full_view(conn, self.cipher, actor, int(member_id))
        await show_member(self, int(member_id), full=view)


class ReleaseBindingForm(ConsoleHandler):
    """Release the member's WeChat binding (asked once): the released phone's card codes stop working."""

    access = {"post": Access("member.release_binding", MEMBER)}

    async def post(self, member_id: int) -> None:
        """Ask once, then release as the API does; back to the member's page."""
        actor = await self.actor()
        if self.form_values().get("confirmed") != "1":
            self.ask_once("确定解除该会员与微信账号的绑定吗？解除后，该微信上的服务卡码立即失效，会员需重新实名绑定。",
                          "确认解除绑定", back=member_url(int(member_id)))
            return
        async with self.writing() as conn:
            await card_flows.release_binding(conn, actor, int(member_id), scope=policy.scope(actor))
        self.redirect(member_url(int(member_id)) + "?done=released")


_MEMBER = r"/console/members/(?P<member_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (SEARCH_URL, SearchPage),
    (_MEMBER, MemberPage),
    (_MEMBER + r"/full", MemberFullPage),
    (_MEMBER + r"/release-binding", ReleaseBindingForm),
]
