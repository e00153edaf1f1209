"""The event loop the service runs on: uvloop when it is installed (the ``fast`` extra), else asyncio's own.

uvloop's transports write to a socket with less Python around each call; the counter makes several
database round trips a request, each a socket write and read, so the loop's overhead is felt there.
"""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def has_uvloop() -> bool:
    """Whether uvloop is installed (it is an optional dependency)."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool = True) -> T:
    """Run ``main`` to completion on a new event loop: uvloop's when installed and wanted, else asyncio's."""
    if use_uvloop and has_uvloop():
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
