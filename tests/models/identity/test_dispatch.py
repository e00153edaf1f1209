"""Sending the queued notices: only with the worker's grant for the template, once, shaped to the
template's keywords, and never retrying what cannot succeed (against the strict WeChat sandbox)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from models.core import outbox as notifications
from models.core.clock import utcnow
from models.core.tables import notifications as outbox
from models.identity import subscriptions
from models.identity import usecases as identity
from models.identity.tables import users


async def worker(api, engine, wechat, name: str) -> int:
    """A worker who logged in through the sandbox (so WeChat knows their openid); their user id."""
    await api.login(f"{name}.1")
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(users.c.id).where(
            users.c.openid == wechat.state.openid_for(name)))).scalar_one())


def template(running, category: str = "card") -> str:
    return running.settings["templates"].template_id(category)


async def accept(engine, wechat, running, user_id: int, name: str, category: str = "card", times: int = 1) -> None:
    """The worker taps "allow" ``times`` times: WeChat records it, and the mini-program reports it to us."""
    tid = template(running, category)
    wechat.state.accept(wechat.state.openid_for(name), tid, times=times)
    async with engine.begin() as conn:
        for _ in range(times):
            await subscriptions.record(conn, user_id, {tid: "accept"}, {tid})


async def grants(engine, user_id: int) -> dict[str, int]:
    async with engine.connect() as conn:
        return await subscriptions.grants(conn, user_id)


async def queue(engine, user_id: int, kind: str = "card.frozen", **kw) -> int:
    async with engine.begin() as conn:
        return await notifications.enqueue(conn, user_id, kind, title=kw.pop("title", "服务卡已冻结"),
                                           body=kw.pop("body", "如有疑问请联系所在工会"), page="pages/card/index", **kw)


async def dispatch(engine, running, **kw) -> int:
    return await identity.dispatch_notifications(engine, running.gateway, running.settings["templates"], **kw)


async def row_of(engine, notice_id: int):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(outbox).where(outbox.c.id == notice_id))).one()


async def make_due(engine, notice_id: int) -> None:
    """Let the backoff pass (instead of waiting for it)."""
    async with engine.begin() as conn:
        await conn.execute(outbox.update().where(outbox.c.id == notice_id)
                           .values(next_attempt_at=utcnow() - timedelta(seconds=1)))


async def test_without_a_grant_a_notice_stays_in_the_inbox_and_wechat_is_never_asked(api, engine, running, wechat):
    wang = await worker(api, engine, wechat, "wang")
    notice = await queue(engine, wang)
    assert await dispatch(engine, running) == 0
    row = await row_of(engine, notice)
    assert (row.status, row.last_error, row.template_id, row.read_at) == ("unsent", "no_grant", None, None)
    await make_due(engine, notice)
    assert await dispatch(engine, running) == 0
    assert wechat.state.calls["subscribe_send"] == 0


async def test_with_a_grant_it_is_sent_once_with_the_templates_keywords_and_the_events_time(
        api, engine, running, wechat):
    wang = await worker(api, engine, wechat, "wang")
    await accept(engine, wechat, running, wang, "wang", "redemption", times=2)
    happened = datetime(2026, 11, 30, 16, 5, tzinfo=timezone.utc)  # 00:05 on 1 December in Beijing
    notice = await queue(engine, wang, "redemption", title="老百姓大药房（东湖路一号店）优惠", body="消费 123.45 元",
                         values={"merchant": "老百姓大药房（东湖路一号店）连锁有限公司总店", "amount": 12345, "discount": 1050},
                         at=happened)
    assert await dispatch(engine, running) == 1
    [message] = wechat.state.sent_messages
    assert (message["touser"], message["template_id"], message["page"]) == (
        wechat.state.openid_for("wang"), template(running, "redemption"), "pages/card/index")
    assert message["data"] == {
        "thing1": {"value": "老百姓大药房（东湖路一号店）连锁有限公…"}, "amount2": {"value": "123.45元"},
        "amount3": {"value": "10.50元"}, "time4": {"value": "2026-12-01 00:05"}, "thing5": {"value": "消费 123.45 元"}}
    row = await row_of(engine, notice)
    assert (row.status, row.attempts, row.template_id) == ("sent", 1, template(running, "redemption"))
    assert await grants(engine, wang) == {template(running, "redemption"): 1}  # one spent, one left
    assert await dispatch(engine, running) == 0
    assert wechat.state.calls["subscribe_send"] == 1


async def test_a_grant_of_another_template_does_not_carry_a_notice(api, engine, running, wechat):
    wang = await worker(api, engine, wechat, "wang")
    await accept(engine, wechat, running, wang, "wang", "relief")
    notice = await queue(engine, wang, "card.frozen")
    assert await dispatch(engine, running) == 0
    assert (await row_of(engine, notice)).status == "unsent"
    assert await grants(engine, wang) == {template(running, "relief"): 1}


async def test_43101_takes_the_templates_grants_back_and_is_never_retried(api, engine, running, wechat):
    wang = await worker(api, engine, wechat, "wang")
    async with engine.begin() as conn:  # the phone said "accept" three times, but WeChat holds none
        for _ in range(3):
            await subscriptions.record(conn, wang, {template(running): "accept"}, {template(running)})
    notice = await queue(engine, wang)
    second = await queue(engine, wang)
    assert await dispatch(engine, running) == 0
    row = await row_of(engine, notice)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "wechat_not_subscribed")
    assert await grants(engine, wang) == {}
    assert (await row_of(engine, second)).status == "unsent"  # no grant left: not even tried
    await make_due(engine, notice)
    assert await dispatch(engine, running) == 0
    assert wechat.state.calls["subscribe_send"] == 1


async def test_a_refusal_no_retry_can_mend_ends_the_notice_and_gives_the_grant_back(api, engine, running, wechat):
    wang = await worker(api, engine, wechat, "wang")
    await accept(engine, wechat, running, wang, "wang")
    for errcode, code in ((40037, "wechat_template_invalid"), (47003, "wechat_field_invalid"),
                          (41030, "wechat_page_invalid")):
        notice = await queue(engine, wang)
        wechat.state.inject("subscribe_send", errcode)
        assert await dispatch(engine, running) == 0
        row = await row_of(engine, notice)
        assert (row.status, row.attempts, row.last_error) == ("failed", 1, code)
        assert await grants(engine, wang) == {template(running): 1}
    calls = wechat.state.calls["subscribe_send"]
    assert calls == 3
    notice = await queue(engine, wang)
    assert await dispatch(engine, running) == 1  # the grant was never lost
    assert await grants(engine, wang) == {}


async def test_the_daily_limit_waits_for_the_next_beijing_day(api, engine, running, wechat):
    wang = await worker(api, engine, wechat, "wang")
    await accept(engine, wechat, running, wang, "wang")
    notice = await queue(engine, wang)
    wechat.state.inject("subscribe_send", 45009)
    before = utcnow()
    assert await dispatch(engine, running) == 0
    row = await row_of(engine, notice)
    assert (row.status, row.last_error) == ("pending", "wechat_daily_limit")
    beijing = before.astimezone(timezone(timedelta(hours=8)))
    midnight = (beijing + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert row.next_attempt_at >= midnight - timedelta(seconds=2)
    assert row.template_id == template(running) and await grants(engine, wang) == {}  # reserved for the retry
    await make_due(engine, notice)
    assert await dispatch(engine, running) == 1  # the retry spends no second grant
    assert (await row_of(engine, notice)).attempts == 2


async def test_busy_is_retried_later_with_backoff_on_the_same_grant(api, engine, running, wechat):
    wang = await worker(api, engine, wechat, "wang")
    await accept(engine, wechat, running, wang, "wang", times=2)
    notice = await queue(engine, wang, "card.active", title="服务卡已恢复使用", body="可以正常出示服务卡")
    wechat.state.inject("subscribe_send", -1, times=2)  # the gateway itself retries -1 once
    before = utcnow()
    assert await dispatch(engine, running) == 0
    row = await row_of(engine, notice)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "wechat_busy")
    wait = (row.next_attempt_at - before).total_seconds()
    assert 30 * 2 ** 1 - 1 <= wait <= 30 * 2 ** 1 + 10
    assert await dispatch(engine, running) == 0  # not due yet: no call
    assert wechat.state.calls["subscribe_send"] == 2
    await make_due(engine, notice)
    assert await dispatch(engine, running) == 1
    assert ((await row_of(engine, notice)).status, len(wechat.state.sent_messages)) == ("sent", 1)
    assert await grants(engine, wang) == {template(running): 1}


async def test_retryable_errors_end_after_five_attempts_and_give_the_grant_back(api, engine, running, wechat):
    wang = await worker(api, engine, wechat, "wang")
    await accept(engine, wechat, running, wang, "wang")
    notice = await queue(engine, wang, "card.lost", title="服务卡已挂失补办", body="旧卡已作废")
    wechat.state.inject("subscribe_send", 45011, times=10)
    waits = []
    for attempt in range(1, notifications.MAX_ATTEMPTS + 1):
        before = utcnow()
        assert await dispatch(engine, running) == 0
        row = await row_of(engine, notice)
        assert (row.attempts, row.last_error) == (attempt, "wechat_rate_limited")
        assert row.status == ("failed" if attempt == notifications.MAX_ATTEMPTS else "pending")
        waits.append((row.next_attempt_at - before).total_seconds())
        await make_due(engine, notice)
    assert all(later > 1.9 * earlier for earlier, later in zip(waits, waits[1:]))
    assert await dispatch(engine, running) == 0
    assert wechat.state.calls["subscribe_send"] == notifications.MAX_ATTEMPTS
    assert await grants(engine, wang) == {template(running): 1}


async def test_two_dispatchers_never_send_a_notice_twice_nor_spend_a_grant_twice(api, engine, running, wechat):
    names = [f"u{i}" for i in range(5)]
    ids = [await worker(api, engine, wechat, name) for name in names]
    for user_id, name in zip(ids, names):
        await accept(engine, wechat, running, user_id, name)
        await queue(engine, user_id, "card.issued", title="服务卡已开通", body="卡号尾号 0000")
        await queue(engine, user_id, "card.frozen")  # a second notice, no second grant
    counts = await asyncio.gather(dispatch(engine, running), dispatch(engine, running), dispatch(engine, running))
    assert sum(counts) == 5
    assert sorted(m["touser"] for m in wechat.state.sent_messages) == sorted(wechat.state.openid_for(n) for n in names)
    async with engine.connect() as conn:
        statuses = sorted((await conn.execute(sa.select(outbox.c.status))).scalars())
    assert statuses == ["sent"] * 5 + ["unsent"] * 5


async def test_an_unexpected_gateway_failure_counts_as_an_attempt_and_the_batch_goes_on(api, engine, running, wechat):
    class Broken:
        """A gateway that fails in a way it never should (a bug, not a WeChat error)."""

        def __init__(self) -> None:
            self.calls = 0

        async def send_subscribe_message(self, *args, **kwargs) -> None:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("unexpected")

    u1, u2 = await worker(api, engine, wechat, "u1"), await worker(api, engine, wechat, "u2")
    await accept(engine, wechat, running, u1, "u1")
    await accept(engine, wechat, running, u2, "u2")
    first, second = await queue(engine, u1), await queue(engine, u2)
    assert await identity.dispatch_notifications(engine, Broken(), running.settings["templates"]) == 1
    failed, done = await row_of(engine, first), await row_of(engine, second)
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "RuntimeError")
    assert done.status == "sent"
