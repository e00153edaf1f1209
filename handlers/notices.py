"""The worker's notices: the in-app inbox, and the subscribe-message templates they accepted."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from handlers.base import APIHandler
from models.core import inbox
from models.core.errors import Invalid
from models.core.policy import Access
from models.core.ports import NoticeTemplates
from models.core.typed import Body, Id, PageQuery, paged, text
from models.identity import subscriptions
from server.openapi import ERROR_REF, obj, op, page, string

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_GRANTS = obj({"grants": _COUNTS}, ["grants"])


class SubscriptionResults(Body):
    """What one ``wx.requestSubscribeMessage`` answered, per template id."""

    results: Annotated[
        dict[Annotated[str, text(64, min_len=1)], Annotated[str, text(64)]],
        Field(max_length=20, description="wx.requestSubscribeMessage 的结果：{模板 id: accept/reject/ban/filter}；"
                                         "其他键（如 errMsg）忽略"),
    ]


class NoticesRead(Body):
    """Which notices the worker has read: some ids, or all of them."""

    ids: Annotated[list[Id], Field(max_length=inbox.MARK_MAX)] | None = None
    all: bool = False


class NoticesQuery(PageQuery):
    """A page of my notices, twenty by default."""

    limit: Annotated[int, Field(ge=1, le=100, description="每页条数（1–100）")] = 20


class SubscriptionsHandler(APIHandler):
    """The templates the mini-program asks the worker to accept, and the grants they hold."""

    access = {"get": Access("me.subscriptions"), "post": Access("me.subscriptions")}
    spec = {
        "get": op("订阅消息模板与我剩余的订阅次数", tags=["workers"], responses={200: obj(
            {"templates": obj({k: string() for k in ("card", "redemption", "relief", "payment")},
                              ["card", "redemption", "relief", "payment"]), "grants": _COUNTS},
            ["templates", "grants"])},
            description="小程序用 templates 中的模板 id 调用 wx.requestSubscribeMessage（须在用户点击之后）；"
                        "每次“允许”可发送一条该模板的消息，grants 为剩余次数。"),
        "post": op("上报 wx.requestSubscribeMessage 的结果", tags=["workers"], body=SubscriptionResults,
                   responses={200: _GRANTS, 400: ERROR_REF},
                   description="accept 增加一次该模板的发送机会（每个模板最多累计 50 次）；ban 清零；"
                               "reject、filter 不变。不属于本服务的模板 id 忽略。"),
    }

    @property
    def templates(self) -> NoticeTemplates:
        """The deployment's subscribe-message templates."""
        return self.settings["templates"]  # type: ignore[no-any-return]

    async def get(self) -> None:
        """Answer the four template ids and the caller's grants."""
        async with self.reading() as conn:
            grants = await subscriptions.grants(conn, self.user_id())
        self.write_json({"templates": self.templates.ids(), "grants": grants})

    async def post(self) -> None:
        """Keep the answers for this service's templates; answer the caller's grants."""
        body = self.body(SubscriptionResults)
        ours = set(self.templates.ids().values())
        for template_id, result in body.results.items():
            if template_id in ours and result not in subscriptions.RESULTS:
                raise Invalid("invalid_body", f"results.{template_id} 应为 accept、reject、ban 或 filter")
        async with self.writing() as conn:
            grants = await subscriptions.record(conn, self.user_id(), body.results, ours)
        self.write_json({"grants": grants})


class NoticesHandler(APIHandler):
    """The worker's inbox: every notice, whether WeChat delivered it or not."""

    accepts = "none"
    access = {"get": Access("me.notices")}
    spec = {"get": op(
        "我的通知（新的在前），按 next 游标翻页；unread 为未读数", tags=["workers"], query=NoticesQuery,
        responses={200: page(obj({"id": {"type": "integer"}, "kind": string(), "title": string(), "body": string(),
                                  "page": {"type": ["string", "null"]}, "at": string(format="date-time"),
                                  "read": {"type": "boolean"},
                                  "delivery": {"enum": ["pending", "sent", "failed", "unsent"]}},
                                 ["id", "kind", "title", "body", "at", "read"]),
                             unread={"type": "integer", "minimum": 0}), 400: ERROR_REF},
        description="每条通知都保存在这里，无论微信订阅消息是否送达（delivery：unsent 表示用户未订阅该模板，"
                    "只在应用内可见）。at 为事件发生的时间。")}

    async def get(self) -> None:
        """List the caller's notices newest first, one cursor page, with the unread count."""
        query = self.query(NoticesQuery)
        user_id = self.user_id()
        async with self.reading() as conn:
            found = await inbox.page(conn, user_id, before=query.cursor, limit=query.limit)
            unread = await inbox.unread(conn, user_id)
        items, nxt = paged(found, query.limit, lambda n: n.id)
        self.write_json({"items": [n.view() for n in items], "next": nxt, "unread": unread})


class NoticesReadHandler(APIHandler):
    """The worker marks notices read."""

    access = {"post": Access("me.notices")}
    spec = {"post": op(
        "把通知标为已读：{\"ids\": [...]} 或 {\"all\": true}", tags=["workers"], body=NoticesRead,
        responses={200: obj({"unread": {"type": "integer", "minimum": 0}}, ["unread"]), 400: ERROR_REF},
        description="不属于自己的或已读的 id 直接忽略；返回剩余未读数。")}

    async def post(self) -> None:
        """Mark the named notices (or all) read and answer how many stay unread."""
        body = self.body(NoticesRead)
        if (body.ids is None) == (not body.all):
            raise Invalid("invalid_body", "请给出要标为已读的通知 ids，或 all 为 true（二者选一）")
        async with self.writing() as conn:
            unread = await inbox.mark_read(conn, self.user_id(), None if body.all else body.ids)
        self.write_json({"unread": unread})


routes = [
    (r"/api/v1/me/subscriptions", SubscriptionsHandler),
    (r"/api/v1/me/notices", NoticesHandler),
    (r"/api/v1/me/notices/read", NoticesReadHandler),
]
