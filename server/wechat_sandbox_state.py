"""What the WeChat sandbox remembers, and WeChat's rules for tokens, users and grants.

The sandbox's HTTP face is ``server/wechat_sandbox.py``; this holds its state: access tokens
(stable and ``cgi-bin/token`` ones, their expiry and replacement), the users who logged in and
when, their one-time grants per template, the templates and released pages it knows, what was
sent, and the faults queued for tests. Its clock is monotonic, and :meth:`SandboxState.advance`
moves it on, so tests let hours pass without waiting.
"""
from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from server.wechat_templates import DEFAULT_TEMPLATES, keyword_type

DEFAULT_APPID = "wx_sandbox_appid"
DEFAULT_SECRET = "sandbox-secret"

ENDPOINTS = (
    "token",
    "stable_token",
    "jscode2session",
    "getuserphonenumber",
    "subscribe_send",
    "msg_sec_check",
    "getwxacodeunlimit",
)

#: Every page the service links to (notices, mini-program codes), released in the sandbox's mini-program.
RELEASED_PAGES = frozenset({
    "pages/index/index",
    "pages/card/index",
    "pages/redemptions/index",
    "pages/notices/index",
    "pages/merchant/bind",
    "pages/relief/index",
    "pages/relief/detail",
})

FORCE_REFRESH_DAILY = 20
FORCE_REFRESH_GAP = 30.0
STABLE_RENEW_WINDOW = 300.0

_PHONE = re.compile(r"^1[3-9]\d{9}$")


@dataclass
class Fault:
    """One queued misbehaviour of an endpoint, applied to its next ``times`` calls."""

    endpoint: str
    errcode: int | None = None
    times: int = 1
    garbage: bool = False
    delay: float = 0.0
    http_status: int | None = None


@dataclass
class IssuedToken:
    """An access token the sandbox handed out: its kind, expiry and when it was replaced (sandbox clock)."""

    kind: str  # "stable" (cgi-bin/stable_token) or "basic" (cgi-bin/token)
    expires_at: float
    replaced_at: float | None = None


def template_keywords(fields: str) -> dict[str, str]:
    """``"thing1=title,time2=at"`` (or ``"thing1,time2"``) as {keyword: type}."""
    keywords = [part.partition("=")[0].strip() for part in fields.split(",") if part.strip()]
    return {keyword: keyword_type(keyword) for keyword in keywords}


class SandboxState:
    """Everything the sandbox remembers: credentials, codes, tokens, users, grants, counters, messages, faults.

    ``sent_messages`` and ``made_codes`` keep what was sent and which mini-program codes were made
    (their scene, page, env_version, check_path, width), for tests to read.
    """

    def __init__(
        self,
        appid: str = DEFAULT_APPID,
        secret: str = DEFAULT_SECRET,
        *,
        banned_words: set[str] | None = None,
        review_words: set[str] | None = None,
        slow_seconds: float = 10.0,
        token_ttl: int = 7200,
        basic_grace: float = 300.0,
        login_window: float = 7200.0,
        released_pages: set[str] | None = None,
        country_code: int | str = 86,
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.banned_words: set[str] = set(banned_words) if banned_words is not None else {"赌博", "代开发票"}
        self.review_words: set[str] = set(review_words) if review_words is not None else {"维权上访"}
        self.slow_seconds = slow_seconds
        self.token_ttl = token_ttl
        self.basic_grace = basic_grace
        self.login_window = login_window
        self.released_pages: set[str] = set(released_pages if released_pages is not None else RELEASED_PAGES)
        self.country_code = country_code
        self.templates: dict[str, dict[str, str]] = {
            template_id: template_keywords(fields) for template_id, fields in DEFAULT_TEMPLATES.values()
        }
        self.used_codes: set[str] = set()
        self.tokens: dict[str, IssuedToken] = {}
        self.stable: str | None = None
        self.token_fetches = 0  # tokens handed out over HTTP, by either endpoint
        self.force_refreshes = 0  # forced stable-token refreshes that replaced the token
        self.calls: Counter[str] = Counter()
        self.uris: list[str] = []
        self.logins: dict[str, float] = {}  # openid -> last login (sandbox clock)
        self.grants: Counter[tuple[str, str]] = Counter()
        self.sent_messages: list[dict[str, Any]] = []
        self.made_codes: list[dict[str, Any]] = []
        self.faults: dict[str, deque[Fault]] = {}
        self._skew = 0.0
        self._last_force: float | None = None
        self._wake: asyncio.Event | None = None

    # -- time ---------------------------------------------------------------
    def now(self) -> float:
        """The sandbox's clock (monotonic, moved on by :meth:`advance`)."""
        return time.monotonic() + self._skew

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the sandbox: tokens age, logins grow old."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        self._skew += seconds

    # -- faults -------------------------------------------------------------
    def inject(
        self,
        endpoint: str,
        errcode: int | None = None,
        *,
        times: int = 1,
        garbage: bool = False,
        delay: float = 0.0,
        http_status: int | None = None,
    ) -> Fault:
        """Queue a fault for the next ``times`` calls of ``endpoint`` (one of ENDPOINTS)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if delay < 0:
            raise ValueError("delay must not be negative")
        if http_status is not None and not 100 <= http_status <= 599:
            raise ValueError("http_status must be an HTTP status code")
        if errcode is None and not garbage and not delay and http_status is None:
            raise ValueError("a fault needs errcode, garbage, delay or http_status")
        fault = Fault(endpoint, errcode, times, garbage, float(delay), http_status)
        self.faults.setdefault(endpoint, deque()).append(fault)
        return fault

    def take_fault(self, endpoint: str) -> Fault | None:
        """The fault to apply to this call of ``endpoint``, if any (uses one of its times)."""
        queue = self.faults.get(endpoint)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    # -- tokens -------------------------------------------------------------
    def _new_token(self, kind: str) -> str:
        token = f"sandbox-{kind}-" + secrets.token_hex(24)
        self.tokens[token] = IssuedToken(kind, self.now() + self.token_ttl)
        return token

    def issue_token(self) -> str:
        """A new ``cgi-bin/token`` token; the earlier ones stop working ``basic_grace`` seconds from now."""
        now = self.now()
        for issued in self.tokens.values():
            if issued.kind == "basic" and issued.replaced_at is None:
                issued.replaced_at = min(issued.expires_at, now + self.basic_grace)
        return self._new_token("basic")

    def stable_token(self, force: bool = False) -> tuple[str, int] | None:
        """The live stable token and its remaining seconds, as ``cgi-bin/stable_token`` answers; None: 45009.

        Normal mode renews only in the token's last 300 s (the old one lives on to its own expiry);
        a forced refresh replaces it at once, at most 20 times a day and not twice within 30 s.
        """
        now = self.now()
        current = self.tokens.get(self.stable) if self.stable else None
        live = current is not None and self.check_token(self.stable or "") == 0
        if force and not (live and self._last_force is not None and now - self._last_force < FORCE_REFRESH_GAP):
            if self.force_refreshes >= FORCE_REFRESH_DAILY:
                return None
            self.force_refreshes += 1
            self._last_force = now
            if current is not None:
                current.replaced_at = now
            self.stable = self._new_token("stable")
        elif not live or current is None or current.expires_at - now <= STABLE_RENEW_WINDOW:
            self.stable = self._new_token("stable")
        assert self.stable is not None
        return self.stable, max(1, round(self.tokens[self.stable].expires_at - now))

    def check_token(self, token: str) -> int:
        """0 for a live token, else WeChat's errcode: 41001 missing, 40001 unknown or replaced, 42001 expired."""
        if not token:
            return 41001
        issued = self.tokens.get(token)
        now = self.now()
        if issued is None or (issued.replaced_at is not None and issued.replaced_at <= now):
            return 40001
        if issued.expires_at <= now:
            return 42001
        return 0

    def token_valid(self, token: str) -> bool:
        """Whether ``token`` was issued here and still works."""
        return self.check_token(token) == 0

    def expire_tokens(self) -> None:
        """Let every access token issued so far expire now (the next call with one answers 42001)."""
        now = self.now()
        for issued in self.tokens.values():
            issued.expires_at = min(issued.expires_at, now)

    # -- identities ---------------------------------------------------------
    def openid_for(self, user: str) -> str:
        """The stable openid of the person ``user`` for this appid."""
        return "o" + hashlib.sha256((self.appid + user).encode()).hexdigest()[:27]

    @staticmethod
    def unionid_for(user: str) -> str:
        """The stable unionid of ``user`` (the same across appids)."""
        return "oU" + hashlib.sha256(("unionid:" + user).encode()).hexdigest()[:26]

    def phone_for(self, code: str) -> str:
        """The phone number a phone code stands for."""
        base = code.split(".", 1)[0]
        if _PHONE.match(base):
            return base
        digest = int(hashlib.sha256(("phone:" + base).encode()).hexdigest(), 16)
        return "13" + f"{digest % 10**9:09d}"

    def login(self, user: str) -> str:
        """Record that ``user`` opened the mini-program now (what a ``jscode2session`` does); their openid."""
        openid = self.openid_for(user)
        self.logins[openid] = self.now()
        return openid

    def known(self, openid: object) -> bool:
        """Whether the sandbox issued ``openid`` (the user logged in, or accepted a template)."""
        return isinstance(openid, str) and openid in self.logins

    def recently_seen(self, openid: str) -> bool:
        """Whether ``openid`` logged in within ``login_window`` seconds (msg_sec_check wants it)."""
        seen = self.logins.get(openid)
        return seen is not None and self.now() - seen <= self.login_window

    # -- subscriptions ------------------------------------------------------
    def add_template(self, template_id: str, keywords: Mapping[str, str] | str) -> None:
        """Let the sandbox know a template: ``{"thing1": "thing"}`` or ``"thing1,time2"``."""
        self.templates[template_id] = (template_keywords(keywords) if isinstance(keywords, str)
                                       else {k: keyword_type(k) for k in keywords})

    def accept(self, openid: str, template_id: str, times: int = 1) -> int:
        """The user tapped "accept" for a template ``times`` times; their grants for it now."""
        if template_id not in self.templates:
            raise ValueError(f"unknown template {template_id!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        self.logins.setdefault(openid, float("-inf"))  # a user of the mini-program, not seen lately
        self.grants[(openid, template_id)] += times
        return self.grants[(openid, template_id)]

    def spend_grant(self, openid: str, template_id: str) -> bool:
        """Use one grant of the user for the template; False when there is none."""
        if self.grants[(openid, template_id)] <= 0:
            return False
        self.grants[(openid, template_id)] -= 1
        return True

    # -- bookkeeping --------------------------------------------------------
    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the sandbox stops meanwhile."""
        if self._wake is None:
            self._wake = asyncio.Event()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def wake_sleepers(self) -> None:
        """Wake every pending ``sleep`` at once (the sandbox is stopping)."""
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    def reset(self) -> None:
        """Forget codes, tokens, users, grants, counters, messages and faults (credentials and settings stay)."""
        self.used_codes.clear()
        self.tokens.clear()
        self.stable = None
        self.token_fetches = 0
        self.force_refreshes = 0
        self._last_force = None
        self.calls.clear()
        self.uris.clear()
        self.logins.clear()
        self.grants.clear()
        self.sent_messages.clear()
        self.made_codes.clear()
        self.faults.clear()

    def snapshot(self) -> dict[str, Any]:
        """Counters, sent messages, grants and pending faults, as JSON-ready data (no secrets)."""
        return {
            "appid": self.appid,
            "token_fetches": self.token_fetches,
            "force_refreshes": self.force_refreshes,
            "active_tokens": sum(1 for t in self.tokens if self.token_valid(t)),
            "calls": dict(self.calls),
            "used_codes": len(self.used_codes),
            "grants": [{"openid": o, "template_id": t, "times": n} for (o, t), n in self.grants.items() if n],
            "sent_messages": list(self.sent_messages),
            "made_codes": list(self.made_codes),
            "faults": {name: [asdict(f) for f in queue] for name, queue in self.faults.items() if queue},
            "slow_seconds": self.slow_seconds,
            "banned_words": sorted(self.banned_words),
            "review_words": sorted(self.review_words),
            "released_pages": sorted(self.released_pages),
        }
