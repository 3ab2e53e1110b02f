"""Per-client requests/min and tokens/min with an injected clock: 429 with Retry-After, then room again."""

from __future__ import annotations

import pytest

from edgeroute.config import ClientConfig
from edgeroute.errors import RateLimited
from edgeroute.ledger import LedgerRecord, RateLimiter


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Tick, **limits: int) -> RateLimiter:
    return RateLimiter([ClientConfig(name="ci", **limits), ClientConfig(name="free")], clock=clock)


def test_requests_per_minute_sliding_window() -> None:
    clock = Tick()
    rl = limiter(clock, requests_per_minute=3)
    for step in (0.0, 10.0, 20.0):
        clock.now += step
        rl.acquire("ci")
    clock.now += 5  # t = +35 s
    with pytest.raises(RateLimited) as info:
        rl.acquire("ci")
    assert (
        info.value.status == 429 and info.value.retry_after == 25.0
    )  # the first one leaves the window at +60
    assert "3 requests per minute" in info.value.message
    clock.now += 25
    rl.acquire("ci")  # the oldest request slid out
    for _ in range(100):
        rl.acquire("free")  # no limits configured
        rl.acquire(None)


def test_tokens_per_minute_counts_finished_requests() -> None:
    clock = Tick()
    rl = limiter(clock, tokens_per_minute=1000)
    rl.acquire("ci", tokens_estimate=5000)  # bigger than the limit, but the window is empty: let through
    record = LedgerRecord("r", "/v1/chat/completions", "auto", 200, 1.0, client="ci", prompt_tokens=600,
                          completion_tokens=200)  # fmt: skip
    rl.observe(record)  # 800 tokens now
    clock.now += 10
    rl.observe(LedgerRecord("r2", "/v1/chat/completions", "auto", 200, 1.0, client="ci", prompt_tokens=100))
    rl.acquire("ci", tokens_estimate=100)  # 900 + 100 fits exactly
    with pytest.raises(RateLimited) as info:
        rl.acquire("ci", tokens_estimate=101)
    assert info.value.retry_after == 50.0  # the 800 expire 60 s after they were counted
    clock.now += 50
    rl.acquire("ci", tokens_estimate=800)


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    clock = Tick()
    rl = limiter(clock, requests_per_minute=1)
    rl.acquire("ci")
    clock.now += 59.9
    with pytest.raises(RateLimited) as info:
        rl.acquire("ci")
    assert info.value.retry_after == 1.0
