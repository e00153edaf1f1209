"""Signing in and out of the console: the API's lock-out, the cookie, next, idle timeout, forced password change."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
import tornado.web

from models.identity.tables import auth_tokens
from models.identity.tables import staff as staff_table
from server import console
from tests.client import ApiClient
from tests.console.client import ConsoleClient
from tests.console.scene import PASSWORD, make_scene


async def test_an_anonymous_visitor_is_sent_to_the_login_page_keeping_where_they_were_going(browser, engine):
    await make_scene(engine)
    b = browser()
    page = await b.get("/console/relief/queue?step=verification")
    assert page.status == 302
    target = urlsplit(page.location)
    assert target.path == "/console/login"
    assert parse_qs(target.query)["next"] == ["/console/relief/queue?step=verification"]
    login = await b.get(page.location)
    assert login.status == 200 and login.title == "登录 - 职工互助服务管理台"
    assert 'value="/console/relief/queue?step=verification"' in login.text
    done = await b.post("/console/login", {"username": "station1", "password": PASSWORD,
                                           "next": "/console/relief/queue?step=verification"})
    assert done.status == 302 and done.location == "/console/relief/queue?step=verification"
    assert (await b.get(done.location)).status == 200


async def test_the_session_cookie_is_signed_httponly_strict_and_for_the_console_only(browser, engine):
    await make_scene(engine)
    b = browser()
    page = await b.login("station1", PASSWORD)
    assert page.status == 302 and page.location == "/console/"
    cookie = next(c for c in page.headers.get_list("Set-Cookie") if c.startswith(console.SESSION_COOKIE + "="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console/"} <= flags
    assert "expires" not in cookie.lower()  # a session cookie: gone with the browser
    home = await b.get("/console/")
    assert home.status == 200 and home.has("station1的名字", "东湖街道服务站", "基层经办")


async def test_next_never_leaves_the_console(browser, engine):
    await make_scene(engine)
    for evil in ("https://evil.example/", "//evil.example/console/", "/api/v1/staff/orgs", "/console/login",
                 "/console/\\\\evil", ""):
        b = browser()
        page = await b.login("station1", PASSWORD, next_path=evil)
        assert page.status == 302 and page.location == "/console/", evil


async def test_wrong_passwords_are_refused_in_chinese_then_the_account_locks_as_in_the_api(browser, engine):
    await make_scene(engine)
    b = browser()
    for _ in range(4):
        page = await b.login("station1", "wrong-password-1")
        assert page.status == 401 and page.has("用户名或密码错误")
        assert 'value="station1"' in page.text  # what was typed is kept (the password is not)
    locked = await b.login("station1", "wrong-password-1")
    assert locked.status == 429 and locked.has("账号已临时锁定") and int(locked.headers["Retry-After"]) > 0
    still = await b.login("station1", PASSWORD)
    assert still.status == 429  # the right password does not open a locked account
    unknown = await browser().login("nobody", "whatever-123")
    assert unknown.status == 401 and unknown.has("用户名或密码错误")


async def test_a_login_without_the_xsrf_token_is_refused(browser, engine):
    await make_scene(engine)
    b = browser()
    await b.get("/console/login")
    page = await b.post("/console/login", {"username": "station1", "password": PASSWORD}, xsrf=False)
    assert page.status == 403 and page.has("页面已过期或来源不明")
    assert console.SESSION_COOKIE not in b.cookies


async def test_logout_revokes_the_token(browser, engine):
    await make_scene(engine)
    b = browser()
    await b.login("station1", PASSWORD)
    kept = dict(b.cookies)
    out = await b.post("/console/logout", {})
    assert out.status == 302 and out.location == "/console/login?why=logout"
    assert console.SESSION_COOKIE not in b.cookies
    shown = await b.get(out.location)
    assert shown.has("已退出登录")
    replay = ConsoleClient(b.base_url)
    replay.cookies = kept  # the old cookie, sent again: its token is revoked
    page = await replay.get("/console/")
    assert page.status == 302 and page.location.startswith("/console/login")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(auth_tokens)
                                   .where(auth_tokens.c.revoked_at.is_(None)))).scalar_one() == 0


async def test_an_idle_session_ends_and_its_token_is_revoked(browser, engine, running):
    await make_scene(engine)
    b = browser()
    await b.login("station1", PASSWORD)
    token, _ = console.parse_session(tornado.web.decode_signed_value(
        running.settings["cookie_secret"], console.SESSION_COOKIE, b.cookies[console.SESSION_COOKIE]))
    idle = running.settings["config"].console_idle_timeout
    b.cookies[console.SESSION_COOKIE] = tornado.web.create_signed_value(
        running.settings["cookie_secret"], console.SESSION_COOKIE,
        console.session_value(token, time.time() - idle - 5)).decode()
    page = await b.get("/console/relief/queue")
    assert page.status == 302
    assert parse_qs(urlsplit(page.location).query)["why"] == ["idle"]
    assert (await b.get(page.location)).has("长时间未操作，已自动退出")
    # the same token with a fresh time no longer opens anything: it was revoked
    b.cookies[console.SESSION_COOKIE] = tornado.web.create_signed_value(
        running.settings["cookie_secret"], console.SESSION_COOKIE, console.session_value(token, time.time())).decode()
    assert (await b.get("/console/")).status == 302


async def test_a_page_re_signs_the_cookie_with_its_time(browser, engine, running):
    await make_scene(engine)
    b = browser()
    await b.login("station1", PASSWORD)
    before = b.cookies[console.SESSION_COOKIE]
    time.sleep(1.1)
    await b.get("/console/")
    after = console.parse_session(tornado.web.decode_signed_value(
        running.settings["cookie_secret"], console.SESSION_COOKIE, b.cookies[console.SESSION_COOKIE]))
    assert b.cookies[console.SESSION_COOKIE] != before and after is not None and time.time() - after[1] < 5


async def test_a_forged_or_foreign_cookie_opens_nothing(browser, engine, api: ApiClient):
    await make_scene(engine)
    b = browser()
    b.cookies[console.SESSION_COOKIE] = "forged-token:9999999999"
    assert (await b.get("/console/")).status == 302
    worker = await api.login("wally.1")  # a worker's bearer token in a cookie signed by someone else
    b.cookies[console.SESSION_COOKIE] = f"{worker}:{int(time.time())}"
    assert (await b.get("/console/")).status == 302
    page = await b.get("/console/", headers={"Authorization": f"Bearer {worker}"})
    assert page.status == 302  # the console reads no bearer token


async def test_an_account_an_admin_created_must_change_its_password_first(browser, engine, api: ApiClient):
    await make_scene(engine)
    admin = (await api.post("/api/v1/auth/staff", {"username": "admin1", "password": PASSWORD})).data["token"]
    made = await api.post("/api/v1/staff/accounts", {"username": "newbie", "password": "Given-By-Admin-1",
                                                     "roles": ["station"], "org_code": "S01"}, token=admin)
    assert made.status == 201
    async with engine.connect() as conn:
        flags = dict((await conn.execute(sa.select(staff_table.c.username, staff_table.c.must_change_password)))
                     .all())
    assert flags["newbie"] is True and flags["admin1"] is False  # made without the API: chose their own

    b = browser()
    page = await b.login("newbie", "Given-By-Admin-1", next_path="/console/relief/queue")
    assert page.status == 302 and page.location == "/console/password"
    for path in ("/console/", "/console/relief/queue", "/console/relief/applications/1"):
        page = await b.get(path)
        assert page.status == 302 and page.location == "/console/password", path
    form = await b.get("/console/password")
    assert form.status == 200 and form.has("请先设置您自己的密码")

    wrong = await b.post("/console/password", {"current": "not-it-at-all", "new": "Mine-Own-2026!",
                                               "confirm": "Mine-Own-2026!"})
    assert wrong.status == 400 and wrong.field_error("current") == "当前密码不正确"
    mismatch = await b.post("/console/password", {"current": "Given-By-Admin-1", "new": "Mine-Own-2026!",
                                                  "confirm": "Mine-Own-2027!"})
    assert mismatch.status == 400 and mismatch.field_error("confirm") == "两次输入的新密码不一致"
    short = await b.post("/console/password", {"current": "Given-By-Admin-1", "new": "short1",
                                               "confirm": "short1"})
    assert short.status == 400 and "至少 10 位" in (short.field_error("new") or "")
    done = await b.post("/console/password", {"current": "Given-By-Admin-1", "new": "Mine-Own-2026!",
                                              "confirm": "Mine-Own-2026!"})
    assert done.status == 302 and done.location == "/console/?done=password"
    home = await b.get(done.location)
    assert home.status == 200 and home.has("密码已修改")
    assert (await browser().login("newbie", "Given-By-Admin-1")).status == 401
    assert (await browser().login("newbie", "Mine-Own-2026!")).location == "/console/"


async def test_through_the_api_too_an_admins_password_opens_nothing_until_changed(browser, engine, api: ApiClient):
    await make_scene(engine)
    admin = (await api.post("/api/v1/auth/staff", {"username": "admin1", "password": PASSWORD})).data["token"]
    assert (await api.post("/api/v1/staff/accounts", {"username": "newbie", "password": "Given-By-Admin-1",
                                                      "roles": ["station"], "org_code": "S01"}, token=admin)).status == 201
    token = (await api.post("/api/v1/auth/staff", {"username": "newbie", "password": "Given-By-Admin-1"})).data["token"]
    for path in ("/api/v1/staff/relief/applications", "/api/v1/staff/orgs", "/api/v1/staff/members?org=S01"):
        refused = await api.get(path, token=token)
        assert refused.status == 403 and refused.data["error"]["code"] == "password_change_required", path
        assert "修改" in refused.data["error"]["message"]
    assert (await api.get("/api/v1/public/notices")).status == 200  # what anyone may read stays open
    other = (await api.post("/api/v1/auth/staff", {"username": "newbie", "password": "Given-By-Admin-1"})).data["token"]
    assert (await api.post("/api/v1/auth/logout", {}, token=other)).status == 200  # logging out is allowed
    b = browser()
    await b.login("newbie", "Given-By-Admin-1")
    done = await b.post("/console/password", {"current": "Given-By-Admin-1", "new": "Mine-Own-2026!",
                                              "confirm": "Mine-Own-2026!"})
    assert done.status == 302 and (await b.get(done.location)).status == 200  # the console's own session goes on
    # whoever else logged in with the administrator's password is out
    stale = await api.get("/api/v1/staff/relief/applications", token=token)
    assert (stale.status, stale.error_code) == (401, "token_invalid")
    fresh = (await api.post("/api/v1/auth/staff", {"username": "newbie", "password": "Mine-Own-2026!"})).data["token"]
    assert (await api.get("/api/v1/staff/relief/applications", token=fresh)).status == 200


async def test_logout_works_before_the_password_is_changed(browser, engine, api: ApiClient):
    await make_scene(engine)
    admin = (await api.post("/api/v1/auth/staff", {"username": "admin1", "password": PASSWORD})).data["token"]
    await api.post("/api/v1/staff/accounts", {"username": "newbie2", "password": "Given-By-Admin-2",
                                              "roles": ["station"], "org_code": "S01"}, token=admin)
    b = browser()
    await b.login("newbie2", "Given-By-Admin-2")
    out = await b.post("/console/logout", {})
    assert out.status == 302 and out.location == "/console/login?why=logout"
