"""Partners in the console over HTTP: merchants (filters in the URL, create, edit, suspend asked once), stores,
invites with the code to scan (and revoke), programmes from the presets with their partners, a partner's
redemptions; refusals shown by their field with what was typed, the wrong role a 403 page, another county's
merchant a 404 page."""
from __future__ import annotations

import re

import sqlalchemy as sa

from models.core.tables import audit_log
from tests.console.scene import PASSWORD, make_scene

MERCHANTS = "/console/partners/merchants"
NEW = {"name": "仁和大药房", "type": "pharmacy", "org": "K01", "agreement_from": "2026-01-01",
       "agreement_to": "2027-12-31", "contact": "0731-1234567"}


def made_id(page) -> int:
    found = re.search(r"/(\d+)(?:\?|$)", page.location or "")
    assert page.status == 302 and found, (page.status, page.location, page.text[:300])
    return int(found.group(1))


async def admin(browser, engine):
    scene = await make_scene(engine)
    b = browser()
    await b.login("admin1", PASSWORD)
    return scene, b


async def new_merchant(b, **changes) -> int:
    return made_id(await b.post(MERCHANTS + "/new", {**NEW, **changes}))


async def actions(engine) -> list[str]:
    async with engine.connect() as conn:
        return [a for (a,) in await conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id))]


async def test_merchants_are_created_listed_filtered_and_corrected(browser, engine, running):
    _, b = await admin(browser, engine)
    empty = await b.get(MERCHANTS)
    assert empty.status == 200 and empty.h1 == ["合作商家"] and empty.has("没有符合条件的商家")
    form = await b.get(MERCHANTS + "/new")
    assert form.status == 200 and form.h1 == ["新增合作商家"] and 'value="K01"' in form.text
    refused = await b.post(MERCHANTS + "/new", {**NEW, "agreement_to": "2025-01-01"})
    assert refused.status == 400 and refused.field_error("agreement_to") == "协议结束日期不能早于开始日期"
    assert 'value="仁和大药房"' in refused.text and 'value="0731-1234567"' in refused.text  # what was typed kept
    nameless = await b.post(MERCHANTS + "/new", {**NEW, "name": ""})
    assert nameless.status == 400 and nameless.field_error("name")
    mid = await new_merchant(b)
    page = await b.get(f"{MERCHANTS}/{mid}?done=created")
    assert page.h1 == ["仁和大药房"] and page.has("商家已创建", "爱心药店", "芙蓉区总工会", "2026-01-01 至 2027-12-31")
    for action in ("stores", "status"):  # the page's forms post to this merchant
        assert f'action="{MERCHANTS}/{mid}/{action}"' in page.text
    assert '<nav aria-label="面包屑"' in page.text and f'<a href="{MERCHANTS}">合作商家</a>' in page.text
    other = await new_merchant(b, name="惠民超市", type="supermarket", org="G01")
    listing = await b.get(MERCHANTS)
    assert listing.has("仁和大药房", "惠民超市")
    by_type = await b.get(MERCHANTS + "?type=supermarket")
    assert by_type.has("惠民超市") and not by_type.has("仁和大药房")
    assert '<option value="supermarket" selected>' in by_type.text
    by_name = await b.get(MERCHANTS + "?name=" + "大药房")
    assert by_name.has("仁和大药房") and not by_name.has("惠民超市")
    first = await b.get(MERCHANTS + "?limit=1")
    nxt = re.search(r'<a href="([^"]+)" class="button secondary">下一页</a>', first.text)
    assert nxt and "cursor=" in nxt.group(1)
    second = await b.get(nxt.group(1).replace("&amp;", "&"))
    assert second.has("惠民超市") and not second.has("仁和大药房")
    bad = await b.get(MERCHANTS + "?type=casino")
    assert bad.status == 400 and bad.h1 == ["请求有误"]

    edit = await b.get(f"{MERCHANTS}/{mid}/edit")
    assert edit.status == 200 and 'value="仁和大药房"' in edit.text
    wrong = await b.post(f"{MERCHANTS}/{mid}/edit", {**NEW, "name": "仁和药房", "agreement_from": "2026-02-30"})
    assert wrong.status == 400 and wrong.field_error("agreement_from") and 'value="仁和药房"' in wrong.text
    saved = await b.post(f"{MERCHANTS}/{mid}/edit", {**NEW, "name": "仁和药房（五一店）"})
    assert saved.status == 302 and (await b.get(f"{MERCHANTS}/{mid}")).h1 == ["仁和药房（五一店）"]
    assert "merchant.update" in await actions(engine) and other


async def test_stores_and_suspension_asked_once(browser, engine, running):
    _, b = await admin(browser, engine)
    mid = await new_merchant(b)
    refused = await b.post(f"{MERCHANTS}/{mid}/stores", {"name": "五一店", "address": ""})
    assert refused.status == 400 and "address" in (refused.field_error("address") or "")
    assert 'value="五一店"' in refused.text
    added = await b.post(f"{MERCHANTS}/{mid}/stores", {"name": "五一店", "address": "五一大道 1 号"})
    assert added.status == 302 and (await b.get(f"{MERCHANTS}/{mid}")).has("五一店", "五一大道 1 号")

    asked = await b.post(f"{MERCHANTS}/{mid}/status", {"status": "suspended", "reason": "协议到期未续签"})
    assert asked.status == 200 and asked.h1 == ["请确认"] and 'value="协议到期未续签"' in asked.text
    assert (await b.get(f"{MERCHANTS}/{mid}")).has("合作中")  # nothing done yet
    no_reason = await b.post(f"{MERCHANTS}/{mid}/status", {"status": "suspended", "confirmed": "1"})
    assert no_reason.status == 400 and no_reason.field_error("reason") == "请填写原因"
    done = await b.post(f"{MERCHANTS}/{mid}/status", {"status": "suspended", "reason": "协议到期未续签",
                                                      "confirmed": "1"})
    assert done.status == 302 and (await b.get(done.location)).has("已暂停", "协议到期未续签")
    assert (await b.get(MERCHANTS + "?status=suspended")).has("仁和大药房")
    back = await b.post(f"{MERCHANTS}/{mid}/status", {"status": "active"})
    assert back.status == 302 and (await b.get(back.location)).has("已恢复合作")


async def test_invites_show_their_code_to_scan_and_can_be_revoked(browser, engine, running, wechat):
    _, b = await admin(browser, engine)
    mid = await new_merchant(b)
    await b.post(f"{MERCHANTS}/{mid}/stores", {"name": "五一店", "address": "五一大道 1 号"})
    page = await b.get(f"{MERCHANTS}/{mid}/invites")
    assert page.status == 200 and page.has("没有未使用的邀请", "五一店")
    no_store = await b.post(f"{MERCHANTS}/{mid}/invites", {"role": "cashier"})
    assert no_store.status == 400 and no_store.field_error("store_id") == "收银员邀请须指定门店"
    store_id = int(re.search(r'<option value="(\d+)">五一店</option>', page.text).group(1))
    made = await b.post(f"{MERCHANTS}/{mid}/invites", {"role": "cashier", "store_id": str(store_id)})
    iid = int(re.search(r"/invites/(\d+)", made.location).group(1))
    invite = await b.get(made.location)
    assert invite.status == 200 and invite.h1 == ["邀请收银员"] and invite.has("邀请已生成", "五一店")
    code = re.search(r'<code class="invite-code">([A-Z0-9]{12})</code>', invite.text).group(1)
    image_url = f"{MERCHANTS}/{mid}/invites/{iid}/code"
    assert f'<img src="{image_url}"' in invite.text
    image = await b.get(image_url)
    assert image.status == 200 and image.headers["Content-Type"].startswith("image/") and image.body
    listing = await b.get(f"{MERCHANTS}/{mid}/invites")
    assert code in listing.text and "收银员" in listing.text
    assert "merchant.invite_reveal" in await actions(engine)  # every reading of a code audited

    asked = await b.post(f"{MERCHANTS}/{mid}/invites/{iid}/revoke", {})
    assert asked.status == 200 and asked.h1 == ["请确认"]
    revoked = await b.post(f"{MERCHANTS}/{mid}/invites/{iid}/revoke", {"confirmed": "1"})
    assert revoked.status == 302 and (await b.get(revoked.location)).has("邀请已撤销", "没有未使用的邀请")
    gone = await b.get(f"{MERCHANTS}/{mid}/invites/{iid}")
    assert gone.status == 404 and gone.h1 == ["找不到页面"]
    assert (await b.get(image_url)).status == 404
    manager = await b.post(f"{MERCHANTS}/{mid}/invites", {"role": "manager"})
    assert manager.status == 302 and (await b.get(manager.location)).h1 == ["邀请商家管理员"]


async def test_programmes_from_a_preset_with_their_partners(browser, engine, running):
    _, b = await admin(browser, engine)
    mid = await new_merchant(b)
    other = await new_merchant(b, name="惠民超市", type="supermarket")
    form = await b.get("/console/partners/programs/new")
    assert form.status == 200 and form.has("爱心购药卡", "仁和大药房", "惠民超市")
    fields = [("preset", "pharmacy_drug_card"), ("org", "K01"), ("valid_from", "2026-01-01"),
              ("valid_to", "2025-12-31"), ("priority", "10"), ("money_quota", "300.50"), ("merchants", str(mid))]
    refused = await b.post("/console/partners/programs/new", fields)
    assert refused.status == 400 and refused.field_error("valid_to") == "结束日期不能早于开始日期"
    assert f'value="{mid}" checked' in refused.text and 'value="300.50"' in refused.text
    fields[3] = ("valid_to", "2026-12-31")
    pid = made_id(await b.post("/console/partners/programs/new", fields))
    page = await b.get(f"/console/partners/programs/{pid}")
    assert page.h1 == ["爱心购药卡"] and page.has("仁和大药房", "300.50 元", "2026-01-01 至 2026-12-31", "困难职工")
    assert "<dd>10</dd>" in page.text
    listing = await b.get("/console/partners/programs")
    assert listing.has("爱心购药卡", "进行中")
    changed = await b.post(f"/console/partners/programs/{pid}/merchants", [("merchants", str(mid)),
                                                                           ("merchants", str(other))])
    assert changed.status == 302 and (await b.get(changed.location)).has("合作商家已更新", "惠民超市")
    stranger = await b.post(f"/console/partners/programs/{pid}/merchants", [("merchants", "999999")])
    assert stranger.status == 404 and stranger.field_error("merchants")
    asked = await b.post(f"/console/partners/programs/{pid}/end", {})
    assert asked.h1 == ["请确认"]
    ended = await b.post(f"/console/partners/programs/{pid}/end", {"confirmed": "1"})
    assert ended.status == 302 and (await b.get(f"/console/partners/programs/{pid}")).has("已停止")


async def test_a_partners_redemptions_and_refusals(browser, engine, running):
    scene, b = await admin(browser, engine)
    mid = await new_merchant(b)
    page = await b.get(f"{MERCHANTS}/{mid}/redemptions")
    assert page.status == 200 and page.h1 == ["仁和大药房 · 核销记录"] and page.has("没有核销记录")
    day = await b.get(f"{MERCHANTS}/{mid}/redemptions?day=2026-03-01")
    assert day.status == 200 and 'value="2026-03-01"' in day.text
    assert (await b.get(f"{MERCHANTS}/{mid}/redemptions?day=2026-02-30")).status == 400

    station = browser()
    await station.login("reviewer1", PASSWORD)  # 芙蓉区, not an admin
    assert (await station.get(f"{MERCHANTS}/{mid}")).status == 200  # every member of staff may look
    for path in (MERCHANTS + "/new", f"{MERCHANTS}/{mid}/edit", f"{MERCHANTS}/{mid}/invites",
                 "/console/partners/programs/new"):
        refused = await station.get(path)
        assert refused.status == 403 and refused.h1 == ["没有权限"], path
    post = await station.post(f"{MERCHANTS}/{mid}/status", {"status": "suspended", "reason": "x", "confirmed": "1"})
    assert post.status == 403

    outsider = browser()
    await outsider.login("outsider", PASSWORD)
    assert not (await outsider.get(MERCHANTS)).has("仁和大药房")
    for path in (f"{MERCHANTS}/{mid}", f"{MERCHANTS}/{mid}/redemptions"):
        missing = await outsider.get(path)
        assert missing.status == 404 and missing.h1 == ["找不到页面"], path
    assert scene
