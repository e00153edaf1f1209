"""Response schemas shared by several handler modules, published under components/schemas."""
from __future__ import annotations

from typing import Any

from server.openapi import nullable, obj, ref, string

DATETIME = string(format="date-time")

SCHEMAS: dict[str, Any] = {
    "User": obj(
        {
            "id": {"type": "integer"},
            "roles": {"type": "array", "items": {"type": "string"}},
            "phone_masked": nullable(string(max_len=20)),
            "created_at": DATETIME,
            "member": nullable({"type": "object"}),
        },
        ["id", "roles", "member"],
        extra=True,
    ),
    "LoginResult": obj(
        {"token": string(min_len=20), "expires_at": DATETIME, "user": ref("User")},
        ["token", "expires_at", "user"],
    ),
    "Me": obj({"user": ref("User"), "member": nullable({"type": "object"})}, ["user", "member"]),
}
