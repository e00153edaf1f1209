"""Staff API for member transfers (会籍转接): the holder's unit decides, the asking unit follows its requests."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from handlers.staff_base import StaffHandler
from models.cards import usecases as card_flows
from models.core.policy import Access, Target
from models.core.typed import Body, PageQuery, one_of, paged, text
from models.members import transfers
from server.openapi import ERROR_REF, nullable, obj, op, page, ref, string

Direction = Annotated[str, one_of(transfers.DIRECTIONS)]
TransferStatus = Annotated[str, one_of(transfers.STATUS_LABELS)]


class TransfersQuery(PageQuery):
    """Which requests to list: incoming or outgoing (the default), of one status."""

    direction: Annotated[Direction, Field(description="默认 outgoing")] = "outgoing"
    status: TransferStatus | None = None


class RefuseBody(Body):
    """Why the member stays where they are."""

    reason: Annotated[str, text(200)]

INCOMING_TARGET = Target("transfer_incoming", "transfer_id")

_DATETIME = string(format="date-time")
_UNIT = obj({"id": {"type": "integer"}, "code": string(), "name": string()}, ["id", "code", "name"])
_COMMON: dict[str, Any] = {
    "id": {"type": "integer"},
    "status": {"enum": list(transfers.STATUS_LABELS)},
    "status_label": string(),
    "to_org": _UNIT,
    "name": string(),
    "id_number_masked": string(),
    "employer": nullable(string()),
    "phone_masked": nullable(string()),
    "created_at": _DATETIME,
    "decided_at": nullable(_DATETIME),
    "reason": nullable(string()),
}
_REQUIRED = ["id", "status", "status_label", "to_org", "name", "id_number_masked", "created_at", "decided_at",
             "reason"]
OUTGOING = obj(_COMMON, _REQUIRED)
INCOMING = obj(
    {**_COMMON, "from_org": _UNIT, "member_id": {"type": "integer"}, "member": nullable(ref("Member")),
     "name_matches": nullable({"type": "boolean"})},
    [*_REQUIRED, "from_org", "member_id", "member", "name_matches"],
)
_ANSWERS = {200: INCOMING, 400: ERROR_REF, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF}


class TransfersHandler(StaffHandler):
    """Requests for members of the caller's subtree (incoming) or asked by units of it (outgoing)."""

    access = {"get": Access("member_transfer.view")}
    spec = {
        "get": op(
            "会籍转入申请：待本单位确认的（incoming）或本单位发起的（outgoing）",
            tags=["staff"],
            query=TransfersQuery,
            responses={200: page({"oneOf": [INCOMING, OUTGOING]}),
                       400: ERROR_REF, 403: ERROR_REF},
            description="导入名册时，身份证号已在本人范围以外登记会籍的人，会向其所属单位发起转入申请（名册报告只说"
            "transfer_requested，不说对方单位和姓名是否一致）。incoming：会员在本人范围内，可同意或拒绝，"
            "可见本单位会员、申请单位和姓名是否一致；outgoing：本人范围内单位发起的申请，只见自己填写的内容和处理状态。",
        )
    }

    async def get(self) -> None:
        """List incoming or outgoing transfer requests, optionally of one status, one cursor page."""
        actor = await self.actor()
        query = self.query(TransfersQuery)
        async with self.reading() as conn:
            found, nxt = paged(await transfers.listing(conn, self.cipher, actor, direction=query.direction,
                                                       status=query.status, after=query.cursor or 0,
                                                       limit=query.limit + 1), query.limit, lambda t: t.id)
        views = [t.incoming_view() if query.direction == "incoming" else t.outgoing_view() for t in found]
        self.write_json({"items": views, "next": nxt})


class AcceptHandler(StaffHandler):
    """Staff of the member's unit accept a transfer request: the member moves to the asking unit."""

    accepts = "none"
    access = {"post": Access("member_transfer.decide", INCOMING_TARGET)}
    spec = {
        "post": op(
            "同意转入：会员转到申请单位（同时采用名册中的工作单位和手机号）",
            tags=["staff"], responses=_ANSWERS,
            description="只有会员所在单位（及其上级）的工作人员可以处理；范围外的申请与不存在一样返回 404。"
            "已处理的申请返回 409 transfer_decided。服务卡和有效的困难职工档案随会员转入。",
        )
    }

    async def post(self, transfer_id: str) -> None:
        """Accept the incoming request, moving the member with their card and hardship record; answer it."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            transfer = await card_flows.accept_transfer(conn, self.cipher, actor, int(transfer_id))
        self.write_json(transfer.incoming_view())


class RefuseHandler(StaffHandler):
    """Staff of the member's unit refuse a transfer request, with a reason the asking unit sees."""

    access = {"post": Access("member_transfer.decide", INCOMING_TARGET)}
    spec = {
        "post": op(
            "拒绝转入（须填原因，申请单位可见）",
            tags=["staff"], body=RefuseBody, responses=_ANSWERS,
            description="会员留在原单位。原因会显示给申请单位，请勿写入会员的个人信息。",
        )
    }

    async def post(self, transfer_id: str) -> None:
        """Refuse the incoming request with the reason; the member stays; answer the request."""
        actor = await self.actor()
        body = self.body(RefuseBody)
        async with self.engine.begin() as conn:
            transfer = await transfers.refuse(conn, self.cipher, actor, int(transfer_id), reason=body.reason)
        self.write_json(transfer.incoming_view())


class CancelHandler(StaffHandler):
    """Staff withdraw a transfer request their subtree made."""

    accepts = "none"
    access = {"post": Access("member_transfer.request", Target("transfer_outgoing", "transfer_id"))}
    spec = {
        "post": op(
            "撤回本单位发起的转入申请",
            tags=["staff"],
            responses={200: OUTGOING, 403: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF},
        )
    }

    async def post(self, transfer_id: str) -> None:
        """Withdraw the outgoing request and answer it."""
        actor = await self.actor()
        async with self.engine.begin() as conn:
            transfer = await transfers.cancel(conn, self.cipher, actor, int(transfer_id))
        self.write_json(transfer.outgoing_view())


routes: list[tuple[str, Any]] = [
    (r"/api/v1/staff/member-transfers", TransfersHandler),
    (r"/api/v1/staff/member-transfers/(?P<transfer_id>[0-9]+)/accept", AcceptHandler),
    (r"/api/v1/staff/member-transfers/(?P<transfer_id>[0-9]+)/refuse", RefuseHandler),
    (r"/api/v1/staff/member-transfers/(?P<transfer_id>[0-9]+)/cancel", CancelHandler),
]
