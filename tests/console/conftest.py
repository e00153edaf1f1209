"""Console fixtures: the running app (both databases) and cookie-keeping clients, one per browser."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from tests.console.client import ConsoleClient


@pytest.fixture
def browser(running: Any, engine: Any, wechat: Any) -> Callable[[], ConsoleClient]:
    """A new browser (its own cookie jar) on the running app, each time it is called."""
    return lambda: ConsoleClient(running.url)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Browser walks run once, on SQLite: the database under the pages is the HTTP tests' concern (they run on
    both). Their MySQL variants are deselected here, not skipped, so that a skip in CI always means trouble."""
    dropped = [i for i in items if i.get_closest_marker("browser") and "[mysql" in i.nodeid]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in dropped]
