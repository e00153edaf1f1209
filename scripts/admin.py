"""Administrative CLI verbs: create-org, create-staff, audit-verify. They act as the system."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

from models.core import actors, audit
from models.identity import staff_accounts as staff
from models.network import tree as orgs
from server.config import Config
from server.db import make_engine
from server.passwords import ARGON2


async def create_org(config: Config, code: str, name: str, parent: str | None, type_: str | None) -> int:
    """Add a unit to the union network; a root unit when no parent is given."""
    engine = make_engine(config)
    try:
        async with engine.begin() as conn:
            if type_ is None:
                type_ = "grassroots" if parent else "province"
            org = await orgs.create(conn, actors.command("create-org"), code=code, name=name, type_=type_,
                                    parent_code=parent)
        print(f"created org {org.code} (id {org.id}, {orgs.TYPES[org.type]}): {org.name}")
        return 0
    finally:
        await engine.dispose()


async def create_staff(config: Config, username: str, roles: list[str], org_code: str, password_stdin: bool) -> int:
    """Add a member of staff; the password is read from standard input, never from the command line."""
    if not password_stdin:
        print("unionaid: create-staff needs --password-stdin (the password is never taken from arguments)",
              file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\r\n")
    engine = make_engine(config)
    try:
        async with engine.begin() as conn:
            member = await staff.create(conn, actors.command("create-staff"), hasher=ARGON2, username=username, password=password,
                                        roles=roles, org_code=org_code)
        print(f"created staff {member.username} (id {member.id}) roles {','.join(sorted(member.roles))} "
              f"at {member.org.code}")
        return 0
    finally:
        await engine.dispose()


async def audit_verify(config: Config) -> int:
    """Check the audit chain; exit 1 at the first record that does not fit."""
    engine = make_engine(config)
    try:
        async with engine.begin() as conn:
            await audit.seal(conn)
        async with engine.connect() as conn:
            result = await audit.verify(conn)
    finally:
        await engine.dispose()
    if result.ok:
        print(f"audit log OK: {result.checked} records checked")
        return 0
    print(f"audit log BROKEN at record {result.first_bad_id}: {result.reason} "
          f"({result.checked} records checked before it)")
    return 1


async def import_members(config: Config, path: str, org_code: str, strict: bool) -> int:
    """Import a roster file; print the report by row; exit 0 when every valid row is in, 1 when rows were refused."""
    from models.cards import usecases as card_flows
    from models.members.roster import parse_roster
    from server.crypto import PiiCipher, load_keyring

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        print(f"unionaid: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    parsed = parse_roster(data, path, max_bytes=max(config.max_upload_bytes, 50 * 1024 * 1024))
    engine = make_engine(config)
    try:
        async with engine.begin() as conn:
            unit = await orgs.by_code(conn, org_code)
            report = await card_flows.import_roster(conn, PiiCipher(load_keyring(config)), actors.command("import-members"),
                                                    parsed, org=unit, strict=strict)
    finally:
        await engine.dispose()
    for problem in report.problems:
        print(f"第 {problem.line} 行 {problem.field or '-'}: {problem.reason} [{problem.code}]")
    state = "written" if report.committed else "NOTHING written (--strict)"
    print(f"{report.total} rows: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
          f"{len({p.line for p in report.problems})} refused; {state}")
    return 0 if report.committed and not report.problems else 1


async def rotate_qr_key(config: Config, keep: int) -> int:
    """A new current key in the data dir's ``qr_keys.json``; serving processes pick it up within 30 s."""
    from server.qr_tokens import rotate

    if config.qr_key:
        print("UNIONAID_QR_KEY is set: rotate by setting a new key there (and restart)", file=sys.stderr)
        return 2
    if not 1 <= keep <= 200:
        print("--keep must be between 1 and 200", file=sys.stderr)
        return 2
    signer = rotate(config.data_dir, keep=keep)
    kids = ", ".join(str(k["kid"]) for k in signer.public_keys())
    print(f"card codes are now signed with key {signer.current}; keys still verifying: {kids}")
    return 0


def add_parsers(sub: Any) -> None:
    """Register the administrative verbs on the CLI's subparsers."""
    org = sub.add_parser("create-org", help="add a unit to the union network")
    org.add_argument("--code", required=True)
    org.add_argument("--name", required=True)
    org.add_argument("--parent", help="code of the parent unit (none: a root unit)")
    org.add_argument("--type", choices=list(orgs.TYPES), help="unit type (default: province for a root, else grassroots)")
    member = sub.add_parser("create-staff", help="add a member of staff (password from standard input)")
    member.add_argument("--username", required=True)
    member.add_argument("--role", action="append", required=True, help="a role; repeat or comma-separate")
    member.add_argument("--org", required=True, help="code of the home unit")
    member.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("audit-verify", help="check the audit log's hash chain")
    rotate = sub.add_parser("rotate-qr-key", help="add a new signing key for card codes; codes already shown "
                            "and printed cards signed by the previous keys still work")
    rotate.add_argument("--keep", type=int, default=4, help="older keys kept for verifying (default 4)")
    roster = sub.add_parser("import-members", help="import a member roster (CSV in UTF-8 or GBK, or XLSX)")
    roster.add_argument("file")
    roster.add_argument("--org", required=True, help="code of the unit the members belong to")
    roster.add_argument("--strict", action="store_true", help="write nothing when any row is refused")


def commands(config: Config, args: argparse.Namespace) -> dict[str, Callable[[], Awaitable[Any]]]:
    """The verbs this module adds, bound to the parsed arguments."""
    return {
        "create-org": lambda: create_org(config, args.code, args.name, args.parent, args.type),
        "create-staff": lambda: create_staff(config, args.username, args.role, args.org, args.password_stdin),
        "audit-verify": lambda: audit_verify(config),
        "rotate-qr-key": lambda: rotate_qr_key(config, args.keep),
        "import-members": lambda: import_members(config, args.file, args.org, args.strict),
    }
