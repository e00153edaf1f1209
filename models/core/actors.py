"""Who is acting, and from where: one shape for every caller, passed explicitly to every domain
function that changes state.

Kinds: ``user`` (a WeChat user: a worker, a ``member`` once bound to a roster record, and perhaps a
merchant's cashier or manager at the same time), ``merchant`` (the same WeChat user acting for the
merchant they work for: ``id`` is their merchant-staff row), ``staff`` (a member of the union's
staff: roles and the subtree of their home unit) and ``system`` (the CLI and jobs). An anonymous
caller is no actor (``None``).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Actor:
    """The acting person (staff, worker, merchant cashier or the system) and the request's context."""

    kind: str  # staff | user | merchant | system
    id: int | None
    roles: frozenset[str] = field(default_factory=frozenset)
    org_id: int | None = None
    org_path: str | None = None  # materialised path of the actor's home organisation (staff)
    request_id: str | None = None
    ip: str | None = None
    #: The WeChat user behind a ``user`` or ``merchant`` actor.
    user_id: int | None = None
    #: The roster record a worker is bound to (role ``member``), if any.
    member_id: int | None = None
    #: The merchant-staff row, merchant and store of a cashier or manager (roles ``cashier``/``manager``).
    merchant_staff_id: int | None = None
    merchant_id: int | None = None
    store_id: int | None = None
    #: Whether that merchant may trade today: ``active``, ``suspended`` or ``out_of_agreement``.
    merchant_standing: str | None = None
    #: A member of staff still on the password an administrator set: they may change it or log out, nothing else.
    password_change_due: bool = False

    @property
    def role_text(self) -> str:
        """The roles as one comma-separated text, as the audit log stores them."""
        return ",".join(sorted(self.roles))

    @property
    def merchant_role(self) -> str | None:
        """``manager`` or ``cashier`` when the caller works for a merchant, else None."""
        if "manager" in self.roles:
            return "manager"
        return "cashier" if "cashier" in self.roles else None

    def as_merchant(self) -> Actor:
        """The same caller acting for their merchant: audited as ``merchant`` with their merchant-staff id."""
        if self.kind == "merchant":
            return self
        role = self.merchant_role
        if role is None or self.merchant_staff_id is None:
            raise ValueError("the caller works for no merchant")
        return replace(self, kind="merchant", id=self.merchant_staff_id, roles=frozenset({role}))

    def with_request(self, request_id: str | None, ip: str | None) -> Actor:
        """This actor within one request (its id and the caller's address, for the audit log)."""
        return replace(self, request_id=request_id, ip=ip)


SYSTEM = Actor(kind="system", id=None, roles=frozenset({"system"}))


def worker(user_id: int, *, member_id: int | None = None, request_id: str | None = None,
           ip: str | None = None) -> Actor:
    """A WeChat user acting for themselves (role ``member`` once bound, ``visitor`` before)."""
    return Actor(kind="user", id=user_id, user_id=user_id, member_id=member_id,
                 roles=frozenset({"member" if member_id is not None else "visitor"}), request_id=request_id, ip=ip)


def command(name: str) -> Actor:
    """The system acting for one CLI command: its own request id, and the local machine as its address."""
    return SYSTEM.with_request(f"cli-{name}-{uuid.uuid4().hex[:12]}", "local")
