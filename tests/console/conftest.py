"""Console fixtures: the running app (both databases) and cookie-keeping clients, one per browser."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from tests.console.client import ConsoleClient


@pytest.fixture
def browser(running: Any, engine: Any, wechat: Any) -> Callable[[], ConsoleClient]:
    """A new browser (its own cookie jar) on the running app, each time it is called."""
    return lambda: ConsoleClient(running.url)
