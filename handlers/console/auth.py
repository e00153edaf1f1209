"""Signing in and out of the console, and changing one's own password (forced for an account an admin made).

The login is the API's (``identity.staff_login``: the same lock-out and the same refusals); only the
token travels in the signed session cookie instead of a JSON answer.
"""
from __future__ import annotations

from typing import Annotated, Any

from handlers.console.base import (
    HOME_URL,
    LOGIN_NOTICES,
    LOGIN_URL,
    PASSWORD_URL,
    ConsoleHandler,
    Refusal,
    safe_next,
)
from handlers.staff_auth import StaffLogin
from models.core.errors import AppError, Invalid
from models.core.policy import PUBLIC, Access
from models.core.typed import Body, text
from models.identity import password_policy
from models.identity import staff_accounts as staff
from models.identity import usecases as identity


class LoginPage(ConsoleHandler):
    """The login form; a good username and password start a session and go where the person was going."""

    access = {"get": PUBLIC, "post": PUBLIC}
    before_password_change = True

    def _bearer(self) -> str | None:
        """The login page ignores any session it is sent (a new login replaces it)."""
        return None

    def get(self) -> None:
        """Show the form, with why the person is here again (idle, logged out, ...)."""
        notice = LOGIN_NOTICES.get(self.get_query_argument("why", "") or "")
        self.page("login.html", "登录", form={"next": safe_next(self.get_query_argument("next", None))},
                  notice=notice)

    async def post(self) -> None:
        """Check the login exactly as the API does; on success set the session and go on."""
        values = self.form_values()
        target = safe_next(values.get("next"))
        try:
            body = self.form_model(StaffLogin, values)
            done = await identity.staff_login(self.engine, body.username, body.password, self.request.remote_ip,
                                              hasher=self.settings["passwords"],
                                              token_ttl=self.config.console_session_ttl)
        except AppError as exc:
            for name, value in exc.headers.items():
                self.set_header(name, value)
            refusal = Refusal.of(exc)  # a refused login is shown on the login page itself, 401 included
            self.page("login.html", "登录", status=exc.status, notice=None, refusal=refusal,
                      form={"username": values.get("username", ""), "next": target}, errors=refusal.fields)
            return
        self.start_session(done.token.token)
        self.redirect(PASSWORD_URL if done.staff.must_change_password else target)


class LogoutHandler(ConsoleHandler):
    """End the session: its token revoked, its cookie dropped."""

    access = {"post": Access("session.logout")}
    before_password_change = True

    async def post(self) -> None:
        """Revoke and go to the login page."""
        await self.revoke_session()
        self.redirect(LOGIN_URL + "?why=logout")


class NewPassword(Body):
    """The current password, the new one and the new one again."""

    current: Annotated[str, text(password_policy.MAX_LENGTH, min_len=1)]
    new: Annotated[str, text(password_policy.MAX_LENGTH, min_len=1)]
    confirm: Annotated[str, text(password_policy.MAX_LENGTH, min_len=1)]


class PasswordPage(ConsoleHandler):
    """Change one's own password; an account an admin made sees only this page until it has."""

    access = {"get": Access("staff.password"), "post": Access("staff.password")}
    before_password_change = True

    def _show(self, **values: Any) -> None:
        forced = bool(self.staff and self.staff.must_change_password)
        self.page("password.html", "修改密码", crumbs=[("修改密码", None)], forced=forced,
                  min_length=password_policy.MIN_LENGTH, **values)

    def get(self) -> None:
        """The form."""
        self._show()

    async def post(self) -> None:
        """Change it (the API's password rules) and go on to the day's work."""
        actor = await self.actor()
        try:
            body = self.form_model(NewPassword)
            if body.new != body.confirm:
                raise Invalid("password_mismatch", "两次输入的新密码不一致",
                              details=[{"field": "confirm", "reason": "两次输入的新密码不一致"}])
            async with self.writing() as conn:
                await staff.change_password(conn, actor, current=body.current, new=body.new,
                                            hasher=self.settings["passwords"], keep_token=self._token)
        except AppError as exc:
            refusal = self.refused(exc)
            self._show(status=refusal.status, refusal=refusal, errors=refusal.fields)
            return
        self.redirect(HOME_URL + "?done=password")


routes = [
    (LOGIN_URL, LoginPage),
    (r"/console/logout", LogoutHandler),
    (PASSWORD_URL, PasswordPage),
]
