"""The mini-program and the server agree on its pages: every page the service links to (notices,
invite codes) is a page of the mini-program, so a tap on a WeChat notice never lands nowhere."""
from __future__ import annotations

import json
from pathlib import Path

from server.wechat_sandbox_state import RELEASED_PAGES

ROOT = Path(__file__).resolve().parents[2] / "miniprogram"


def test_every_page_the_service_links_to_is_a_page_of_the_mini_program() -> None:
    project = json.loads((ROOT / "project.config.json").read_text(encoding="utf-8"))
    app = json.loads((ROOT / project["miniprogramRoot"] / "app.json").read_text(encoding="utf-8"))
    assert RELEASED_PAGES <= set(app["pages"]), sorted(RELEASED_PAGES - set(app["pages"]))
