"""Typed requests: the pydantic bases every body and query model extends, the shared field types
(ids, fen, dates, cursors) with the bounds the API publishes, and the Chinese field errors.

One model per operation is the whole declaration: the OpenAPI document is generated from it
(server/openapi.py), the base handler validates with it, and the domain receives its instance.
It lives in the core, not in server/ or handlers/, because domain functions take these models.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Callable, Iterable, Mapping, Sequence, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError, core_schema

from models.core.errors import Invalid

#: The largest id a path, query or body may name: every id column is a 64-bit integer, and
#: JSON clients (JavaScript) hold integers exactly only up to 2**53 - 1.
ID_MAX = 2**53 - 1
#: The largest value of a 32-bit INT column (MariaDB refuses more; SQLite would store it).
INT32_MAX = 2**31 - 1
#: The largest amount of money, in fen, any request may carry (one hundred million yuan).
FEN_MAX = 10**10


M = TypeVar("M", bound="Body")


def published(schema: dict[str, Any], _model: Any = None) -> None:
    """The published schema without pydantic's titles and the models' English docstrings."""
    schema.pop("title", None)
    schema.pop("description", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)


class Body(BaseModel):
    """A JSON request body: strict types (no "12" for 12, no 1 for true), unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, json_schema_extra=published)

    @classmethod
    def of(cls: type[M], data: Mapping[str, Any]) -> M:
        """The model from plain data (the CLI, tests), refused like a request body (``invalid_body``)."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise invalid(exc) from None

    def given(self) -> set[str]:
        """The fields the client sent (a PATCH tells "set to null" from "leave alone" by this)."""
        return set(self.model_fields_set)


class Open(Body):
    """A JSON object that keeps fields it does not declare (published with additionalProperties)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True, json_schema_extra=published)


class Query(BaseModel):
    """Query parameters: typed from their text; parameters the operation does not publish are ignored."""

    model_config = ConfigDict(strict=False, extra="ignore", frozen=True, json_schema_extra=published)


# --- field types --------------------------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=ID_MAX)]
"""A row id as a request names it."""
Fen = Annotated[int, Field(ge=0, le=FEN_MAX)]
"""An amount of money in fen, zero allowed."""
PositiveFen = Annotated[int, Field(ge=1, le=FEN_MAX)]
"""An amount of money in fen, at least one fen."""
Int32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A count or number that fits a 32-bit INT column."""


def text(max_len: int | None = None, *, min_len: int = 0, pattern: str | None = None, **kw: Any) -> Any:
    """A string field's constraints: ``Annotated[str, text(50, min_len=1)]``."""
    return Field(min_length=min_len, max_length=max_len, pattern=pattern, **kw)


@dataclass(frozen=True)
class OneOf:
    """Field metadata: the value is one of a domain's codes (``Annotated[str, one_of(TYPES)]``)."""

    values: tuple[str, ...]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Validated and published like a ``Literal`` of the codes."""
        return core_schema.literal_schema(list(self.values))


def one_of(values: Iterable[str]) -> OneOf:
    """One of the given codes (a mapping's keys, a tuple), declared where the codes live."""
    return OneOf(tuple(values))


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("date_type", "not a date")
    if not _DATE.match(value):
        raise PydanticCustomError("date_format", "not YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_format", "no such day") from None


def _month(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("date_type", "not a month")
    if not _MONTH.match(value):
        raise PydanticCustomError("date_format", "not YYYY-MM")
    return value


Date = Annotated[date, BeforeValidator(_date),
                 WithJsonSchema({"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"})]
"""A calendar day written YYYY-MM-DD; a day that does not exist (2026-13-45) is refused."""
Month = Annotated[str, BeforeValidator(_month),
                  WithJsonSchema({"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"})]
"""A calendar month written YYYY-MM."""


# --- cursors ------------------------------------------------------------------------------------

_CURSOR_PREFIX = b"k1:"
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{4,300}$")
_KEY_PREFIX = b"k2:"


def _cursor_payload(position: int) -> bytes:
    # A check value so that a mistyped or made-up cursor is refused rather than read as another page.
    digits = str(position).encode()
    return _CURSOR_PREFIX + digits + b":" + b"%08x" % zlib.crc32(_CURSOR_PREFIX + digits)


def encode_cursor(position: int | None) -> str | None:
    """The opaque cursor a list answers as ``next`` for a keyset position (None: no more pages)."""
    if position is None:
        return None
    return base64.urlsafe_b64encode(_cursor_payload(position)).decode().rstrip("=")


def _cursor(value: Any) -> Any:
    if not isinstance(value, str) or not _CURSOR.match(value):
        raise PydanticCustomError("cursor_invalid", "bad cursor")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise PydanticCustomError("cursor_invalid", "bad cursor") from None
    digits = raw[len(_CURSOR_PREFIX):].split(b":")[0]
    if not digits.isdigit() or len(digits) > 16 or raw != _cursor_payload(int(digits)):
        raise PydanticCustomError("cursor_invalid", "bad cursor")
    position = int(digits)
    if not 1 <= position <= ID_MAX:
        raise PydanticCustomError("cursor_invalid", "bad cursor")
    return position


_CURSOR_SCHEMA = {"type": "string", "pattern": _CURSOR.pattern,
                  "description": "不透明的翻页游标：上一页回答中的 next，原样传回"}
Cursor = Annotated[int, BeforeValidator(_cursor), WithJsonSchema(_CURSOR_SCHEMA)]
"""A cursor as the client sends it back, decoded to the keyset position (an id) it stands for."""


def _key_payload(key: bytes) -> bytes:
    return _KEY_PREFIX + key + b":" + b"%08x" % zlib.crc32(_KEY_PREFIX + key)


def encode_key(*key: int | str | date) -> str:
    """The opaque cursor for a position in a list ordered by several columns (month, then id, ...)."""
    values = [v.isoformat() if isinstance(v, date) else v for v in key]
    text_ = json.dumps(values, ensure_ascii=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_key_payload(text_)).decode().rstrip("=")


@dataclass(frozen=True)
class Keyset:
    """Field metadata: a cursor standing for a composite position of the given types (int, str, date)."""

    types: tuple[type, ...]

    def __init__(self, *types: type) -> None:
        object.__setattr__(self, "types", types)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Decoded by ``decode``; published as an opaque string."""
        return core_schema.no_info_plain_validator_function(self.decode)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        """The cursor as clients see it: an opaque string."""
        return dict(_CURSOR_SCHEMA)

    def decode(self, value: Any) -> tuple[Any, ...]:
        """The position a cursor stands for, each part of its declared type; ``cursor_invalid`` otherwise."""
        bad = PydanticCustomError("cursor_invalid", "bad cursor")
        if not isinstance(value, str) or not _CURSOR.match(value):
            raise bad
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            key = raw[len(_KEY_PREFIX):raw.rindex(b":")]
            parts = json.loads(key) if raw == _key_payload(key) else None
        except (binascii.Error, ValueError):
            raise bad from None
        if not isinstance(parts, list) or len(parts) != len(self.types):
            raise bad
        out: list[Any] = []
        for part, kind in zip(parts, self.types):
            if kind is date and isinstance(part, str):
                try:
                    out.append(date.fromisoformat(part))
                except ValueError:
                    raise bad from None
            elif type(part) is kind and not (isinstance(part, str) and len(part) > 200):
                out.append(part)
            else:
                raise bad
        return tuple(out)


T = TypeVar("T")


def paged(fetched: Sequence[T], limit: int,
          position: Callable[[T], int | tuple[int | str | date, ...]]) -> tuple[list[T], str | None]:
    """A page from ``limit + 1`` fetched items: the first ``limit``, and the cursor of the next page or None.

    ``position`` gives an item's id (a ``Cursor``) or its composite position (a ``Keyset``)."""
    items = list(fetched[:limit])
    if len(fetched) <= limit or not items:
        return items, None
    key = position(items[-1])
    return items, encode_key(*key) if isinstance(key, tuple) else encode_cursor(key)


class Paging(Query):
    """The one pagination style: ``?cursor=&limit=``; the answer is ``{"items", "next"}``.

    A subclass declares its ``cursor``: an id (``Cursor``) or a composite position (``Keyset``).
    """

    limit: Annotated[int, Field(ge=1, le=100, description="每页条数（1–100）")] = 50


class PageQuery(Paging):
    """A page of a list ordered by id."""

    cursor: Cursor | None = None


# --- errors -------------------------------------------------------------------------------------

_TYPE_ERRORS = ("_type", "_parsing", "int_from_float", "bool_parsing", "model_attributes_type", "is_instance_of")


def _label(loc: tuple[Any, ...]) -> str | None:
    path = ".".join(str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in ("str", "int", "bool"))))
    return path or None


def _reason(error: Any, field: str | None) -> str:
    """A Chinese reason for one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    label = field or "请求体"
    if kind == "missing":
        return f"缺少必填字段 {label}"
    if kind in ("literal_error", "enum"):
        return f"{label} 只能取以下值之一：" + "、".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    if kind == "string_too_short":
        size = ctx.get("min_length", 1)
        return f"{label} 不能为空" if size == 1 else f"{label} 至少 {size} 个字符"
    if kind == "refused":  # a model's own rule: its message is already the Chinese reason
        return str(error["msg"])
    if kind == "cursor_invalid":
        return f"{label} 无效：请原样使用上一页回答中的 next"
    reasons = {
        "string_too_long": "太长", "string_pattern_mismatch": "格式不对", "date_format": "格式不对",
        "greater_than_equal": "太小", "greater_than": "太小", "less_than_equal": "太大", "less_than": "太大",
        "too_short": "不能为空", "too_long": "项目过多", "unique_items": "有重复项",
    }
    if kind in reasons:
        return f"{label} {reasons[kind]}"
    if kind.endswith(_TYPE_ERRORS) or kind in ("int_type", "string_type", "bool_type", "date_type"):
        return f"{label} 的类型不对"
    return f"{label} 不符合要求"


def invalid(exc: ValidationError, code: str = "invalid_body") -> Invalid:
    """The fixed-shape refusal for a failed validation: Chinese reasons, each naming its field."""
    details: list[dict[str, Any]] = []
    extras: dict[str | None, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            extras.setdefault(_label(loc[:-1]), []).append(str(loc[-1]))
            continue
        field = _label(loc)
        details.append({"field": field, "reason": _reason(error, field)})
    for parent, names in extras.items():
        details.append({"field": parent, "reason": "含有不认识的字段：" + ", ".join(sorted(names))})
    details.sort(key=lambda d: d["field"] or "")
    details = details[:10] or [{"field": None, "reason": "请求体不符合要求"}]
    return Invalid(code, details[0]["reason"], details=details)
