"""The base of every staff API handler: loads the calling member of staff as an Actor."""
from __future__ import annotations

from handlers.base import APIHandler
from models.core.actors import Actor
from models.identity import staff_accounts as staff


class StaffHandler(APIHandler):
    """A handler for staff only; ``await self.actor()`` gives who is acting, with roles and subtree."""

    _actor: Actor | None = None

    async def actor(self) -> Actor:
        if self._actor is None:
            staff_id = self.require("staff")
            async with self.reading() as conn:
                self._actor = await staff.actor_for(conn, staff_id, self.request_id, self.request.remote_ip)
        return self._actor
