"""Ledger test helpers: a record factory and an injectable clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edgeroute.ledger import LedgerRecord

TZ = ZoneInfo("Europe/Berlin")


class FakeClock:
    """A settable clock (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_record(**overrides: Any) -> LedgerRecord:
    base: dict[str, Any] = {
        "request_id": "req_test",
        "endpoint": "/v1/chat/completions",
        "requested_model": "auto",
        "status": 200,
        "latency_ms": 100.0,
        "tier": "local",
        "served_model": "local/gemma3-270m",
        "cost_usd": 0.0,
        "counterfactual_usd": 0.0,
        "saved_usd": 0.0,
    }
    base.update(overrides)
    return LedgerRecord(**base)


@pytest.fixture
def record_factory() -> Callable[..., LedgerRecord]:
    return make_record


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger" / "ledger.sqlite3"


@pytest.fixture
def tz() -> ZoneInfo:
    return TZ


@pytest.fixture
def clock() -> FakeClock:
    """Noon, Sunday 22 November 2026, Berlin time."""
    return FakeClock(datetime(2026, 11, 22, 12, 0, tzinfo=TZ).timestamp())
