"""The event loop the service runs on: uvloop when it is installed (the ``fast`` extra), else asyncio's own.

uvloop's transports write to a socket with less Python around each call; the counter makes several
database round trips a request, each a socket write and read, so the loop's overhead is felt there.
"""
from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def has_uvloop() -> bool:
    """Whether uvloop is installed (it is an optional dependency, so it is looked up, not imported here)."""
    return importlib.util.find_spec("uvloop") is not None


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool = True) -> T:
    """Run ``main`` to completion on a new event loop: uvloop's when installed and wanted, else asyncio's."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if use_uvloop and has_uvloop():
        factory = importlib.import_module("uvloop").new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
