"""Time windows in the user's local time: "today" starts at local midnight, a monthly budget resets on the
1st at local midnight. ``tz=None`` means the system's local zone (through ``time.mktime``, which knows its
DST rules); tests pass a ``zoneinfo.ZoneInfo`` to stay deterministic."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

from edgeroute.errors import InvalidRequest

Window = Literal["today", "7d", "30d", "all"]
WINDOWS: tuple[Window, ...] = ("today", "7d", "30d", "all")
DAY = 86400.0


def _local_date(ts: float, tz: tzinfo | None) -> date:
    if tz is None:
        lt = time.localtime(ts)
        return date(lt.tm_year, lt.tm_mon, lt.tm_mday)
    return datetime.fromtimestamp(ts, tz).date()


def _midnight(day: date, tz: tzinfo | None) -> float:
    if tz is None:
        return time.mktime((day.year, day.month, day.day, 0, 0, 0, 0, 0, -1))
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def day_start(ts: float, tz: tzinfo | None = None) -> float:
    """The local midnight that began the day ``ts`` falls in."""
    return _midnight(_local_date(ts, tz), tz)


def next_day_start(ts: float, tz: tzinfo | None = None) -> float:
    """The next local midnight after ``ts`` (when a daily budget resets)."""
    return _midnight(_local_date(ts, tz) + timedelta(days=1), tz)


def month_start(ts: float, tz: tzinfo | None = None) -> float:
    return _midnight(_local_date(ts, tz).replace(day=1), tz)


def next_month_start(ts: float, tz: tzinfo | None = None) -> float:
    """Local midnight on the 1st of the next month (when a monthly budget resets)."""
    first = _local_date(ts, tz).replace(day=1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return _midnight(following, tz)


def window_since(window: str, now: float, tz: tzinfo | None = None) -> float | None:
    """Where a stats window starts: today = local midnight, 7d/30d rolling, all = None (no bound)."""
    if window == "today":
        return day_start(now, tz)
    if window == "7d":
        return now - 7 * DAY
    if window == "30d":
        return now - 30 * DAY
    if window == "all":
        return None
    raise InvalidRequest(f"unknown window {window!r} (use one of: {', '.join(WINDOWS)})", param="window")


def local_iso(ts: float, tz: tzinfo | None = None) -> str:
    """``2026-11-23T00:00:00+01:00``: a reset time people and JSON both read."""
    moment = datetime.fromtimestamp(ts, tz) if tz is not None else datetime.fromtimestamp(ts).astimezone()
    return moment.isoformat(timespec="seconds")
