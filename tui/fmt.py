"""Numbers as people read them on a narrow terminal. Unknown money is ``unknown``, never ``$0``."""

from __future__ import annotations

import time
from datetime import datetime

UNKNOWN = "unknown"
Number = int | float


def number(value: object) -> float | None:
    """Numbers pass; anything else (None, text from a confused daemon) is treated as unknown."""
    return float(value) if isinstance(value, Number) and not isinstance(value, bool) else None


def usd(raw: object) -> str:
    """``$1.23``, ``$0.0042``, ``$0.000012``: more decimals for tiny amounts so a saving is never ``$0.00``."""
    value = number(raw)
    if value is None:
        return UNKNOWN
    sign = "-" if value < 0 else ""
    amount = abs(value)
    if amount >= 1 or amount == 0:
        return f"{sign}${amount:,.2f}"
    if amount >= 0.01:
        return f"{sign}${amount:.4f}"
    return f"{sign}${amount:.6f}"


def pct(raw: object, digits: int = 1) -> str:
    """``raw`` is already a percentage (0-100)."""
    value = number(raw)
    return "—" if value is None else f"{value:.{digits}f}%"


def share(raw: object) -> str:
    """``raw`` is a fraction (0-1)."""
    value = number(raw)
    return "—" if value is None else f"{value * 100:.0f}%"


def count(raw: object) -> str:
    n = number(raw)
    if n is None:
        return "—"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            return f"{n / limit:.1f}{suffix}"
    return f"{n:.0f}"


def ms(raw: object) -> str:
    value = number(raw)
    if value is None:
        return "—"
    return f"{value:.0f}ms" if value < 1000 else f"{value / 1000:.1f}s"


def megabytes(raw: object) -> str:
    value = number(raw)
    if value is None:
        return "—"
    return f"{value:.0f} MB" if value < 1024 else f"{value / 1024:.1f} GB"


def duration(raw: object) -> str:
    """Keep-alive left: ``4m 10s``; negative means the model stays loaded."""
    seconds = number(raw)
    if seconds is None:
        return "—"
    if seconds < 0:
        return "forever"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60}m"
    if s >= 60:
        return f"{s // 60}m {s % 60}s"
    return f"{s}s"


def clock_time(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def stamp(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def reset_time(value: object) -> str:
    """A budget's ``resets_at`` (ISO text or unix seconds) as ``Mar 04 00:00``."""
    try:
        when = (
            datetime.fromtimestamp(float(value))
            if isinstance(value, int | float)
            else datetime.fromisoformat(str(value))
        )
    except (TypeError, ValueError):
        return "—"
    return when.strftime("%b %d %H:%M")


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
