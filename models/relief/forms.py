"""A kind's form as JSON Schema, kept to a safe flat subset, and the check of a form against it.

The subset: an object (``additionalProperties: false``) of at most ``MAX_FIELDS`` typed properties,
each a string (with ``maxLength``; ``minLength``, ``enum`` with Chinese ``x-labels``, ``format``:
date or digits), an integer (with ``minimum`` and ``maximum``, ``x-unit``: fen for money) or a boolean, each
with a Chinese ``title``. Every other keyword is refused: no ``$ref`` (nor ``$id``, ``$schema``,
definitions) so nothing is fetched or expanded, no ``pattern`` (no regular expression from a unit's
configuration runs on a worker's input), no nesting.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Mapping, TypeGuard

from models.core.errors import Invalid
from models.core.typed import FEN_MAX

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 40
MAX_TEXT = 2000
MAX_LABEL = 100
MAX_ENUM = 50
UNITS = {"fen": "分", "person": "人", "year": "年", "month": "月", "day": "天"}
_TOP = {"type", "properties", "required", "additionalProperties", "title", "description"}
_COMMON = {"type", "title", "description"}
_KEYS = {
    "string": _COMMON | {"minLength", "maxLength", "enum", "x-labels", "format"},
    "integer": _COMMON | {"minimum", "maximum", "x-unit"},
    "boolean": _COMMON,
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: String formats a form field may declare: a day, or digits only (a bank account).
FORMATS = ("date", "digits")


def _int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _label(value: Any, limit: int = MAX_LABEL) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) and len(value) <= limit


def _property_problems(name: str, prop: Any) -> list[str]:
    if not isinstance(prop, dict):
        return ["应为对象"]
    kind = prop.get("type")
    if kind not in _KEYS:
        return ["type 只能是 string、integer 或 boolean"]
    out = [f"不支持的关键字 {k}" for k in sorted(set(prop) - _KEYS[kind])]
    if not _label(prop.get("title")):
        out.append(f"title 必填，最长 {MAX_LABEL} 字")
    if "description" in prop and not _label(prop["description"], 500):
        out.append("description 最长 500 字")
    if kind == "string":
        high, low = prop.get("maxLength"), prop.get("minLength", 0)
        if not (_int(high) and 1 <= high <= MAX_TEXT):
            out.append(f"maxLength 必填，1–{MAX_TEXT}")
            high = MAX_TEXT
        if not (_int(low) and 0 <= low <= high):
            out.append("minLength 应在 0 与 maxLength 之间")
        if "format" in prop and prop["format"] not in FORMATS:
            out.append("format 只能是 date 或 digits")
        if "enum" in prop:
            values, labels = prop["enum"], prop.get("x-labels")
            if not (isinstance(values, list) and 1 <= len(values) <= MAX_ENUM and len(set(map(str, values))) ==
                    len(values) and all(isinstance(v, str) and NAME.match(v) for v in values)):
                out.append(f"enum 应为 1–{MAX_ENUM} 个互不相同的代码（小写字母开头）")
            elif not (isinstance(labels, dict) and set(labels) == set(values) and all(map(_label, labels.values()))):
                out.append("x-labels 应为 enum 每个代码的中文名称")
        elif "x-labels" in prop:
            out.append("x-labels 只用于 enum")
    elif kind == "integer":
        low, high = prop.get("minimum"), prop.get("maximum")
        if not (_int(low) and _int(high) and 0 <= low and low <= high and high <= FEN_MAX):
            out.append(f"minimum、maximum 必填，0 ≤ minimum ≤ maximum ≤ {FEN_MAX}")
        if "x-unit" in prop and prop["x-unit"] not in UNITS:
            out.append("x-unit 只能是 " + "、".join(UNITS))
    return out


def schema_problems(schema: Any) -> list[dict[str, str]]:
    """Every way ``schema`` leaves the safe subset, as {field, reason}; empty when it is safe."""
    if not isinstance(schema, dict):
        return [{"field": "fields", "reason": "应为 JSON Schema 对象"}]
    problems = [{"field": f"fields.{k}", "reason": "不支持的关键字"} for k in sorted(set(schema) - _TOP)]
    if schema.get("type") != "object":
        problems.append({"field": "fields.type", "reason": "应为 object"})
    if schema.get("additionalProperties") is not False:
        problems.append({"field": "fields.additionalProperties", "reason": "应为 false"})
    props = schema.get("properties")
    if not isinstance(props, dict) or len(props) > MAX_FIELDS:
        problems.append({"field": "fields.properties", "reason": f"应为对象，最多 {MAX_FIELDS} 项"})
        return problems
    for name, prop in props.items():
        if not NAME.match(str(name)):
            problems.append({"field": f"fields.properties.{name}", "reason": "字段名只能用小写字母、数字和 _"})
            continue
        problems += [{"field": f"fields.properties.{name}", "reason": r} for r in _property_problems(name, prop)]
    required = schema.get("required", [])
    if not (isinstance(required, list) and len(set(map(str, required))) == len(required)
            and all(isinstance(r, str) and r in props for r in required)):
        problems.append({"field": "fields.required", "reason": "应为不重复的已定义字段名"})
    return problems


def check_schema(schema: Any) -> dict[str, Any]:
    """``schema`` when it is in the safe subset, else 400 relief_kind_fields naming every problem."""
    problems = schema_problems(schema)
    if problems:
        raise Invalid("relief_kind_fields", "表单字段定义不符合要求：" + "；".join(
            f"{p['field']} {p['reason']}" for p in problems[:5]), details=problems)
    return dict(schema)


def _value_problem(prop: Mapping[str, Any], value: Any) -> str | None:
    kind = prop["type"]
    if kind == "boolean":
        return None if isinstance(value, bool) else "应为 true 或 false"
    if kind == "integer":
        if not _int(value):
            return "应为整数"
        if not prop["minimum"] <= value <= prop["maximum"]:
            return f"应在 {prop['minimum']}–{prop['maximum']} 之间"
        return None
    if not isinstance(value, str):
        return "应为文字"
    if "enum" in prop:
        return None if value in prop["enum"] else "只能是：" + "、".join(prop["x-labels"][v] for v in prop["enum"])
    if len(value.strip()) < prop.get("minLength", 0) or len(value) > prop["maxLength"]:
        return f"长度应在 {prop.get('minLength', 0)}–{prop['maxLength']} 字之间"
    if prop.get("format") == "date":
        try:
            if not _DATE.match(value):
                raise ValueError(value)
            date.fromisoformat(value)
        except ValueError:
            return "应为日期（YYYY-MM-DD）"
    if prop.get("format") == "digits" and not (value.isascii() and value.isdigit()):
        return "只能填写数字"
    return None


def check_form(schema: Mapping[str, Any], values: Mapping[str, Any], *, complete: bool) -> dict[str, Any]:
    """The form's values when they fit ``schema`` (a safe one), else 400 relief_form naming every problem at once.

    ``complete=False`` (a draft) skips the required fields; a blank string counts as missing.
    """
    props: Mapping[str, Any] = schema["properties"]
    problems = [{"field": k, "reason": "没有这一项"} for k in values if k not in props]
    for name, value in values.items():
        if name in props and value is not None:
            reason = _value_problem(props[name], value)
            if reason:
                problems.append({"field": name, "reason": f"{props[name]['title']}{reason}"})
    if complete:
        for name in schema.get("required", []):
            value = values.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append({"field": name, "reason": f"{props[name]['title']}不能为空"})
    if problems:
        raise Invalid("relief_form", "申请表填写有误：" + "；".join(p["reason"] for p in problems[:5]),
                      details=problems)
    return {k: v for k, v in values.items() if v is not None}
