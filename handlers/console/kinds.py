"""Kinds of relief per unit in the console: the kinds in force at a unit of my subtree (preset, inherited or its
own), a kind's definition made readable (form fields, proofs, amounts in yuan, frequency, deadlines), and for
admins: change a kind or add one (its JSON definition in a textarea, checked exactly as the API's
``PUT .../relief-kinds/{code}`` checks it), disable or enable it, or drop the unit's own definition (asked once)."""
from __future__ import annotations

import json
import re
from typing import Any

from handlers.console.base import ConsoleHandler, Refusal
from handlers.console.network import TREE_URL, unit_url
from models.core.errors import AppError, Invalid
from models.core.policy import Access, Target
from models.members import hardship
from models.members.hardship import CATEGORIES
from models.network import tree as orgs
from models.relief import kinds
from models.relief.records import STEP_NAMES
from server.validation import validate

ORG = Target("org_code", "org_code")
KINDS_URL = "/console/relief-kinds"
#: The add page's path segment: never a kind's code (a code starts with a letter).
NEW = "_new"
DONE = {"defined": "已保存为本单位的定义，本单位及未自行设置的下级单位即日起按此办理。",
        "enabled": "已启用。", "disabled": "已停用：本单位及下级单位的会员不能再申请（已提交的申请照常办理）。",
        "undefined": "已取消本单位的设置，恢复沿用上级或预设的定义。"}
TYPE_NAMES = {"string": "文字", "integer": "整数", "boolean": "是/否"}
UNIT_NAMES = {"fen": "元", "person": "人", "year": "年", "month": "月", "day": "天"}


def list_url(org_code: str) -> str:
    """The kinds in force at a unit."""
    return f"{KINDS_URL}/{org_code}"


def kind_url(org_code: str, code: str) -> str:
    """One kind at a unit."""
    return f"{KINDS_URL}/{org_code}/{code}"


def source_label(kind: kinds.Kind, org: orgs.Org, codes: dict[int, orgs.Org]) -> str:
    """Where a kind in force comes from: the preset, this unit, or the unit above that defines it."""
    if kind.source_org_id is None:
        return "预设"
    if kind.source_org_id == org.id:
        return "本单位设置"
    source = codes[kind.source_org_id]
    return f"沿用上级：{source.name}（{source.code}）"


def grouped(text: str) -> str:
    """The domain's amount text with thousands separators, as the console shows yuan: "11160.00" -> "11,160.00"."""
    return re.sub(r"\d{4,}(?=\.\d{2})", lambda m: f"{int(m.group(0)):,}", text)


def field_rows(defn: kinds.Definition) -> list[dict[str, Any]]:
    """The form's fields as rows: name, title, kind, required, limits (amounts in yuan), choices."""
    schema = defn.fields
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        money = prop.get("x-unit") == "fen"
        kind = "金额（元）" if money else TYPE_NAMES.get(prop.get("type", ""), prop.get("type", ""))
        if prop.get("format") == "date":
            kind = "日期"
        limits = []
        if prop.get("type") == "integer":
            low, high = prop.get("minimum"), prop.get("maximum")
            unit = UNIT_NAMES.get(prop.get("x-unit", ""), "")
            shown = (lambda v: f"{v / 100:,.2f}") if money else str
            if low is not None and high is not None:
                limits.append(f"{shown(low)}–{shown(high)} {unit}".strip())
        elif prop.get("type") == "string" and "enum" not in prop:
            limits.append(f"最多 {prop.get('maxLength')} 字" + (f"，至少 {prop['minLength']} 字"
                                                              if prop.get("minLength") else ""))
        labels = prop.get("x-labels") or {}
        choices = "、".join(labels.get(v, v) for v in prop.get("enum", []))
        rows.append({"name": name, "title": prop.get("title", name), "kind": kind, "required": name in required,
                     "limits": "；".join(limits), "choices": choices, "description": prop.get("description")})
    return rows


def amount_rows(defn: kinds.Definition, deep_line: int | None) -> list[str]:
    """The amount rule in words, amounts in yuan (for a registered worker too when the table differs)."""
    out = [grouped(kinds.amount_view(defn, deep_line=deep_line, registered=False)["text"])]
    if defn.amount.registered_amounts:
        out.append("已建档困难职工：" + grouped(kinds.amount_view(defn, deep_line=deep_line, registered=True)["text"]))
    if defn.amount.basis == "line_months" and deep_line is None:
        out.append("（本单位尚未设置困难职工认定标准，无法算出金额）")
    return out


def problems(exc: AppError) -> list[str]:
    """Each reason of a refused definition, naming the part of the JSON it is about."""
    out = [f"{d['field']}：{d.get('reason') or exc.message}" for d in exc.details or [] if d.get("field")]
    return out or [exc.message]


def parsed_definition(text: str) -> dict[str, Any]:
    """The textarea's JSON object; a refusal in Chinese naming the line otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"JSON 格式不对：第 {exc.lineno} 行第 {exc.colno} 列附近"
        raise Invalid("definition_json", reason, details=[{"field": "definition", "reason": reason}]) from None
    if not isinstance(data, dict):
        raise Invalid("definition_json", "定义应为一个 JSON 对象（以 { 开头）",
                      details=[{"field": "definition", "reason": "应为一个 JSON 对象（以 { 开头）"}])
    return data


class KindsHome(ConsoleHandler):
    """The kinds at my own unit, or at the unit whose code is typed (``?org=``)."""

    access = {"get": Access("relief_kinds.view")}

    async def get(self) -> None:
        """To the unit's list (its reach is checked there)."""
        actor = await self.actor()
        code = self.get_query_argument("org", "").strip()
        if not code:
            async with self.reading() as conn:
                code = (await orgs.get(conn, actor.org_id or 0)).code
        self.redirect(list_url(code) if orgs.CODE.match(code) else list_url("-"))


class KindsPage(ConsoleHandler):
    """The kinds in force at a unit, disabled ones too, each with where it comes from (the API's listing)."""

    access = {"get": Access("relief_kinds.view", ORG)}

    async def get(self, org_code: str) -> None:
        """The list."""
        actor = await self.actor()
        async with self.reading() as conn:
            org, found = await kinds.listing(conn, actor, org_code)
            lines = await hardship.lines_in_force(conn, org)
            sources = {i: await orgs.get(conn, i) for i in {k.source_org_id for k in found if k.source_org_id}}
        deep = lines[0] if lines else None
        rows = [{"kind": k, "source": source_label(k, org, sources), "who": kinds.WHO.get(k.definition.who, ""),
                 "amount": grouped(kinds.amount_view(k.definition, deep_line=deep, registered=False)["text"])}
                for k in found]
        self.page("kinds_list.html", f"{org.name} 的救助类别",
                  crumbs=[("工会组织", TREE_URL), (org.name, unit_url(org.id)), ("救助类别", None)],
                  org=org, rows=rows, kind_url=kind_url, new_url=kind_url(org.code, NEW),
                  done=DONE.get(self.get_query_argument("done", "")))


class KindPage(ConsoleHandler):
    """One kind at a unit, readable; admins change it (JSON), disable or enable it, or drop the unit's own one."""

    access = {"get": Access("relief_kinds.view", ORG), "post": Access("relief_kinds.manage", ORG)}

    async def show(self, org_code: str, code: str, *, form: dict[str, str] | None = None,
                   refusal: Refusal | None = None, reasons: list[str] | None = None) -> None:
        """The kind (again after a refusal: the JSON as typed, each reason listed by the textarea)."""
        actor = await self.actor()
        async with self.reading() as conn:
            org, found = await kinds.listing(conn, actor, org_code)
            kind = next((k for k in found if k.code == code), None)
            if kind is None:
                raise AppError("relief_kind_not_found", "找不到该救助类别", status=404)
            lines = await hardship.lines_in_force(conn, org)
            sources = {kind.source_org_id: await orgs.get(conn, kind.source_org_id)} if kind.source_org_id else {}
        defn = kind.definition
        text = json.dumps(defn.model_dump(), ensure_ascii=False, indent=2)
        self.page("kinds_kind.html", f"{defn.name}（{org.name}）",
                  crumbs=[("工会组织", TREE_URL), (org.name, unit_url(org.id)), ("救助类别", list_url(org.code)),
                          (defn.name, None)],
                  status=refusal.status if refusal else 200, refusal=refusal, org=org, kind=kind, defn=defn,
                  source=source_label(kind, org, sources), fields=field_rows(defn), who=kinds.WHO,
                  amounts=amount_rows(defn, lines[0] if lines else None),
                  frequency=kinds.frequency_view(defn)["text"], steps=STEP_NAMES, categories=CATEGORIES,
                  form=form or {"definition": text}, reasons=reasons or [], kind_url=kind_url,
                  errors=refusal.fields if refusal else {},
                  done=DONE.get(self.get_query_argument("done", "")))

    async def get(self, org_code: str, code: str) -> None:
        """The kind's page."""
        await self.show(org_code, code)

    async def post(self, org_code: str, code: str) -> None:
        """``action``: define (the JSON's fields replace those in force), enable, disable, or undefine (asked once)."""
        actor = await self.actor()
        values = self.form_values()
        action = values.get("action", "define")
        try:
            if action == "undefine":
                if values.get("confirmed") != "1":
                    self.ask_once("确定取消本单位对这个救助类别的设置吗？将恢复沿用上级或预设的定义；本单位自设的类别将不再有。",
                                  "确认取消设置", back=kind_url(org_code, code))
                    return
                async with self.writing() as conn:
                    still = await kinds.undefine(conn, actor, org_code, code)
                self.redirect((kind_url(org_code, code) if still else list_url(org_code)) + "?done=undefined")
                return
            if action in ("enable", "disable"):
                change = validate(kinds.Change, {"enabled": action == "enable"})
            else:
                change = validate(kinds.Change, parsed_definition(values.get("definition", "")))
            async with self.writing() as conn:
                await kinds.define(conn, actor, org_code, code, change)
        except AppError as exc:
            refusal = self.refused(exc)
            refusal.fields["definition"] = refusal.message
            await self.show(org_code, code, form=values if action == "define" else None, refusal=refusal,
                            reasons=problems(exc))
            return
        done = {"enable": "enabled", "disable": "disabled"}.get(action, "defined")
        self.redirect(kind_url(org_code, code) + "?done=" + done)


class NewKindPage(ConsoleHandler):
    """Add a kind of the unit's own (admins): its code and whole definition, checked as the API checks it."""

    access = {"get": Access("relief_kinds.manage", ORG), "post": Access("relief_kinds.manage", ORG)}

    async def show(self, org_code: str, form: dict[str, str], refusal: Refusal | None = None,
                   reasons: list[str] | None = None) -> None:
        """The form, started from the preset 临时救助 as an example (again after a refusal, as typed)."""
        actor = await self.actor()
        async with self.reading() as conn:
            org, _ = await kinds.listing(conn, actor, org_code)
        self.page("kinds_new.html", f"新增救助类别（{org.name}）",
                  crumbs=[("工会组织", TREE_URL), (org.name, unit_url(org.id)), ("救助类别", list_url(org.code)),
                          ("新增", None)],
                  status=refusal.status if refusal else 200, refusal=refusal, org=org, form=form,
                  errors=refusal.fields if refusal else {}, reasons=reasons or [])

    async def get(self, org_code: str) -> None:
        """The empty form with an example definition."""
        example = kinds.PRESET_DEFINITIONS["temporary"].model_dump()
        example.update(name="（新类别名称）", description="（说明）")
        await self.show(org_code, {"definition": json.dumps(example, ensure_ascii=False, indent=2)})

    async def post(self, org_code: str) -> None:
        """Define the new code at the unit; to its page."""
        actor = await self.actor()
        values = self.form_values()
        code = values.get("code", "")
        try:
            if not code:
                raise Invalid("relief_kind_code", "请填写类别代码", details=[{"field": "code", "reason": "请填写类别代码"}])
            change = validate(kinds.Change, parsed_definition(values.get("definition", "")))
            async with self.writing() as conn:
                found = [k.code for k in (await kinds.listing(conn, actor, org_code))[1]]
                if code in found:
                    reason = f"代码 {code} 已在使用，请换一个（修改已有类别请到它的页面）"
                    raise Invalid("relief_kind_code_taken", reason, details=[{"field": "code", "reason": reason}])
                await kinds.define(conn, actor, org_code, code, change)
        except AppError as exc:
            refusal = self.refused(exc)
            if exc.code == "relief_kind_code" and "code" not in refusal.fields:
                refusal.fields["code"] = refusal.message
            if "code" not in refusal.fields:
                refusal.fields["definition"] = refusal.message
            await self.show(org_code, values, refusal, problems(exc) if "definition" in refusal.fields else [])
            return
        self.redirect(kind_url(org_code, code) + "?done=defined")


_ORG = KINDS_URL + r"/(?P<org_code>[A-Za-z0-9_-]+)"
routes: list[tuple[str, Any]] = [
    (KINDS_URL + r"/", KindsHome),
    (_ORG, KindsPage),
    (_ORG + "/" + NEW, NewKindPage),
    (_ORG + r"/(?P<code>[a-z][a-z0-9_]{0,31})", KindPage),
]
