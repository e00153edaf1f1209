"""server/loop.py: the bench's (and any caller's) event loop, uvloop's only when installed and wanted."""
from __future__ import annotations

import asyncio

from server import loop


async def _which() -> tuple[str, int]:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__, 42


def test_runs_to_completion_on_asyncio_when_uvloop_is_not_wanted() -> None:
    module, value = loop.run(_which(), use_uvloop=False)
    assert value == 42 and module.startswith("asyncio")


def test_runs_on_uvloop_exactly_when_it_is_installed() -> None:
    module, value = loop.run(_which())
    assert value == 42 and module.startswith("uvloop") == loop.has_uvloop()
