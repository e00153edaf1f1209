"""The staff web console (/console/): server-rendered pages over the same domain functions and the same
declared access as the API (handlers/console/base.py). Each area is a module ending in ``routes``."""
from __future__ import annotations

from typing import Any

from handlers.console import (
    accounts,
    audit,
    auth,
    calendar,
    cards,
    funds,
    home,
    kinds,
    member_edit,
    members,
    network,
    notices,
    partners,
    partners_programs,
    payments,
    register,
    register_records,
    relief,
    relief_meetings,
    relief_visits,
    roster,
    statements,
    stats,
)

routes: list[tuple[str, Any]] = [
    *auth.routes,
    *home.routes,
    *relief.routes,
    *relief_visits.routes,
    *relief_meetings.routes,
    *notices.routes,
    *payments.routes,
    *funds.routes,
    *members.routes,
    *roster.routes,
    *cards.routes,
    *partners.routes,
    *partners_programs.routes,
    *stats.routes,
    *audit.routes,
    *accounts.routes,
    *statements.routes,
    *register.routes,
    *register_records.routes,
    *network.routes,
    *calendar.routes,
    *member_edit.routes,
    *kinds.routes,
]
