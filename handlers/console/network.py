"""The union network in the console: the tree of my subtree, a unit's page (its lines, its kinds of relief, the
units below it), creating, renaming, moving and deleting a unit (admins), and the unit's hardship income lines.
Each page declares the access of the API route it stands for (handlers/orgs.py, handlers/hardship.py)."""
from __future__ import annotations

from typing import Annotated, Any

from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.members import UNIT_CHOICES
from handlers.hardship import IncomeLinesBody
from handlers.orgs import NewOrg, OrgChange, OrgsQuery
from models.core import policy
from models.core.actors import Actor
from models.core.errors import AppError
from models.core.policy import Access, Target
from models.core.typed import paged, text
from models.members import hardship
from models.network import tree as orgs

ORG = Target("org", "org_id")
ORG_CODE = Target("org_code", "org_code")
TREE_URL = "/console/orgs/"
NEW_URL = "/console/orgs/new"
DONE = {"created": "单位已建立。", "renamed": "单位名称已修改。", "moved": "单位已连同全部下级移到新的上级之下。",
        "lines": "困难职工认定标准已保存，本单位及未自行设置的下级单位即日起按此认定。"}
#: Which form field a refusal of the domain (which names none) belongs next to, by the start of its code.
FIELD_OF_CODE = (("org_code", "code"), ("org_name", "name"), ("org_type", "type"), ("org_parent", "parent_code"),
                 ("org_too_deep", "parent_code"), ("org_move", "parent_code"), ("org_not_found", "parent_code"),
                 ("hardship_lines", "relative_line"))


def unit_url(org_id: int) -> str:
    """The console page of one unit."""
    return f"/console/orgs/{org_id}"


def lines_url(org_code: str) -> str:
    """The page that sets a unit's hardship income lines."""
    return f"/console/hardship-lines/{org_code}"


def kinds_url(org_code: str) -> str:
    """The kinds of relief in force at a unit (handlers/console/kinds.py)."""
    return f"/console/relief-kinds/{org_code}"


def placed(refusal: Refusal, code: str, default: str | None = None) -> Refusal:
    """The refusal with its reason next to the field its code names (the domain's refusals name no field)."""
    if not refusal.fields:
        field = next((f for prefix, f in FIELD_OF_CODE if code.startswith(prefix)), default)
        if field:
            refusal.fields[field] = refusal.message
    return refusal


class TreeQuery(OrgsQuery):
    """A page of the tree below ``root`` (a unit of my subtree; my own unit when empty)."""

    root: Annotated[str, text(32)] = ""


async def my_units(conn: Any, actor: Actor) -> list[orgs.Org]:
    """The units of my subtree in tree order, at most UNIT_CHOICES (the choices of a parent)."""
    root = await orgs.get(conn, actor.org_id or 0, within=policy.scope(actor))
    return await orgs.subtree(conn, root, limit=UNIT_CHOICES)


async def chain(conn: Any, actor: Actor, org: orgs.Org) -> list[orgs.Org]:
    """The units from the top of my subtree down to ``org`` (its path as names; nothing above my unit)."""
    scope = policy.scope(actor)
    out = []
    for org_id in await orgs.ancestors(conn, org):
        unit = await orgs.get(conn, org_id)
        if unit.path.startswith(scope):
            out.append(unit)
    return out


class TreePage(ConsoleHandler):
    """The units of my subtree (or below a unit of it), in tree order, with type, parent and path; paginated."""

    access = {"get": Access("org.view")}

    async def get(self) -> None:
        """One page of the tree, the root and cursor in the URL."""
        actor = await self.actor()
        q = self.url_query(TreeQuery)
        scope = policy.scope(actor)
        async with self.reading() as conn:
            root = (await orgs.by_code(conn, q.root, within=scope) if q.root
                    else await orgs.get(conn, actor.org_id or 0, within=scope))
            units, nxt = paged(await orgs.subtree(conn, root, after=q.cursor[0] if q.cursor else None,
                                                  limit=q.limit + 1), q.limit, lambda u: (u.path,))
            names = {u.id: u for u in units}
            for unit in units:
                if unit.parent_id is not None and unit.parent_id not in names:
                    parent = await orgs.get(conn, unit.parent_id)
                    if parent.path.startswith(scope):
                        names[parent.id] = parent
            path = await chain(conn, actor, root)
        self.page("orgs_tree.html", "工会组织", crumbs=[("工会组织", None)], units=units, root=root, q=q,
                  names=names, path=path, types=orgs.TYPES, next_url=self.page_url(cursor=nxt) if nxt else None,
                  unit_url=unit_url, new_url=NEW_URL)


async def show_unit(handler: ConsoleHandler, org_id: int, *, refusal: Refusal | None = None,
                    done: str | None = None) -> None:
    """A unit's page: its facts and path, its hardship lines (own or inherited), the units right below it."""
    actor = await handler.actor()
    async with handler.reading() as conn:
        org = await orgs.get(conn, org_id, within=policy.scope(actor))
        path = await chain(conn, actor, org)
        lines = await hardship.lines_in_force(conn, org)
        below = await orgs.subtree(conn, org, limit=UNIT_CHOICES)
    children = [u for u in below if u.parent_id == org.id]
    handler.page("orgs_unit.html", org.name, crumbs=[("工会组织", TREE_URL), (org.name, None)],
                 status=refusal.status if refusal else 200, refusal=refusal, org=org, path=path, lines=lines,
                 children=children, more_below=len(below) - 1, types=orgs.TYPES, done=DONE.get(done or ""),
                 unit_url=unit_url, lines_url=lines_url, kinds_url=kinds_url, tree_url=TREE_URL, new_url=NEW_URL)


class UnitPage(ConsoleHandler):
    """One unit of my subtree; an admin deletes it here (asked once; refused while anything refers to it)."""

    access = {"get": Access("org.view", ORG), "post": Access("org.manage", ORG)}

    async def get(self, org_id: int) -> None:
        """The unit's page."""
        await show_unit(self, int(org_id), done=self.get_query_argument("done", "") or None)

    async def post(self, org_id: int) -> None:
        """Delete the unit as the API does (``DELETE /api/v1/staff/orgs/{id}``), after asking once."""
        actor = await self.actor()
        if self.form_values().get("confirmed") != "1":
            self.ask_once("确定删除这个单位吗？删除后不能恢复；单位仍有下级单位、会员等数据时不能删除。", "确认删除",
                          back=unit_url(int(org_id)))
            return
        try:
            async with self.writing() as conn:
                org = await orgs.get(conn, int(org_id), within=policy.scope(actor))
                await orgs.delete(conn, actor, org)
        except AppError as exc:
            await show_unit(self, int(org_id), refusal=self.refused(exc))
            return
        self.redirect(TREE_URL + "?deleted=" + org.code)


class NewUnitPage(ConsoleHandler):
    """Create a unit under a unit of my subtree (admins), the API's ``NewOrg`` and ``orgs.create``."""

    access = {"get": Access("org.manage"), "post": Access("org.manage")}

    async def show(self, form: dict[str, str], refusal: Refusal | None = None) -> None:
        """The form (again after a refusal, with what was typed)."""
        actor = await self.actor()
        async with self.reading() as conn:
            units = await my_units(conn, actor)
        self.page("orgs_new.html", "新建下级单位", crumbs=[("工会组织", TREE_URL), ("新建下级单位", None)],
                  status=refusal.status if refusal else 200, refusal=refusal, form=form,
                  errors=refusal.fields if refusal else {}, units=units, types=orgs.TYPES)

    async def get(self) -> None:
        """The empty form, its parent chosen by ``?parent=CODE``."""
        await self.show({"parent_code": self.get_query_argument("parent", "")})

    async def post(self) -> None:
        """Create the unit as the API does; to its page, or the form again with the refusal."""
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(NewOrg, values)
            async with self.writing() as conn:
                org = await orgs.create(conn, actor, code=body.code, name=body.name, type_=body.type,
                                        parent_code=body.parent_code, within=policy.scope(actor))
        except AppError as exc:
            await self.show(values, placed(self.refused(exc), exc.code))
            return
        self.redirect(unit_url(org.id) + "?done=created")


class EditUnitPage(ConsoleHandler):
    """Rename a unit, or move it with its subtree under another parent (admins): the API's ``OrgChange``."""

    access = {"get": Access("org.manage", ORG), "post": Access("org.manage", ORG)}

    async def show(self, org_id: int, form: dict[str, str], refusal: Refusal | None = None) -> None:
        """The two forms (again after a refusal, with what was typed)."""
        actor = await self.actor()
        async with self.reading() as conn:
            org = await orgs.get(conn, org_id, within=policy.scope(actor))
            units = [u for u in await my_units(conn, actor) if not u.path.startswith(org.path)]
        self.page("orgs_edit.html", f"修改单位 {org.name}", crumbs=[("工会组织", TREE_URL), (org.name, unit_url(org.id)),
                                                               ("修改", None)],
                  status=refusal.status if refusal else 200, refusal=refusal, org=org, units=units,
                  form=form, errors=refusal.fields if refusal else {})

    async def get(self, org_id: int) -> None:
        """The forms, the current name filled in."""
        await self.show(int(org_id), {})

    async def post(self, org_id: int) -> None:
        """One change (the form's ``change``: name or parent), as the API's PATCH."""
        actor = await self.actor()
        values = self.form_values()
        field = "parent_code" if values.get("change") == "parent" else "name"
        try:
            body = self.form_model(OrgChange, {field: values.get(field, "")})
            within = policy.scope(actor)
            async with self.writing() as conn:
                org = await orgs.get(conn, int(org_id), within=within)
                if body.name is not None:
                    await orgs.rename(conn, actor, org, name=body.name)
                else:
                    assert body.parent_code is not None
                    await orgs.move(conn, actor, org, await orgs.by_code(conn, body.parent_code, within=within))
        except AppError as exc:
            refusal = self.refused(exc)
            if not values.get(field):
                refusal.message = "请填写新的单位名称" if field == "name" else "请选择新的上级单位"
                refusal.fields = {field: refusal.message}
            await self.show(int(org_id), values, placed(refusal, exc.code, field))
            return
        self.redirect(unit_url(int(org_id)) + "?done=" + ("renamed" if field == "name" else "moved"))


class IncomeLinesPage(ConsoleHandler):
    """A unit's hardship income lines in yuan per person per month (admins), the API's ``PUT .../hardship-lines``."""

    access = {"get": Access("org.manage", ORG_CODE), "post": Access("org.manage", ORG_CODE)}

    async def show(self, org_code: str, form: dict[str, str] | None = None, refusal: Refusal | None = None) -> None:
        """The form, filled with the lines in force (own or inherited), or what was typed."""
        actor = await self.actor()
        async with self.reading() as conn:
            org = await orgs.by_code(conn, org_code, within=policy.scope(actor))
            lines = await hardship.lines_in_force(conn, org)
        if form is None:
            form = {"deep_line": f"{lines[0] / 100:.2f}", "relative_line": f"{lines[1] / 100:.2f}"} if lines else {}
        self.page("orgs_lines.html", f"{org.name} 困难职工认定标准",
                  crumbs=[("工会组织", TREE_URL), (org.name, unit_url(org.id)), ("困难职工认定标准", None)],
                  status=refusal.status if refusal else 200, refusal=refusal, org=org, lines=lines, form=form,
                  errors=refusal.fields if refusal else {})

    async def get(self, org_code: str) -> None:
        """The form."""
        await self.show(org_code)

    async def post(self, org_code: str) -> None:
        """Set the lines as the API does (the deep line below the relative one); to the unit's page."""
        actor = await self.actor()
        values = self.form_values()
        try:
            body = self.form_model(IncomeLinesBody, values, yuan_fields=("deep_line", "relative_line"))
            async with self.writing() as conn:
                await hardship.set_income_lines(conn, actor, org_code, body.deep_line, body.relative_line)
                org = await orgs.by_code(conn, org_code)
        except AppError as exc:
            refusal = self.refused(exc)
            for name, label in (("deep_line", "深度困难线"), ("relative_line", "相对困难线")):
                if not values.get(name):
                    refusal.fields[name] = f"请填写{label}（元/人·月）"
            await self.show(org_code, values, placed(refusal, exc.code))
            return
        self.redirect(unit_url(org.id) + "?done=lines")


_ORG = r"/console/orgs/(?P<org_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (TREE_URL, TreePage),
    (NEW_URL, NewUnitPage),
    (_ORG, UnitPage),
    (_ORG + r"/edit", EditUnitPage),
    (r"/console/hardship-lines/(?P<org_code>[A-Za-z0-9_-]+)", IncomeLinesPage),
]
