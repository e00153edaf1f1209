"""The union network for staff: list the caller's subtree, create, rename, move and delete units."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from handlers.staff_base import StaffHandler
from models.core import policy
from models.core.policy import Access, Target
from models.core.typed import Body, Keyset, Paging, one_of, paged, published, text
from models.network import tree as orgs
from server.openapi import ERROR_REF, obj, op, page, ref

OrgCode = Annotated[str, text(32, min_len=1, pattern=orgs.CODE.pattern)]
"""A unit's code, as staff type it."""
OrgName = Annotated[str, text(100, min_len=1)]
OrgType = Annotated[str, one_of(orgs.TYPES)]


class OrgsQuery(Paging):
    """A page of the caller's subtree, in tree order."""

    cursor: Annotated[tuple[Any, ...], Keyset(str)] | None = None


class NewOrg(Body):
    """A unit to create under a parent in the caller's subtree."""

    code: OrgCode
    name: OrgName
    type: OrgType
    parent_code: OrgCode


def published_once(schema: dict[str, Any]) -> None:
    """The change's schema says it carries exactly one field."""
    published(schema)
    schema.update(minProperties=1, maxProperties=1)


class OrgChange(Body):
    """Exactly one change: a new name, or a new parent."""

    model_config = ConfigDict(json_schema_extra=published_once)

    name: OrgName | None = None
    parent_code: OrgCode | None = None

    @model_validator(mode="after")
    def _one_change(self) -> "OrgChange":
        if len(self.given()) != 1 or (self.name is None and self.parent_code is None):
            raise PydanticCustomError("refused", "请只提交 name 或 parent_code 其中一项")
        return self
_REFUSALS = {400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF}


class OrgsHandler(StaffHandler):
    """Staff list the units of their subtree; admins create a unit under one of them."""

    access = {"get": Access("org.view"), "post": Access("org.manage")}
    spec = {
        "get": op("本单位及全部下级单位（按树的顺序）", tags=["staff"], query=OrgsQuery,
                  responses={200: page(ref("Org")), 400: ERROR_REF, 403: ERROR_REF}),
        "post": op(
            "新建下级单位（管理员）",
            tags=["staff"],
            body=NewOrg,
            responses={201: ref("Org"), **_REFUSALS, 409: ERROR_REF},
            description="上级单位须在本人所属单位的下级范围内；单位代码重复返回 409 org_code_taken。",
        ),
    }

    async def get(self) -> None:
        """List the caller's unit and every unit below it, in tree order, one cursor page."""
        actor = await self.actor()
        async with self.reading() as conn:
            root = await orgs.get(conn, actor.org_id or 0, within=policy.scope(actor))
            query = self.query(OrgsQuery)
            units, nxt = paged(await orgs.subtree(conn, root, after=query.cursor[0] if query.cursor else None,
                                                  limit=query.limit + 1), query.limit, lambda u: (u.path,))
        self.write_json({"items": [u.view() for u in units], "next": nxt})

    async def post(self) -> None:
        """Create the unit under a parent in the caller's subtree and answer it (201)."""
        actor = await self.actor()
        body = self.body(NewOrg)
        async with self.engine.begin() as conn:
            org = await orgs.create(conn, actor, code=body.code, name=body.name, type_=body.type,
                                    parent_code=body.parent_code, within=policy.scope(actor))
        self.write_json(org.view(), status=201)


class OrgHandler(StaffHandler):
    """Admins rename, move or delete one unit of their subtree."""

    access = {"patch": Access("org.manage", Target("org", "org_id")), "delete": Access("org.manage", Target("org", "org_id"))}
    spec = {
        "patch": op(
            "改名或移动单位（管理员）",
            tags=["staff"],
            body=OrgChange,
            responses={200: ref("Org"), **_REFUSALS},
            description="`{\"name\"}` 改名，`{\"parent_code\"}` 连同全部下级移到新的上级之下；"
            "单位和新上级都须在本人范围内，范围外与不存在一样返回 404。",
        ),
        "delete": op(
            "删除空单位（管理员）",
            tags=["staff"],
            responses={200: obj({"deleted": {"type": "boolean"}}, ["deleted"]), **_REFUSALS, 409: ERROR_REF},
            description="单位仍被任何数据引用（下级单位、会员、工作人员、合作商家、优惠项目、服务卡、困难职工档案、"
            "会籍转接记录等，按数据库外键逐表检查）时返回 409 org_not_empty，details 逐项给出 kind（表名）、"
            "label、count；单位自己的设置随单位删除。",
        ),
    }

    async def patch(self, org_id: str) -> None:
        """Rename the unit, or move it with its whole subtree under a new parent, and answer it."""
        actor = await self.actor()
        body = self.body(OrgChange)
        within = policy.scope(actor)
        async with self.engine.begin() as conn:
            org = await orgs.get(conn, int(org_id), within=within)
            if body.name is not None:
                org = await orgs.rename(conn, actor, org, name=body.name)
            else:
                assert body.parent_code is not None
                parent = await orgs.by_code(conn, body.parent_code, within=within)
                org = await orgs.move(conn, actor, org, parent)
        self.write_json(org.view())

    async def delete(self, org_id: str) -> None:
        """Delete the unit if nothing refers to it (409 org_not_empty lists what does)."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            org = await orgs.get(conn, int(org_id), within=policy.scope(actor))
            await orgs.delete(conn, actor, org)
        self.write_json({"deleted": True})


routes = [
    (r"/api/v1/staff/orgs", OrgsHandler),
    (r"/api/v1/staff/orgs/(?P<org_id>[0-9]+)", OrgHandler),
]
