"""The staff web console (/console/): server-rendered pages over the same domain functions and the same
declared access as the API (handlers/console/base.py). Each area is a module ending in ``routes``."""
from __future__ import annotations

from typing import Any

from handlers.console import auth, cards, home, members, relief, roster
from handlers.console import calendar, kinds, member_edit, network

routes: list[tuple[str, Any]] = [
    *auth.routes,
    *home.routes,
    *relief.routes,
    *members.routes,
    *roster.routes,
    *cards.routes,
    *network.routes,
    *calendar.routes,
    *member_edit.routes,
    *kinds.routes,
]
