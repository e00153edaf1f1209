"""One "today in Beijing" for the whole code: roster checks, ID numbers and the register use it."""
from __future__ import annotations

from datetime import date, datetime, timezone

from models.core.clock import local_today
from models.members import hardship, idcard


def test_the_day_turns_at_midnight_in_beijing_not_utc() -> None:
    assert local_today(datetime(2026, 1, 1, 15, 59, tzinfo=timezone.utc)) == date(2026, 1, 1)
    assert local_today(datetime(2026, 1, 1, 16, 0, tzinfo=timezone.utc)) == date(2026, 1, 2)


def test_no_second_today_function_is_left() -> None:
    assert not hasattr(idcard, "china_today")
    assert not hasattr(hardship, "today")
