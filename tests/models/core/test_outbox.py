"""The notification outbox: queued with the change, sent through the WeChat sandbox, retried with backoff.

Sending is identity's use case (it needs the users' openids): models/identity/usecases.py."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.core import outbox as notifications
from models.core.clock import utcnow
from models.core.tables import notifications as outbox
from models.identity import usecases as identity
from models.identity.tables import users


async def new_user(conn, name: str) -> int:
    now = utcnow()
    result = await conn.execute(users.insert().values(openid=f"o-{name}", created_at=now, last_login_at=now))
    return int(result.inserted_primary_key[0])


def template(running) -> str:
    return str(running.settings["config"].wechat_notice_template)


async def dispatch(engine, running, **kw) -> int:
    return await identity.dispatch_notifications(engine, running.gateway, template(running), **kw)


async def row_of(engine, notice_id: int):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(outbox).where(outbox.c.id == notice_id))).one()


async def make_due(engine, notice_id: int) -> None:
    """Let the backoff pass (instead of waiting for it)."""
    async with engine.begin() as conn:
        await conn.execute(outbox.update().where(outbox.c.id == notice_id)
                           .values(next_attempt_at=utcnow() - timedelta(seconds=1)))


async def test_enqueue_belongs_to_the_callers_transaction(engine):
    async with engine.begin() as conn:
        user_id = await new_user(conn, "wang")
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await notifications.enqueue(conn, user_id, "card.frozen", title="服务卡已冻结", body="x")
            raise RuntimeError("the change failed")
    async with engine.begin() as conn:
        assert await notifications.for_user(conn, user_id) == []
        first = await notifications.enqueue(conn, user_id, "card.issued", title="服务卡已开通" * 5, body="尾号" * 15,
                                            page="pages/card/index")
        second = await notifications.enqueue(conn, user_id, "card.frozen", title="服务卡已冻结", body="请联系工会")
        notices = await notifications.for_user(conn, user_id)
    assert [n.id for n in notices] == [second, first]  # newest first
    issued = notices[1]
    assert (len(issued.title), len(issued.body), issued.page, issued.status) == (20, 20, "pages/card/index", "pending")


async def test_due_notices_are_sent_once_as_subscribe_messages(engine, running, wechat):
    async with engine.begin() as conn:
        wang, li = await new_user(conn, "wang"), await new_user(conn, "li")
        a = await notifications.enqueue(conn, wang, "card.frozen", title="服务卡已冻结", body="如有疑问请联系所在工会",
                                        page="pages/card/index")
        b = await notifications.enqueue(conn, li, "card.issued", title="服务卡已开通", body="卡号尾号 1234")
    before = utcnow()
    assert await dispatch(engine, running) == 2
    after = utcnow()
    sent = wechat.state.sent_messages
    assert [(m["touser"], m["template_id"], m["page"]) for m in sent] == [
        ("o-wang", template(running), "pages/card/index"), ("o-li", template(running), None)]
    assert sent[0]["data"]["thing1"] == {"value": "服务卡已冻结"}
    assert sent[0]["data"]["thing2"] == {"value": "如有疑问请联系所在工会"}
    shown = sent[0]["data"]["time3"]["value"]
    # Asia/Shanghai to the minute, the minute of sending (which may not be the minute of this check).
    beijing = [(t + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") for t in (before, after)]
    assert len(shown) == 16 and beijing[0] <= shown <= beijing[1], (shown, beijing)
    for notice_id in (a, b):
        row = await row_of(engine, notice_id)
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, None) and row.sent_at is not None
    assert await dispatch(engine, running) == 0
    assert wechat.state.calls["subscribe_send"] == 2


async def test_not_subscribed_is_final_and_never_retried(engine, running, wechat):
    async with engine.begin() as conn:
        wang, li = await new_user(conn, "wang"), await new_user(conn, "li")
        refused = await notifications.enqueue(conn, wang, "card.frozen", title="服务卡已冻结", body="x")
        other = await notifications.enqueue(conn, li, "card.issued", title="服务卡已开通", body="y")
    wechat.state.inject("subscribe_send", 43101)
    assert await dispatch(engine, running) == 1  # the other notice still goes
    row = await row_of(engine, refused)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "wechat_not_subscribed")
    assert (await row_of(engine, other)).status == "sent"
    await make_due(engine, refused)
    assert await dispatch(engine, running) == 0
    assert wechat.state.calls["subscribe_send"] == 2
    assert [m["touser"] for m in wechat.state.sent_messages] == ["o-li"]


async def test_busy_is_retried_later_with_backoff(engine, running, wechat):
    async with engine.begin() as conn:
        notice = await notifications.enqueue(conn, await new_user(conn, "wang"), "card.active", title="服务卡已恢复使用",
                                             body="可以正常出示服务卡")
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
    row = await row_of(engine, notice)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(wechat.state.sent_messages) == 1


async def test_other_errors_are_retried_up_to_five_attempts_with_growing_backoff(engine, running, wechat):
    async with engine.begin() as conn:
        notice = await notifications.enqueue(conn, await new_user(conn, "wang"), "card.lost", title="服务卡已挂失补办",
                                             body="旧卡已作废")
    wechat.state.inject("subscribe_send", 48001, times=10)
    waits = []
    for attempt in range(1, notifications.MAX_ATTEMPTS + 1):
        before = utcnow()
        assert await dispatch(engine, running) == 0
        row = await row_of(engine, notice)
        assert (row.attempts, row.last_error) == (attempt, "wechat_error")
        assert row.status == ("failed" if attempt == notifications.MAX_ATTEMPTS else "pending")
        waits.append((row.next_attempt_at - before).total_seconds())
        await make_due(engine, notice)
    assert all(later > 1.9 * earlier for earlier, later in zip(waits, waits[1:]))
    assert await dispatch(engine, running) == 0
    assert wechat.state.calls["subscribe_send"] == notifications.MAX_ATTEMPTS
    assert wechat.state.sent_messages == []


async def test_two_dispatchers_never_send_a_notice_twice(engine, running, wechat):
    async with engine.begin() as conn:
        ids = [await new_user(conn, f"u{i}") for i in range(6)]
        for user_id in ids:
            await notifications.enqueue(conn, user_id, "card.issued", title="服务卡已开通", body="卡号尾号 0000")
    counts = await asyncio.gather(dispatch(engine, running), dispatch(engine, running), dispatch(engine, running))
    assert sum(counts) == 6
    assert sorted(m["touser"] for m in wechat.state.sent_messages) == sorted(f"o-u{i}" for i in range(6))
    async with engine.connect() as conn:
        assert set((await conn.execute(sa.select(outbox.c.status))).scalars()) == {"sent"}
        assert set((await conn.execute(sa.select(outbox.c.attempts))).scalars()) == {1}


async def test_limit_bounds_one_round(engine, running, wechat):
    async with engine.begin() as conn:
        user_id = await new_user(conn, "wang")
        for i in range(3):
            await notifications.enqueue(conn, user_id, "card.issued", title=f"通知{i}", body="b")
    assert await dispatch(engine, running, limit=2) == 2
    assert [m["data"]["thing1"]["value"] for m in wechat.state.sent_messages] == ["通知0", "通知1"]
    assert await dispatch(engine, running, limit=2) == 1


async def test_an_unexpected_gateway_failure_counts_as_an_attempt_and_the_batch_goes_on(engine, running):
    class Broken:
        """A gateway that fails in a way it never should (a bug, not a WeChat error)."""

        def __init__(self) -> None:
            self.calls = 0

        async def send_subscribe_message(self, *args, **kwargs) -> None:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("unexpected")

    async with engine.begin() as conn:
        first = await notifications.enqueue(conn, await new_user(conn, "u1"), "t", title="一", body="二")
        second = await notifications.enqueue(conn, await new_user(conn, "u2"), "t", title="一", body="二")
    sent = await identity.dispatch_notifications(engine, Broken(), "tpl")
    assert sent == 1
    failed, done = await row_of(engine, first), await row_of(engine, second)
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "RuntimeError")
    assert done.status == "sent"
