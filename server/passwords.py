"""Staff password hashing: argon2id, off the event loop (a ``models.core.ports.PasswordHasher``)."""
from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Passwords:
    """argon2id with the library's defaults (RFC 9106 low-memory profile); work runs in an executor."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        # A hash to verify against when the username is unknown, so timing does not tell.
        self._dummy = self._hasher.hash("unionaid-dummy-password")

    async def hash(self, password: str) -> str:
        """The argon2id hash of ``password``."""
        return await asyncio.get_running_loop().run_in_executor(None, self._hasher.hash, password)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """True when the password matches; takes as long for an unknown user (``stored`` None)."""
        ok = await asyncio.get_running_loop().run_in_executor(None, self._verify, stored or self._dummy, password)
        return ok and stored is not None


#: The one hasher a process uses (it holds no secret and no changing state).
ARGON2 = Argon2Passwords()
