"""The base of every staff console page: the API's own access path, fed by a session cookie, answering HTML.

A console page declares its access exactly as an API handler does
(``access = {"get": Access("relief.view", Target("application", "application_id"))}``) and calls the
same domain functions; ``prepare`` runs the same ``callers.resolve`` query, the same policy and the
same target check. Only the transport differs: the bearer token comes from the signed session
cookie (``server.console.SESSION_COOKIE``), which also carries the time of the last page (idle
timeout); a refusal is a page in Chinese, and 401 sends the browser to the login page.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Iterable, Mapping, TypeVar
from urllib.parse import urlencode

import tornado.web
from pydantic import BaseModel

from handlers.staff_base import StaffHandler
from models.core import policy
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ
from models.core.errors import AppError, Forbidden, Invalid, Unauthorized
from models.core.masking import mask_id_number, mask_name, mask_phone
from models.core.money import yuan as plain_yuan
from models.identity import sessions
from models.identity import staff_accounts
from server import console
from server.validation import query_values, validate

M = TypeVar("M", bound=BaseModel)

LOGIN_URL = "/console/login"
HOME_URL = "/console/"
PASSWORD_URL = "/console/password"
#: The areas of the nav, each shown to the roles its action is granted to: (label, URL, action).
#: A new area adds its line here (in the order staff meet them).
NAV: tuple[tuple[str, str, str], ...] = (
    ("今日工作", HOME_URL, "console.home"),
    ("救助审核", "/console/relief/queue", "relief.queue"),
    ("集体评议", "/console/relief/meetings/new", "relief.meeting"),
    ("公示", "/console/relief/notices", "relief.publish"),
    ("异议", "/console/relief/objections?status=open", "relief.objection_resolve"),
    ("救助金发放", "/console/relief/payments", "relief.pay"),
    ("资金来源", "/console/funds/", "fund.view"),
    ("会员与服务卡", "/console/members/", "member.view"),
    ("困难职工档案", "/console/register", "hardship.view"),
    ("合作商家", "/console/partners/merchants", "merchant.view"),
    ("商家月结单", "/console/statements", "settlement.view"),
    ("统计", "/console/stats", "relief.statistics"),
    ("审计日志", "/console/audit", "audit.view"),
    ("工作人员", "/console/accounts", "staff.manage"),
    ("组织与设置", "/console/orgs/", "org.view"),
)
#: Why the login page is shown again, as the ``why`` of its URL.
LOGIN_NOTICES = {"idle": "长时间未操作，已自动退出，请重新登录。", "logout": "已退出登录。",
                 "expired": "登录已过期，请重新登录。", "password": "密码已修改，请用新密码登录。"}
_YUAN = re.compile(r"^\d{1,11}(\.\d{1,2})?$")


def yuan(fen: int | None) -> str:
    """Fen as yuan with thousands separators and two decimals: 123450 -> "1,234.50"; None -> "—"."""
    if fen is None:
        return "—"
    text = plain_yuan(int(fen))
    sign = "-" if text.startswith("-") else ""
    whole, _, cents = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}.{cents}"


def local(value: datetime | str | None, *, date_only: bool = False) -> str:
    """A UTC time (or its ISO text) as Beijing time, "2026-12-05 14:03" (or the day alone); None -> "—"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d")
    moment = value.astimezone(LOCAL_TZ)
    return moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")


def masked(value: str | None, kind: str = "name") -> str:
    """A name, ID number or phone number masked for a page that may not show it whole."""
    if kind == "id_number":
        return mask_id_number(value)
    if kind == "phone":
        return mask_phone(value)
    return mask_name(value)


def yuan_to_fen(text: str, field: str) -> int:
    """An amount typed in yuan ("12.5", "1,234.50") as fen; a refusal naming the field otherwise."""
    cleaned = text.strip().replace(",", "").replace("，", "").replace("元", "").replace("¥", "")
    if not _YUAN.match(cleaned):
        reason = "金额请填写元，最多两位小数，例如 1200 或 1200.50"
        raise Invalid("amount_format", reason, details=[{"field": field, "reason": reason}])
    try:
        return int((Decimal(cleaned) * 100).to_integral_exact())
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise Invalid("amount_format", "金额格式不对", details=[{"field": field, "reason": "金额格式不对"}]) from None


def whole_numbers(values: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The form with the named fields typed as whole numbers ("7" -> 7) for the API's strict models; anything
    else is left as typed, for the model to refuse by its field."""
    out = dict(values)
    for name in names:
        text = str(out.get(name, "")).strip()
        if text.isascii() and text.isdigit() and len(text) <= 15:
            out[name] = int(text)
    return out


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of the console only (never another site, never the login page)."""
    if not target or not target.startswith("/console/") or "//" in target or "\\" in target:
        return HOME_URL
    if target.startswith(LOGIN_URL) or any(ord(c) < 0x21 for c in target):
        return HOME_URL
    return target


@dataclass
class Refusal:
    """A refusal shown on a page: the message at the top and each field's reason next to it."""

    message: str
    fields: dict[str, str]
    status: int

    @classmethod
    def of(cls, exc: AppError) -> Refusal:
        """The refusal of an AppError; a field named ``a.b[0].c`` is shown next to ``a``'s input."""
        fields: dict[str, str] = {}
        for detail in exc.details or []:
            name = detail.get("field")
            if name:
                fields.setdefault(re.split(r"[.\[]", str(name))[0], str(detail.get("reason") or exc.message))
        return cls(exc.message, fields, exc.status)


class ConsoleHandler(StaffHandler):
    """A console page: cookie session, the API's access declarations, HTML answers and forms.

    The body of a console request is a small urlencoded form, read whole by Tornado (no streaming:
    its ``_xsrf`` field is then checked before anything else runs).
    """

    #: Console routes answer HTML and are not in the OpenAPI document (check_declarations, the route tests).
    html: ClassVar[bool] = True
    _stream_request_body = False
    accepts: ClassVar[str] = "form"
    #: Whether an account that must change its password may open this page (login, logout, password).
    before_password_change: ClassVar[bool] = False
    #: The signed-in member of staff (their name, unit, roles), loaded once the access checks let them in.
    staff: staff_accounts.Staff | None = None
    _token: str | None = None
    _idle = False
    _refusal: Refusal | None = None

    # --- headers, body, XSRF --------------------------------------------------------------------

    def set_default_headers(self) -> None:
        """The API's security headers, with the console pages' policy."""
        super().set_default_headers()
        self.set_header("Content-Security-Policy", console.CONSOLE_CSP)

    def body_limit(self) -> int:
        """A console form is small: the JSON limit."""
        return int(self.config.max_json_bytes)

    def check_xsrf_cookie(self) -> None:
        """Every console form (the login's too: no login forged from elsewhere) carries the XSRF token."""
        try:
            tornado.web.RequestHandler.check_xsrf_cookie(self)
        except tornado.web.HTTPError:
            raise Forbidden("xsrf_failed", "页面已过期或来源不明，请刷新页面后重试") from None

    # --- the session --------------------------------------------------------------------------

    def _bearer(self) -> str | None:
        """The token of the session cookie (None without one); an idle session is refused (401)."""
        if self._token is not None:
            return self._token
        found = console.parse_session(self.get_signed_cookie(
            console.SESSION_COOKIE, max_age_days=self.config.console_session_ttl / 86400))
        if found is None:
            return None
        token, last = found
        self._token = token
        if time.time() - last > self.config.console_idle_timeout:
            self._idle = True
            raise Unauthorized("session_idle", LOGIN_NOTICES["idle"])
        return token

    def start_session(self, token: str) -> None:
        """Set the session cookie: signed, HttpOnly, SameSite=Strict, Secure behind HTTPS, for /console/ only."""
        self._token = token
        self.set_signed_cookie(console.SESSION_COOKIE, console.session_value(token, time.time()),
                               expires_days=None, path="/console/", httponly=True, samesite="Strict",
                               secure=self.config.behind_https)

    def end_session(self) -> None:
        """Drop the session cookie."""
        self.clear_cookie(console.SESSION_COOKIE, path="/console/")

    async def revoke_session(self) -> None:
        """Revoke the session's token and drop its cookie."""
        if self._token is not None:
            async with self.writing() as conn:
                await sessions.revoke(conn, self._token)
        self.end_session()

    async def prepare(self) -> None:
        """Refuse what the head rules out, check the path ids, then the caller as the API does; send an
        anonymous or idle caller to the login page and an account with a password to change to that page."""
        self._guard_request()
        if len(self.request.body or b"") > self.body_limit():
            raise self._too_large()
        self._check_path_ids()
        try:
            await self._identify_and_authorize()
        except Unauthorized as exc:
            if self._idle:
                await self.revoke_session()
            elif self._token is not None:
                self.end_session()
            why = "idle" if self._idle else ("expired" if exc.code == "token_expired" else None)
            self.to_login(why)
            return
        except AppError:
            if await self._sent_to_change_password():  # before saying anything about the page's record
                return
            raise
        if await self._sent_to_change_password():
            return
        if self._token is not None:
            self.start_session(self._token)  # re-signed with this page as the last activity

    async def _sent_to_change_password(self) -> bool:
        """Load the signed-in member of staff; send them to the password page when they must change it first."""
        actor = self.current_actor
        if actor is None or actor.kind != "staff":
            return False
        if self.staff is None:
            async with self.reading() as conn:
                self.staff = await staff_accounts.get(conn, int(actor.id or 0))
        if self.staff.must_change_password and not self.before_password_change:
            self.redirect(PASSWORD_URL)
            return True
        return False

    def to_login(self, why: str | None = None) -> None:
        """Redirect to the login page, keeping where the person was going (a GET of the console)."""
        args: dict[str, str] = {}
        if self.request.method in ("GET", "HEAD") and self.request.uri and not self.request.path.startswith(LOGIN_URL):
            args["next"] = safe_next(self.request.uri)
        if why:
            args["why"] = why
        self.redirect(LOGIN_URL + ("?" + urlencode(args) if args else ""))

    # --- forms and queries --------------------------------------------------------------------

    def form_values(self) -> dict[str, str]:
        """The form's fields, each its last value, trimmed (the XSRF token left out)."""
        out: dict[str, str] = {}
        for name, values in self.request.body_arguments.items():
            if name == "_xsrf" or not values:
                continue
            try:
                out[name] = values[-1].decode("utf-8").strip()
            except UnicodeDecodeError:
                raise Invalid("invalid_body", f"{name} 含有无效的字符",
                              details=[{"field": name, "reason": "含有无效的字符"}]) from None
        return out

    def form_list(self, name: str) -> list[str]:
        """Every value of a repeated field (checkboxes), in order."""
        return [v.decode("utf-8", "replace").strip() for v in self.request.body_arguments.get(name, [])]

    def form_model(self, model: type[M], values: Mapping[str, Any] | None = None, *,
                   yuan_fields: Iterable[str] = (), extra: Mapping[str, Any] | None = None) -> M:
        """The form as the API's own request model (the same validation): empty fields left out, the
        ``yuan_fields`` typed in yuan turned into fen, ``extra`` (nested parts built by the page) added."""
        data: dict[str, Any] = {k: v for k, v in (values if values is not None else self.form_values()).items()
                                if v != ""}
        for name in yuan_fields:
            if name in data:
                data[name] = yuan_to_fen(str(data[name]), name)
        data = {k: v for k, v in data.items() if k in model.model_fields}
        data.update(extra or {})
        return validate(model, data)

    def url_query(self, model: type[M]) -> M:
        """The URL's query as a model (filters and the cursor of a list); a refusal is a 400 page."""
        values = query_values(model, self.request.query_arguments)
        return validate(model, {k: v for k, v in values.items() if v != ""}, code="invalid_query")

    def page_url(self, **changes: Any) -> str:
        """This page's URL with some query parameters changed (None drops one): for filters and 下一页."""
        args = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        for key, value in changes.items():
            if value is None:
                args.pop(key, None)
            else:
                args[key] = str(value)
        return self.request.path + ("?" + urlencode(args) if args else "")

    # --- rendering ----------------------------------------------------------------------------

    def nav(self) -> list[tuple[str, str]]:
        """The areas the caller's roles may see."""
        actor = self.current_actor
        return [(label, url) for label, url, action in NAV if actor is not None and policy.allowed(actor, action)]

    def current_nav(self) -> str | None:
        """The nav entry of this page: the one whose path begins this page's, else the one of its folder."""
        path = self.request.path
        urls = [url for _, url in self.nav()]
        starts = [u for u in urls if path == u.split("?")[0] or (u != HOME_URL and path.startswith(u.split("?")[0]))]
        if starts:
            return max(starts, key=lambda u: len(u.split("?")[0]))
        folder = [u for u in urls if u != HOME_URL and path.startswith(u.split("?")[0].rsplit("/", 1)[0] + "/")]
        return folder[0] if folder else None

    def may(self, action: str) -> bool:
        """Whether the caller's roles allow ``action`` (to show a link or a form; the route checks again)."""
        return self.current_actor is not None and policy.allowed(self.current_actor, action)

    def get_template_namespace(self) -> dict[str, Any]:
        """The helpers every console template has: yuan, local, masked, the person, the nav, may."""
        namespace = super().get_template_namespace()
        namespace.update(yuan=yuan, local=local, masked=masked, staff=self.staff, nav=self.nav(), may=self.may,
                         roles=policy.ROLES, request_id=self.request_id, form={}, errors={}, refusal=None,
                         crumbs=[], page_url=self.page_url, current_nav=self.current_nav())
        return namespace

    def page(self, template: str, title: str, *, crumbs: Iterable[tuple[str, str | None]] = (),
             status: int = 200, **values: Any) -> None:
        """Render ``server/templates/console/<template>`` in the layout: its title, breadcrumb and values."""
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.render(f"console/{template}", title=title, crumbs=list(crumbs), **values)

    def ask_once(self, question: str, yes: str, *, back: str) -> None:
        """A destructive action asks once: this page repeats the form's fields with ``confirmed=1`` (console.js
        asks in a dialog instead and sends ``confirmed=1`` itself, so this page is the no-script way)."""
        hidden = [(name, value.decode("utf-8", "replace")) for name, values in self.request.body_arguments.items()
                  if name not in ("_xsrf", "confirmed") for value in values]
        self.page("confirm.html", "请确认", crumbs=[("请确认", None)], question=question, yes=yes, back=back,
                  hidden=hidden, action=self.request.path)

    def refused(self, exc: AppError) -> Refusal:
        """The refusal of ``exc`` for a form shown again (401 and 403 XSRF go the usual way)."""
        if isinstance(exc, Unauthorized):
            raise exc
        return Refusal.of(exc)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """401: to the login page; any other refusal: a page in Chinese with the layout."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        status, body = self.error_payload(exc, status_code)
        if status == 401:
            self.clear()
            self.to_login()
            return
        self.clear_header("Content-Disposition")
        titles = {403: "没有权限", 404: "找不到页面", 409: "操作冲突", 429: "操作过于频繁"}
        try:
            self.page("error.html", titles.get(status, "出错了" if status >= 500 else "请求有误"), status=status,
                      message=body["message"], code=body["code"])
        except Exception:  # noqa: BLE001 - the error page itself failed: answer plain text, never a traceback
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"{body['message']}（请求编号 {self.request_id}）")

    async def actor(self) -> Actor:
        """The signed-in member of staff."""
        return await super().actor()
