"""The clock: now in UTC for storage, and the calendar day in Beijing for people."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

# Staff and workers live by China's calendar: days, months and years are Beijing's.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def local_today(now: datetime | None = None) -> date:
    """The date in Beijing now (or at ``now``)."""
    return (now or utcnow()).astimezone(LOCAL_TZ).date()
