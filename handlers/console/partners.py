"""Partners in the console: the merchants of my subtree (filters in the URL), a new one, its corrections, its
suspension (asked once), its stores, and the invites of its managers and cashiers with the mini-program code
to scan. The same declarations and domain functions as handlers/partners.py and handlers/invites.py."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.fields import HELPERS
from handlers.invites import INVITE_TARGET, NewInvite, WxaCodeSender
from handlers.partners import MERCHANT_TARGET, MerchantStatus, MerchantType, NewMerchant, NewStore
from models.core import policy
from models.core.errors import AppError, Invalid
from models.core.policy import Access
from models.core.typed import PageQuery, paged, text
from models.network import tree as orgs
from models.partners import invites
from models.partners import partnership as merchants

MERCHANTS_URL = "/console/partners/merchants"
STATUS_NAMES = {"active": "合作中", "suspended": "已暂停"}
#: A domain refusal's code -> the form field it is about (the domain names no field itself).
FIELD_OF = {"name_required": "name", "name_too_long": "name", "merchant_type": "type", "agreement_period": "agreement_to",
            "contact_too_long": "contact", "org_not_found": "org", "reason_required": "reason",
            "reason_too_long": "reason", "address_required": "address", "address_too_long": "address",
            "store_required": "store_id", "store_not_found": "store_id", "invite_role": "role",
            "not_manager": "role"}


def merchant_url(merchant_id: int) -> str:
    """The console page of one merchant."""
    return f"{MERCHANTS_URL}/{merchant_id}"


def invite_url(merchant_id: int, invite_id: int) -> str:
    """The console page of one open invite (its code and the image to scan)."""
    return f"{merchant_url(merchant_id)}/invites/{invite_id}"


def refusal_of(handler: ConsoleHandler, exc: AppError) -> Refusal:
    """The refusal of a form, the domain's codes placed next to their fields."""
    refusal = handler.refused(exc)
    if exc.code in FIELD_OF:
        refusal.fields.setdefault(FIELD_OF[exc.code], refusal.message)
    return refusal


class MerchantsQuery(PageQuery):
    """The list's filters: type, status, a part of the name."""

    type: MerchantType | None = None
    status: Literal["active", "suspended"] | None = None
    name: Annotated[str, text(100)] | None = None


async def units(handler: ConsoleHandler) -> list[tuple[str, str]]:
    """The units of my subtree as (code, name) choices for a form."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        root = await orgs.get(conn, actor.org_id or 0)
        found = await orgs.subtree(conn, root, limit=500)
    return [(o.code, "　" * (o.depth - root.depth) + f"{o.name}（{o.code}）") for o in found]


class MerchantsPage(ConsoleHandler):
    """The merchants signed in my subtree, filtered by type, status and name, one cursor page at a time."""

    access = {"get": Access("merchant.view")}

    async def get(self) -> None:
        """One page of the list, with a 下一页 link carrying the filters and the cursor."""
        actor = await self.actor()
        q = self.url_query(MerchantsQuery)
        async with self.reading() as conn:
            found = await merchants.list_in_scope(conn, actor, type=q.type, status=q.status, name=q.name,
                                                  after=q.cursor or 0, limit=q.limit + 1)
        items, nxt = paged(found, q.limit, lambda m: m.id)
        self.page("partners_merchants.html", "合作商家", crumbs=[("合作商家", None)], items=items, q=q,
                  next_url=self.page_url(cursor=nxt) if nxt else None, types=merchants.TYPES,
                  status_names=STATUS_NAMES, merchant_url=merchant_url)


class NewMerchantPage(ConsoleHandler):
    """Sign a new merchant to a unit of my subtree (admins)."""

    access = {"get": Access("merchant.manage"), "post": Access("merchant.manage")}

    async def get(self) -> None:
        """The empty form, my unit chosen."""
        await self.show({"org": self.staff.org.code if self.staff else ""})

    async def show(self, form: dict[str, Any], refusal: Refusal | None = None) -> None:
        """The form (again, after a refusal: what was typed kept, the refusal by its field)."""
        self.page("partners_merchant_form.html", "新增合作商家", crumbs=[("合作商家", MERCHANTS_URL), ("新增", None)],
                  status=refusal.status if refusal else 200, form=form, errors=refusal.fields if refusal else {},
                  refusal=refusal, units=await units(self), types=merchants.TYPES, action=MERCHANTS_URL + "/new",
                  editing=False, **HELPERS)

    async def post(self) -> None:
        """Create the merchant as the API does, then show it."""
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(NewMerchant, values)
            async with self.writing() as conn:
                org = await orgs.by_code(conn, body.org, within=policy.scope(actor))
                merchant = await merchants.create(
                    conn, actor, name=body.name, type=body.type, org_id=org.id, agreement_from=body.agreement_from,
                    agreement_to=body.agreement_to, contact=body.contact)
        except AppError as exc:
            await self.show(values, refusal_of(self, exc))
            return
        self.redirect(merchant_url(merchant.id) + "?done=created")


DONE = {"created": "商家已创建。", "updated": "商家信息已保存。", "suspended": "已暂停合作，其收银员不能再扫码核销。",
        "active": "已恢复合作。", "store": "门店已添加。", "revoked": "邀请已撤销，该邀请码不能再使用。"}


class MerchantPage(ConsoleHandler):
    """One merchant: its facts, its stores (with the form to add one) and where to invite and see redemptions."""

    access = {"get": Access("merchant.view", MERCHANT_TARGET)}

    async def get(self, merchant_id: int) -> None:
        """The merchant's page."""
        await show_merchant(self, int(merchant_id), done=DONE.get(self.get_query_argument("done", "")))


async def show_merchant(handler: ConsoleHandler, merchant_id: int, *, done: str | None = None,
                        form: dict[str, Any] | None = None, refusal: Refusal | None = None) -> None:
    """Render the merchant's page (again, after a refused store or status change)."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        merchant = await merchants.get(conn, merchant_id, within=policy.scope(actor))
        stores = await merchants.list_stores(conn, merchant.id)
        org = await orgs.get(conn, merchant.org_id)
    handler.page("partners_merchant.html", merchant.name, crumbs=[("合作商家", MERCHANTS_URL), (merchant.name, None)],
                 status=refusal.status if refusal else 200, merchant=merchant, stores=stores, org=org, done=done,
                 form=form or {}, errors=refusal.fields if refusal else {}, refusal=refusal, types=merchants.TYPES,
                 status_names=STATUS_NAMES, here=merchant_url(merchant.id), **HELPERS)


class EditMerchantPage(ConsoleHandler):
    """Correct a merchant's name, type, agreement period and contact (admins)."""

    access = {"get": Access("merchant.manage", MERCHANT_TARGET), "post": Access("merchant.manage", MERCHANT_TARGET)}

    async def get(self, merchant_id: int) -> None:
        """The form with the merchant's values."""
        actor = await self.actor()
        async with self.reading() as conn:
            m = await merchants.get(conn, int(merchant_id), within=policy.scope(actor))
        await self.show(m, {"name": m.name, "type": m.type, "agreement_from": m.agreement_from.isoformat(),
                            "agreement_to": m.agreement_to.isoformat(), "contact": m.contact or ""})

    async def show(self, m: merchants.Merchant, form: dict[str, Any], refusal: Refusal | None = None) -> None:
        """The form (again, after a refusal)."""
        self.page("partners_merchant_form.html", f"修改 {m.name}",
                  crumbs=[("合作商家", MERCHANTS_URL), (m.name, merchant_url(m.id)), ("修改", None)],
                  status=refusal.status if refusal else 200, form=form, errors=refusal.fields if refusal else {},
                  refusal=refusal, units=[], types=merchants.TYPES, action=merchant_url(m.id) + "/edit",
                  editing=True, **HELPERS)

    async def post(self, merchant_id: int) -> None:
        """Save the corrections through the domain (audited with what changed)."""
        actor = await self.actor()
        values = self.form_values()
        async with self.reading() as conn:
            m = await merchants.get(conn, int(merchant_id), within=policy.scope(actor))
        try:
            body = self.form_model(NewMerchant, values, extra={"org": "-"})
            async with self.writing() as conn:
                await merchants.update(conn, actor, m.id, name=body.name, type=body.type, contact=body.contact,
                                       agreement_from=body.agreement_from, agreement_to=body.agreement_to)
        except AppError as exc:
            await self.show(m, values, refusal_of(self, exc))
            return
        self.redirect(merchant_url(m.id) + "?done=updated")


class MerchantStatusForm(ConsoleHandler):
    """Suspend (asked once, with a reason) or resume a merchant (admins)."""

    access = {"post": Access("merchant.manage", MERCHANT_TARGET)}

    async def post(self, merchant_id: int) -> None:
        """Set the status as the API does; a suspension asks once first."""
        actor = await self.actor()
        values = self.form_values()
        if values.get("status") == "suspended" and values.get("confirmed") != "1":
            self.ask_once("确定暂停与该商家的合作吗？暂停后其收银员不能再扫码核销，直到恢复合作。", "确认暂停合作",
                          back=merchant_url(int(merchant_id)))
            return
        try:
            body = self.form_model(MerchantStatus, values)
            async with self.writing() as conn:
                merchant = await merchants.set_status(conn, actor, int(merchant_id), status=body.status,
                                                      reason=body.reason)
        except AppError as exc:
            await show_merchant(self, int(merchant_id), form=values, refusal=refusal_of(self, exc))
            return
        self.redirect(merchant_url(merchant.id) + "?done=" + merchant.status)


class StoresForm(ConsoleHandler):
    """Add a store to a merchant (admins)."""

    access = {"post": Access("merchant.manage", MERCHANT_TARGET)}

    async def post(self, merchant_id: int) -> None:
        """Add the store as the API does; a refusal shows the merchant again with what was typed."""
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(NewStore, values)
            async with self.writing() as conn:
                await merchants.add_store(conn, actor, int(merchant_id), name=body.name, address=body.address)
        except AppError as exc:
            await show_merchant(self, int(merchant_id), form=values, refusal=refusal_of(self, exc))
            return
        self.redirect(merchant_url(int(merchant_id)) + "?done=store")


ROLE_NAMES = {"cashier": "收银员", "manager": "商家管理员"}


class InvitesPage(ConsoleHandler):
    """A merchant's open invites with their codes (audited, as the API's list), and the form to invite a manager
    or a store's cashier (admins)."""

    access = {"get": Access("merchant.manage", MERCHANT_TARGET), "post": Access("merchant.manage", MERCHANT_TARGET)}

    async def get(self, merchant_id: int) -> None:
        """The open invites, newest first, one cursor page."""
        await self.show(int(merchant_id), {"role": "cashier"})

    async def show(self, merchant_id: int, form: dict[str, Any], refusal: Refusal | None = None) -> None:
        """The list and the form (again, after a refused invite)."""
        actor = await self.actor()
        q = self.url_query(PageQuery)
        async with self.writing() as conn:
            merchant = await merchants.get(conn, merchant_id, within=policy.scope(actor))
            stores = await merchants.list_stores(conn, merchant_id)
            found = await invites.list_open(conn, self.cipher, actor, merchant_id, before=q.cursor, page=q.limit)
        items, nxt = paged(found, q.limit, lambda i: int(i["id"]))
        store_names = {s["id"]: s["name"] for s in stores}
        self.page("partners_invites.html", f"{merchant.name} · 邀请", status=refusal.status if refusal else 200,
                  crumbs=[("合作商家", MERCHANTS_URL), (merchant.name, merchant_url(merchant_id)), ("邀请", None)],
                  merchant=merchant, stores=stores, store_names=store_names, items=items,
                  next_url=self.page_url(cursor=nxt) if nxt else None, form=form,
                  errors=refusal.fields if refusal else {}, refusal=refusal, role_names=ROLE_NAMES,
                  here=merchant_url(merchant_id), invite_url=invite_url,
                  done=DONE.get(self.get_query_argument("done", "")), **HELPERS)

    async def post(self, merchant_id: int) -> None:
        """Create the invite as the API does, then show its code and the image to scan."""
        actor = await self.actor()
        values = self.form_values()
        try:
            extra: dict[str, Any] = {}
            if values.get("store_id"):
                if not values["store_id"].isdigit():
                    raise Invalid("store_not_found", "找不到该门店")
                extra["store_id"] = int(values["store_id"])
            body = self.form_model(NewInvite, values, extra=extra)
            async with self.writing() as conn:
                invite = await invites.create(conn, self.cipher, actor, int(merchant_id), role=body.role,
                                              store_id=body.store_id)
        except AppError as exc:
            await self.show(int(merchant_id), values, refusal_of(self, exc))
            return
        self.redirect(invite_url(int(merchant_id), invite.id) + "?done=created")


class InvitePage(ConsoleHandler):
    """One open invite: its code to read aloud and its mini-program code to scan (the reading audited)."""

    access = {"get": Access("merchant.manage", INVITE_TARGET)}

    async def get(self, merchant_id: int, invite_id: int) -> None:
        """The invite's page."""
        actor = await self.actor()
        async with self.writing() as conn:
            merchant = await merchants.get(conn, int(merchant_id), within=policy.scope(actor))
            invite = await invites.reveal(conn, self.cipher, actor, merchant.id, int(invite_id))
            stores = {s["id"]: s["name"] for s in await merchants.list_stores(conn, merchant.id)}
        title = f"邀请{ROLE_NAMES.get(invite.role, invite.role)}"
        self.page("partners_invite.html", title, crumbs=[
            ("合作商家", MERCHANTS_URL), (merchant.name, merchant_url(merchant.id)),
            ("邀请", merchant_url(merchant.id) + "/invites"), (title, None)],
            merchant=merchant, invite=invite, store=stores.get(invite.store_id or 0), role_names=ROLE_NAMES,
            image_url=invite_url(merchant.id, invite.id) + "/code",
            created=self.get_query_argument("done", "") == "created")


class InviteCodeImage(WxaCodeSender, ConsoleHandler):
    """The open invite's mini-program code from WeChat, for the invite page's <img> (as the API route)."""

    accepts = "none"
    access = {"get": Access("merchant.manage", INVITE_TARGET)}

    async def get(self, merchant_id: int, invite_id: int) -> None:
        """Send the image WeChat makes (the reading of the code audited)."""
        actor = await self.actor()
        async with self.writing() as conn:
            invite = await invites.reveal(conn, self.cipher, actor, int(merchant_id), int(invite_id))
        self.set_header("Content-Security-Policy", "default-src 'none'")
        await self.send_wxa_code(invite)


class RevokeInviteForm(ConsoleHandler):
    """Withdraw an open invite (asked once): its code binds no one any more."""

    access = {"post": Access("merchant.manage", INVITE_TARGET)}

    async def post(self, merchant_id: int, invite_id: int) -> None:
        """Revoke it through the domain (audited)."""
        actor = await self.actor()
        back = merchant_url(int(merchant_id)) + "/invites"
        if self.form_values().get("confirmed") != "1":
            self.ask_once("确定撤销这个邀请吗？撤销后该邀请码和小程序码都不能再用于绑定。", "确认撤销邀请", back=back)
            return
        async with self.writing() as conn:
            await invites.revoke(conn, actor, int(merchant_id), int(invite_id))
        self.redirect(back + "?done=revoked")


_M = MERCHANTS_URL + r"/(?P<merchant_id>[0-9]+)"
_I = _M + r"/invites/(?P<invite_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (MERCHANTS_URL, MerchantsPage),
    (MERCHANTS_URL + "/new", NewMerchantPage),
    (_M, MerchantPage),
    (_M + "/edit", EditMerchantPage),
    (_M + "/status", MerchantStatusForm),
    (_M + "/stores", StoresForm),
    (_M + "/invites", InvitesPage),
    (_I, InvitePage),
    (_I + "/code", InviteCodeImage),
    (_I + "/revoke", RevokeInviteForm),
]
