"""The home page: today's work of the signed-in person, by role and subtree, each count a link to its list."""
from __future__ import annotations

import re
from html import unescape

from tests.console.scene import PASSWORD, make_scene, relief_scene


def tasks(text: str) -> dict[tuple[str, str], tuple[int, str]]:
    """(group, label) -> (count, link) of every task on the page."""
    out = {}
    for group, body in re.findall(r'<h2 id="group-\d+">(.*?)</h2>(.*?)</section>', text, re.S):
        for href, count, label in re.findall(
                r'<a href="([^"]+)"><span class="count">(\d+)\+?</span>\s*<span class="label">(.*?)</span>', body):
            out[(group, label)] = (int(count), unescape(href))
    return out


async def test_a_station_clerk_sees_the_verification_work_of_their_subtree(browser, engine, running):
    scene = await make_scene(engine)
    await relief_scene(running, engine, scene)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get("/console/")
    assert page.status == 200 and page.title.startswith("今日工作")
    found = tasks(page.text)
    assert found[("基层核实环节", "待办理")] == (3, "/console/relief/queue?step=verification")
    assert found[("基层核实环节", "已超期")] == (1, "/console/relief/queue?step=verification&overdue=1")
    assert found[("基层核实环节", "有重复或超限提示")][0] == 1
    assert found[("基层核实环节", "退回后重新提交")] == (1, "/console/relief/queue?step=verification&resubmitted=1")
    assert not any(g == "县级审核环节" for g, _ in found)
    assert found[("其他待办", "30 日内到期的困难职工复核")][0] == 0
    assert not any(label == "待确认的商家月结单" for _, label in found)  # not a station clerk's work
    # overdue comes first, and is marked urgent
    labels = [label for (g, label) in found if g == "基层核实环节"]
    assert labels[0] == "已超期"
    assert 'class="task urgent"' in page.text
    # every count's link opens a list that shows as many
    queue = await b.get("/console/relief/queue?step=verification&overdue=1")
    assert queue.status == 200 and queue.text.count('<tr class="overdue">') == 1


async def test_roles_decide_the_groups(browser, engine, running):
    scene = await make_scene(engine)
    await relief_scene(running, engine, scene)
    reviewer = browser()
    await reviewer.login("reviewer1", PASSWORD)
    found = tasks((await reviewer.get("/console/")).text)
    assert found[("县级审核环节", "待办理")][0] == 1 and found[("县级审核环节", "有重复或超限提示")][0] == 1
    assert ("其他待办", "待调查的异议") in found and ("其他待办", "两日内公示期满") in found
    assert not any(g == "基层核实环节" for g, _ in found)
    finance = browser()
    await finance.login("finance1", PASSWORD)
    found = tasks((await finance.get("/console/")).text)
    assert found[("发放环节", "待办理")][0] == 0
    assert ("其他待办", "待确认的商家月结单") in found


async def test_another_county_sees_none_of_it(browser, engine, running):
    scene = await make_scene(engine)
    await relief_scene(running, engine, scene)
    b = browser()
    await b.login("outsider", PASSWORD)
    found = tasks((await b.get("/console/")).text)
    assert found[("基层核实环节", "待办理")][0] == 1  # its own application only
    assert found[("县级审核环节", "待办理")][0] == 0


async def test_the_nav_shows_the_areas_of_my_roles(browser, engine):
    await make_scene(engine)
    b = browser()
    await b.login("station1", PASSWORD)
    page = await b.get("/console/")
    nav = re.search(r'<nav class="site-nav" aria-label="功能导航">(.*?)</nav>', page.text, re.S)
    assert nav and "今日工作" in nav.group(1) and "救助审核" in nav.group(1)
    assert '<a href="/console/" aria-current="page">' in nav.group(1)
    assert '<a class="skip-link" href="#main">' in page.text
