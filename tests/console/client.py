"""A browser-like HTTP client for the console: keeps cookies, follows no redirect by itself, posts forms with
the page's XSRF token, and checks every page's common parts (CSP, one <h1>, lang, the title's suffix)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urljoin

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from server.console import CONSOLE_CSP

TITLE_SUFFIX = " - 职工互助服务管理台"


@dataclass
class Page:
    status: int
    headers: Any
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    @property
    def title(self) -> str:
        found = re.search(r"<title>(.*?)</title>", self.text, re.S)
        return unescape(found.group(1)) if found else ""

    @property
    def h1(self) -> list[str]:
        return [unescape(re.sub(r"<[^>]+>", "", h)).strip() for h in re.findall(r"<h1[^>]*>(.*?)</h1>", self.text, re.S)]

    def has(self, *fragments: str) -> bool:
        plain = unescape(self.text)
        return all(f in plain for f in fragments)

    def field_error(self, name: str) -> str | None:
        found = re.search(rf'<p class="field-error" id="{re.escape(name)}-error">(.*?)</p>', self.text, re.S)
        return unescape(found.group(1)).strip() if found else None

    def links(self) -> list[str]:
        return [unescape(h) for h in re.findall(r'<a [^>]*href="([^"]+)"', self.text)]


class ConsoleClient:
    """One browser: its cookie jar, and the XSRF token of the last page it read."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client = AsyncHTTPClient()
        self.cookies: dict[str, str] = {}

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _keep(self, headers: Any) -> None:
        for raw in headers.get_list("Set-Cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["expires"] and "1970" in morsel["expires"] or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    @property
    def xsrf(self) -> str:
        return self.cookies.get("_xsrf", "")

    async def request(self, method: str, path: str, *, body: bytes | None = None,
                      headers: dict[str, str] | None = None, check: bool = True) -> Page:
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = self._cookie_header()
        req = HTTPRequest(urljoin(self.base_url, path), method=method, headers=hdrs, body=body,
                          follow_redirects=False, request_timeout=30)
        raw = await self.client.fetch(req, raise_error=False)
        self._keep(raw.headers)
        page = Page(raw.code, raw.headers, raw.body or b"", path)
        if check and raw.body and raw.headers.get("Content-Type", "").startswith("text/html"):
            check_page(page)
        return page

    async def get(self, path: str, **kw: Any) -> Page:
        return await self.request("GET", path, **kw)

    async def follow(self, page: Page, hops: int = 5) -> Page:
        while page.status in (301, 302, 303) and hops:
            page = await self.get(page.location or "/")
            hops -= 1
        return page

    async def post(self, path: str, fields: dict[str, Any] | list[tuple[str, str]] | None = None, *,
                   xsrf: bool = True, **kw: Any) -> Page:
        if not self.xsrf:
            await self.get("/console/login", check=False)  # any page hands out the XSRF cookie
        items = list(fields.items()) if isinstance(fields, dict) else list(fields or [])
        if xsrf:
            items.append(("_xsrf", self.xsrf))
        body = urlencode(items).encode("utf-8")
        return await self.request("POST", path, body=body,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"}, **kw)

    async def login(self, username: str, password: str, next_path: str | None = None) -> Page:
        await self.get("/console/login")
        fields = {"username": username, "password": password}
        if next_path:
            fields["next"] = next_path
        return await self.post("/console/login", fields)


def check_page(page: Page) -> None:
    """What every console page has: the CSP, lang, one <h1>, the title's suffix, a main landmark, no inline script."""
    assert page.headers.get("Content-Security-Policy") == CONSOLE_CSP, page.url
    assert '<html lang="zh-CN">' in page.text
    assert page.title.endswith(TITLE_SUFFIX), page.title
    assert len(page.h1) == 1, (page.url, page.h1)
    assert '<main id="main"' in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", page.text), "inline script"
    assert " style=" not in page.text and "<style" not in page.text, "inline style"
