"""Kinds of relief per unit in the console over HTTP: the kinds in force (preset, inherited, own), a kind readable
(fields, proofs, caps in yuan), an admin's change as JSON refused as the API refuses it (reasons by the textarea,
what was typed kept), disable/enable, a new kind of the unit's own, dropping the unit's definition asked once."""
from __future__ import annotations

import json
import re
from html import unescape

import sqlalchemy as sa

from models.core.tables import audit_log
from models.relief import kinds
from tests.console.scene import PASSWORD, actor_of, make_scene


async def in_force(engine, scene, code: str) -> dict[str, kinds.Kind]:
    async with engine.connect() as conn:
        return {k.code: k for k in await kinds.in_force(conn, scene.tree[code])}


def textarea(text: str) -> str:
    found = re.search(r'<textarea id="definition"[^>]*>(.*?)</textarea>', text, re.S)
    assert found
    return unescape(found.group(1))


async def test_the_kinds_in_force_and_a_kind_readable(browser, engine, running):
    scene = await make_scene(engine)
    async with engine.begin() as conn:
        await kinds.define(conn, actor_of(scene.staff["admin1"]), "K01", "temporary",
                           kinds.Change(amount=kinds.Amount(basis="cap", amount=300_050)))
    b = browser()
    await b.login("station1", PASSWORD)
    home = await b.get("/console/relief-kinds/")
    assert home.status == 302 and home.location == "/console/relief-kinds/S01"
    page = await b.get(home.location)
    assert page.status == 200 and page.h1 == ["东湖街道服务站 的救助类别"]
    assert page.has("生活救助", "临时救助", "预设", "沿用上级：芙蓉区总工会（K01）", "最高 3,000.50 元")
    assert "新增本单位的救助类别" not in page.text  # not an admin
    other = await b.get("/console/relief-kinds/?org=G01")
    assert other.location == "/console/relief-kinds/G01"
    kind = await b.get("/console/relief-kinds/S01/temporary")
    assert kind.status == 200 and kind.h1 == ["临时救助（东湖街道服务站）"]
    assert kind.has("突发事件", "突发疾病、意外事故、自然灾害、其他", "金额（元）", "0.00–10,000,000.00 元", "日期",
                    "事故、灾害或病情证明", "家庭成员收入证明", "每户每年限 2 次", "最高 3,000.50 元")
    assert "保存为本单位的定义" not in kind.text and "<textarea" not in kind.text
    for code in kinds.PRESET_DEFINITIONS:  # every preset reads (choices, tables by choice, fields as caps)
        each = await b.get(f"/console/relief-kinds/S01/{code}")
        assert each.status == 200 and each.has(kinds.PRESET_DEFINITIONS[code].name), code
    assert (await b.get("/console/relief-kinds/S01/nothing_here")).status == 404
    assert (await b.get("/console/relief-kinds/K02")).status == 404  # another county: as missing
    assert (await b.get("/console/relief-kinds/K02/temporary")).status == 404
    assert (await b.get("/console/relief-kinds/?org=K02")).location == "/console/relief-kinds/K02"


async def test_an_admin_changes_a_kind_with_the_apis_checks(browser, engine, running):
    scene = await make_scene(engine)
    b = browser()
    await b.login("admin1", PASSWORD)
    page = await b.get("/console/relief-kinds/K01/temporary")
    assert page.has("预设", "在本单位停用", "保存为本单位的定义") and "取消本单位的设置" not in page.text
    assert json.loads(textarea(page.text))["amount"] == {"basis": "cap", "amount": 500000, "months": None,
                                                          "field": None, "threshold": None, "amounts": None,
                                                          "registered_amounts": None}
    broken = await b.post("/console/relief-kinds/K01/temporary", {"action": "define", "definition": '{"amount": 1'})
    assert broken.status == 400 and "JSON 格式不对" in broken.text and textarea(broken.text) == '{"amount": 1'
    wrong = await b.post("/console/relief-kinds/K01/temporary",
                         {"action": "define", "definition": '{"amount": {"basis": "cap"}, "frequency": {"period": "year"}}'})
    assert wrong.status == 400 and 'id="definition-error"' in wrong.text and "amount.amount" in wrong.text
    assert '"frequency": {"period": "year"}' in textarea(wrong.text)
    unknown = await b.post("/console/relief-kinds/K01/temporary", {"action": "define", "definition": '{"colour": 1}'})
    assert unknown.status == 400 and "colour" in unknown.text
    saved = await b.post("/console/relief-kinds/K01/temporary",
                         {"action": "define", "definition": '{"amount": {"basis": "cap", "amount": 200000}}'})
    assert saved.status == 302 and saved.location == "/console/relief-kinds/K01/temporary?done=defined"
    assert (await in_force(engine, scene, "G01"))["temporary"].definition.amount.amount == 200000
    shown = await b.get(saved.location)
    assert shown.has("已保存为本单位的定义", "本单位设置", "最高 2,000.00 元", "取消本单位的设置")
    off = await b.post("/console/relief-kinds/K01/temporary", {"action": "disable"})
    assert off.status == 302 and not (await in_force(engine, scene, "S01"))["temporary"].definition.enabled
    assert (await b.get("/console/relief-kinds/K01")).has("已停用")
    on = await b.post("/console/relief-kinds/K01/temporary", {"action": "enable"})
    assert on.status == 302 and (await in_force(engine, scene, "S01"))["temporary"].definition.enabled
    asked = await b.post("/console/relief-kinds/K01/temporary", {"action": "undefine"})
    assert asked.status == 200 and asked.h1 == ["请确认"]
    dropped = await b.post("/console/relief-kinds/K01/temporary", {"action": "undefine", "confirmed": "1"})
    assert dropped.status == 302 and dropped.location.endswith("?done=undefined")
    assert (await in_force(engine, scene, "K01"))["temporary"].source_org_id is None
    async with engine.connect() as conn:
        logged = [a for (a,) in await conn.execute(sa.select(audit_log.c.action))]
    assert logged.count("relief_kind.define") == 3 and logged.count("relief_kind.undefine") == 1


async def test_an_admin_adds_a_kind_of_the_units_own(browser, engine, running):
    scene = await make_scene(engine)
    b = browser()
    await b.login("admin1", PASSWORD)
    form = await b.get("/console/relief-kinds/S01/_new")
    assert form.status == 200 and form.h1 == ["新增救助类别（东湖街道服务站）"]
    example = json.loads(textarea(form.text))
    no_code = await b.post("/console/relief-kinds/S01/_new", {"code": "", "definition": json.dumps(example)})
    assert no_code.status == 400 and no_code.field_error("code") == "请填写类别代码"
    bad_code = await b.post("/console/relief-kinds/S01/_new", {"code": "Winter", "definition": json.dumps(example)})
    assert bad_code.status == 400 and "小写字母" in bad_code.field_error("code") and 'value="Winter"' in bad_code.text
    taken = await b.post("/console/relief-kinds/S01/_new", {"code": "temporary", "definition": json.dumps(example)})
    assert taken.status == 400 and "已在使用" in taken.field_error("code")
    bad = dict(example, name="冬")
    short = await b.post("/console/relief-kinds/S01/_new", {"code": "winter_aid", "definition": json.dumps(bad)})
    assert short.status == 400 and "name" in short.text and 'value="winter_aid"' in short.text
    example.update(name="冬季送温暖", description="冬季慰问困难职工")
    made = await b.post("/console/relief-kinds/S01/_new", {"code": "winter_aid", "definition": json.dumps(example)})
    assert made.status == 302 and made.location == "/console/relief-kinds/S01/winter_aid?done=defined"
    assert "winter_aid" in await in_force(engine, scene, "G01") and "winter_aid" not in await in_force(engine, scene, "K01")
    assert (await b.get("/console/relief-kinds/G01")).has("冬季送温暖", "沿用上级：东湖街道服务站（S01）")
    gone = await b.post("/console/relief-kinds/S01/winter_aid", {"action": "undefine", "confirmed": "1"})
    assert gone.status == 302 and gone.location == "/console/relief-kinds/S01?done=undefined"


async def test_kinds_refused_to_other_roles_and_out_of_the_subtree(browser, engine, running):
    from models.core.actors import SYSTEM
    from models.identity import staff_accounts
    from server.passwords import ARGON2

    scene = await make_scene(engine)
    clerk = browser()
    await clerk.login("station1", PASSWORD)
    for page in (await clerk.get("/console/relief-kinds/S01/_new"),
                 await clerk.post("/console/relief-kinds/S01/_new", {"code": "x_aid", "definition": "{}"}),
                 await clerk.post("/console/relief-kinds/S01/temporary", {"action": "disable"})):
        assert page.status == 403 and page.h1 == ["没有权限"]
    async with engine.begin() as conn:
        await staff_accounts.create(conn, SYSTEM, hasher=ARGON2, username="admin2", password=PASSWORD,
                                    roles=["admin"], org_code="K02", display_name="天心区管理员")
    other = browser()
    await other.login("admin2", PASSWORD)
    for page in (await other.get("/console/relief-kinds/S01/_new"),
                 await other.post("/console/relief-kinds/S01/temporary", {"action": "disable"}),
                 await other.post("/console/relief-kinds/S01/_new", {"code": "x_aid", "definition": "{}"})):
        assert page.status == 404 and page.h1 == ["找不到页面"]
    assert (await in_force(engine, scene, "S01"))["temporary"].definition.enabled
