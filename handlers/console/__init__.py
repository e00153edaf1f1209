"""The staff web console (/console/): server-rendered pages over the same domain functions and the same
declared access as the API (handlers/console/base.py). Each area is a module ending in ``routes``."""
from __future__ import annotations

from typing import Any

from handlers.console import auth, home, register, register_records, relief, statements

routes: list[tuple[str, Any]] = [
    *auth.routes,
    *home.routes,
    *relief.routes,
    *statements.routes,
    *register.routes,
    *register_records.routes,
]
