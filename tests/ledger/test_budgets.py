"""Budget caps with an injected clock: the crossing request is handled per on_budget_exceeded, and the
cap resets at the local-time window boundary."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from edgeroute.config import BudgetConfig, ClientConfig, Settings
from edgeroute.errors import BudgetExceeded
from edgeroute.ledger import BudgetGuard, Ledger, LedgerRecord


def cloud(cost: float, client: str | None = None, ts: float | None = None) -> LedgerRecord:
    return LedgerRecord(
        "req", "/v1/chat/completions", "auto", 200, 10.0, tier="cloud", served_model="cloud/x", cost_usd=cost,
        client=client, ts=ts,
    )  # fmt: skip


def guard(clock: Any, tz: Any, **budget: Any) -> BudgetGuard:
    clients = budget.pop("clients", [])
    return BudgetGuard(BudgetConfig(**budget), [ClientConfig(**c) for c in clients], clock=clock, tz=tz)


def test_crossing_request_goes_local_then_daily_cap_resets_at_local_midnight(clock: Any, tz: Any) -> None:
    g = guard(clock, tz, daily_usd=1.0, on_budget_exceeded="local")
    g.add(cloud(0.60))
    assert g.check(None, 0.30) == "ok"
    g.add(cloud(0.30))
    assert g.left_usd() == pytest.approx(0.10)
    assert g.check(None, 0.20) == "local"  # 0.90 + 0.20 crosses $1.00
    assert g.check(None, 0.10) == "ok"  # exactly reaching the cap is allowed
    g.add(cloud(0.10))
    assert g.check(None, 0.0) == "local"  # spent == cap: nothing more goes to the cloud
    # 23:59:59 the same day: still capped
    clock.now = datetime(2026, 11, 22, 23, 59, 59, tzinfo=tz).timestamp()
    assert g.check(None, 0.01) == "local"
    # local midnight: a new day
    clock.now = datetime(2026, 11, 23, 0, 0, 0, tzinfo=tz).timestamp()
    assert g.check(None, 0.01) == "ok"
    assert g.snapshot()["daily"]["spent"] == 0.0


def test_reject_raises_402_saying_which_budget_and_when_it_resets(clock: Any, tz: Any) -> None:
    g = guard(clock, tz, daily_usd=0.50, on_budget_exceeded="reject")
    g.add(cloud(0.45))
    with pytest.raises(BudgetExceeded) as info:
        g.check(None, 0.10)
    err = info.value
    assert err.status == 402 and err.code == "budget_exceeded"
    assert "global daily budget is $0.50" in err.message and "$0.45 spent" in err.message
    assert "2026-11-23T00:00:00+01:00" in err.message
    assert err.retry_after == 12 * 3600  # noon to midnight
    assert err.to_openai()["error"]["code"] == "budget_exceeded"


def test_monthly_cap_resets_on_the_first_and_wins_over_the_daily_reset(clock: Any, tz: Any) -> None:
    g = guard(clock, tz, daily_usd=5.0, monthly_usd=10.0, on_budget_exceeded="reject")
    for day in range(20, 23):  # $3.50 on each of three days = $10.50 > $10
        clock.now = datetime(2026, 11, day, 12, tzinfo=tz).timestamp()
        assert g.check(None, 0.0) == "ok"
        g.add(cloud(3.50))
    clock.now = datetime(2026, 11, 23, 9, tzinfo=tz).timestamp()  # a fresh day, but the month is spent
    with pytest.raises(BudgetExceeded) as info:
        g.check(None, 0.01)
    assert "monthly" in info.value.message and "2026-12-01T00:00:00+01:00" in info.value.message
    clock.now = datetime(2026, 12, 1, 0, 0, tzinfo=tz).timestamp()
    assert g.check(None, 0.01) == "ok"


def test_per_client_caps_apply_only_to_that_client(clock: Any, tz: Any) -> None:
    g = guard(clock, tz, daily_usd=10.0, clients=[{"name": "ci", "daily_usd": 0.10}, {"name": "ide"}])
    g.add(cloud(0.10, client="ci"))
    assert g.check("ci", 0.01) == "local"
    assert g.check("ide", 0.01) == "ok"
    assert g.check(None, 0.01) == "ok"
    snap = g.snapshot()
    assert snap["clients"]["ci"]["daily"]["left"] == 0.0
    assert snap["daily"]["spent"] == 0.10  # the global budget counts every client
    assert "ide" not in snap["clients"]  # no caps, no entry
    assert g.left_fraction("ci") == 0.0 and g.left_fraction(None) == pytest.approx(0.99)


def test_only_known_cloud_cost_counts_and_records_before_the_window_do_not(clock: Any, tz: Any) -> None:
    g = guard(clock, tz, daily_usd=1.0)
    g.add(LedgerRecord("l", "/v1/chat/completions", "auto", 200, 1.0, tier="local", cost_usd=0.5))  # energy
    g.add(cloud(0.5, ts=clock() - 86400))  # yesterday's request delivered late
    assert g.snapshot()["daily"]["spent"] == 0.0
    assert not guard(clock, tz).enabled and g.left_usd() == 1.0


def test_dst_day_is_23_hours_long(tz: Any) -> None:
    from edgeroute.ledger.windows import day_start, next_day_start

    noon = datetime(2026, 3, 29, 12, tzinfo=tz).timestamp()  # clocks go forward at 02:00 in Berlin
    assert next_day_start(noon, tz) - day_start(noon, tz) == 23 * 3600


async def test_guard_seeds_from_the_ledger_and_follows_it(ledger_path: Path, clock: Any, tz: Any) -> None:
    ledger = Ledger.open(ledger_path, clock=clock, tz=tz)
    try:
        await ledger.record(cloud(0.40, client="ci"))
        await ledger.record(cloud(0.30, client="ci", ts=clock() - 86400))  # yesterday: month only
        settings = Settings(
            budget={"daily_usd": 1.0, "monthly_usd": 2.0},  # type: ignore[arg-type]
            clients=[{"name": "ci", "daily_usd": 0.5}],  # type: ignore[list-item]
        )
        g = BudgetGuard.from_settings(settings, clock=clock, tz=tz)
        await g.load(ledger)
        ledger.add_listener(g.add)
        snap = g.snapshot()
        assert (snap["daily"]["spent"], snap["monthly"]["spent"]) == (0.40, 0.70)
        assert g.check("ci", 0.11) == "local"  # 0.40 + 0.11 > 0.50
        await ledger.record(cloud(0.05, client="ci"))  # the listener counts it before record() returns
        assert g.snapshot()["clients"]["ci"]["daily"]["spent"] == 0.45
        stats = await ledger.stats("today", budget=g.snapshot())
        assert stats["budget"]["daily"]["left"] == 0.55
    finally:
        await ledger.aclose()
