"""Response schemas shared by several handler modules, published under components/schemas."""
from __future__ import annotations

from typing import Any

from server.openapi import nullable, obj, ref, string

DATETIME = string(format="date-time")

# A WeChat user as GET /me shows it; the member bound to them is beside it, not inside.
USER_FIELDS: dict[str, Any] = {
    "id": {"type": "integer"},
    "roles": {"type": "array", "items": {"type": "string"}},  # "visitor" until bound, then "member"
    "phone_masked": nullable(string(max_len=20)),
    "phone_country": nullable(string(max_len=8)),  # WeChat's country code of the phone, "86"
    "created_at": DATETIME,
}

SCHEMAS: dict[str, Any] = {
    "User": obj(USER_FIELDS, ["id", "roles"]),
    # The login answer's user carries the member (null until bound), as the mini-program's contract fixes.
    "LoginUser": obj({**USER_FIELDS, "member": nullable(ref("Member"))}, ["id", "roles", "member"]),
    "Member": obj(
        {
            "id": {"type": "integer"},
            "name_masked": string(),
            "id_number_masked": string(),
            "gender": {"enum": ["male", "female"]},
            "employer": nullable(string()),
            "org_id": {"type": "integer"},
            "status": {"enum": ["active", "ended"]},
            "bound": {"type": "boolean"},
        },
        ["id", "name_masked", "id_number_masked", "status"],
        extra=True,
    ),
    "LoginResult": obj(
        {"token": string(min_len=20), "expires_at": DATETIME, "user": ref("LoginUser")},
        ["token", "expires_at", "user"],
    ),
    "Me": obj({"user": ref("User"), "member": nullable(ref("Member"))}, ["user", "member"]),
    "Org": obj(
        {
            "id": {"type": "integer"},
            "code": string(max_len=32),
            "name": string(max_len=100),
            "type": string(max_len=16),
            "type_label": string(),
            "parent_id": nullable({"type": "integer"}),
            "depth": {"type": "integer"},
        },
        ["id", "code", "name", "type", "parent_id", "depth"],
        extra=True,
    ),
    "Staff": obj(
        {
            "id": {"type": "integer"},
            "username": string(max_len=64),
            "display_name": nullable(string(max_len=50)),
            "roles": {"type": "array", "items": {"type": "string"}},
            "org": ref("Org"),
            "active": {"type": "boolean"},
        },
        ["id", "username", "roles", "org"],
        extra=True,
    ),
    "StaffLoginResult": obj(
        {"token": string(min_len=20), "expires_at": DATETIME, "staff": ref("Staff")},
        ["token", "expires_at", "staff"],
    ),
    "Card": obj(
        {
            "id": {"type": "integer"},
            "card_no": string(pattern="^8[0-9]{15}$"),
            "card_no_display": string(),
            "status": {"enum": ["active", "frozen", "lost", "cancelled"]},
            "status_label": string(),
            "status_reason": nullable(string(max_len=200)),
            "issued_at": DATETIME,
            "printed_at": nullable(DATETIME),
        },
        ["id", "card_no", "status", "status_label"],
    ),
    "Benefit": obj(
        {
            "program_id": {"type": "integer"},
            "program": string(),
            "summary": string(),
            "period": {"enum": ["month", "year"]},
            "remaining": obj({"money": nullable({"type": "integer", "minimum": 0}),
                              "count": nullable({"type": "integer", "minimum": 0})}, ["money", "count"]),
            "categories": {"type": "array", "items": string()},
        },
        ["program_id", "program", "summary", "remaining"],
        extra=True,
    ),
}
