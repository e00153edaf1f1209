"""Staff passwords: argon2id, hashed off the event loop, with a length policy."""
from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from models.core.errors import Invalid

MIN_LENGTH = 10
MAX_LENGTH = 128
_HASHER = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
# A hash to verify against when the username is unknown, so timing does not tell.
_DUMMY = _HASHER.hash("unionaid-dummy-password")


def check_policy(password: str, *, username: str = "") -> None:
    """Refuse passwords that are short, long, one repeated character or the username."""
    if len(password) < MIN_LENGTH:
        raise Invalid("password_too_short", f"密码至少 {MIN_LENGTH} 位")
    if len(password) > MAX_LENGTH:
        raise Invalid("password_too_long", f"密码最长 {MAX_LENGTH} 位")
    if len(set(password)) < 4:
        raise Invalid("password_too_simple", "密码过于简单")
    if username and username.lower() in password.lower():
        raise Invalid("password_contains_username", "密码不能包含用户名")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, _HASHER.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when the password matches; takes as long for an unknown user (``stored`` None)."""
    ok = await asyncio.get_running_loop().run_in_executor(None, _verify, stored or _DUMMY, password)
    return ok and stored is not None
