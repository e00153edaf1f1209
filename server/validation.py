"""Request bodies checked against the schemas the OpenAPI document publishes (jsonschema)."""
from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from models.errors import Invalid


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
        return field, f"{label} 不能为空" if value == 1 else f"{label} 太短"
    reasons = {
        "type": f"{label} 的类型不对",
        "maxLength": f"{label} 太长",
        "pattern": f"{label} 格式不对",
        "minimum": f"{label} 太小",
        "maximum": f"{label} 太大",
        "minItems": f"{label} 不能为空",
        "maxItems": f"{label} 项目过多",
        "format": f"{label} 格式不对",
    }
    return field, reasons.get(str(kind), f"{label} 不符合要求")


class BodyValidator:
    """Validates one JSON body schema; components are resolved from the whole document."""

    def __init__(self, schema: dict[str, Any], components: dict[str, Any]) -> None:
        self._validator = Draft202012Validator({**schema, "components": components})

    def validate(self, body: Any) -> None:
        errors = sorted(self._validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if not errors:
            return
        details = []
        for err in errors[:10]:
            field, reason = _reason(err)
            details.append({"field": field, "reason": reason})
        raise Invalid("invalid_body", details[0]["reason"], details=details)
