"""The documentation in the repository stays true: links resolve, and what it lists matches the code."""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import tornado.web

from handlers.base import is_html
from scripts.cli import build_parser
from server.app import ROUTES
from server.config import Config
from server.openapi import openapi_path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
METHODS = ("get", "post", "put", "patch", "delete")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]*)")
# A file of the repository named in code style: `models/policy.py`, `docs/api.md`, `server/jobs.py:start`.
_FILE = re.compile(r"`(\.{0,2}/?[\w.-]+/[\w./-]*\.(?:py|md|toml))(?::[\w.]+)?`")


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.MULTILINE)}


def test_the_docs_exist():
    assert {p.name for p in DOCS} >= {"README.md", "architecture.md", "api.md", "domain.md", "operations.md"}


def test_every_relative_link_points_to_a_file_in_the_repository():
    checked = 0
    for doc in DOCS:
        for target in _LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto
            file_part, _, anchor = target.partition("#")
            path = (doc.parent / file_part).resolve() if file_part else doc
            assert path.is_file(), f"{doc.relative_to(ROOT)}: {target} is not a file in the repository"
            assert ROOT in path.parents, f"{doc.relative_to(ROOT)}: {target} leaves the repository"
            if anchor:
                assert anchor in _anchors(path), f"{doc.relative_to(ROOT)}: {target}: no such heading"
            checked += 1
    assert checked >= 10


def test_every_file_named_in_code_style_exists_in_the_repository():
    for doc in DOCS:
        for name in _FILE.findall(doc.read_text(encoding="utf-8")):
            here, root = (doc.parent / name).resolve(), (ROOT / name).resolve()
            assert any(p.is_file() and ROOT in p.parents for p in (here, root)), \
                f"{doc.relative_to(ROOT)}: `{name}` is not a file in the repository"


def test_readme_opens_with_the_two_commands():
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    assert blocks[:2] == [
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/unionaid serve --demo\n",
        "(cd miniprogram && npm ci --no-audit --no-fund) && .venv/bin/python -m pytest -q\n",
    ]
    # CI runs README's test command as it is written.
    assert blocks[1].strip() in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def _implemented(handler: type) -> set[str]:
    return {m for m in METHODS if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)}


def test_the_api_doc_names_every_route_and_no_other():
    documented = {(m, p) for m, p in _ROUTE.findall((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))}
    served = {(m.upper(), openapi_path(pattern)) for pattern, handler, *_ in ROUTES for m in _implemented(handler)
              if not is_html(handler)}  # the console's pages are described in docs/architecture.md
    assert documented - served == set(), "docs/api.md describes routes that do not exist"
    assert served - documented == set(), "routes missing from docs/api.md"


def test_every_setting_is_documented():
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(Config) if f.name != "extra" and f"UNIONAID_{f.name.upper()}" not in text]
    assert missing == []


def test_every_command_is_in_the_readme():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert [verb for verb in sub.choices if f"`unionaid {verb}" not in text] == []


def test_architecture_names_every_package_of_the_tree_and_every_layer() -> None:
    """ARCHITECTURE.md's tree and layering list every models/ package, so a new domain is written down."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in (ROOT / "models").iterdir() if (p / "__init__.py").exists())
    assert packages, "no packages under models/"
    missing_tree = [name for name in packages if not re.search(rf"^  {name}/ ", text, re.MULTILINE)]
    assert missing_tree == [], f"ARCHITECTURE.md's tree lacks models/{missing_tree}"
    layers = (ROOT / ".importlinter").read_text(encoding="utf-8")
    for name in packages:
        assert f"models.{name}" in layers, f"models/{name} is in no layering contract of .importlinter"
        assert f"`{name}`" in text, f"ARCHITECTURE.md's layering does not place `{name}`"
