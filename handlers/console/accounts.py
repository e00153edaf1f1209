"""Staff accounts in the console (admins): the accounts of my subtree, a new one (which must change its password at
its first login), its roles, and locking (asked once) or unlocking it. New accounts are made as the API's
handlers/staff_admin.py makes them; the rest through models/identity/staff_accounts.py."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.fields import HELPERS
from handlers.console.partners import units
from handlers.staff_admin import NewStaff
from models.core import policy
from models.core.errors import AppError
from models.core.policy import ROLES, Access
from models.core.typed import PageQuery, paged, text
from models.identity import staff_accounts as staff

ACCOUNTS_URL = "/console/accounts"
#: A domain refusal's code -> the field it is about.
FIELD_OF = {"staff_username_format": "username", "staff_username_taken": "username", "staff_roles_required": "roles",
            "staff_role_unknown": "roles", "org_not_found": "org_code", "staff_self": "roles"}


def account_url(staff_id: int) -> str:
    """The console page of one account."""
    return f"{ACCOUNTS_URL}/{staff_id}"


def _refusal(handler: ConsoleHandler, exc: AppError) -> Refusal:
    refusal = handler.refused(exc)
    if exc.code in FIELD_OF:
        refusal.fields.setdefault(FIELD_OF[exc.code], refusal.message)
    elif exc.code.startswith("password"):
        refusal.fields.setdefault("password", refusal.message)
    return refusal


class AccountsQuery(PageQuery):
    """A part of the username or name; active or locked accounts only."""

    username: Annotated[str, text(64)] | None = None
    state: Literal["active", "locked"] | None = None


class AccountsPage(ConsoleHandler):
    """The accounts whose unit lies in my subtree, filtered by the URL, one cursor page at a time."""

    access = {"get": Access("staff.manage")}

    async def get(self) -> None:
        """One page of accounts."""
        actor = await self.actor()
        q = self.url_query(AccountsQuery)
        async with self.reading() as conn:
            found = await staff.list_in_scope(conn, policy.scope(actor), after=q.cursor or 0, limit=q.limit + 1,
                                              username=q.username,
                                              active=None if q.state is None else q.state == "active")
        items, nxt = paged(found, q.limit, lambda s: s.id)
        self.page("accounts_list.html", "工作人员", crumbs=[("工作人员", None)], items=items, q=q, roles_of=ROLES,
                  next_url=self.page_url(cursor=nxt) if nxt else None, account_url=account_url,
                  done=self.get_query_argument("done", "") == "created")


class NewAccountPage(ConsoleHandler):
    """A new account in a unit of my subtree; it must change the password I choose at its first login."""

    access = {"get": Access("staff.manage"), "post": Access("staff.manage")}

    async def get(self) -> None:
        """The empty form, my unit chosen."""
        await self.show({"org_code": self.staff.org.code if self.staff else ""}, [])

    async def show(self, form: dict[str, Any], chosen: list[str], refusal: Refusal | None = None) -> None:
        """The form (again, after a refusal: what was typed kept but the password, the refusal by its field)."""
        self.page("accounts_form.html", "新建工作人员账号", crumbs=[("工作人员", ACCOUNTS_URL), ("新建", None)],
                  status=refusal.status if refusal else 200, form=form, chosen=chosen,
                  errors=refusal.fields if refusal else {}, refusal=refusal, units=await units(self),
                  role_choices=list(ROLES.items()), **HELPERS)

    async def post(self) -> None:
        """Create the account as the API does (must_change_password set)."""
        actor = await self.actor()
        values = self.form_values()
        chosen = self.form_list("roles")
        try:
            body = self.form_model(NewStaff, values, extra={"roles": chosen})
            async with self.writing() as conn:
                member = await staff.create(conn, actor, username=body.username, password=body.password,
                                            roles=list(body.roles), org_code=body.org_code,
                                            hasher=self.settings["passwords"], display_name=body.display_name,
                                            within=policy.scope(actor), must_change_password=True)
        except AppError as exc:
            await self.show(values, chosen, _refusal(self, exc))
            return
        self.redirect(account_url(member.id) + "?done=created")


class AccountPage(ConsoleHandler):
    """One account: its unit, roles (a form to change them) and state (lock or unlock)."""

    access = {"get": Access("staff.manage")}

    async def get(self, staff_id: int) -> None:
        """The account's page."""
        await show_account(self, int(staff_id), done=self.get_query_argument("done", ""))


DONE = {"created": "账号已创建。请把用户名和初始密码当面交给本人：首次登录须先修改密码。", "roles": "角色已修改。",
        "locked": "账号已停用，其登录已失效。", "unlocked": "账号已启用。"}


async def show_account(handler: ConsoleHandler, staff_id: int, *, done: str = "", chosen: list[str] | None = None,
                       refusal: Refusal | None = None) -> None:
    """Render the account's page (again, after a refused change)."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        member = await staff.get_in_scope(conn, staff_id, policy.scope(actor))
    handler.page("accounts_account.html", member.display_name or member.username,
                 crumbs=[("工作人员", ACCOUNTS_URL), (member.username, None)],
                 status=refusal.status if refusal else 200, member=member, role_choices=list(ROLES.items()),
                 roles_of=ROLES, chosen=chosen if chosen is not None else sorted(member.roles),
                 errors=refusal.fields if refusal else {}, refusal=refusal, here=account_url(member.id),
                 myself=member.id == actor.id, done=DONE.get(done), **HELPERS)


class RolesForm(ConsoleHandler):
    """Change an account's roles."""

    access = {"post": Access("staff.manage")}

    async def post(self, staff_id: int) -> None:
        """Set the roles ticked (audited)."""
        actor = await self.actor()
        chosen = self.form_list("roles")
        try:
            async with self.writing() as conn:
                await staff.set_roles(conn, actor, int(staff_id), chosen, within=policy.scope(actor))
        except AppError as exc:
            await show_account(self, int(staff_id), chosen=chosen, refusal=_refusal(self, exc))
            return
        self.redirect(account_url(int(staff_id)) + "?done=roles")


class LockForm(ConsoleHandler):
    """Lock (asked once) or unlock an account."""

    access = {"post": Access("staff.manage")}

    async def post(self, staff_id: int) -> None:
        """Set the account's state (audited); a locked account's sessions stop at once."""
        actor = await self.actor()
        values = self.form_values()
        lock = values.get("state") == "locked"
        if lock and values.get("confirmed") != "1":
            self.ask_once("确定停用该账号吗？停用后其登录立即失效，不能再登录，直到重新启用。", "确认停用账号",
                          back=account_url(int(staff_id)))
            return
        try:
            async with self.writing() as conn:
                await staff.set_active(conn, actor, int(staff_id), not lock, within=policy.scope(actor))
        except AppError as exc:
            await show_account(self, int(staff_id), refusal=_refusal(self, exc))
            return
        self.redirect(account_url(int(staff_id)) + "?done=" + ("locked" if lock else "unlocked"))


_A = ACCOUNTS_URL + r"/(?P<staff_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (ACCOUNTS_URL, AccountsPage),
    (ACCOUNTS_URL + "/new", NewAccountPage),
    (_A, AccountPage),
    (_A + "/roles", RolesForm),
    (_A + "/lock", LockForm),
]
