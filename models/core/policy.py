"""The one place that decides who may do what, and to which record.

Every action names who it is granted to: staff roles (and then only within the
staff member's own subtree of the union network), or a kind of caller: ``anyone``
(no login), ``caller`` (anyone logged in), ``user`` (a WeChat user), ``member``
(a worker bound to a roster record), ``cashier`` (a merchant's cashier or
manager), ``manager`` (a merchant's manager); ``TRADING`` actions also need the
merchant to be trading today (a rule on the merchant record's state).

Two checks, in this order: ``authorize`` (the caller's kind and role, before any
lookup, so a refusal says nothing about any record) and ``in_reach`` (the target:
in the staff member's subtree, the merchant's own record, the worker's own card).
A target out of reach answers exactly like a missing one: the caller sees the
same 404 (``Target.missing``).
"""
from __future__ import annotations

from dataclasses import dataclass

from models.core.actors import Actor
from models.core.errors import Forbidden, NotFound, Unauthorized

ROLES = {
    "station": "基层经办",
    "reviewer": "审核",
    "approver": "审批",
    "finance": "财务",
    "admin": "管理员",
}
#: The kinds of caller an action may be granted to, besides staff roles.
CALLER_GRANTS = ("anyone", "caller", "user", "member", "cashier", "manager")

_ALL_STAFF = frozenset(ROLES)
ACTIONS: dict[str, frozenset[str]] = {
    # --- anyone, and any logged-in caller ---
    "public": frozenset({"anyone"}),
    "session.logout": frozenset({"caller"}),
    # --- workers (WeChat users) ---
    "me.view": frozenset({"user"}),
    "me.phone": frozenset({"user"}),
    "me.bind": frozenset({"user"}),
    "me.redemptions": frozenset({"user"}),
    "me.notices": frozenset({"user"}),
    "me.subscriptions": frozenset({"user"}),
    "my_card.view": frozenset({"user"}),
    "my_card.report_lost": frozenset({"user"}),
    "relief.kinds": frozenset({"user"}),
    "relief.self_test": frozenset({"user"}),
    # a worker's own relief applications (ownership checked in the domain: another's answers like a missing one)
    "relief.apply": frozenset({"user"}),
    # --- merchants: cashiers and managers ---
    "merchant.bind": frozenset({"user"}),
    "counter.scan": frozenset({"cashier"}),
    "counter.redeem": frozenset({"cashier"}),
    "counter.list": frozenset({"cashier"}),
    "counter.void": frozenset({"cashier"}),
    "counter.refund": frozenset({"manager"}),
    "merchant.invite": frozenset({"manager"}),
    "merchant_staff.view": frozenset({"manager"}),
    "merchant_staff.remove": frozenset({"manager"}),
    "merchant_statement.view": frozenset({"manager"}),
    # --- staff, by role ---
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
    # A second person confirms or declines an entry or re-check of the register (not the one who entered it).
    "hardship.confirm": frozenset({"reviewer", "admin"}),
    "card.view": _ALL_STAFF,
    "card.manage": frozenset({"station", "admin"}),
    "card.print": frozenset({"station", "admin"}),
    "merchant.view": _ALL_STAFF,
    "merchant.manage": frozenset({"admin"}),
    "program.view": _ALL_STAFF,
    "program.manage": frozenset({"admin"}),
    "redemption.view": _ALL_STAFF,
    "settlement.view": frozenset({"finance", "approver", "admin"}),
    # Monthly statements: built by finance or an admin, confirmed by finance, paid or received by finance;
    # the confirmer is not who last built it, the payer not who confirmed it (models/counter/settlement.py).
    "settlement.manage": frozenset({"finance", "admin"}),
    "settlement.confirm": frozenset({"finance"}),
    "settlement.pay": frozenset({"finance"}),
    "staff.manage": frozenset({"admin"}),
    # the staff console: its home page (today's work) and a member of staff changing their own password
    "console.home": _ALL_STAFF,
    "staff.password": _ALL_STAFF,
    "relief_kinds.view": _ALL_STAFF,
    "relief_kinds.manage": frozenset({"admin"}),
    # Relief review: the step's own role is checked in the domain (models/relief/reviewing.py).
    "relief.queue": _ALL_STAFF,
    "relief.view": _ALL_STAFF,
    "relief.decide": frozenset({"station", "reviewer", "approver", "finance", "admin"}),
    "relief.visit": frozenset({"station", "reviewer"}),
    "relief.meeting": frozenset({"approver"}),
    # The public notice (公示), its objections and the holiday calendar its working days count by.
    "relief.publish": frozenset({"reviewer", "approver"}),
    "relief.objection_resolve": frozenset({"reviewer"}),
    "calendar.manage": frozenset({"admin"}),
    # Earmarked funds and the money of relief (issue 14, F).
    "fund.manage": frozenset({"finance", "admin"}),
    # Reopening a closed fund remedies a mistaken close: an administrator only.
    "fund.reopen": frozenset({"admin"}),
    "fund.view": _ALL_STAFF,
    "relief.pay": frozenset({"finance"}),
    "relief.export_payments": frozenset({"finance"}),
    # The archive (办结) closes a paid file: the reviewer who keeps it, finance after paying, or an admin.
    "relief.archive": frozenset({"reviewer", "finance", "admin"}),
    "relief.statistics": _ALL_STAFF,
    "audit.view": frozenset({"admin"}),
}
#: Merchant actions that also need the merchant to be trading today (active, agreement in force).
TRADING = frozenset({"counter.scan", "counter.redeem", "merchant.invite"})

_FORBIDDEN = ("forbidden", "没有权限进行此操作")
_STANDING = {
    "suspended": ("merchant_suspended", "该商家已暂停合作，暂不能使用"),
    "out_of_agreement": ("agreement_not_in_force", "该商家的合作协议不在有效期内"),
}
NOT_CASHIER = ("not_cashier", "您还不是合作商家的收银员，请先用邀请码绑定")
NOT_MANAGER = ("not_manager", "只有商家管理员可以进行此操作")
NOT_OWN_REDEMPTION = ("not_manager", "只有商家管理员或办理该笔核销的收银员可以操作")


def _rule(action: str) -> frozenset[str]:
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action}")
    return ACTIONS[action]


def staff_only(action: str) -> bool:
    """Whether only staff (by role) may take ``action``."""
    return not (_rule(action) & set(CALLER_GRANTS))


def allowed(actor: Actor | None, action: str) -> bool:
    """Whether this caller's kind and roles allow ``action`` (targets aside)."""
    grants = _rule(action)
    if "anyone" in grants:
        return True
    if actor is None:
        return False
    if "caller" in grants:
        return True
    if actor.kind == "staff":
        return bool(actor.roles & grants)
    if actor.kind not in ("user", "merchant"):
        return False
    if "user" in grants:
        return True
    if "member" in grants and actor.member_id is not None:
        return True
    role = actor.merchant_role
    if "cashier" in grants and role is not None:
        return action not in TRADING or actor.merchant_standing == "active"
    if "manager" in grants and role == "manager":
        return action not in TRADING or actor.merchant_standing == "active"
    return False


#: What a member of staff still on an administrator's password may do (besides what anyone may).
WHILE_PASSWORD_DUE = frozenset({"staff.password", "session.logout"})
PASSWORD_DUE = ("password_change_required", "请先修改管理员设置的初始密码（管理后台“修改密码”），再进行其他操作")


def authorize(actor: Actor | None, action: str) -> None:
    """Refuse a caller whose kind or role does not allow ``action``: 401 when anonymous, else 403.

    Says nothing about any record: it runs before any lookup. A member of staff whose password an
    administrator set (``password_change_due``) is refused everything but changing it and logging out,
    through the API as in the console (which sends them to its password page).
    """
    if actor is not None and actor.password_change_due and action not in WHILE_PASSWORD_DUE \
            and "anyone" not in _rule(action):
        raise Forbidden(*PASSWORD_DUE)
    if allowed(actor, action):
        return
    if actor is None:
        raise Unauthorized()
    grants = _rule(action)
    if actor.kind == "staff" and grants & _ALL_STAFF:
        raise Forbidden("role_forbidden", "您的角色无权进行此操作")
    if actor.kind in ("user", "merchant") and grants & {"cashier", "manager"}:
        role = actor.merchant_role
        if role is None:
            raise Forbidden(*NOT_CASHIER)
        if "manager" in grants and "cashier" not in grants and role != "manager":
            raise Forbidden(*NOT_MANAGER)
        if actor.merchant_standing in _STANDING:
            raise Forbidden(*_STANDING[actor.merchant_standing])
    raise Forbidden(*_FORBIDDEN)


def require(actor: Actor, action: str) -> None:
    """Refuse (403) when none of the actor's roles allows ``action``; says nothing about targets."""
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


# --- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """Where a target record sits: its unit's path, its merchant, who made it, its state."""

    org_path: str | None = None
    merchant_id: int | None = None
    cashier_id: int | None = None  # the merchant-staff row that made it (a redemption)
    member_id: int | None = None
    status: str | None = None


@dataclass(frozen=True)
class Target:
    """How a handler's target is found: a kind of record (see models.access.targets) and the path argument
    naming it (``None`` for the caller's own record, e.g. ``own_member``)."""

    kind: str
    arg: str | None = None


@dataclass(frozen=True)
class Access:
    """One operation's declaration: the action (a key of ``ACTIONS``) and, when it acts on one record, its target."""

    action: str
    target: Target | None = None

    def __post_init__(self) -> None:
        _rule(self.action)


PUBLIC = Access("public")


def in_reach(actor: Actor, action: str, found: Located) -> bool:
    """Whether the located record lies within what this caller may act on for ``action``.

    A record for which this is False answers exactly like a missing one.
    """
    if actor.kind == "staff":
        return found.org_path is not None and actor.org_path is not None and found.org_path.startswith(actor.org_path)
    if actor.kind == "system":
        return True
    if found.merchant_id is not None:
        if actor.merchant_id != found.merchant_id:
            return False
        if action == "merchant_statement.view":
            return found.status != "draft"  # a draft is the union's working copy: the merchant never sees it
        return True
    if found.member_id is not None:
        return actor.member_id == found.member_id
    return False


def check_record(actor: Actor, action: str, found: Located) -> None:
    """Rules on a reachable record's state or maker, after ``in_reach``: a cashier changes only their own
    redemptions (a manager any of the merchant's)."""
    if action == "counter.void" and actor.merchant_role != "manager" and found.cashier_id != actor.merchant_staff_id:
        raise Forbidden(*NOT_OWN_REDEMPTION)


def may_change_redemption(actor: Actor, merchant_id: int, cashier_id: int, *, manager_only: bool) -> None:
    """The counter's own guard, the same rules as ``in_reach``/``check_record`` for a redemption."""
    if actor.merchant_id != merchant_id:
        raise NotFound("redemption_not_found", "找不到该核销记录")
    if actor.merchant_role == "manager":
        return
    if manager_only or cashier_id != actor.merchant_staff_id:
        raise Forbidden(*NOT_OWN_REDEMPTION)

