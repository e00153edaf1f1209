"""Relief model test collection: the query plan tests run on MySQL/MariaDB only."""
from __future__ import annotations

from typing import Any


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """The plans are MySQL's: the SQLite variants of test_query_plans are deselected here, not skipped, so that a
    skip in CI always means trouble."""
    dropped = [i for i in items if "test_query_plans" in i.nodeid and "[sqlite" in i.nodeid]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in dropped]
