"""The one place that decides what a member of staff may do, and where.

Two rules: a role must allow the action, and the target must lie in the
actor's own subtree of the union network. Role checks come before any lookup,
and lookups are scoped to the subtree, so a refusal never reveals whether a
record outside the subtree exists (both answer "not found").
"""
from __future__ import annotations

from models.core.actors import Actor
from models.core.errors import Forbidden, NotFound

ROLES = {
    "station": "基层经办",
    "reviewer": "审核",
    "approver": "审批",
    "finance": "财务",
    "admin": "管理员",
}

_ALL_STAFF = frozenset(ROLES)
ACTIONS: dict[str, frozenset[str]] = {
    "org.view": _ALL_STAFF,
    "org.manage": frozenset({"admin"}),
    "member.view": _ALL_STAFF,
    "member.view_full": frozenset({"station", "reviewer", "admin"}),
    "member.import": frozenset({"station", "admin"}),
    "member.manage": frozenset({"station", "admin"}),
    "member.release_binding": frozenset({"station", "admin"}),
    # 会籍转接: a roster import asks for a member held outside the importer's subtree; the holder decides.
    "member_transfer.view": frozenset({"station", "reviewer", "admin"}),
    "member_transfer.request": frozenset({"station", "admin"}),
    "member_transfer.decide": frozenset({"station", "admin"}),
    "hardship.view": frozenset({"station", "reviewer", "approver", "admin"}),
    "hardship.manage": frozenset({"station", "reviewer", "admin"}),
    "card.view": _ALL_STAFF,
    "card.manage": frozenset({"station", "admin"}),
    "card.print": frozenset({"station", "admin"}),
    "merchant.view": _ALL_STAFF,
    "merchant.manage": frozenset({"admin"}),
    "program.view": _ALL_STAFF,
    "program.manage": frozenset({"admin"}),
    "redemption.view": _ALL_STAFF,
    "settlement.view": frozenset({"finance", "approver", "admin"}),
    "settlement.manage": frozenset({"finance", "admin"}),
    "staff.manage": frozenset({"admin"}),
    "audit.view": frozenset({"admin"}),
}


def allowed(actor: Actor, action: str) -> bool:
    return actor.kind == "staff" and bool(actor.roles & ACTIONS[action])


def require(actor: Actor, action: str) -> None:
    """Refuse (403) when none of the actor's roles allows ``action``; says nothing about targets."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action}")
    if not allowed(actor, action):
        raise Forbidden("role_forbidden", "您的角色无权进行此操作")


def scope(actor: Actor) -> str:
    """The path prefix of the actor's subtree; every staff query filters by it."""
    if actor.kind != "staff" or not actor.org_path:
        raise Forbidden("role_forbidden", "您的角色无权进行此操作")
    return actor.org_path


def reach(actor: Actor) -> str:
    """The subtree whose members an actor may learn about: staff their own, the system (the CLI) the network."""
    if actor.kind == "system":
        return "/"
    return scope(actor)


def require_in_scope(actor: Actor, action: str, target_path: str, *, what: str = "记录") -> None:
    """Role check, then subtree check; outside the subtree reads exactly like a missing record."""
    require(actor, action)
    if not target_path.startswith(scope(actor)):
        raise NotFound("not_found", f"找不到该{what}")
