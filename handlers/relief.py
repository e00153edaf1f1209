"""Relief: the kinds a worker may apply for and the self-test (困难自测); staff define the kinds per unit."""
from __future__ import annotations

from typing import Any

from handlers.base import APIHandler
from handlers.staff_base import StaffHandler
from models.core.policy import Access, Target
from models.members import means
from models.network import tree as orgs
from models.relief import consent, kinds
from models.relief.selftest import SelfTest, self_test
from server.openapi import ERROR_REF, integer, nullable, obj, op, string

OWN_MEMBER = Target("own_member")
ORG = Target("org_code", "org_code")
_FEN = integer(0, 10**12)
_PROOF = obj({"type": string(), "name": string(), "required": {"type": "boolean"}, "group": nullable(string()),
              "max_files": integer(1, 20), "note": nullable(string())}, ["type", "name", "required"])
_AMOUNT = obj({"basis": {"enum": list(kinds.BASES)}, "max": nullable(_FEN), "text": string(),
               "field": string(), "threshold": _FEN, "amounts": {"type": "object", "additionalProperties": _FEN}},
              ["basis", "max", "text"])
_FREQUENCY = obj({"period": {"enum": ["year", "ever", "none"]}, "times": nullable(integer(1, 12)),
                  "per_field": nullable(string()), "text": string()}, ["period", "text"])
_KIND = obj({"code": string(), "name": string(), "description": nullable(string()), "who": {"enum": list(kinds.WHO)},
             "fields": {"type": "object"}, "proofs": {"type": "array", "items": _PROOF}, "amount": _AMOUNT,
             "frequency": _FREQUENCY, "suggest_for": {"type": "array", "items": {"enum": list(means.CATEGORIES)}}},
            ["code", "name", "fields", "proofs", "amount", "frequency"])
KINDS = obj({"items": {"type": "array", "items": _KIND},
             "consent": obj({"version": string(), "text": string()}, ["version", "text"])}, ["items", "consent"])
SELF_TEST = obj({"per_capita": _FEN, "category": nullable({"enum": list(means.CATEGORIES)}),
                 "kinds": {"type": "array", "items": string()}, "deep_line": _FEN, "relative_line": _FEN},
                ["per_capita", "category", "kinds"])
STAFF_KIND = obj({"code": string(), "name": string(), "enabled": {"type": "boolean"}, "preset": {"type": "boolean"},
                  "defined_at": nullable(string())}, ["code", "name", "enabled", "preset", "defined_at"], extra=True)
STAFF_KINDS = obj({"org_code": string(), "items": {"type": "array", "items": STAFF_KIND}}, ["org_code", "items"])
_DEFINITION_HELP = (
    "fields 为表单的 JSON Schema，限于安全子集：type=object、additionalProperties=false，最多 40 个字段，"
    "每个字段为 string（必填 maxLength ≤ 2000，可有 minLength、format=date、enum 及中文 x-labels）、"
    "integer（必填 minimum、maximum，x-unit=fen 表示金额，单位分）或 boolean，均须有中文 title；"
    "不接受 $ref、pattern 及其他关键字。amount.basis：fixed 标准金额、cap 最高金额、line_months 每户每年 months 个月"
    "低保标准（深度困难线）、field 不超过表单中的金额字段（可设最高 amount 与起付 threshold）、by_choice 按选择字段"
    "（如学段）的金额表 amounts（已建档困难职工按 registered_amounts）、none 不涉及金额。frequency：period 为 year/ever/"
    "none，times 次，per_field 为按哪个字段计（如学生身份证号），否则按户。proofs 中 group 相同的材料任选其一。"
)


class ReliefKindsHandler(APIHandler):
    """The kinds of relief this worker may apply for at their unit, and the consent text to show."""

    access = {"get": Access("relief.kinds", OWN_MEMBER)}
    spec = {"get": op(
        "我可以申请的救助类别与敏感个人信息处理同意书", tags=["workers"],
        responses={200: KINDS, 404: ERROR_REF},
        description="所属单位（沿上级继承）在用的救助类别中本人可申请的：仅限已建档困难职工的类别只对档案有效的会员列出，"
        "申请建档（register）只对尚未建档的会员列出。amount 为金额规则（分），max 为可得最高金额（取决于表单时为 null）；"
        "consent 为申请提交时须同意的文本及其版本。未绑定会员返回 404 member_not_bound。")}

    async def get(self) -> None:
        """The kinds in force at the worker's unit that they may apply for, with the consent text."""
        member_id = self.caller().member_id
        assert member_id is not None  # the own_member target let a bound member through only
        async with self.reading() as conn:
            ctx, offered = await kinds.for_member(conn, member_id)
        deep = ctx.lines[0] if ctx.lines else None
        self.write_json({"items": [kinds.member_view(k, deep_line=deep, registered=ctx.registered) for k in offered],
                         "consent": consent.consent()})


class SelfTestHandler(APIHandler):
    """困难自测: the worker's figures against their unit's lines; nothing is stored."""

    access = {"post": Access("relief.self_test", OWN_MEMBER)}
    spec = {"post": op(
        "困难自测（不保存）", tags=["workers"], body=SelfTest,
        responses={200: SELF_TEST, 400: ERROR_REF, 404: ERROR_REF},
        description="金额单位为分。家庭月人均可支配收入 =（家庭月收入 − 月刚性支出）÷ 家庭人口，向下取整，不低于 0；"
        "≤ 深度困难线（当地低保标准）为 deep，≤ 相对困难线为 relative，否则刚性支出超过收入 80% 为 accident，"
        "否则为 null。kinds 为该结果下本人可申请、可能符合条件的救助类别代码。所在单位未设置标准返回 400 "
        "hardship_lines_unset；未绑定会员返回 404 member_not_bound。")}

    async def post(self) -> None:
        """Assess the figures at the worker's unit and answer the category and the kinds it points to."""
        member_id = self.caller().member_id
        assert member_id is not None
        figures = self.body(SelfTest)
        async with self.reading() as conn:
            answer = await self_test(conn, member_id, figures)
        self.write_json(answer)


def _staff_list(org: orgs.Org, found: list[kinds.Kind], codes: dict[int, str]) -> dict[str, Any]:
    return {"org_code": org.code, "items": [k.staff_view(codes) for k in found]}


async def _codes(conn: Any, found: list[kinds.Kind]) -> dict[int, str]:
    return {i: (await orgs.get(conn, i)).code for i in {k.source_org_id for k in found if k.source_org_id}}


class OrgReliefKindsHandler(StaffHandler):
    """Staff see the kinds of relief in force at a unit of their subtree (disabled ones too)."""

    access = {"get": Access("relief_kinds.view", ORG)}
    spec = {"get": op(
        "单位在用的救助类别", tags=["staff"], responses={200: STAFF_KINDS, 403: ERROR_REF, 404: ERROR_REF},
        description="含预设类别、上级单位设置的（defined_at 为设置它的单位代码，预设为 null）和已停用的（enabled=false）。")}

    async def get(self, org_code: str) -> None:
        """List the kinds in force at the unit with their whole definitions and where each comes from."""
        actor = await self.actor()
        async with self.reading() as conn:
            org, found = await kinds.listing(conn, actor, org_code)
            codes = await _codes(conn, found)
        self.write_json(_staff_list(org, found, codes))


class OrgReliefKindHandler(StaffHandler):
    """An admin sets a kind of relief at a unit (changes, disables, adds) or drops the unit's own definition."""

    access = {"put": Access("relief_kinds.manage", ORG), "delete": Access("relief_kinds.manage", ORG)}
    spec = {
        "put": op(
            "设置本单位的救助类别（管理员）", tags=["staff"], body=kinds.Change,
            responses={200: STAFF_KIND, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF},
            description="所给字段替换该单位此时在用的定义（预设或继承）中的相应项，整体校验后保存为本单位的定义，"
            "本单位及下级单位（下级自行设置的除外）生效；enabled=false 为停用。新代码须给出完整定义。" + _DEFINITION_HELP),
        "delete": op(
            "取消本单位对救助类别的设置（管理员）", tags=["staff"],
            responses={200: obj({"code": string(), "in_force": nullable(STAFF_KIND)}, ["code", "in_force"]),
                       403: ERROR_REF, 404: ERROR_REF},
            description="恢复沿用上级或预设的定义（in_force）；本单位自设的类别则不再有（in_force 为 null）。"
            "本单位没有设置时返回 404 relief_kind_not_defined。"),
    }

    async def put(self, org_code: str, code: str) -> None:
        """Define the kind at the unit and answer it."""
        actor = await self.actor()
        change = self.body(kinds.Change)
        async with self.engine.begin() as conn:
            kind = await kinds.define(conn, actor, org_code, code, change)
            view = kind.staff_view(await _codes(conn, [kind]))
        self.write_json(view)

    async def delete(self, org_code: str, code: str) -> None:
        """Drop the unit's own definition and answer what is in force now."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            kind = await kinds.undefine(conn, actor, org_code, code)
            view = kind.staff_view(await _codes(conn, [kind])) if kind else None
        self.write_json({"code": code, "in_force": view})


routes: list[tuple[str, Any]] = [
    (r"/api/v1/relief/kinds", ReliefKindsHandler),
    (r"/api/v1/relief/self-test", SelfTestHandler),
    (r"/api/v1/staff/orgs/(?P<org_code>[A-Za-z0-9_-]+)/relief-kinds", OrgReliefKindsHandler),
    (r"/api/v1/staff/orgs/(?P<org_code>[A-Za-z0-9_-]+)/relief-kinds/(?P<code>[A-Za-z0-9_-]+)",
     OrgReliefKindHandler),
]
