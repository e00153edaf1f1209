"""Driving the console in headless Chromium (Debian's package, Playwright for Python): the browser, a page per test,
the accessibility check (axe-core) and the layout checks at 1366×768 and at 200 % zoom, and screenshots.

Browser tests run on SQLite only (they are slow) and are marked ``browser``. Without Chromium they skip,
except under CI=true, where a missing Chromium fails them.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("UNIONAID_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 768}
#: 200 % zoom of a 1366×768 screen: the page gets half as many CSS pixels each way.
ZOOMED = {"width": 683, "height": 384}
ROOT = Path(__file__).resolve().parents[2]
#: Where the screenshots of each main page go, for a reviewer to look at (created by the tests).
SCREENSHOTS = Path(os.environ.get("UNIONAID_SCREENSHOT_DIR") or ROOT / "var" / "console-screenshots")


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        why = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI=true and {why}")
        pytest.skip(why)


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    _need_chromium()
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - the test extras install it
        if IN_CI:
            pytest.fail("CI=true and playwright is not installed")
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        await browser.close()


@pytest.fixture
async def tab(chromium: Any, running: Any, backend: str) -> AsyncIterator[Any]:
    """A fresh browser context (its own cookies) at 1366×768, Chinese, Beijing time, on the running app."""
    if backend != "sqlite":
        pytest.skip("browser tests run on SQLite only")
    context = await chromium.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai",
                                         base_url=running.url)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    page.js_errors = errors
    yield page
    await context.close()
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


async def accessible(page: Any) -> None:
    """axe-core on the page as it stands: no serious or critical violation."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{page.url}: {bad}"


async def readable(page: Any) -> None:
    """No horizontal page scroll at 1366×768 nor at 200 % zoom (tables scroll inside their own box)."""
    for size in (VIEWPORT, ZOOMED):
        await page.set_viewport_size(size)
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at {size['width']}×{size['height']}"
    await page.set_viewport_size(VIEWPORT)


async def checked(page: Any, name: str) -> None:
    """A main page: accessible, readable at both sizes, a screenshot saved as ``name``.png."""
    await accessible(page)
    await readable(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
