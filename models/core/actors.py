"""Who is acting, and from where: passed explicitly to every domain function that changes state."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """The acting person (staff, worker, merchant cashier or the system) and the request's context."""

    kind: str  # staff | user | merchant | system
    id: int | None
    roles: frozenset[str] = field(default_factory=frozenset)
    org_id: int | None = None
    org_path: str | None = None  # materialised path of the actor's home organisation
    request_id: str | None = None
    ip: str | None = None

    @property
    def role_text(self) -> str:
        return ",".join(sorted(self.roles))


SYSTEM = Actor(kind="system", id=None, roles=frozenset({"system"}))
