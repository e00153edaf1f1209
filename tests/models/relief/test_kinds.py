"""Kinds of relief as data: presets, inheritance down the tree, override, disable, add, the form's safe schema."""
from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from models.core.errors import Forbidden, Invalid, NotFound
from models.core.tables import audit_log
from models.relief import forms, kinds
from models.relief.presets import PRESETS
from models.relief.tables import relief_kinds
from tests.factories import org_tree, staff_actor

PRESET_CODES = ["living", "medical", "school", "holiday", "temporary", "register"]


def change(**data: Any) -> kinds.Change:
    return kinds.Change.of(data)


async def _tree(engine):
    async with engine.begin() as conn:
        return await org_tree(conn)


async def _in_force(engine, org) -> dict[str, kinds.Kind]:
    async with engine.connect() as conn:
        return {k.code: k for k in await kinds.in_force(conn, org)}


def test_presets_are_valid_and_realistic() -> None:
    assert list(kinds.PRESET_DEFINITIONS) == PRESET_CODES
    d = kinds.PRESET_DEFINITIONS
    assert d["living"].name == "生活救助" and d["living"].who == "registered"
    assert (d["living"].amount.basis, d["living"].amount.months) == ("line_months", 12)
    assert {p.type for p in d["medical"].proofs} >= {"diagnosis", "medical_bills", "insurance_settlement",
                                                       "income_proof"}
    assert {p.group for p in d["medical"].proofs if p.type in ("medical_bills", "insurance_settlement")} == {
        "medical_cost"}
    assert d["school"].amount.registered_amounts == {"university": 500_000, "high_school": 300_000}
    assert d["school"].frequency.per_field == "student_id_number"
    assert d["register"].who == "unregistered" and d["register"].amount.basis == "none"
    for defn in d.values():
        assert forms.schema_problems(defn.fields) == []


def test_caps_for_an_application() -> None:
    d = kinds.PRESET_DEFINITIONS
    assert kinds.cap_for(d["living"], {}, deep_line=80_000, registered=True) == 960_000
    assert kinds.cap_for(d["living"], {}, deep_line=None, registered=True) is None
    assert kinds.cap_for(d["medical"], {"self_paid": 300_000}, deep_line=None, registered=False) == 300_000
    assert kinds.cap_for(d["medical"], {"self_paid": 3_000_000}, deep_line=None, registered=False) == 1_000_000
    assert kinds.cap_for(d["school"], {"stage": "university"}, deep_line=None, registered=True) == 500_000
    assert kinds.cap_for(d["school"], {"stage": "university"}, deep_line=None, registered=False) == 400_000
    assert kinds.cap_for(d["holiday"], {}, deep_line=None, registered=True) == 50_000
    assert kinds.cap_for(d["register"], {}, deep_line=80_000, registered=False) is None


async def test_presets_in_force_everywhere_until_a_unit_says_otherwise(engine) -> None:
    tree = await _tree(engine)
    found = await _in_force(engine, tree["G01"])
    assert list(found) == PRESET_CODES
    assert all(k.source_org_id is None and k.definition.enabled for k in found.values())


async def test_override_is_inherited_below_and_nearest_wins(engine) -> None:
    tree = await _tree(engine)
    city = staff_actor(tree["C01"], "admin")
    async with engine.begin() as conn:
        at_k01 = await kinds.define(conn, city, "K01", "temporary", change(amount={"basis": "cap", "amount": 800_000}))
    assert at_k01.definition.amount.amount == 800_000
    assert at_k01.definition.name == "临时救助"  # the rest stays as it was in force there
    g01, k02 = await _in_force(engine, tree["G01"]), await _in_force(engine, tree["K02"])
    assert (g01["temporary"].definition.amount.amount, g01["temporary"].source_org_id) == (800_000, tree["K01"].id)
    assert (k02["temporary"].definition.amount.amount, k02["temporary"].source_org_id) == (500_000, None)
    # A unit further down defines it again: it wins for itself and below; the county's stays for the rest.
    async with engine.begin() as conn:
        await kinds.define(conn, city, "S01", "temporary", change(frequency={"period": "year", "times": 3}))
        await kinds.define(conn, city, "C01", "temporary", change(name="应急救助"))
    g01, k01 = await _in_force(engine, tree["G01"]), await _in_force(engine, tree["K01"])
    assert g01["temporary"].definition.frequency.times == 3
    assert g01["temporary"].definition.amount.amount == 800_000  # merged onto the county's, then kept whole
    assert g01["temporary"].definition.name == "临时救助"  # the city's later change does not reach below
    assert k01["temporary"].definition.name == "临时救助"
    assert (await _in_force(engine, tree["K02"]))["temporary"].definition.name == "应急救助"


async def test_disable_hides_a_kind_below_and_a_unit_below_may_enable_it(engine) -> None:
    tree = await _tree(engine)
    admin = staff_actor(tree["C01"], "admin")
    async with engine.begin() as conn:
        await kinds.define(conn, admin, "K01", "holiday", change(enabled=False))
        assert "holiday" not in [k.code for k in await kinds.in_force(conn, tree["G01"], enabled_only=True)]
        assert {k.code: k for k in await kinds.in_force(conn, tree["G01"])}["holiday"].definition.enabled is False
        await kinds.define(conn, admin, "G02", "holiday", change(enabled=True))
        assert "holiday" in [k.code for k in await kinds.in_force(conn, tree["G02"], enabled_only=True)]
        # Dropping the county's definition brings the preset back below it.
        back = await kinds.undefine(conn, admin, "K01", "holiday")
        assert back is not None and back.source_org_id is None and back.definition.enabled
        with pytest.raises(NotFound) as none:
            await kinds.undefine(conn, admin, "K01", "holiday")
        assert none.value.code == "relief_kind_not_defined"
        assert "holiday" in [k.code for k in await kinds.in_force(conn, tree["G01"], enabled_only=True)]


async def test_a_unit_adds_its_own_kind_whole(engine) -> None:
    tree = await _tree(engine)
    admin = staff_actor(tree["K01"], "admin")
    own = {
        "name": "职工子女入托补助", "who": "registered", "suggest_for": ["deep"],
        "fields": {"type": "object", "additionalProperties": False, "required": ["child"],
                   "properties": {"child": {"type": "string", "title": "子女姓名", "maxLength": 50}}},
        "proofs": [{"type": "enrolment", "name": "入托证明"}],
        "amount": {"basis": "fixed", "amount": 100_000}, "frequency": {"period": "year", "times": 1},
    }
    async with engine.begin() as conn:
        with pytest.raises(Invalid) as partial:
            await kinds.define(conn, admin, "K01", "nursery", change(name="入托补助"))
        assert partial.value.code == "invalid_body"
        added = await kinds.define(conn, admin, "K01", "nursery", kinds.Change.of(own))
        assert added.definition.proofs[0].required is True and added.definition.proofs[0].max_files == 5
        with pytest.raises(Invalid) as bad_code:
            await kinds.define(conn, admin, "K01", "Nursery-1", kinds.Change.of(own))
        assert bad_code.value.code == "relief_kind_code"
        audit = (await conn.execute(sa.select(audit_log.c.action, audit_log.c.summary)
                                    .where(audit_log.c.action == "relief_kind.define"))).all()
    assert len(audit) == 1 and json.loads(audit[0].summary)["code"] == "nursery"
    assert [k.code for k in (await _in_force(engine, tree["G01"])).values()] == [*PRESET_CODES, "nursery"]
    assert "nursery" not in await _in_force(engine, tree["K02"])


async def test_only_an_admin_within_their_subtree(engine) -> None:
    tree = await _tree(engine)
    async with engine.begin() as conn:
        with pytest.raises(Forbidden):
            await kinds.define(conn, staff_actor(tree["K01"], "reviewer"), "K01", "living", change(enabled=False))
        with pytest.raises(NotFound) as far:
            await kinds.define(conn, staff_actor(tree["K01"], "admin"), "K02", "living", change(enabled=False))
        assert far.value.code == "org_not_found"
        assert (await conn.execute(sa.select(sa.func.count()).select_from(relief_kinds))).scalar_one() == 0


@pytest.mark.parametrize("fields, reason", [
    ({"$ref": "https://evil.example/schema.json"}, "fields.$ref"),
    ({"type": "object", "additionalProperties": False,
      "properties": {"x": {"$ref": "#/definitions/y", "type": "string", "title": "x", "maxLength": 5}}},
     "不支持的关键字 $ref"),
    ({"type": "object", "additionalProperties": False,
      "properties": {"x": {"type": "string", "title": "姓名"}}}, "maxLength 必填"),
    ({"type": "object", "additionalProperties": False,
      "properties": {"x": {"type": "string", "title": "姓名", "maxLength": 10, "pattern": "(a+)+$"}}},
     "不支持的关键字 pattern"),
    ({"type": "object", "additionalProperties": False,
      "properties": {"x": {"type": "integer", "title": "金额", "minimum": 0}}}, "minimum、maximum 必填"),
    ({"type": "object", "additionalProperties": False,
      "properties": {"x": {"type": "object", "title": "嵌套"}}}, "type 只能是"),
    ({"type": "object", "properties": {}}, "fields.additionalProperties"),
    ({"type": "object", "additionalProperties": False, "properties": {"x": {"type": "boolean", "title": "是"}},
      "required": ["y"]}, "fields.required"),
    ({"type": "object", "additionalProperties": False,
      "properties": {"x": {"type": "string", "title": "学段", "maxLength": 9, "enum": ["a1", "b2"]}}}, "x-labels"),
    ({"type": "object", "additionalProperties": False,
      "properties": {f"f{i}": {"type": "boolean", "title": "是"} for i in range(41)}}, "最多 40 项"),
])
async def test_unsafe_form_schemas_are_refused(engine, fields, reason) -> None:
    tree = await _tree(engine)
    async with engine.begin() as conn:
        with pytest.raises(Invalid) as refused:
            await kinds.define(conn, staff_actor(tree["C01"], "admin"), "C01", "living", change(fields=fields))
    assert refused.value.code == "relief_kind_fields"
    assert any(reason in f"{p['field']} {p['reason']}" for p in refused.value.details), refused.value.details


async def test_amount_and_frequency_must_name_fields_the_form_has(engine) -> None:
    tree = await _tree(engine)
    admin = staff_actor(tree["C01"], "admin")
    async with engine.begin() as conn:
        for bad, field in [({"amount": {"basis": "field", "field": "diagnosis"}}, "amount.field"),
                           ({"amount": {"basis": "cap"}}, "amount.amount"),
                           ({"amount": {"basis": "by_choice", "field": "stage", "amounts": {"university": 1}}},
                            "amount.amounts"),
                           ({"frequency": {"period": "year", "times": 1, "per_field": "nobody"}},
                            "frequency.per_field")]:
            code = "medical" if "diagnosis" in str(bad) else "school"
            with pytest.raises(Invalid) as refused:
                await kinds.define(conn, admin, "C01", code, change(**bad))
            assert refused.value.code == "relief_kind_invalid" and refused.value.details[0]["field"] == field


def test_the_form_check_names_every_problem_at_once() -> None:
    schema = kinds.PRESET_DEFINITIONS["school"].fields
    good = {"student_name": "李小明", "student_id_number": "11010120050101001X", "stage": "university",
            "school": "湖南大学", "enrolled_year": 2025}
    assert forms.check_form(schema, good, complete=True) == good
    assert forms.check_form(schema, {"student_name": "李小明"}, complete=False) == {"student_name": "李小明"}
    with pytest.raises(Invalid) as bad:
        forms.check_form(schema, {"stage": "kindergarten", "enrolled_year": True, "tuition": -1, "extra": 1,
                                  "school": "  "}, complete=True)
    fields = {p["field"] for p in bad.value.details}
    assert bad.value.code == "relief_form"
    assert fields == {"stage", "enrolled_year", "tuition", "extra", "school", "student_name", "student_id_number"}
    medical = kinds.PRESET_DEFINITIONS["medical"].fields
    with pytest.raises(Invalid) as day:
        forms.check_form(medical, {"treated_on": "2026-02-30"}, complete=False)
    assert day.value.details == [{"field": "treated_on", "reason": "就诊（入院）日期应为日期（YYYY-MM-DD）"}]
    assert PRESETS["medical"]["fields"] is not medical  # the presets in code are never the stored objects
