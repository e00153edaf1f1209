"""Subscribe-message templates: one per kind of notice, its id and its fields, and WeChat's value rules.

A union picks four templates in the mini-program's admin panel (card changed, redemption,
relief step, payment) and configures, for each, its id and which value of the event fills
which of the template's keywords: ``"thing1=title,phrase2=status,time3=at"``. A keyword's
type is its name without the trailing number (``thing``, ``phrase``, ``time``, ``amount``...),
and WeChat refuses a message whose value breaks its type's rule (errcode 47003), so every
value is shaped here to fit: a ``thing`` is cut to 20 characters, a ``phrase`` keeps at most
five Chinese characters, an ``amount`` is yuan with two decimals, a ``time`` is Beijing time.

The sandbox (``server/wechat_sandbox.py``) knows the same default templates, so a message
that passes there is shaped as WeChat wants it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping
from zoneinfo import ZoneInfo

from models.core.outbox import CATEGORIES, MONEY_VALUES

_SHANGHAI = ZoneInfo("Asia/Shanghai")

#: The placeholder template ids the service ships with; the sandbox knows them, WeChat does not.
PLACEHOLDER_PREFIX = "sandbox-"

#: The default template of each kind of notice: its (placeholder) id and its keyword map.
DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    "card": ("sandbox-card-notice", "thing1=title,phrase2=status,time3=at,thing4=body"),
    "redemption": ("sandbox-redemption-notice", "thing1=merchant,amount2=amount,amount3=discount,time4=at,thing5=body"),
    "relief": ("sandbox-relief-notice", "thing1=kind,phrase2=step,time3=at,thing4=body"),
    "payment": ("sandbox-payment-notice", "thing1=kind,amount2=amount,time3=at,thing4=body"),
}

#: The keyword types WeChat documents for subscribe messages, each with its value rule.
KEYWORD_TYPES = ("thing", "number", "letter", "symbol", "character_string", "time", "date", "amount",
                 "phone_number", "car_number", "name", "phrase")

_KEYWORD = re.compile(r"^(?P<type>[a-z_]+?)(?P<n>\d{1,2})$")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class TemplateConfigError(ValueError):
    """A template's keyword map that cannot work (unknown keyword type or event value)."""


def keyword_type(keyword: str) -> str:
    """The type of a template keyword (``thing1`` -> ``thing``); TemplateConfigError if unknown."""
    match = _KEYWORD.match(keyword)
    if match is None or match["type"] not in KEYWORD_TYPES:
        raise TemplateConfigError(f"{keyword!r} is not a WeChat template keyword (e.g. thing1, time2)")
    return match["type"]


def parse_fields(category: str, text: str) -> dict[str, str]:
    """``"thing1=title,time2=at"`` as {keyword: value name}, checked against the category's values."""
    known = CATEGORIES[category] | {"at"}
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        keyword, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not keyword or not value:
            raise TemplateConfigError(f"{part!r}: expected keyword=value, e.g. thing1=title")
        keyword_type(keyword)
        if value not in known:
            raise TemplateConfigError(f"{value!r} is not a value of a {category} notice ({', '.join(sorted(known))})")
        if keyword in fields:
            raise TemplateConfigError(f"{keyword!r} is mapped twice")
        fields[keyword] = value
    if not fields:
        raise TemplateConfigError("the map is empty")
    return fields


def shape(kind: str, value: str | int | datetime) -> str:
    """``value`` written as a keyword of type ``kind`` accepts it (WeChat's documented limits)."""
    if isinstance(value, datetime):
        local = value.astimezone(_SHANGHAI)
        return local.strftime("%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M")
    if isinstance(value, int) and kind == "amount":
        # WeChat's amount takes no sign: a notice says which way money went in its words, not by "-".
        return f"{abs(value) // 100}.{abs(value) % 100:02d}元"
    text = " ".join(_CONTROL.sub(" ", str(value)).split())  # no control characters or line breaks
    if kind in ("number", "letter", "character_string", "symbol", "phone_number", "car_number", "name") and not text:
        return "-"
    if kind == "phrase":
        return "".join(_HAN.findall(text))[:5] or "通知"
    if kind == "name":
        return text[:10] if _HAN.search(text) else text[:20]
    if kind in ("number", "letter", "character_string"):
        return text[:32]
    if kind == "symbol":
        return text[:5]
    if kind == "phone_number":
        return text[:17]
    if kind == "car_number":
        return text[:8]
    if kind in ("time", "date", "amount"):
        return text
    if not text:
        return "-"  # WeChat refuses an empty value
    return text if len(text) <= 20 else text[:19] + "…"  # thing


@dataclass(frozen=True)
class Template:
    """One configured template: its id and {keyword: event value name}."""

    id: str
    fields: Mapping[str, str]

    @property
    def placeholder(self) -> bool:
        """Whether this is one of the shipped placeholder ids (which WeChat does not know)."""
        return self.id.startswith(PLACEHOLDER_PREFIX)


class NoticeTemplates:
    """The four templates of a deployment; renders a notice's values as a template's data."""

    def __init__(self, templates: Mapping[str, Template]) -> None:
        missing = set(CATEGORIES) - set(templates)
        if missing:
            raise TemplateConfigError(f"no template for {', '.join(sorted(missing))}")
        self.templates = dict(templates)

    @classmethod
    def from_settings(cls, ids: Mapping[str, str], fields: Mapping[str, str]) -> NoticeTemplates:
        """From the settings' ids and keyword maps (an empty one is the category's default)."""
        made = {}
        for category, (default_id, default_fields) in DEFAULT_TEMPLATES.items():
            made[category] = Template(ids.get(category) or default_id,
                                      parse_fields(category, fields.get(category) or default_fields))
        return cls(made)

    def template_id(self, category: str) -> str:
        """The template id of a kind of notice."""
        return self.templates[category].id

    def ids(self) -> dict[str, str]:
        """{category: template id}, what the mini-program asks the user to accept."""
        return {category: t.id for category, t in self.templates.items()}

    def render(self, category: str, values: Mapping[str, str | int], at: datetime) -> dict[str, dict[str, str]]:
        """The ``data`` of a subscribe message: each keyword's value shaped to its type."""
        data = {}
        for keyword, name in self.templates[category].fields.items():
            raw: str | int | datetime = at if name == "at" else values.get(name, "")
            if name in MONEY_VALUES and not isinstance(raw, int):
                raw = 0
            data[keyword] = {"value": shape(keyword_type(keyword), raw)}
        return data


# WeChat's value rules, as a check (the sandbox refuses what breaks them with 47003, like WeChat).
_DATE = r"(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}[-/]\d{1,2}[-/]\d{1,2})"
_CLOCK = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_POINT = {"time": rf"(?:{_DATE} ?)?{_CLOCK}", "date": rf"{_DATE}(?: ?{_CLOCK})?"}
_RULES: dict[str, re.Pattern[str]] = {
    "thing": re.compile(r"^[^\x00-\x1f\x7f]{1,20}$"),
    "number": re.compile(r"^(?=.{1,32}$)\d+(?:\.\d+)?$"),
    "letter": re.compile(r"^[A-Za-z]{1,32}$"),
    "symbol": re.compile(r"^[^\sA-Za-z0-9\u4e00-\u9fff]{1,5}$"),
    "character_string": re.compile(r"^[\x21-\x7e]{1,32}$"),
    "time": re.compile(rf"^{_POINT['time']}(?: ?~ ?{_POINT['time']})?$"),
    "date": re.compile(rf"^{_POINT['date']}(?: ?~ ?{_POINT['date']})?$"),
    "amount": re.compile(r"^[¥￥$€£]?\d{1,10}(?:\.\d{1,2})?元?$"),
    "phone_number": re.compile(r"^[0-9+\-() ]{1,17}$"),
    "car_number": re.compile(r"^[\u4e00-\u9fffA-Za-z0-9][A-Za-z0-9]{0,6}[\u4e00-\u9fffA-Za-z0-9]?$"),
    "phrase": re.compile(r"^[\u4e00-\u9fff]{1,5}$"),
}


def fits(kind: str, value: object) -> bool:
    """Whether ``value`` obeys WeChat's rule for a keyword of type ``kind`` (an empty value never does)."""
    if not isinstance(value, str) or not value:
        return False
    if kind == "name":  # ten Chinese characters, or twenty letters or symbols; mixed counts as Chinese
        return len(value) <= (10 if _HAN.search(value) else 20) and "\n" not in value
    rule = _RULES.get(kind)
    return rule is not None and rule.match(value) is not None
