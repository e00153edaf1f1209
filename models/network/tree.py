"""The union network: a tree of units with materialised paths, so a subtree is one prefix scan."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from models.core import audit, stamps
from models.core.actors import Actor
from models.core.clock import utcnow
from models.core.errors import Conflict, Invalid, NotFound
from models.network.tables import org_settings, orgs

TYPES = {
    "province": "省总工会",
    "city": "市总工会",
    "county": "县/区总工会",
    "street": "乡镇/街道服务站",
    "grassroots": "基层工会",
    "industry": "产业工会",
}
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAX_DEPTH = 8


@dataclass(frozen=True)
class Org:
    """A unit of the union network: code, name, type, parent, and its path and depth in the tree."""

    id: int
    code: str
    name: str
    type: str
    parent_id: int | None
    path: str
    depth: int

    def view(self) -> dict[str, Any]:
        """The unit as the API shows it, with its type label."""
        return {"id": self.id, "code": self.code, "name": self.name, "type": self.type,
                "type_label": TYPES.get(self.type, self.type), "parent_id": self.parent_id, "depth": self.depth}


def _org(row: Any) -> Org:
    return Org(row.id, row.code, row.name, row.type, row.parent_id, row.path, row.depth)


def is_top(path: str | None) -> bool:
    """Whether the unit at ``path`` is a top of the network (no unit above it): its path is one id."""
    return path is not None and path.count("/") == 2


def in_subtree(column: Any, path: str) -> Any:
    """A WHERE clause: ``column`` (a path) lies in the subtree rooted at ``path``."""
    return column.like(path.replace("%", r"\%").replace("_", r"\_") + "%", escape="\\")


def _check_fields(code: str | None, name: str | None, type_: str | None) -> None:
    if code is not None and not CODE.match(code):
        raise Invalid("org_code_format", "单位代码只能由字母、数字、- 和 _ 组成，最长 32 位")
    if name is not None and not (1 <= len(name.strip()) <= 100):
        raise Invalid("org_name_format", "单位名称不能为空，最长 100 字")
    if type_ is not None and type_ not in TYPES:
        raise Invalid("org_type", "单位类型只能是：" + "、".join(TYPES))


async def _find(conn: AsyncConnection, where: Any, within: str | None, message: str) -> Org:
    query = sa.select(orgs).where(where)
    if within is not None:
        query = query.where(in_subtree(orgs.c.path, within))
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("org_not_found", message)
    return _org(row)


async def get(conn: AsyncConnection, org_id: int, *, within: str | None = None) -> Org:
    """The unit with this id; when ``within`` is a path, only inside that subtree (else not found)."""
    return await _find(conn, orgs.c.id == org_id, within, "找不到该工会组织")


async def by_code(conn: AsyncConnection, code: str, *, within: str | None = None) -> Org:
    """The unit with this code; when ``within`` is a path, only inside that subtree."""
    return await _find(conn, orgs.c.code == code, within, f"找不到代码为 {code} 的工会组织")


async def create(
    conn: AsyncConnection, actor: Actor, *, code: str, name: str, type_: str, parent_code: str | None,
    within: str | None = None,
) -> Org:
    """Add a unit; a root unit when no parent is given (only outside any actor's subtree: the CLI)."""
    _check_fields(code, name, type_)
    parent = await by_code(conn, parent_code, within=within) if parent_code else None
    if parent is None and within is not None:
        raise Invalid("org_parent_required", "请指定上级单位")
    if parent is not None and parent.depth + 1 >= MAX_DEPTH:
        raise Invalid("org_too_deep", "组织层级过深")
    if (await conn.execute(sa.select(orgs.c.id).where(orgs.c.code == code))).first():
        raise Conflict("org_code_taken", f"单位代码 {code} 已被使用")
    now = utcnow()
    result = await conn.execute(
        orgs.insert().values(code=code, name=name.strip(), type=type_, parent_id=parent.id if parent else None,
                             path="", depth=parent.depth + 1 if parent else 0, created_at=now, updated_at=now)
    )
    assert result.inserted_primary_key is not None
    new_id = int(result.inserted_primary_key[0])
    path = f"{parent.path if parent else '/'}{new_id}/"
    await conn.execute(orgs.update().where(orgs.c.id == new_id).values(path=path))
    org = await get(conn, new_id)
    await audit.record(conn, actor, "org.create", target_kind="org", target_id=new_id, org_path=path,
                       summary={"code": code, "name": name, "type": type_, "parent": parent_code})
    return org


async def rename(conn: AsyncConnection, actor: Actor, org: Org, *, name: str) -> Org:
    """Rename the unit, audited, and answer it renamed."""
    _check_fields(None, name, None)
    await conn.execute(orgs.update().where(orgs.c.id == org.id).values(name=name.strip(), updated_at=utcnow()))
    await audit.record(conn, actor, "org.rename", target_kind="org", target_id=org.id, org_path=org.path,
                       summary={"from": org.name, "to": name.strip()})
    return await get(conn, org.id)


async def move(conn: AsyncConnection, actor: Actor, org: Org, new_parent: Org) -> Org:
    """Move a unit and its whole subtree under another parent; never under itself."""
    if new_parent.path.startswith(org.path):
        raise Invalid("org_move_cycle", "不能把单位移到它自己或它的下级之下")
    if org.parent_id is None:
        raise Invalid("org_move_root", "顶级单位不能移动")
    depth_below = (
        await conn.execute(sa.select(sa.func.max(orgs.c.depth)).where(in_subtree(orgs.c.path, org.path)))
    ).scalar_one()
    shift = new_parent.depth + 1 - org.depth
    if depth_below + shift >= MAX_DEPTH:
        raise Invalid("org_too_deep", "组织层级过深")
    new_path = f"{new_parent.path}{org.id}/"
    old_len = len(org.path)
    await conn.execute(
        orgs.update()
        .where(in_subtree(orgs.c.path, org.path))
        .values(
            path=sa.literal(new_path, sa.String) + sa.func.substr(orgs.c.path, old_len + 1),
            depth=orgs.c.depth + shift,
            updated_at=utcnow(),
        )
    )
    await conn.execute(orgs.update().where(orgs.c.id == org.id).values(parent_id=new_parent.id))
    await stamps.bump(conn)  # the paths moved: programmes cached with their unit's path (partners.programmes)
    await audit.record(conn, actor, "org.move", target_kind="org", target_id=org.id, org_path=new_path,
                       summary={"from_parent": org.parent_id, "to_parent": new_parent.id})
    return await get(conn, org.id)


# Rows that belong to a unit alone and go with it (its settings, its own definitions of relief kinds).
OWNED = frozenset({"org_settings", "relief_kinds"})
# How a refusal names the rows still referencing a unit: table -> (noun, measure word).
REFERENCE_LABELS: dict[str, tuple[str, str]] = {
    "orgs": ("下级单位", "个"),
    "members": ("会员", "名"),
    "staff": ("工作人员", "名"),
    "merchants": ("合作商家", "家"),
    "programs": ("优惠项目", "个"),
    "cards": ("服务卡", "张"),
    "hardship_records": ("困难职工档案", "份"),
    "member_transfers": ("会籍转接记录", "条"),
    "relief_applications": ("救助申请", "份"),
    "relief_visits": ("入户核查记录", "份"),
    "relief_events": ("救助办理记录", "条"),
    "relief_meetings": ("集体评议记录", "份"),
    "funds": ("资金来源", "个"),
}


def reference_label(table: sa.Table) -> tuple[str, str]:
    """The (noun, measure word) naming rows of ``table``; a generic one for a table without a label."""
    return REFERENCE_LABELS.get(table.name, (f"数据表 {table.name} 中的记录", "条"))


def org_references() -> list[tuple[sa.Table, tuple[sa.Column[Any], ...]]]:
    """Every table with a foreign key to ``orgs.id`` and its referencing columns, from the one MetaData:
    the unit's children (``orgs.parent_id``) first, then the rest in dependency order."""
    found: list[tuple[sa.Table, tuple[sa.Column[Any], ...]]] = []
    for table in orgs.metadata.sorted_tables:
        columns = tuple(fk.parent for fk in table.foreign_keys if fk.column is orgs.c.id)
        if columns:
            found.append((table, columns))
    found.sort(key=lambda item: item[0] is not orgs)
    return found


async def delete(conn: AsyncConnection, actor: Actor, org: Org) -> None:
    """Delete a unit nothing references any more (its own settings go with it).

    What is in the way is read from the foreign keys to ``orgs.id`` in the MetaData,
    so a table added later is checked without anyone remembering to list it here.
    """
    # Lock the unit's row: on MySQL, rows that would reference it wait for this transaction.
    await conn.execute(sa.select(orgs.c.id).where(orgs.c.id == org.id).with_for_update())
    blockers: list[dict[str, Any]] = []
    for table, columns in org_references():
        if table.name in OWNED:
            continue
        count = (await conn.execute(sa.select(sa.func.count()).select_from(table)
                                    .where(sa.or_(*(c == org.id for c in columns))))).scalar_one()
        if count:
            noun, measure = reference_label(table)
            blockers.append({"kind": table.name, "label": noun, "count": int(count),
                             "reason": f"{count} {measure}{noun}"})
    if blockers:
        raise Conflict("org_not_empty", f"该单位还有 {'、'.join(b['reason'] for b in blockers)}，不能删除",
                       details=blockers)
    for table, columns in org_references():
        if table.name in OWNED:
            await conn.execute(table.delete().where(sa.or_(*(c == org.id for c in columns))))
    try:
        await conn.execute(orgs.delete().where(orgs.c.id == org.id))
    except IntegrityError:  # a reference that came in after the check (SQLite takes no row lock)
        raise Conflict("org_not_empty", "该单位仍被其他数据引用，不能删除") from None
    await audit.record(conn, actor, "org.delete", target_kind="org", target_id=org.id, org_path=org.path,
                       summary={"code": org.code, "name": org.name})


async def subtree(conn: AsyncConnection, root: Org, *, after: str | None = None,
                  limit: int | None = None) -> list[Org]:
    """The unit and every unit below it in tree order (by path); those after path ``after``."""
    query = sa.select(orgs).where(in_subtree(orgs.c.path, root.path))
    if after is not None:
        query = query.where(orgs.c.path > after)
    rows = (await conn.execute(query.order_by(orgs.c.path).limit(limit))).all()
    return [_org(r) for r in rows]


async def ancestors(conn: AsyncConnection, org: Org) -> list[int]:
    """Ids from the root down to ``org`` itself."""
    return [int(part) for part in org.path.strip("/").split("/")]


async def get_setting(conn: AsyncConnection, org: Org, name: str) -> str | None:
    """The setting from the nearest unit on the way up to the root that sets it."""
    found = await setting_source(conn, org, name)
    return found[0] if found else None


async def setting_source(conn: AsyncConnection, org: Org, name: str) -> tuple[str, int] | None:
    """The setting in force at ``org`` and the id of the unit that sets it (``org`` itself or the nearest above)."""
    chain = await ancestors(conn, org)
    rows = (
        await conn.execute(
            sa.select(org_settings.c.org_id, org_settings.c.value).where(
                org_settings.c.name == name, org_settings.c.org_id.in_(chain)
            )
        )
    ).all()
    by_org = {r.org_id: r.value for r in rows}
    for org_id in reversed(chain):
        if org_id in by_org:
            return str(by_org[org_id]), org_id
    return None


async def set_setting(conn: AsyncConnection, actor: Actor, org: Org, name: str, value: str) -> None:
    """Set one of the unit's settings (its units below inherit it), audited."""
    now = utcnow()
    updated = await conn.execute(
        org_settings.update()
        .where(org_settings.c.org_id == org.id, org_settings.c.name == name)
        .values(value=value, updated_at=now)
    )
    if updated.rowcount == 0:
        await conn.execute(org_settings.insert().values(org_id=org.id, name=name, value=value, updated_at=now))
    await audit.record(conn, actor, "org.setting", target_kind="org", target_id=org.id, org_path=org.path,
                       summary={"name": name, "value": value})
