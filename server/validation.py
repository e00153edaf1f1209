"""Requests checked at the edge: strict JSON decoding, and bodies and query strings validated
with the very pydantic models the OpenAPI document is generated from."""
from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, TypeVar

from pydantic import BaseModel, ValidationError

from models.core.errors import Invalid
from models.core.typed import invalid

# A JSON text can smuggle a lone UTF-16 surrogate only through a \\uD800-\\uDFFF escape
# (raw surrogate bytes are not valid UTF-8): look for the escape before walking the value.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _number(text: str) -> int | float:
    """A JSON number with a fraction or exponent: an int when its value is whole (``165.0``).

    JSON Schema counts 165.0 as an integer, so the server must too; money and ids are never
    fractional. Values too large for any column stay floats and fail the schema's bounds.
    """
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - json only passes valid number text
        raise ValueError(text) from None
    if value.is_finite() and abs(value) < 2**63 and value == value.to_integral_value():
        return int(value)
    return float(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def decode_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, no lone surrogates; ``invalid_json`` otherwise."""
    try:
        value = json.loads(body.decode("utf-8"), parse_float=_number, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Invalid("invalid_json", "请求体不是有效的 JSON") from None
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(value):
        raise Invalid("invalid_json", "请求体含有无效的 Unicode 字符")
    return value


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], value: Any, *, code: str = "invalid_body") -> M:
    """``value`` as an instance of ``model``; a refusal names each bad field in Chinese (``code``)."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise invalid(exc, code) from None


def query_values(model: type[BaseModel], arguments: Mapping[str, list[bytes]], *,
                 code: str = "invalid_query") -> dict[str, str]:
    """The text of each query parameter (or form field) ``model`` declares (a repeated one: its last value),
    named as published: by a field's alias when it has one (``from``, a Python keyword)."""
    values: dict[str, str] = {}
    for field_name, info in model.model_fields.items():
        name = info.alias or field_name
        raw_values = arguments.get(name)
        if not raw_values:
            continue
        try:
            values[name] = raw_values[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid(code, f"{name} 含有无效的字符",
                          details=[{"field": name, "reason": f"{name} 含有无效的字符"}]) from None
    return values
