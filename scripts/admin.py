"""Administrative CLI verbs: create-org, create-staff, import-members, rotate-qr-key, the audit
chain's audit-verify and audit-checkpoint, and rebuild-relief-stats. They act as the system.

A verb that writes audit records seals them (its own, by its request id) and checkpoints the
chain's head before it exits (:func:`seal_own`), so none of them waits, unsealed, for a
server that may not run.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from models.core import actors, audit
from models.core.actors import Actor
from models.core.clock import utcnow
from models.identity import staff_accounts as staff
from models.network import tree as orgs
from server.audit_checkpoints import CheckpointLog, load_checkpoints
from server.config import Config
from server.db import make_engine, reading
from server.passwords import ARGON2


def checkpoint_log(config: Config) -> CheckpointLog:
    """The data dir's audit checkpoint file, with the configured key (or the data dir's)."""
    return load_checkpoints(config.data_dir, key=config.audit_key, key_id=config.audit_key_id)


async def seal_own(config: Config, engine: AsyncEngine, actor: Actor) -> int:
    """Seal the audit records this command wrote (by its request id) and checkpoint the head if it moved."""
    from server.jobs import seal_and_checkpoint

    return await seal_and_checkpoint(engine, checkpoint_log(config), request_id=actor.request_id)


async def create_org(config: Config, code: str, name: str, parent: str | None, type_: str | None) -> int:
    """Add a unit to the union network; a root unit when no parent is given."""
    engine = make_engine(config)
    actor = actors.command("create-org")
    try:
        try:
            async with engine.begin() as conn:
                if type_ is None:
                    type_ = "grassroots" if parent else "province"
                org = await orgs.create(conn, actor, code=code, name=name, type_=type_, parent_code=parent)
        finally:
            await seal_own(config, engine, actor)
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
    actor = actors.command("create-staff")
    try:
        try:
            async with engine.begin() as conn:
                member = await staff.create(conn, actor, hasher=ARGON2, username=username, password=password,
                                            roles=roles, org_code=org_code)
        finally:
            await seal_own(config, engine, actor)
        print(f"created staff {member.username} (id {member.id}) roles {','.join(sorted(member.roles))} "
              f"at {member.org.code}")
        return 0
    finally:
        await engine.dispose()


async def audit_verify(config: Config) -> int:
    """Check the audit chain and the chain against every saved checkpoint; print in Chinese; exit 1 when broken.

    Seals nothing: a record not sealed yet is reported as pending, with its age, never made part
    of the chain by the check that judges it.
    """
    checkpoints = checkpoint_log(config).read()
    engine = make_engine(config)
    try:
        async with reading(engine) as conn:
            result = await audit.verify(conn, checkpoints=checkpoints)
    finally:
        await engine.dispose()
    for line in verification_text(result, now=utcnow()):
        print(line)
    return 0 if result.ok else 1


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} 秒"
    if seconds < 7200:
        return f"{seconds // 60} 分钟"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} 小时"
    return f"{seconds // 86400} 天"


def verification_text(result: audit.Verification, *, now: datetime) -> list[str]:
    """The outcome of a check as the operator reads it (Chinese)."""
    newest = result.newest_checkpoint
    against = (f"，并与 {result.checkpoints} 个检查点比对（最新的在第 {newest.seq} 条，"
               f"北京时间 {audit.beijing(newest.at)} 签署）" if newest is not None else "；尚无检查点")
    if result.ok:
        lines = [f"审计日志完好：已核对链上 {result.checked} 条记录{against}。"]
    else:
        where = f"（记录 id {result.first_bad_id}）" if result.first_bad_id is not None else ""
        lines = [f"审计日志已损坏{where}：{result.reason}",
                 f"在此之前已核对 {result.checked} 条记录{against}。"]
        lines += [f"另：{problem}" for problem in result.problems[1:]]
    if result.pending:
        since = result.pending_since
        age = f"，最早一条写于北京时间 {audit.beijing(since)}（{_age((now - since).total_seconds())}前）" if since else ""
        lines.append(f"另有 {result.pending} 条记录尚未封存{age}：未封存的记录还不受哈希链保护，本命令不封存它们；"
                     "运行中的服务每秒封存一次，久未封存说明服务未运行或曾异常退出。")
    return lines


async def audit_checkpoint(config: Config) -> int:
    """Sign the audit chain's head into the checkpoint file now (seals nothing); print it and the public key."""
    from server.jobs import checkpoint_audit

    log = checkpoint_log(config)
    engine = make_engine(config)
    try:
        written = await checkpoint_audit(engine, log, force=True)
    finally:
        await engine.dispose()
    key = next(k for k in log.public_keys() if k["current"])
    if written is None:
        print("审计链尚无已封存的记录：未写检查点。")
    else:
        print(f"已写入检查点：审计链第 {written.seq} 条，哈希 {written.hash}，北京时间 {audit.beijing(written.at)}；"
              f"文件 {log.path}")
    print(f"检查点签名公钥（Ed25519，密钥 {key['key_id']}）：{key['public_key']}")
    return 0


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
    actor = actors.command("import-members")
    try:
        try:
            async with engine.begin() as conn:
                unit = await orgs.by_code(conn, org_code)
                report = await card_flows.import_roster(conn, PiiCipher(load_keyring(config)), actor, parsed,
                                                        org=unit, strict=strict)
        finally:
            await seal_own(config, engine, actor)
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


async def rebuild_relief_stats(config: Config, check: bool) -> int:
    """Count the relief statistics' summary afresh from the applications and their timelines (``tallies.rebuild``),
    or with ``check`` only compare it with a fresh count (exit 1 when they differ). Derived data, not audited."""
    from models.relief import tallies

    engine = make_engine(config)
    try:
        if check:
            async with reading(engine) as conn:
                drift = await tallies.drift(conn)
            for line in drift[:50]:
                print(line)
            print("the relief statistics' summary " + (f"differs from a fresh count ({len(drift)} rows)" if drift
                                                         else "equals a fresh count"))
            return 1 if drift else 0
        async with engine.begin() as conn:
            written = await tallies.rebuild(conn)
    finally:
        await engine.dispose()
    print("rebuilt the relief statistics' summary: " + ", ".join(f"{n} rows in {t}" for t, n in written.items()))
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
    sub.add_parser("audit-verify", help="check the audit log's hash chain and the chain against every saved "
                   "checkpoint (seals nothing; prints in Chinese; exit 1 when broken)")
    sub.add_parser("audit-checkpoint", help="sign the audit chain's head into the data dir's checkpoint file now")
    rotate = sub.add_parser("rotate-qr-key", help="add a new signing key for card codes; codes already shown "
                            "and printed cards signed by the previous keys still work")
    rotate.add_argument("--keep", type=int, default=4, help="older keys kept for verifying (default 4)")
    stats = sub.add_parser("rebuild-relief-stats", help="count the relief statistics' summary afresh from the "
                           "timelines (after a restore or a correction by hand; with the service stopped)")
    stats.add_argument("--check", action="store_true", help="only compare the summary with a fresh count; exit 1 "
                       "when they differ")
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
        "audit-checkpoint": lambda: audit_checkpoint(config),
        "rotate-qr-key": lambda: rotate_qr_key(config, args.keep),
        "import-members": lambda: import_members(config, args.file, args.org, args.strict),
        "rebuild-relief-stats": lambda: rebuild_relief_stats(config, args.check),
    }
