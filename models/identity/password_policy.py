"""The staff password policy: what a new password must be (a domain rule, no hashing here)."""
from __future__ import annotations

from models.core.errors import Invalid

MIN_LENGTH = 10
MAX_LENGTH = 128


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
