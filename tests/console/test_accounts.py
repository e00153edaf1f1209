"""Staff accounts in the console over HTTP (admins): the list with filters in the URL, a new account (which must
change its password at its first login), its roles changed, locked (asked once: its session ends) and unlocked;
refusals by field with what was typed; other roles 403; another subtree's account 404."""
from __future__ import annotations

import re

from tests.console.scene import PASSWORD, make_scene

ACCOUNTS = "/console/accounts"
NEW = [("username", "clerk7"), ("display_name", "新来的干事"), ("org_code", "S01"), ("roles", "station"),
       ("password", "Initial-Pass-2026!")]


async def test_create_change_roles_lock_and_unlock(browser, engine, running):
    scene = await make_scene(engine)
    b = browser()
    await b.login("admin1", PASSWORD)
    listing = await b.get(ACCOUNTS)
    assert listing.status == 200 and listing.h1 == ["工作人员"] and listing.has("station1", "outsider")
    assert (await b.get(ACCOUNTS + "?username=review")).has("reviewer1")
    assert not (await b.get(ACCOUNTS + "?username=review")).has("station1")
    form = await b.get(ACCOUNTS + "/new")
    assert form.status == 200 and form.has("基层经办人员" if "基层经办人员" in form.text else "station")
    no_roles = await b.post(ACCOUNTS + "/new", [f for f in NEW if f[0] != "roles"])
    assert no_roles.status == 400 and no_roles.field_error("roles") and 'value="clerk7"' in no_roles.text
    assert "Initial-Pass-2026!" not in no_roles.text  # a password is never written back into the page
    taken = await b.post(ACCOUNTS + "/new", [("username", "station1")] + NEW[1:])
    assert taken.status == 409 and taken.field_error("username") == "用户名 station1 已被使用"
    weak = await b.post(ACCOUNTS + "/new", NEW[:-1] + [("password", "short")])
    assert weak.status == 400 and weak.field_error("password")
    made = await b.post(ACCOUNTS + "/new", NEW)
    assert made.status == 302
    staff_id = int(re.search(r"/accounts/(\d+)", made.location).group(1))
    page = await b.get(made.location)
    assert page.h1 == ["新来的干事"] and page.has("账号已创建", "东湖街道服务站", "尚未修改初始密码")

    clerk = browser()
    first = await clerk.login("clerk7", "Initial-Pass-2026!")
    assert (await clerk.follow(first)).h1 == ["修改密码"]  # must change the password first
    changed = await clerk.post("/console/password", {"current": "Initial-Pass-2026!", "new": "Clerk-Own-Pass-2026",
                                                     "confirm": "Clerk-Own-Pass-2026"})
    assert changed.status == 302
    await clerk.login("clerk7", "Clerk-Own-Pass-2026")
    assert (await clerk.get("/console/")).status == 200

    none = await b.post(f"{ACCOUNTS}/{staff_id}/roles", [])
    assert none.status == 400 and none.field_error("roles")
    roles = await b.post(f"{ACCOUNTS}/{staff_id}/roles", [("roles", "station"), ("roles", "reviewer")])
    assert roles.status == 302 and (await b.get(roles.location)).has("角色已修改")

    asked = await b.post(f"{ACCOUNTS}/{staff_id}/lock", {"state": "locked"})
    assert asked.status == 200 and asked.h1 == ["请确认"]
    assert (await clerk.get("/console/")).status == 200  # not yet
    locked = await b.post(f"{ACCOUNTS}/{staff_id}/lock", {"state": "locked", "confirmed": "1"})
    assert locked.status == 302 and (await b.get(locked.location)).has("账号已停用")
    out = await clerk.get("/console/")
    assert out.status == 302 and out.location.startswith("/console/login")  # its session ended at once
    assert (await b.get(ACCOUNTS + "?state=locked")).has("clerk7")
    unlocked = await b.post(f"{ACCOUNTS}/{staff_id}/lock", {"state": "active"})
    assert unlocked.status == 302 and (await b.get(unlocked.location)).has("账号已启用")
    mine = await b.get(f"{ACCOUNTS}/{scene.staff['admin1'].id}")
    assert mine.has("这是您自己的账号")
    self_lock = await b.post(f"{ACCOUNTS}/{scene.staff['admin1'].id}/lock", {"state": "locked", "confirmed": "1"})
    assert self_lock.status == 400


async def test_other_roles_and_other_subtrees_are_refused(browser, engine, running):
    scene = await make_scene(engine)
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    for path in (ACCOUNTS, ACCOUNTS + "/new", f"{ACCOUNTS}/{scene.staff['station1'].id}"):
        refused = await reviewer.get(path)
        assert refused.status == 403 and refused.h1 == ["没有权限"], path
    assert (await reviewer.post(f"{ACCOUNTS}/{scene.staff['station1'].id}/lock",
                                {"state": "locked", "confirmed": "1"})).status == 403
    county = browser()
    await county.login("admin1", PASSWORD)
    await county.post(ACCOUNTS + "/new", [("username", "k1admin"), ("org_code", "K01"), ("roles", "admin"),
                                          ("password", "County-Admin-2026!")])
    k1 = browser()
    await k1.login("k1admin", "County-Admin-2026!")
    await k1.post("/console/password", {"current": "County-Admin-2026!", "new": "County-Admin-2027!",
                                        "confirm": "County-Admin-2027!"})
    listing = await k1.get(ACCOUNTS)
    assert listing.has("station1") and not listing.has("outsider")
    for path in (f"{ACCOUNTS}/{scene.staff['outsider'].id}", f"{ACCOUNTS}/{scene.staff['admin1'].id}"):
        missing = await k1.get(path)
        assert missing.status == 404 and missing.h1 == ["找不到页面"], path
    assert (await k1.post(f"{ACCOUNTS}/{scene.staff['outsider'].id}/roles", [("roles", "admin")])).status == 404
    wrong_unit = await k1.post(ACCOUNTS + "/new", [("username", "x2clerk"), ("org_code", "K02"), ("roles", "station"),
                                                   ("password", "Another-Pass-2026!")])
    assert wrong_unit.status == 404 and wrong_unit.field_error("org_code")
