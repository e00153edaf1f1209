"""What the staff web console needs from the app: signed cookies, XSRF protection, templates, static files.

A request is *cookie-authenticated* when it carries the console's session cookie; such a
request must also carry the XSRF token (Tornado's ``_xsrf`` field or ``X-XSRFToken``
header, matching the ``_xsrf`` cookie). The bearer-token API sends no cookie a browser
would attach by itself, so it cannot be forged cross-site and needs no XSRF token.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import tornado.web
from tornado.httputil import HTTPServerRequest

from server.config import Config
from server.crypto import Keyring

#: The signed cookie that carries a console login: the bearer token and the time of the last page.
SESSION_COOKIE = "unionaid_console"
#: The console pages' policy: everything from this origin only, no inline script or style, no framing by others.
CONSOLE_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
               "frame-ancestors 'none'; form-action 'self'")
#: A proof shown inside the console's own page (an <iframe> of a PDF): framed by this origin only.
INLINE_FILE_CSP = "default-src 'none'; frame-ancestors 'self'"
TEMPLATE_PATH = Path(__file__).parent / "templates"
STATIC_PATH = Path(__file__).parent / "static"
STATIC_URL_PREFIX = "/console/static/"


def session_value(token: str, last_activity: float) -> str:
    """What the (signed) session cookie holds: the token and the last activity, whole seconds since the epoch."""
    return f"{token}:{int(last_activity)}"


def parse_session(value: bytes | str | None) -> tuple[str, int] | None:
    """The token and the last activity a verified session cookie holds, or None when it holds no such pair."""
    if value is None:
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    token, sep, stamp = text.rpartition(":")
    if not sep or not token or not stamp.isascii() or not stamp.isdigit() or len(token) > 256:
        return None
    return token, int(stamp)


def cookie_authenticated(request: HTTPServerRequest) -> bool:
    """Whether the request carries the console's session cookie (and so needs the XSRF token)."""
    return SESSION_COOKIE in request.cookies


class StaticFiles(tornado.web.StaticFileHandler):
    """The console's and public pages' stylesheets, with the same security headers as every other answer."""

    def set_default_headers(self) -> None:
        """No sniffing, no framing, no referrer, same-origin only; no Server header."""
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cross-Origin-Resource-Policy", "same-origin")
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        self.clear_header("Server")


def app_settings(config: Config, keyring: Keyring) -> dict[str, Any]:
    """The Tornado settings for cookie-authenticated pages."""
    return {
        "cookie_secret": keyring.cookie_secret,
        "xsrf_cookies": True,
        "xsrf_cookie_kwargs": {"httponly": False, "samesite": "Strict", "secure": config.behind_https},
        "template_path": str(TEMPLATE_PATH),
        "static_path": str(STATIC_PATH),
        "static_url_prefix": STATIC_URL_PREFIX,
        "static_handler_class": StaticFiles,
    }
