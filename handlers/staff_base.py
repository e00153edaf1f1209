"""The base of every staff API handler: the calling member of staff as an Actor."""
from __future__ import annotations

from handlers.base import APIHandler
from models.core.actors import Actor


class StaffHandler(APIHandler):
    """A handler for staff only; ``await self.actor()`` gives who is acting, with roles and subtree.

    The Actor is built once, in ``prepare``, with the token (one query); the handler's access
    declaration has already checked the caller's role and the target's subtree.
    """

    async def actor(self) -> Actor:
        """The calling member of staff (a coroutine, as handlers await it)."""
        actor = self.caller()
        if actor.kind != "staff":  # never: every staff action is granted to staff roles only
            self.require("staff")
        return actor
