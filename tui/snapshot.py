"""One reload of everything the panes show, fetched concurrently.

Endpoints fail independently: a daemon without one (404) or with a broken one leaves that part out, so the
rest of the dashboard still updates."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .api import ApiClient, ApiError, DaemonUnavailable

STATS_WINDOWS = ("today", "7d", "all")


@dataclass(slots=True)
class Snapshot:
    got: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, ApiError] = field(default_factory=dict)


async def load_snapshot(api: ApiClient, request_limit: int) -> Snapshot | None:
    """Everything at once; None when the daemon did not answer at all (the event loop reports that)."""
    calls = {
        "health": api.health(),
        **{f"stats:{w}": api.stats(w) for w in STATS_WINDOWS},
        "requests": api.requests(request_limit),
        "timeseries": api.timeseries("7d", "hour"),
        "router": api.router(),
        "models": api.models(),
        "engine": api.engine(),
    }
    values = await asyncio.gather(*calls.values(), return_exceptions=True)
    snapshot = Snapshot()
    for name, value in zip(calls, values, strict=True):
        if isinstance(value, DaemonUnavailable):
            return None
        if isinstance(value, ApiError):
            snapshot.errors[name] = value
        elif isinstance(value, BaseException):
            raise value
        else:
            snapshot.got[name] = value
    return snapshot
