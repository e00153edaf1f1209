"""Logging in with the keyboard alone, in Chromium; the login page and the home page pass axe-core."""
from __future__ import annotations

import pytest

from tests.console.browser import checked, chromium, tab  # noqa: F401 - fixtures
from tests.console.scene import PASSWORD, make_scene, relief_scene

pytestmark = pytest.mark.browser


async def test_login_by_keyboard_alone_then_todays_work(tab, engine, running):
    scene = await make_scene(engine)
    await relief_scene(running, engine, scene)
    await tab.goto("/console/relief/queue")
    assert tab.url.endswith("/console/login?next=%2Fconsole%2Frelief%2Fqueue")
    assert await tab.title() == "登录 - 职工互助服务管理台"
    await checked(tab, "01-login")

    # the cursor waits in the username; Tab goes to the password, Enter sends the form
    assert await tab.evaluate("document.activeElement.id") == "username"
    await tab.keyboard.type("station1")
    await tab.keyboard.press("Tab")
    await tab.keyboard.type("wrong-password-1")
    await tab.keyboard.press("Enter")
    await tab.wait_for_load_state()
    assert "用户名或密码错误" in await tab.locator("[role=alert]").inner_text()
    assert await tab.input_value("#username") == "station1"
    await checked(tab, "02-login-refused")

    await tab.focus("#password")
    await tab.keyboard.type(PASSWORD)
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**/console/relief/queue")
    assert await tab.locator("h1").inner_text() == "救助审核 · 我的环节"

    await tab.goto("/console/")
    assert await tab.locator("h1").inner_text() == "今日工作"
    assert "station1的名字" in await tab.locator("header").inner_text()
    await checked(tab, "03-home")
    # on a page without a form the first Tab reaches the skip link, which moves to the main content
    await tab.keyboard.press("Tab")
    assert await tab.evaluate("document.activeElement.textContent") == "跳到正文"
    await tab.keyboard.press("Enter")
    assert await tab.evaluate("document.activeElement.id") == "main"

    await tab.get_by_role("button", name="退出登录").focus()
    await tab.keyboard.press("Enter")
    await tab.wait_for_url("**/console/login?why=logout")
    assert "已退出登录" in await tab.locator("[role=status]").inner_text()
