"""The union network in the console over HTTP: the tree of my subtree (paginated, a root in the URL), a unit's page
with its lines (own or inherited), creating, renaming, moving and deleting a unit (admins), and the lines in yuan."""
from __future__ import annotations

import re

import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.core.tables import audit_log
from models.identity import staff_accounts
from models.members import hardship
from models.network import tree as orgs
from server.passwords import ARGON2
from tests.console.scene import PASSWORD, actor_of, make_scene


async def actions(engine) -> list[str]:
    async with engine.connect() as conn:
        return [a for (a,) in await conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id))]


async def unit(engine, code):
    async with engine.connect() as conn:
        return await orgs.by_code(conn, code)


async def county_admin(engine) -> None:
    """An admin of 天心区 (K02): the rest of the city is out of their subtree."""
    async with engine.begin() as conn:
        await staff_accounts.create(conn, SYSTEM, hasher=ARGON2, username="admin2", password=PASSWORD,
                                    roles=["admin"], org_code="K02", display_name="天心区管理员")


def tree_names(text: str) -> list[str]:
    return re.findall(r'<td class="depth-\d"><a href="/console/orgs/\d+">(.*?)</a></td>', text)


async def test_the_tree_of_my_subtree_paginated_with_its_root_in_the_url(browser, engine, running):
    scene = await make_scene(engine)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get("/console/orgs/")
    assert page.status == 200 and page.h1 == ["工会组织"] and 'aria-label="面包屑"' in page.text
    assert tree_names(page.text) == ["东湖街道服务站", "东湖社区工会", "湘绣厂工会"]
    assert page.has("乡镇/街道服务站", "基层工会") and "新建下级单位" not in page.text  # not an admin
    assert '<a href="/console/orgs/" aria-current="page">组织与设置</a>' in page.text
    admin = browser()
    await admin.login("admin1", PASSWORD)
    whole = await admin.get("/console/orgs/")
    assert tree_names(whole.text)[0] == "长沙市总工会" and len(tree_names(whole.text)) == 6
    assert 'class="depth-3"' in whole.text and "新建下级单位" in whole.text
    first = await admin.get("/console/orgs/?limit=4")
    assert len(tree_names(first.text)) == 4
    nxt = re.search(r'<a href="([^"]+)" class="button secondary">下一页</a>', first.text)
    assert nxt and "cursor=" in nxt.group(1)
    second = await admin.get(nxt.group(1).replace("&amp;", "&"))
    assert tree_names(second.text) == ["湘绣厂工会", "天心区总工会"] and "下一页" not in second.text
    below = await admin.get("/console/orgs/?root=S01")
    assert tree_names(below.text) == ["东湖街道服务站", "东湖社区工会", "湘绣厂工会"] and 'value="S01"' in below.text
    assert (await b.get("/console/orgs/?root=K02")).status == 404  # out of my subtree: as missing
    assert (await b.get("/console/orgs/?limit=0")).status == 400
    assert scene.tree["G01"].id


async def test_a_unit_page_shows_its_lines_own_or_inherited_and_its_children(browser, engine, running):
    scene = await make_scene(engine)
    async with engine.begin() as conn:
        await hardship.set_income_lines(conn, actor_of(scene.staff["admin1"]), "K01", 93000, 150050)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get(f"/console/orgs/{scene.tree['S01'].id}")
    assert page.status == 200 and page.h1 == ["东湖街道服务站"]
    assert page.has("930.00 元/人·月", "1,500.50 元/人·月", "沿用上级：芙蓉区总工会（K01）")
    assert page.has("东湖社区工会", "湘绣厂工会", "/console/relief-kinds/S01")
    assert "改名或移动" not in page.text and "删除单位" not in page.text
    own = await b.get(f"/console/orgs/{scene.tree['G01'].id}")
    assert own.has("沿用上级", "没有下级单位")
    admin = browser()
    await admin.login("admin1", PASSWORD)
    k01 = await admin.get(f"/console/orgs/{scene.tree['K01'].id}")
    assert k01.has("本单位设置", "修改本单位的认定标准", "改名或移动", "删除单位")
    c01 = await admin.get(f"/console/orgs/{scene.tree['C01'].id}")
    assert c01.has("都还没有设置认定标准", "为本单位设置认定标准")
    # out of my subtree, or missing: the 404 page
    for path in (f"/console/orgs/{scene.tree['K02'].id}", "/console/orgs/987654"):
        missing = await b.get(path)
        assert missing.status == 404 and missing.h1 == ["找不到页面"]


async def test_an_admin_creates_a_unit_and_refusals_keep_what_was_typed(browser, engine, running):
    scene = await make_scene(engine)
    b = browser()
    await b.login("admin1", PASSWORD)
    form = await b.get("/console/orgs/new?parent=S01")
    assert form.status == 200 and form.h1 == ["新建下级单位"] and '<option value="S01" selected>' in form.text
    empty = await b.post("/console/orgs/new", {"code": "", "name": "", "type": "", "parent_code": "S01"})
    assert empty.status == 400 and empty.field_error("code") and empty.field_error("name") and empty.field_error("type")
    bad = await b.post("/console/orgs/new", {"code": "新的", "name": "东湖新村工会", "type": "grassroots",
                                             "parent_code": "S01"})
    assert bad.status == 400 and bad.field_error("code") and 'value="东湖新村工会"' in bad.text
    taken = await b.post("/console/orgs/new", {"code": "G01", "name": "东湖新村工会", "type": "grassroots",
                                               "parent_code": "S01"})
    assert taken.status == 409 and taken.field_error("code") == "单位代码 G01 已被使用"
    assert '<option value="grassroots" selected>' in taken.text and 'value="G01"' in taken.text
    made = await b.post("/console/orgs/new", {"code": "G03", "name": "东湖新村工会", "type": "grassroots",
                                              "parent_code": "S01"})
    assert made.status == 302
    new = await unit(engine, "G03")
    assert made.location == f"/console/orgs/{new.id}?done=created" and new.parent_id == scene.tree["S01"].id
    shown = await b.get(made.location)
    assert shown.has("单位已建立", "东湖新村工会", "长沙市总工会 › 芙蓉区总工会 › 东湖街道服务站 › 东湖新村工会")
    assert "org.create" in await actions(engine)
    # a station clerk may look but not create: the 403 page
    clerk = browser()
    await clerk.login("station1", PASSWORD)
    for page in (await clerk.get("/console/orgs/new"),
                 await clerk.post("/console/orgs/new", {"code": "G04", "name": "x工会", "type": "grassroots",
                                                        "parent_code": "S01"})):
        assert page.status == 403 and page.h1 == ["没有权限"]
    # an admin of another county may not create under a unit outside their subtree
    await county_admin(engine)
    other = browser()
    await other.login("admin2", PASSWORD)
    outside = await other.post("/console/orgs/new", {"code": "G05", "name": "外区工会", "type": "grassroots",
                                                      "parent_code": "S01"})
    assert outside.status == 404 and outside.field_error("parent_code")


async def test_rename_move_and_delete_a_unit(browser, engine, running):
    scene = await make_scene(engine)
    b = browser()
    await b.login("admin1", PASSWORD)
    g02 = scene.tree["G02"].id
    edit = await b.get(f"/console/orgs/{g02}/edit")
    assert edit.status == 200 and edit.h1 == ["修改单位 湘绣厂工会"] and 'value="湘绣厂工会"' in edit.text
    assert '<option value="K02">' in edit.text and '<option value="G02">' not in edit.text  # never under itself
    blank = await b.post(f"/console/orgs/{g02}/edit", {"change": "name", "name": ""})
    assert blank.status == 400 and blank.field_error("name") == "请填写新的单位名称"
    renamed = await b.post(f"/console/orgs/{g02}/edit", {"change": "name", "name": "湘绣集团工会"})
    assert renamed.status == 302 and renamed.location.endswith("?done=renamed")
    assert (await unit(engine, "G02")).name == "湘绣集团工会"
    no_parent = await b.post(f"/console/orgs/{g02}/edit", {"change": "parent", "parent_code": ""})
    assert no_parent.status == 400 and no_parent.field_error("parent_code") == "请选择新的上级单位"
    cycle = await b.post(f"/console/orgs/{scene.tree['S01'].id}/edit", {"change": "parent", "parent_code": "G01"})
    assert cycle.status == 400 and cycle.field_error("parent_code") == "不能把单位移到它自己或它的下级之下"
    moved = await b.post(f"/console/orgs/{g02}/edit", {"change": "parent", "parent_code": "K02"})
    assert moved.status == 302 and (await unit(engine, "G02")).parent_id == scene.tree["K02"].id
    # delete: asked once; refused while it has units below it; done when empty
    asked = await b.post(f"/console/orgs/{scene.tree['K02'].id}", {})
    assert asked.status == 200 and asked.h1 == ["请确认"]
    refused = await b.post(f"/console/orgs/{scene.tree['K02'].id}", {"confirmed": "1"})
    assert refused.status == 409 and refused.has("1 个下级单位", "不能删除") and refused.h1 == ["天心区总工会"]
    gone = await b.post(f"/console/orgs/{g02}", {"confirmed": "1"})
    assert gone.status == 302 and gone.location == "/console/orgs/?deleted=G02"
    assert (await b.get(gone.location)).has("单位 G02 已删除")
    assert [a for a in await actions(engine) if a.startswith("org.")][-3:] == ["org.rename", "org.move", "org.delete"]
    # not an admin: 403; out of my subtree: 404
    clerk = browser()
    await clerk.login("station1", PASSWORD)
    assert (await clerk.get(f"/console/orgs/{scene.tree['G01'].id}/edit")).status == 403
    assert (await clerk.post(f"/console/orgs/{scene.tree['G01'].id}", {"confirmed": "1"})).status == 403
    await county_admin(engine)
    other = browser()
    await other.login("admin2", PASSWORD)
    for page in (await other.get(f"/console/orgs/{scene.tree['G01'].id}/edit"),
                 await other.post(f"/console/orgs/{scene.tree['G01'].id}/edit", {"change": "name", "name": "x"}),
                 await other.post(f"/console/orgs/{scene.tree['G01'].id}", {"confirmed": "1"})):
        assert page.status == 404 and page.h1 == ["找不到页面"]


async def test_the_hardship_lines_in_yuan(browser, engine, running):
    scene = await make_scene(engine)
    b = browser()
    await b.login("admin1", PASSWORD)
    form = await b.get("/console/hardship-lines/K01")
    assert form.status == 200 and form.h1 == ["芙蓉区总工会 困难职工认定标准"] and form.has("都还没有设置认定标准")
    empty = await b.post("/console/hardship-lines/K01", {"deep_line": "", "relative_line": "1500"})
    assert empty.status == 400 and empty.field_error("deep_line") == "请填写深度困难线（元/人·月）"
    assert 'value="1500"' in empty.text
    badly = await b.post("/console/hardship-lines/K01", {"deep_line": "九百", "relative_line": "1500"})
    assert badly.status == 400 and "金额请填写元" in badly.field_error("deep_line")
    upside = await b.post("/console/hardship-lines/K01", {"deep_line": "1600", "relative_line": "1500"})
    assert upside.status == 400 and upside.field_error("relative_line") == "深度困难线应低于相对困难线"
    saved = await b.post("/console/hardship-lines/K01", {"deep_line": "930.5", "relative_line": "1,500.00"})
    assert saved.status == 302 and saved.location == f"/console/orgs/{scene.tree['K01'].id}?done=lines"
    async with engine.connect() as conn:
        assert await hardship.income_lines(conn, scene.tree["G01"]) == (93050, 150000)
    again = await b.get("/console/hardship-lines/G01")
    assert again.has("沿用上级 芙蓉区总工会（K01）") and 'value="930.50"' in again.text
    clerk = browser()
    await clerk.login("station1", PASSWORD)
    assert (await clerk.get("/console/hardship-lines/S01")).status == 403
    assert (await clerk.post("/console/hardship-lines/S01", {"deep_line": "1", "relative_line": "2"})).status == 403
    await county_admin(engine)
    other = browser()
    await other.login("admin2", PASSWORD)
    assert (await other.get("/console/hardship-lines/K01")).status == 404
    assert (await other.post("/console/hardship-lines/K01", {"deep_line": "1", "relative_line": "2"})).status == 404
    assert (await other.get("/console/hardship-lines/NOPE")).status == 404
