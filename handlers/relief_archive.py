"""The archive of relief applications: closing a paid application (办结) and downloading its whole file as
one PDF for the paper archive (drawn off the event loop, every download audited)."""
from __future__ import annotations

from typing import Any, Callable

from handlers.cards import font_refusal
from handlers.relief_review import ANSWER, APPLICATION
from handlers.staff_base import StaffHandler
from models.core.policy import Access
from models.relief import archive, reviewing
from models.relief.archive import ArchiveFile, Stored
from server import card_images
from server.document_pdf import Block, Fields, Heading, Note, Picture, Rows, document_pdf
from server.openapi import ERROR_REF, binary, op


def _yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen / 100:.2f} 元"


def _listed(file: Stored) -> list[str]:
    return [str(file.id), file.title, file.mime, f"{file.size} 字节", file.sha256]


def _images(files: list[Stored], read: Callable[[Stored], bytes], what: str) -> list[Block]:
    return [Picture(read(f), f"{what} {f.id}：{f.title}（SHA-256 {f.sha256[:16]}…）") for f in files if f.image]


def _linked(title: str, rows: list[dict[str, Any]]) -> list[Block]:
    if not rows:
        return [Heading(title), Note("无")]
    header = list(rows[0])
    return [Heading(title), Rows(header, [["" if r[k] is None else str(r[k]) for k in header] for r in rows])]


def layout(file: ArchiveFile, read: Callable[[Stored], bytes]) -> list[Block]:
    """The archived file's sections in order; ``read`` gives a stored file's bytes (images are embedded)."""
    blocks: list[Block] = [
        Heading("一、申请"),
        Fields([("申请编号", str(file.id)), ("救助类别", file.kind_name), ("申请人", file.applicant),
                ("身份证号", file.id_number), ("所在单位", file.unit),
                *[(label, _yuan(fen)) for label, fen in file.amounts if fen is not None]]),
        Heading("申请表"), Fields(file.fields),
    ]
    if file.household:
        blocks += [Heading("家庭成员"), Rows(["姓名", "关系", "身份证号", "月收入"], [
            [h["name"], h["relation"], h["id_number"], _yuan(h["monthly_income"])] for h in file.household])]
    blocks += [Heading("二、证明材料")]
    blocks += [Rows(["编号", "材料", "类型", "大小", "SHA-256"], [_listed(p) for p in file.proofs])] \
        if file.proofs else [Note("无")]
    blocks += _images(file.proofs, read, "证明材料")
    blocks += [Heading("三、办理经过"), Rows(["时间", "环节", "办理", "单位", "经办人", "金额", "说明"], [
        [d["at"], d["step"], d["action"], d["unit"], f"{d['staff']}（{d['staff_id']}）" if d["staff_id"] else "",
         _yuan(d["amount"]), d["comment"]] for d in file.decisions])]
    blocks += [Heading("四、入户核查")]
    for v in file.visits:
        blocks += [Fields([("核查日期", v["date"]), ("核查人员", "、".join(v["visitors"])), ("登记人", v["staff"]),
                           ("核查情况", v["findings"])])]
        blocks += _images([p for p in file.photos if p.id in v["photos"]], read, "入户照片")
    if not file.visits:
        blocks += [Note("无")]
    blocks += [Heading("五、集体评议")]
    for m in file.meetings:
        blocks += [Fields([("会议日期", m["date"]), ("评议单位", m["unit"]), ("评议组人数", str(m["members"])),
                           ("出席人员", "、".join(m["present"])),
                           ("表决", f"赞成 {m['for']} 票，反对 {m['against']} 票，{'通过' if m['carried'] else '未通过'}"),
                           ("会议纪要", m["minutes"])])]
    if not file.meetings:
        blocks += [Note("无")]
    for title, rows in file.linked:
        blocks += _linked(title, rows)
    blocks += [Heading("办结")]
    done = file.completion
    blocks += [Fields([("办结日期", done.completed_on.isoformat()), ("办结说明", done.note or "无"),
                       ("办结人", f"{done.staff_name}（{done.staff_id}）")])] if done else [Note("无")]
    return blocks


class ArchiveHandler(StaffHandler):
    """Close a paid application: archived read-only with its completion record."""

    access = {"post": Access("relief.archive", APPLICATION)}
    spec = {"post": op(
        "办结归档：已发放的申请记录办结日期后只读归档", tags=["staff"], body=archive.ArchiveBody,
        responses={200: ANSWER, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
        description="只有状态为 paid（已发放）的申请可以办结（否则 409 application_not_paid）；completed_on 不能晚于今天。"
        "办结后状态为 archived，任何修改、审核、核查、上传均被拒绝；申请人收到办结通知。")}

    async def post(self, application_id: int) -> None:
        """Archive and answer the application's new status and step."""
        actor = await self.actor()
        body = self.body(archive.ArchiveBody)
        async with self.writing() as conn:
            app = await archive.archive(conn, self.cipher, actor, int(application_id), body)
        self.write_json(reviewing.answer(app))


class ArchivePdfHandler(StaffHandler):
    """The whole archived file as one A4 PDF (audited, never cached)."""

    accepts = "none"
    access = {"get": Access("relief.view", APPLICATION)}
    spec = {"get": op(
        "下载办结档案（PDF，供纸质归档）", tags=["staff"],
        responses={200: binary("档案 PDF（A4，内嵌中文字体子集）", ["application/pdf"]), 403: ERROR_REF,
                   404: ERROR_REF, 409: ERROR_REF, 503: ERROR_REF},
        description="含申请表（姓名、身份证号脱敏）、证明材料（图片嵌入，PDF 列出名称、大小与哈希）、全部办理经过、入户核查"
        "及照片、集体评议记录、公示与异议、发放记录和办结记录。尚未办结答 409 application_not_archived；服务器缺少中文字体"
        "答 503 card_font_missing。每次下载记入审计。")}

    async def get(self, application_id: int) -> None:
        """Gather the file, draw it off the loop and send it as an attachment."""
        actor = await self.actor()
        async with self.writing() as conn:
            file = await archive.gather(conn, self.cipher, actor, int(application_id))
        store = self.settings["attachments"]
        try:
            data = await self.offload(self.draw, file, store, self.config.card_font or None)
        except card_images.CardFontMissing as exc:
            raise font_refusal(exc) from None
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'attachment; filename="{file.filename}"')
        self.set_header("Cache-Control", "no-store")
        self.finish(data)

    @staticmethod
    def draw(file: ArchiveFile, store: Any, font_path: str | None) -> bytes:
        """The PDF bytes (in the worker pool: decrypting the images and drawing are CPU work)."""
        blocks = layout(file, lambda f: bytes(store.get(f.store_key, purpose=f.purpose)))
        return document_pdf(f"职工救助档案（{file.kind_name}）", blocks, footer=f"relief-{file.id}",
                            font_path=font_path)


_APP = r"/api/v1/staff/relief/applications/(?P<application_id>[0-9]+)"
routes: list[tuple[str, Any]] = [
    (_APP + r"/archive", ArchiveHandler),
    (_APP + r"/archive.pdf", ArchivePdfHandler),
]
