"""The worker's notices over HTTP: the templates to accept, the grants they report, and the inbox
that holds every notice whether WeChat delivered it or not."""
from __future__ import annotations

from models.identity import usecases as identity
from tests.factories import counter
from tests.handlers.test_cards import staff_token


def ids(running) -> dict[str, str]:
    return running.settings["templates"].ids()


async def test_the_phone_learns_which_templates_to_ask_for(api, running):
    token = await api.login("wang.1")
    answer = await api.get("/api/v1/me/subscriptions", token=token)
    assert answer.status == 200, answer.data
    assert answer.data == {"templates": ids(running), "grants": {}}
    assert set(answer.data["templates"]) == {"card", "redemption", "relief", "payment"}


async def test_accepts_add_grants_ban_takes_them_back_and_foreign_keys_are_passed_over(api, running):
    token = await api.login("wang.1")
    card, relief = ids(running)["card"], ids(running)["relief"]
    results = {card: "accept", relief: "reject", "errMsg": "requestSubscribeMessage:ok", "not-ours": "accept"}
    first = await api.post("/api/v1/me/subscriptions", {"results": results}, token=token)
    assert first.status == 200, first.data
    assert first.data == {"grants": {card: 1}}
    again = await api.post("/api/v1/me/subscriptions", {"results": {card: "accept", relief: "accept"}}, token=token)
    assert again.data == {"grants": {card: 2, relief: 1}}
    banned = await api.post("/api/v1/me/subscriptions", {"results": {card: "ban", relief: "filter"}}, token=token)
    assert banned.data == {"grants": {relief: 1}}
    other = await api.login("li.1")  # grants are per worker
    assert (await api.get("/api/v1/me/subscriptions", token=other)).data["grants"] == {}


async def test_grants_are_capped(api, running):
    token = await api.login("wang.1")
    card = ids(running)["card"]
    for _ in range(52):
        answer = await api.post("/api/v1/me/subscriptions", {"results": {card: "accept"}}, token=token)
    assert answer.data == {"grants": {card: 50}}


async def test_bad_reports_are_refused_whole(api, running):
    token = await api.login("wang.1")
    card, relief = ids(running)["card"], ids(running)["relief"]
    for body in ({"results": {card: "accept", relief: "maybe"}}, {"results": {card: 1}}, {"results": []},
                 {"results": {f"t{i}": "accept" for i in range(21)}}, {"results": {"x" * 65: "accept"}}, {},
                 {"results": {card: "accept"}, "extra": 1}):
        answer = await api.post("/api/v1/me/subscriptions", body, token=token)
        assert answer.status == 400, (body, answer.data)
        assert answer.data["error"]["code"] == "invalid_body"
    assert (await api.get("/api/v1/me/subscriptions", token=token)).data["grants"] == {}  # nothing half-kept


async def test_a_notice_reaches_who_accepted_and_waits_in_the_inbox_for_who_did_not(api, engine, running, wechat):
    scene = await counter(api, engine, running)  # binding issued the card: one notice, before any grant
    templates = running.settings["templates"]
    assert await identity.dispatch_notifications(engine, running.gateway, templates) == 0  # the job ran: no grant
    accepted = await api.post("/api/v1/me/subscriptions", {"results": {ids(running)["card"]: "accept"}},
                              token=scene.worker)
    assert accepted.status == 200
    wechat.state.accept(wechat.state.openid_for("wang"), ids(running)["card"])  # WeChat saw the same tap
    clerk_freeze = await api.post(f"/api/v1/staff/cards/{scene.card_id}/freeze", {"reason": "核查"},
                                  token=await _clerk(api, engine))
    assert clerk_freeze.status == 200, clerk_freeze.data
    # The card's issue found no grant (inbox only); the freeze spends the one grant given since.
    assert await identity.dispatch_notifications(engine, running.gateway, templates) == 1
    [sent] = wechat.state.sent_messages
    assert (sent["touser"], sent["template_id"]) == (wechat.state.openid_for("wang"), ids(running)["card"])
    assert sent["data"]["thing1"] == {"value": "服务卡已冻结"} and sent["data"]["phrase2"] == {"value": "已冻结"}
    inbox = await api.get("/api/v1/me/notices", token=scene.worker)
    assert inbox.status == 200, inbox.data
    assert [(n["kind"], n["delivery"], n["read"]) for n in inbox.data["items"]] == [
        ("card.frozen", "sent", False), ("card.issued", "unsent", False)]
    assert inbox.data["unread"] == 2 and inbox.data["next"] is None
    assert inbox.data["items"][1]["title"] == "服务卡已开通" and inbox.data["items"][1]["at"]
    subs = await api.get("/api/v1/me/subscriptions", token=scene.worker)
    assert subs.data["grants"] == {}


async def test_the_inbox_pages_and_marks_read(api, engine, running):
    scene = await counter(api, engine, running)
    clerk = await _clerk(api, engine)
    for action in ("freeze", "unfreeze", "freeze", "unfreeze"):
        assert (await api.post(f"/api/v1/staff/cards/{scene.card_id}/{action}", {"reason": "核查"},
                               token=clerk)).status == 200
    first = await api.get("/api/v1/me/notices?limit=2", token=scene.worker)
    assert len(first.data["items"]) == 2 and first.data["next"] and first.data["unread"] == 5
    rest = await api.get(f"/api/v1/me/notices?limit=10&cursor={first.data['next']}", token=scene.worker)
    assert len(rest.data["items"]) == 3 and rest.data["next"] is None
    seen = [n["id"] for n in first.data["items"]]
    marked = await api.post("/api/v1/me/notices/read", {"ids": seen}, token=scene.worker)
    assert marked.status == 200 and marked.data == {"unread": 3}
    # Another worker can neither see nor mark these.
    other = await api.login("li.1")
    assert (await api.get("/api/v1/me/notices", token=other)).data == {"items": [], "next": None, "unread": 0}
    ids_rest = [n["id"] for n in rest.data["items"]]
    assert (await api.post("/api/v1/me/notices/read", {"ids": ids_rest}, token=other)).data == {"unread": 0}
    assert (await api.get("/api/v1/me/notices", token=scene.worker)).data["unread"] == 3
    done = await api.post("/api/v1/me/notices/read", {"all": True}, token=scene.worker)
    assert done.data == {"unread": 0}
    again = await api.get("/api/v1/me/notices", token=scene.worker)
    assert all(n["read"] for n in again.data["items"])


async def test_marking_names_ids_or_all_never_both(api):
    token = await api.login("wang.1")
    for body in ({}, {"ids": [1], "all": True}, {"all": False}, {"ids": ["1"]}, {"ids": [0]},
                 {"ids": list(range(1, 102))}):
        answer = await api.post("/api/v1/me/notices/read", body, token=token)
        assert answer.status == 400, (body, answer.data)


async def _clerk(api, engine) -> str:
    return await staff_token(api, engine, "clerk.k01", ["station"], "K01")
