"""Requests checked at the edge: strict JSON decoding, and bodies and query strings validated
against the very schemas the OpenAPI document publishes (jsonschema)."""
from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from models.core.errors import Invalid

# A JSON text can smuggle a lone UTF-16 surrogate only through a \\uD800-\\uDFFF escape
# (raw surrogate bytes are not valid UTF-8): look for the escape before walking the value.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_INTEGER_TEXT = re.compile(r"^-?[0-9]{1,20}$")


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


def _field(error: ValidationError) -> str | None:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or None


def _reason(error: ValidationError) -> tuple[str | None, str]:
    """A Chinese reason for one schema violation, and the field it is about."""
    field = _field(error)
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        name = f"{field}.{missing}" if field else missing
        return name, f"缺少必填字段 {name}"
    if kind == "additionalProperties":
        return field, "含有不认识的字段：" + ", ".join(
            sorted(set(error.instance) - set(error.schema.get("properties", {})))
        )
    label = field or "请求体"
    value = error.validator_value
    if kind == "enum":
        return field, f"{label} 只能取以下值之一：" + "、".join(map(str, value))
    if kind == "minLength":
        return field, f"{label} 不能为空" if value == 1 else f"{label} 至少 {value} 个字符"
    reasons = {
        "type": f"{label} 的类型不对",
        "maxLength": f"{label} 太长",
        "pattern": f"{label} 格式不对",
        "minimum": f"{label} 太小",
        "maximum": f"{label} 太大",
        "minItems": f"{label} 不能为空",
        "maxItems": f"{label} 项目过多",
        "uniqueItems": f"{label} 有重复项",
        "format": f"{label} 格式不对",
    }
    return field, reasons.get(str(kind), f"{label} 不符合要求")


class SchemaValidator:
    """Validates values against one schema; components are resolved from the whole document."""

    def __init__(self, schema: dict[str, Any], components: dict[str, Any], *, code: str = "invalid_body") -> None:
        self._validator = Draft202012Validator({**schema, "components": components},
                                               format_checker=Draft202012Validator.FORMAT_CHECKER)
        self._code = code

    def validate(self, value: Any) -> None:
        errors = sorted(self._validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if not errors:
            return
        details = []
        for err in errors[:10]:
            field, reason = _reason(err)
            details.append({"field": field, "reason": reason})
        raise Invalid(self._code, details[0]["reason"], details=details)


def _wants(schema: Mapping[str, Any], kind: str) -> bool:
    """Whether a (possibly nullable) parameter schema admits values of JSON type ``kind``."""
    declared = schema.get("type")
    if declared == kind or (isinstance(declared, list) and kind in declared):
        return True
    return any(_wants(alt, kind) for alt in schema.get("anyOf", []) + schema.get("oneOf", []))


class QueryValidator:
    """The query parameters an operation publishes, typed from text and validated like a body.

    Parameters the operation does not publish are ignored; a repeated one takes its last value.
    """

    def __init__(self, parameters: Iterable[Mapping[str, Any]], components: dict[str, Any]) -> None:
        self._params = {p["name"]: p.get("schema", {}) for p in parameters if p.get("in") == "query"}
        required = [p["name"] for p in parameters if p.get("in") == "query" and p.get("required")]
        self._validator = SchemaValidator(
            {"type": "object", "properties": self._params, "required": required}, components, code="invalid_query")

    def parse(self, arguments: Mapping[str, list[bytes]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, schema in self._params.items():
            raw_values = arguments.get(name)
            if not raw_values:
                continue
            try:
                text = raw_values[-1].decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid("invalid_query", f"{name} 含有无效的字符",
                              details=[{"field": name, "reason": f"{name} 含有无效的字符"}]) from None
            values[name] = self._typed(text, schema)
        self._validator.validate(values)
        return values

    @staticmethod
    def _typed(text: str, schema: Mapping[str, Any]) -> Any:
        if _wants(schema, "integer") and _INTEGER_TEXT.match(text):
            return int(text)
        if _wants(schema, "boolean") and text in ("true", "false"):
            return text == "true"
        return text
