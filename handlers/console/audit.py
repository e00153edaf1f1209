"""The audit log in the console (admins): the records of my subtree filtered by person, action, target and days
(in the URL), newest first, a page at a time; and the chain check (the API's verify), its result in Chinese."""
from __future__ import annotations

import json
from typing import Any

from handlers.console.base import ConsoleHandler
from models.core import audit as audit_chain
from models.core.policy import ROLES, Access
from models.core.typed import paged
from models.identity import audit_trail, staff_accounts

AUDIT_URL = "/console/audit"
#: The actions staff meet most, named in Chinese (any other shows its code).
ACTION_NAMES = {
    "staff.create": "新建工作人员", "staff.roles": "修改角色", "staff.lock": "停用账号", "staff.unlock": "启用账号",
    "staff.password": "修改密码", "session.logout": "退出登录",
    "merchant.create": "新增商家", "merchant.update": "修改商家", "merchant.suspend": "暂停商家",
    "merchant.enable": "恢复商家", "merchant.add_store": "添加门店", "merchant.invite": "生成邀请",
    "merchant.invite_reveal": "查看邀请码", "merchant.invite_revoke": "撤销邀请", "merchant.bind": "绑定商家",
    "program.create": "新建优惠项目", "program.set_merchants": "设置合作商家", "program.end": "停止优惠项目",
    "redemption.create": "核销", "redemption.void": "撤销核销", "redemption.refund": "退款",
    "relief.view": "查看救助申请", "relief.attachment_view": "查看证明材料", "relief.decide": "审核决定",
    "relief.submit": "提交救助申请", "relief.pay": "救助发放", "relief.archive": "办结归档",
    "member.view_full": "查看完整会员信息", "member.import": "导入会员名册", "card.issue": "发卡",
    "card.freeze": "冻结服务卡", "card.unfreeze": "解冻服务卡", "card.print": "打印服务卡",
    "fund.create": "新建资金", "fund.top_up": "追加资金", "fund.close": "关闭资金", "fund.reopen": "重新启用资金",
    "settlement.build": "生成月结单",
    "settlement.confirm": "确认月结单", "settlement.paid": "月结单已付款", "org.create": "新建单位",
}
TARGET_KINDS = {"application": "救助申请", "merchant": "商家", "store": "门店", "merchant_invite": "邀请",
                "program": "优惠项目", "staff": "工作人员", "member": "会员", "card": "服务卡", "fund": "资金",
                "redemption": "核销", "statement": "月结单", "org": "单位"}


class AuditPage(ConsoleHandler):
    """The audit records of my subtree, filtered by the URL, newest first, with a 下一页 link."""

    access = {"get": Access("audit.view")}

    async def get(self) -> None:
        """One page of records; a person named by an unknown username finds none."""
        actor = await self.actor()
        q = self.url_query(audit_trail.AuditQuery)
        async with self.reading() as conn:
            who = await staff_accounts.id_of(conn, q.person) if q.person else None
            found = await audit_trail.search(conn, actor, q, actor_id=who, limit=q.limit + 1)
            names = await staff_accounts.usernames(conn, [int(r["actor_id"]) for r in found
                                                          if r["actor_kind"] == "staff" and r["actor_id"]])
        items, nxt = paged(found, q.limit, lambda r: int(r["id"]))
        form = {"person": q.person or "", "action": q.action or "", "target_kind": q.target_kind or "",
                "target_id": q.target_id or "", "from": q.from_.isoformat() if q.from_ else "",
                "to": q.to.isoformat() if q.to else ""}
        self.page("audit_log.html", "审计日志", crumbs=[("审计日志", None)], items=items, names=names, form=form,
                  next_url=self.page_url(cursor=nxt) if nxt else None, action_names=ACTION_NAMES,
                  target_kinds=TARGET_KINDS, roles_of=ROLES, summary=_summary)


def _summary(value: dict[str, Any]) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return "" if text == "{}" else (text if len(text) <= 160 else text[:157] + "…")


class AuditVerifyPage(ConsoleHandler):
    """The chain check, as the API's verify: the whole chain against every saved checkpoint, sealing nothing."""

    access = {"get": Access("audit.view")}

    async def get(self) -> None:
        """Run the check as the API's verify does; its reasons are Chinese already."""
        checkpoints = await self.offload(self.settings["audit_checkpoints"].read)
        async with self.reading() as conn:
            result = await audit_chain.verify(conn, checkpoints=checkpoints)
        self.page("audit_verify.html", "审计日志校验", crumbs=[("审计日志", AUDIT_URL), ("校验", None)],
                  result=result)


routes: list[tuple[str, Any]] = [
    (AUDIT_URL, AuditPage),
    (AUDIT_URL + "/verify", AuditVerifyPage),
]
