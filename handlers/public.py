"""What anyone may read or send without logging in: the public notice (公示) as JSON and as a web page, and
objections to its entries."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from handlers.base import APIHandler, BaseHandler, encode_json
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ
from models.core.policy import PUBLIC
from models.core.typed import invalid
from models.funds import accounts as fund_accounts
from models.identity import accounts
from models.relief import kinds, notices, objections
from server.openapi import ERROR_REF, id_schema, integer, nullable, obj, op, string
from server.wechat import WeChatGateway

_TS = {"type": "string"}
_ENTRY = obj({"id": id_schema(), "name": string(), "unit": string(), "kind": string(),
              "amount": nullable(integer(0, 2**53 - 1))}, ["id", "name", "unit", "kind", "amount"])
_BATCH = obj({"id": id_schema(), "org": string(), "starts_at": _TS, "ends_at": _TS,
              "entries": {"type": "array", "items": _ENTRY}}, ["id", "org", "starts_at", "ends_at", "entries"])
PUBLIC_NOTICES = obj({"items": {"type": "array", "items": _BATCH}}, ["items"])
RAISED = obj({"id": id_schema(), "status": string()}, ["id", "status"])
#: The page's policy: its one stylesheet from this origin, nothing else (no script, no frame, no form).
PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'none'; form-action 'none'; base-uri 'none'; " \
           "frame-ancestors 'none'"


def public_notices(handler: BaseHandler) -> notices.PublicNotices:
    """The application's one kept public notice (made on first use; both notice routes share it)."""
    kept: notices.PublicNotices = handler.settings.setdefault("relief_public_notices", notices.PublicNotices())
    return kept


class PublicNoticesHandler(APIHandler):
    """The batches in force (and recently ended): masked name, unit, kind and amount of each entry."""

    access = {"get": PUBLIC}
    spec = {"get": op("救助公示（无需登录）", auth=False, tags=["public"], responses={200: PUBLIC_NOTICES},
                      description="公示期内及结束后一段时间（配置）内的批次；每个对象只有脱敏姓名、基层单位、救助类别和金额（分）。")}

    async def get(self) -> None:
        """The public batches, newest first."""
        async with self.reading() as conn:
            batches = await public_notices(self).read(conn)
        # Encoded once per kept answer: thousands of entries, the same for everyone.
        kept = self.settings.setdefault("relief_public_notices_json", {})
        if kept.get("batches") is not batches:
            kept.update(batches=batches, body=encode_json({"items": batches}))
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(kept["body"])


class ObjectionHandler(APIHandler):
    """Raise an objection to one entry of a batch in its period (no login; throttled)."""

    access = {"post": PUBLIC}
    spec = {"post": op(
        "对公示对象提出异议（无需登录）", auth=False, tags=["public"], body=objections.ObjectionBody,
        responses={201: RAISED, 400: ERROR_REF, 404: ERROR_REF, 409: ERROR_REF, 422: ERROR_REF, 429: ERROR_REF},
        description="entry 为公示对象 id；reason 5–500 字（不公开）；contact 为电话或其他联系方式（加密保存，仅工作人员可见）。"
        "公示期结束后 409 notice_ended。同一地址每小时 5 次、同一对象每天 20 次，超出 429（带 Retry-After）。"
        "从小程序登录后提交的异议经微信内容安全检测（不当内容 422 objection_risky）；未登录提交的无法检测，交工作人员审阅。")}

    async def post(self, notice_id: int) -> None:
        """Count the attempt, check the text when the caller is a WeChat user, record the objection (201)."""
        body = self.body(objections.ObjectionBody)
        objections.check_body(body)
        ip = self.request.remote_ip
        async with self.writing() as conn:
            await objections.throttled(conn, ip, body.entry)
        caller = self.current_actor
        verdict = None
        if caller is not None and caller.kind == "user" and caller.user_id is not None:
            async with self.reading() as conn:
                user = await accounts.get(conn, caller.user_id, self.cipher)
            gateway: WeChatGateway = self.settings["gateway"]
            verdict = (await gateway.check_text(body.reason, user.openid)).verdict
        actor = caller if caller is not None and caller.kind == "user" else Actor(
            kind="public", id=None, request_id=self.request_id, ip=ip)
        async with self.writing() as conn:
            raised = await objections.raise_objection(conn, self.cipher, actor, int(notice_id), body, verdict=verdict,
                                                      due_days=self.config.relief_objection_days)
        self.write_json(raised, status=201)


def _local(value: datetime) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


class NoticesPage(BaseHandler):
    """The public notice as a plain, server-rendered page (Chinese, no script, readable on a phone)."""

    spec = {"get": op("救助公示网页（无需登录，HTML）", auth=False, tags=["public"],
                      responses={200: {"description": "HTML 页面", "content": {"text/html": {"schema": string()}}}},
                      description="与 /api/v1/public/notices 内容相同的服务器端渲染页面，无脚本；异议请通过小程序提交。")}

    def set_default_headers(self) -> None:
        """The API's headers, with a policy that lets the page's own stylesheet in."""
        super().set_default_headers()
        self.set_header("Content-Security-Policy", PAGE_CSP)

    async def get(self) -> None:
        """Render the batches; how to raise an objection is said on the page."""
        async with self.reading() as conn:
            batches = await public_notices(self).read(conn)
        now = datetime.now(LOCAL_TZ)
        # The page changes with the kept answer and with which batches have ended: rendered once for each.
        ended = tuple(batch["ends_at"] <= now for batch in batches)
        kept = self.settings.setdefault("relief_public_notices_page", {})
        if kept.get("batches") is not batches or kept.get("ended") != ended:
            html = self.render_string("notices.html", batches=batches, local=_local, now=now)
            kept.update(batches=batches, ended=ended, html=html)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(kept["html"])


_MONEY = {"type": "integer"}
PUBLIC_ACCOUNTS = obj({
    "year": integer(), "total": obj({"income": _MONEY, "spent": _MONEY}, ["income", "spent"]),
    "by_source": {"type": "array", "items": obj({"source": string(), "source_name": string(), "income": _MONEY,
                                                  "spent": _MONEY}, ["source", "source_name", "income", "spent"])},
    "by_kind": {"type": "array", "items": obj({"kind": string(), "kind_name": string(), "spent": _MONEY},
                                              ["kind", "kind_name", "spent"])}},
    ["year", "total", "by_source", "by_kind"])


async def _public_accounts(handler: BaseHandler, year: int | None) -> dict[str, Any]:
    """The year's public accounts (this year's by default), each kind with its Chinese name."""
    year = year or fund_accounts.this_year()
    async with handler.reading() as conn:
        found = await fund_accounts.public(conn, year)
    for row in found["by_kind"]:
        preset = kinds.PRESET_DEFINITIONS.get(row["kind"])
        row["kind_name"] = preset.name if preset else row["kind"]
    return found


class PublicAccountsHandler(APIHandler):
    """The funds' income and spending of a year, by source and by kind: aggregates only, no person."""

    accepts = "none"
    access = {"get": PUBLIC}
    spec = {"get": op("帮扶资金收支公开（按年）", auth=False, tags=["public"], query=fund_accounts.PublicAccountsQuery,
                      responses={200: PUBLIC_ACCOUNTS, 400: ERROR_REF},
                      description="全部资金来源当年的收入（预算与追加）与支出（已发放，扣除退回），按资金来源和救助类别汇总"
                      "（分）；只有汇总数，不含任何个人或申请。")}

    async def get(self) -> None:
        """Answer the year's accounts."""
        self.write_json(await _public_accounts(self, self.query(fund_accounts.PublicAccountsQuery).year))


class AccountsPage(BaseHandler):
    """The same accounts as a plain page (Chinese, no script)."""

    spec = {"get": op("帮扶资金收支公开网页（无需登录，HTML）", auth=False, tags=["public"],
                      query=fund_accounts.PublicAccountsQuery,
                      responses={200: {"description": "HTML 页面", "content": {"text/html": {"schema": string()}}}},
                      description="与 /api/v1/public/funds 内容相同的服务器端渲染页面，无脚本。")}

    def set_default_headers(self) -> None:
        """The API's headers, with a policy that lets the page's own stylesheet in."""
        super().set_default_headers()
        self.set_header("Content-Security-Policy", PAGE_CSP)

    async def get(self) -> None:
        """Render the year's accounts."""
        raw = self.get_query_argument("year", None)
        try:
            year = fund_accounts.PublicAccountsQuery.model_validate({"year": raw} if raw else {}).year
        except ValidationError as exc:
            raise invalid(exc, "invalid_query") from None
        found = await _public_accounts(self, year)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.render("funds.html", accounts=found, yuan=lambda fen: "%d.%02d" % divmod(int(fen), 100))


routes: list[tuple[str, Any]] = [
    (r"/api/v1/public/notices", PublicNoticesHandler),
    (r"/api/v1/public/notices/(?P<notice_id>[0-9]+)/objections", ObjectionHandler),
    (r"/notices", NoticesPage),
    (r"/api/v1/public/funds", PublicAccountsHandler),
    (r"/funds", AccountsPage),
]
