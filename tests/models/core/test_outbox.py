"""The notification outbox: a notice is queued in the transaction of the change it reports,
with the event's values for its kind's template; sending is tested in tests/models/identity/test_dispatch.py."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from models.core import inbox
from models.core import outbox as notifications
from models.core.clock import utcnow
from models.core.tables import notifications as outbox
from models.identity.tables import users


async def new_user(conn, name: str) -> int:
    now = utcnow()
    result = await conn.execute(users.insert().values(openid=f"o-{name}", created_at=now, last_login_at=now))
    return int(result.inserted_primary_key[0])


async def test_enqueue_belongs_to_the_callers_transaction(engine):
    async with engine.begin() as conn:
        user_id = await new_user(conn, "wang")
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await notifications.enqueue(conn, user_id, "card.frozen", title="服务卡已冻结", body="x")
            raise RuntimeError("the change failed")
    async with engine.begin() as conn:
        assert await notifications.for_user(conn, user_id) == []
        first = await notifications.enqueue(conn, user_id, "card.issued", title="服务卡已开通" * 10, body="尾号" * 150,
                                            page="pages/card/index", values={"status": "已开通"})
        second = await notifications.enqueue(conn, user_id, "card.frozen", title="服务卡已冻结", body="请联系工会")
        notices = await notifications.for_user(conn, user_id)
    assert [n.id for n in notices] == [second, first]  # newest first
    issued = notices[1]
    # The inbox keeps the whole text (bounded); a template's keywords are cut to WeChat's rules when sent.
    assert (len(issued.title), len(issued.body)) == (notifications.TITLE_MAX, notifications.BODY_MAX)
    assert (issued.page, issued.status, issued.category, issued.template_id, issued.read_at) == (
        "pages/card/index", "pending", "card", None, None)
    assert issued.values["status"] == "已开通" and issued.values["title"] == issued.title


async def test_a_notice_carries_the_time_of_its_event(engine):
    happened = datetime(2026, 11, 30, 1, 2, 3, tzinfo=timezone.utc)
    async with engine.begin() as conn:
        user_id = await new_user(conn, "wang")
        await notifications.enqueue(conn, user_id, "redemption", title="优惠", body="b", at=happened,
                                    values={"merchant": "老百姓大药房", "amount": 12345, "discount": 500})
        later = await notifications.enqueue(conn, user_id, "card.frozen", title="t", body="b")
        notices = await notifications.for_user(conn, user_id)
        row = (await conn.execute(sa.select(outbox).where(outbox.c.id == later))).one()
    assert notices[1].at == happened and notices[1].category == "redemption"
    assert notices[1].values["amount"] == 12345
    assert notices[0].at == row.created_at  # without ``at``: now


@pytest.mark.parametrize(("kind", "category"), [
    ("card.issued", "card"), ("card.lost", "card"), ("member.moved", "card"), ("redemption", "redemption"),
    ("redemption.change", "redemption"), ("relief.returned", "relief"), ("payment", "payment")])
def test_each_kind_of_event_has_its_template(kind, category):
    assert notifications.category_of(kind) == category


async def test_an_event_without_a_template_or_with_foreign_values_is_a_programming_error(engine):
    async with engine.begin() as conn:
        user_id = await new_user(conn, "wang")
        with pytest.raises(ValueError, match="no kind of notice"):
            await notifications.enqueue(conn, user_id, "weather", title="t", body="b")
        with pytest.raises(ValueError, match="merchant"):
            await notifications.enqueue(conn, user_id, "card.frozen", title="t", body="b", values={"merchant": "x"})
        with pytest.raises(ValueError, match="integer fen"):
            await notifications.enqueue(conn, user_id, "redemption", title="t", body="b", values={"amount": "1.00"})
        assert await notifications.for_user(conn, user_id) == []


async def test_the_inbox_pages_counts_and_marks_only_the_workers_own(engine):
    async with engine.begin() as conn:
        wang, li = await new_user(conn, "wang"), await new_user(conn, "li")
        mine = [await notifications.enqueue(conn, wang, "card.frozen", title=f"n{i}", body="b") for i in range(5)]
        theirs = await notifications.enqueue(conn, li, "card.issued", title="li", body="b")
    async with engine.begin() as conn:
        first = await inbox.page(conn, wang, before=None, limit=2)
        assert [n.id for n in first] == mine[::-1][:3]  # limit + 1: the extra one says there is more
        rest = await inbox.page(conn, wang, before=first[1].id, limit=10)
        assert [n.id for n in rest] == mine[::-1][2:]
        assert await inbox.unread(conn, wang) == 5
        # Another's id and an unknown one are passed over; a repeat changes nothing.
        assert await inbox.mark_read(conn, wang, [mine[0], theirs, 10**9]) == 4
        assert await inbox.mark_read(conn, wang, [mine[0]]) == 4
        assert await inbox.mark_read(conn, wang, []) == 4
        assert await inbox.unread(conn, li) == 1
        assert await inbox.mark_read(conn, wang, None) == 0
        assert await inbox.unread(conn, li) == 1
        read = (await inbox.page(conn, wang, before=None, limit=10))
        assert all(n.read_at is not None for n in read) and read[0].view()["read"] is True
