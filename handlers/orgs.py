"""The union network for staff: list the caller's subtree, create, rename, move and delete units."""
from __future__ import annotations

from handlers.staff_base import StaffHandler
from models.core import policy
from models.core.policy import Access, Target
from models.network import tree as orgs
from server.openapi import ERROR_REF, obj, op, ref, string

ORG_CODE = string(min_len=1, max_len=32, pattern=orgs.CODE.pattern)
ORG_NAME = string(min_len=1, max_len=100)
_REFUSALS = {400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF}


class OrgsHandler(StaffHandler):
    access = {"get": Access("org.view"), "post": Access("org.manage")}
    spec = {
        "get": op("本单位及全部下级单位", tags=["staff"],
                  responses={200: obj({"items": {"type": "array", "items": ref("Org")}}, ["items"]), 403: ERROR_REF}),
        "post": op(
            "新建下级单位（管理员）",
            tags=["staff"],
            body=obj({"code": ORG_CODE, "name": ORG_NAME, "type": {"type": "string", "enum": list(orgs.TYPES)},
                      "parent_code": ORG_CODE}, ["code", "name", "type", "parent_code"]),
            responses={201: ref("Org"), **_REFUSALS, 409: ERROR_REF},
            description="上级单位须在本人所属单位的下级范围内；单位代码重复返回 409 org_code_taken。",
        ),
    }

    async def get(self) -> None:
        actor = await self.actor()
        async with self.reading() as conn:
            root = await orgs.get(conn, actor.org_id or 0, within=policy.scope(actor))
            units = await orgs.subtree(conn, root)
        self.write_json({"items": [u.view() for u in units]})

    async def post(self) -> None:
        actor = await self.actor()
        body = self.json_body()
        async with self.engine.begin() as conn:
            org = await orgs.create(conn, actor, code=body["code"], name=body["name"], type_=body["type"],
                                    parent_code=body["parent_code"], within=policy.scope(actor))
        self.write_json(org.view(), status=201)


class OrgHandler(StaffHandler):
    access = {"patch": Access("org.manage", Target("org", "org_id")), "delete": Access("org.manage", Target("org", "org_id"))}
    spec = {
        "patch": op(
            "改名或移动单位（管理员）",
            tags=["staff"],
            body={**obj({"name": ORG_NAME, "parent_code": ORG_CODE}), "minProperties": 1, "maxProperties": 1},
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
        actor = await self.actor()
        body = self.json_body()
        within = policy.scope(actor)
        async with self.engine.begin() as conn:
            org = await orgs.get(conn, int(org_id), within=within)
            if "name" in body:
                org = await orgs.rename(conn, actor, org, name=body["name"])
            else:
                parent = await orgs.by_code(conn, body["parent_code"], within=within)
                org = await orgs.move(conn, actor, org, parent)
        self.write_json(org.view())

    async def delete(self, org_id: str) -> None:
        actor = await self.actor()
        async with self.engine.begin() as conn:
            org = await orgs.get(conn, int(org_id), within=policy.scope(actor))
            await orgs.delete(conn, actor, org)
        self.write_json({"deleted": True})


routes = [
    (r"/api/v1/staff/orgs", OrgsHandler),
    (r"/api/v1/staff/orgs/(?P<org_id>[0-9]+)", OrgHandler),
]
