"""Where a domain function sends blocking CPU work (bulk encryption, file parsing): the caller decides."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Protocol, TypeVar

T = TypeVar("T")


class Offload(Protocol):
    """Runs ``fn(*args, **kwargs)`` somewhere that does not block the event loop (a worker pool)."""

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]:
        """Run the function off the event loop; the awaitable gives its result."""


async def inline(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The default for callers without a pool (the CLI, tests): run it here and now."""
    return fn(*args, **kwargs)
