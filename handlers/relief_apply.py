"""Relief applications, the worker's side: a draft saved as they go, proofs uploaded, submitted, withdrawn.

The content check of the form's free text calls WeChat outside any transaction, then the change is written
conditionally on the version read (409 ``application_changed`` when it moved meanwhile).
"""
from __future__ import annotations

from typing import Any

from handlers.base import APIHandler
from handlers.idempotency import OPTIONAL_IDEMPOTENCY_HEADER, idempotent
from models.core.errors import Invalid
from models.core.policy import Access, Target
from models.core.typed import PageQuery, Query, paged
from models.identity import accounts
from models.relief import applying, proofs
from models.relief.records import STATUSES, STEPS
from server.attachments import ATTACHMENT_TYPES, AttachmentStore
from server.openapi import ERROR_REF, binary, integer, nullable, obj, op, page, string
from server.wechat import ContentCheck, WeChatGateway

OWN = Target("own_member")
APPLY = Access("relief.apply", OWN)
_FEN = integer(0, 10**12)
_TIME = string(format="date-time")
_STEP = nullable({"enum": list(STEPS)})
SUMMARY_FIELDS = {
    "id": integer(1, 2**53), "kind": string(), "kind_name": string(), "status": {"enum": list(STATUSES)},
    "status_name": string(), "step": _STEP, "step_name": nullable(string()), "requested_amount": nullable(_FEN),
    "editable": {"type": "boolean"}, "created_at": _TIME, "submitted_at": nullable(_TIME), "updated_at": _TIME,
}
SUMMARY = obj(SUMMARY_FIELDS, list(SUMMARY_FIELDS))
_PERSON = obj({"id": integer(1, 2**53), "name": string(), "relation": string(), "relation_name": string(),
               "id_number_masked": nullable(string()), "monthly_income": nullable(_FEN)},
              ["id", "name", "relation", "relation_name", "id_number_masked", "monthly_income"])
PROOF = obj({"id": integer(1, 2**53), "proof_type": string(), "mime": string(), "size": integer(),
             "created_at": _TIME}, ["id", "proof_type", "mime", "size", "created_at"])
_EVENT = obj({"step": _STEP, "step_name": nullable(string()), "action": string(), "action_name": string(),
              "unit": nullable(string()),
              "comment": nullable(string()), "at": _TIME}, ["step", "action", "unit", "comment", "at"])
_MISSING = obj({"item": string(), "note": nullable(string())}, ["item"], extra=True)
APPLICATION = obj({
    **SUMMARY_FIELDS, "form": {"type": "object"}, "household": {"type": "array", "items": _PERSON},
    "proofs": {"type": "array", "items": PROOF}, "missing": nullable({"type": "array", "items": _MISSING}),
    "reject_reason": nullable(string()), "consent_version": nullable(string()), "consented_at": nullable(_TIME),
    "timeline": {"type": "array", "items": _EVENT},
}, [*SUMMARY_FIELDS, "form", "household", "proofs", "missing", "reject_reason", "consent_version", "timeline"])
LIST = page(SUMMARY)
STATE = obj({"id": integer(1, 2**53), "status": {"enum": list(STATUSES)}, "step": _STEP}, ["id", "status", "step"])
UPLOADED = obj({"id": integer(1, 2**53), "kind": string(), "proof_type": string(), "size": integer(),
                "mime": {"enum": ["image/jpeg", "image/png", "application/pdf"]}},
               ["id", "kind", "proof_type", "size", "mime"])
_ERRORS = {400: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF}
_UPLOAD_HELP = (
    "仅接受 JPEG、PNG、PDF，按内容识别（不看文件名和声明的类型）；单个文件不超过 10 MB（413 upload_too_large）；"
    "图片重新编码，去除 EXIF 与位置信息；解压炸弹、像素洪水（upload_image_too_big）、含脚本或嵌入文件的 PDF"
    "（upload_pdf_active）、加密 PDF（upload_pdf_encrypted）、损坏文件（upload_corrupt）、其他类型（415 upload_type）"
    "一律拒绝。每种材料最多为该材料的 max_files 个（422 proof_too_many），每份申请合计不超过配置的上限"
    "（422 attachments_too_many）。仅草稿或退回补充的申请可以上传（409 application_not_editable）。")


class ProofForm(Query):
    """The text field of a proof upload: which proof of the kind the file is."""

    proof: str = ""


class _Base(APIHandler):
    """Shared: the content check of a form's free text, outside any transaction."""

    async def check_text(self, text: str) -> ContentCheck | None:
        """WeChat's verdict on the text (None when there is nothing to check)."""
        if not text.strip():
            return None
        async with self.reading() as conn:
            user = await accounts.get(conn, self.user_id(), self.cipher)
        gateway: WeChatGateway = self.settings["gateway"]
        return await gateway.check_text(text, user.openid)


class ApplicationsHandler(_Base):
    """The worker's applications: list them, start a draft."""

    access = {"get": APPLY, "post": APPLY}
    spec = {
        "get": op("我的救助申请", tags=["workers"], query=PageQuery, responses={200: LIST, 400: ERROR_REF, 404: ERROR_REF},
                  description="本人（按会员）的申请，新的在前，按游标分页；未绑定会员返回 404 member_not_bound。"),
        "post": op(
            "新建救助申请（草稿）", tags=["workers"], body=applying.NewApplication, responses={201: APPLICATION, **_ERRORS},
            parameters=[OPTIONAL_IDEMPOTENCY_HEADER],
            description="kind 为 /api/v1/relief/kinds 中本人可申请的类别（不可申请 422 relief_kind_not_offered，"
            "不存在 404 relief_kind_not_found）；form 按类别的表单宽松校验（类型与长度，未知字段拒绝：400 relief_form）；"
            "household 为共同生活的家庭成员（relation 为 spouse/child/parent/sibling/grandparent/grandchild/other，"
            "身份证号校验后加密保存）；amount（分）仅金额规则为 cap、line_months 的类别可填，且不超过最高金额"
            "（422 amount_over_cap），其他类别的申请金额按规则计算。较长的文字经微信内容安全检查：违规 422 "
            "content_risky，不保存；需人工复核或微信不可用时照常保存，由工作人员复核。"
            "可带 Idempotency-Key：同一键同一请求体再次提交返回第一次建的草稿（响应头 Idempotent-Replayed: true），"
            "不会再建一份；同一键不同请求体 422 idempotency_key_reused。网络中断后重试请用同一个键。"),
    }

    async def get(self) -> None:
        """One page of the caller's applications, newest first."""
        query = self.query(PageQuery)
        async with self.reading() as conn:
            found, nxt = paged(await applying.mine(conn, self.cipher, self.caller(), before=query.cursor,
                                                   limit=query.limit + 1), query.limit, lambda a: a.id)
        self.write_json({"items": [applying.summary(a) for a in found], "next": nxt})

    checked: ContentCheck | None = None

    async def check_draft_text(self) -> None:
        """The draft's free text through WeChat's content check, before any transaction (a call to WeChat)."""
        draft = self.body(applying.NewApplication)
        if draft.form:
            async with self.reading() as conn:  # the kind's form names the free text; nothing is written yet
                app_kind = await applying.offered_kind(conn, self.caller(), draft.kind)
            self.checked = await self.check_text(applying.free_text(app_kind.definition, draft.form))

    @idempotent(optional=True, before=check_draft_text)
    async def post(self, conn: Any) -> tuple[int, dict[str, Any]]:
        """Create a draft and answer it whole; with an Idempotency-Key, once per key (a retry gets the same draft)."""
        app = await applying.create(conn, self.cipher, self.caller(), self.body(applying.NewApplication),
                                    check=self.checked)
        return 201, await applying.view(conn, self.cipher, app)


class ApplicationHandler(_Base):
    """One of the worker's applications: read it, change the draft."""

    access = {"get": APPLY, "patch": APPLY}
    spec = {
        "get": op("我的救助申请详情", tags=["workers"], responses={200: APPLICATION, 404: ERROR_REF},
                  description="含表单、家庭成员（身份证号脱敏）、已上传材料、进度 timeline（经办单位，不含工作人员），"
                  "退回时的 missing（需补充的全部事项），未通过时的 reject_reason。他人的申请与不存在的一样返回 404 "
                  "application_not_found。"),
        "patch": op(
            "修改救助申请（草稿或退回补充）", tags=["workers"], body=applying.Change, responses={200: APPLICATION, **_ERRORS},
            description="form 为合并：所给字段替换原值，值为 null 删除该字段；household 整体替换（带 id 且不填 "
            "id_number 的成员沿用已保存的身份证号）；amount 同新建。已提交的申请不能修改（409 "
            "application_not_editable）；他人同时修改时 409 application_changed。"),
    }

    async def get(self, application_id: int) -> None:
        """The caller's application, whole."""
        async with self.reading() as conn:
            app = await applying.get(conn, self.cipher, self.caller(), application_id)
            view = await applying.view(conn, self.cipher, app)
        self.write_json(view)

    async def patch(self, application_id: int) -> None:
        """Change the draft: the free text checked first when it changed, then written on the version read."""
        change = self.body(applying.Change)
        actor = self.caller()
        async with self.reading() as conn:
            app = await applying.get(conn, self.cipher, actor, application_id)
        check = None
        if change.form is not None:
            after = applying.form_after(app.definition, app.form, change.form)
            text = applying.free_text(app.definition, after)
            if text != applying.free_text(app.definition, app.form):
                check = await self.check_text(text)
        async with self.writing() as conn:
            saved = await applying.update(conn, self.cipher, actor, app, change, check=check)
            view = await applying.view(conn, self.cipher, saved)
        self.write_json(view)


class SubmitHandler(_Base):
    """Submit the application (or resubmit one staff returned)."""

    access = {"post": APPLY}
    spec = {"post": op(
        "提交救助申请", tags=["workers"], body=applying.Submission, responses={200: STATE, **_ERRORS},
        description="consent_version 须为 /api/v1/relief/kinds 所给同意书的版本（未同意 422 consent_required，"
        "版本不符 422 consent_outdated）。必填字段、家庭成员身份证号、必需材料（同组材料任选其一）缺少时 422 "
        "application_incomplete，details 一次列出全部缺项。提交后进入基层核实（退回补充的回到退回它的环节），"
        "申请冻结，只能撤回；通知本人。")}

    async def post(self, application_id: int) -> None:
        """Check, content-check when needed, then submit on the version read."""
        submission = self.body(applying.Submission)
        actor = self.caller()
        async with self.reading() as conn:
            ready = await applying.ready(conn, self.cipher, actor, application_id, submission)
        check = await self.check_text(ready.text)
        async with self.writing() as conn:
            app = await applying.submit(conn, self.cipher, actor, ready, check=check)
        self.write_json({"id": app.id, "status": app.status, "step": app.step})


class WithdrawHandler(APIHandler):
    """Withdraw the application before approval."""

    accepts = "none"
    access = {"post": APPLY}
    spec = {"post": op("撤回救助申请", tags=["workers"], responses={200: STATE, 404: ERROR_REF, 409: ERROR_REF},
                       description="草稿、审核中（审批之前）或退回补充的申请可以撤回；已进入审批或已办结的 409 "
                       "application_not_withdrawable。")}

    async def post(self, application_id: int) -> None:
        """Withdraw it and answer its state."""
        async with self.writing() as conn:
            app = await applying.withdraw(conn, self.cipher, self.caller(), application_id)
        self.write_json({"id": app.id, "status": app.status, "step": app.step})


class AttachmentsHandler(APIHandler):
    """Upload a proof of the application."""

    accepts = "multipart"
    max_parts = 4
    access = {"post": APPLY}
    spec = {"post": op("上传申请材料", tags=["workers"], form=ProofForm, files=["file"],
                       responses={201: UPLOADED, 413: ERROR_REF, 415: ERROR_REF, **_ERRORS},
                       description="multipart：file 为文件，proof 为该类别材料清单中的材料类型（type）。" + _UPLOAD_HELP)}

    async def post(self, application_id: int) -> None:
        """Refuse early what the application rules out, store the file, then record it (the blob goes if not)."""
        actor = self.caller()
        form, uploads = await self.form(ProofForm)
        files = uploads.get("file") or []
        if len(files) != 1:
            raise Invalid("file_required", "请上传一个文件（字段名 file）")
        if not form.proof:
            raise Invalid("proof_required", "请注明材料类型（字段名 proof）")
        async with self.reading() as conn:
            await applying.before_upload(conn, self.cipher, actor, application_id, form.proof)
        store: AttachmentStore = self.settings["attachments"]
        stored = await self.offload(store.put, files[0].file, purpose=proofs.PURPOSE)
        try:
            async with self.writing() as conn:
                proof = await applying.attach(conn, self.cipher, actor, application_id, form.proof, stored,
                                              max_total=self.config.relief_max_attachments)
        except BaseException:
            await self.offload(store.delete, stored.key)
            raise
        self.write_json({"id": proof.id, "kind": proof.proof_type, "proof_type": proof.proof_type,
                         "size": proof.size, "mime": proof.mime}, status=201)


class AttachmentHandler(APIHandler):
    """One proof of the worker's own application: see it, or remove it while editable."""

    accepts = "none"
    access = {"get": APPLY, "delete": APPLY}
    spec = {
        "get": op("查看申请材料", tags=["workers"], responses={
            200: binary("文件本身（inline）", ATTACHMENT_TYPES), 404: ERROR_REF, 422: ERROR_REF},
            description="仅申请人本人；他人的申请或材料与不存在的一样返回 404。"),
        "delete": op("删除申请材料", tags=["workers"], responses={200: obj({"id": integer(1, 2**53)}, ["id"]),
                                                            404: ERROR_REF, 409: ERROR_REF},
                     description="仅草稿或退回补充的申请（409 application_not_editable）。"),
    }

    async def get(self, application_id: int, attachment_id: int) -> None:
        """Serve the file inline to its applicant."""
        async with self.reading() as conn:
            proof = await applying.proof_file(conn, self.cipher, self.caller(), application_id, attachment_id)
        await self.send_stored(proof.store_key, purpose=proofs.PURPOSE, mime=proof.mime, name=f"proof-{proof.id}")

    async def delete(self, application_id: int, attachment_id: int) -> None:
        """Remove the proof, then its blob."""
        async with self.writing() as conn:
            proof = await applying.detach(conn, self.cipher, self.caller(), application_id, attachment_id)
        store: AttachmentStore = self.settings["attachments"]
        await self.offload(store.delete, proof.store_key)
        self.write_json({"id": proof.id})


_APP = r"/api/v1/relief/applications/(?P<application_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (r"/api/v1/relief/applications", ApplicationsHandler),
    (_APP, ApplicationHandler),
    (_APP + r"/submit", SubmitHandler),
    (_APP + r"/withdraw", WithdrawHandler),
    (_APP + r"/attachments", AttachmentsHandler),
    (_APP + r"/attachments/(?P<attachment_id>[0-9]+)", AttachmentHandler),
]
