"""Editing a member in the console: phone, employer, bank account, and ending (or restoring) the membership, the
API's ``PATCH /api/v1/staff/members/{id}`` body and use case; ending a membership asks once (the card is
cancelled and the WeChat binding released)."""
from __future__ import annotations

from typing import Any

from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.members import MEMBER, MEMBER_STATUS, SEARCH_URL, member_url
from models.cards import usecases as card_flows
from models.core.errors import AppError, Invalid
from models.core.masking import mask_name
from models.core.policy import Access
from models.members import membership as members

#: The form's fields that may be cleared by a checkbox (empty alone means "keep").
CLEARABLE = {"phone": "clear_phone", "bank_account": "clear_bank_account"}
FIELD_OF_CODE = (("phone", "phone"), ("bank_account", "bank_account"), ("date", "ended_on"))


def edit_url(member_id: int) -> str:
    """The edit page of one member."""
    return f"{member_url(member_id)}/edit"


def changes_of(values: dict[str, str], member: members.Member) -> dict[str, Any]:
    """The API body the form means: typed phone / bank account (or cleared), a changed employer, a changed status."""
    out: dict[str, Any] = {}
    for name, clear in CLEARABLE.items():
        if values.get(clear) == "1":
            out[name] = None
        elif values.get(name):
            out[name] = values[name]
    if "employer" in values and values["employer"] != (member.employer or ""):
        out["employer"] = values["employer"] or None
    status = values.get("status", member.status)
    if status != member.status:
        out["status"] = status
        if status == "ended" and values.get("ended_on"):
            out["ended_on"] = values["ended_on"]
    return out


class MemberEditPage(ConsoleHandler):
    """The member's edit form; saving applies the API's ``MemberChanges`` through ``card_flows.update_member``."""

    access = {"get": Access("member.manage", MEMBER), "post": Access("member.manage", MEMBER)}

    async def show(self, member_id: int, form: dict[str, str] | None = None, refusal: Refusal | None = None) -> None:
        """The form (again after a refusal, with what was typed)."""
        actor = await self.actor()
        async with self.reading() as conn:
            member = await members.get_for_staff(conn, actor, member_id)
        holder = mask_name(member.name)
        self.page("members_edit.html", f"修改会员 {holder}",
                  crumbs=[("会员查询", SEARCH_URL), (f"会员 {holder}", member_url(member_id)), ("修改", None)],
                  status=refusal.status if refusal else 200, refusal=refusal, member=member,
                  form=form if form is not None else {"employer": member.employer or "", "status": member.status},
                  errors=refusal.fields if refusal else {}, statuses=MEMBER_STATUS, member_url=member_url)

    async def get(self, member_id: int) -> None:
        """The form, filled with what may be shown (phone and bank account are typed anew, never shown)."""
        await self.show(int(member_id))

    async def post(self, member_id: int) -> None:
        """Save the changes (ending the membership asked once); to the member's page."""
        actor = await self.actor()
        values = self.form_values()
        async with self.reading() as conn:
            member = await members.get_for_staff(conn, actor, int(member_id))
        try:
            changes = changes_of(values, member)
            if not changes:
                raise Invalid("nothing_changed", "没有要修改的内容：请填写新的手机号、银行账号，或修改工作单位、会籍")
            body = self.form_model(members.MemberChanges, {}, extra=changes)
            if body.status == "ended" and values.get("confirmed") != "1":
                self.ask_once("确定终止该会员的会籍吗？其服务卡将被注销、微信绑定将被解除，会员会收到通知。", "确认终止会籍",
                              back=edit_url(int(member_id)))
                return
            async with self.writing() as conn:
                await card_flows.update_member(conn, self.cipher, actor, int(member_id), changes=body)
        except AppError as exc:
            refusal = self.refused(exc)
            if not refusal.fields:
                field = next((f for prefix, f in FIELD_OF_CODE if exc.code.startswith(prefix)), None)
                if field:
                    refusal.fields[field] = refusal.message
            await self.show(int(member_id), values, refusal)
            return
        self.redirect(member_url(int(member_id)) + "?done=edited")


routes: list[tuple[str, Any]] = [
    (r"/console/members/(?P<member_id>[0-9]+)/edit", MemberEditPage),
]
