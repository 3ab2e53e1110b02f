"""Acceptance: budgets and rate limits over HTTP.

Every cloud request here costs a known amount: the fake reports 11 prompt tokens (none cached) and 8
completion tokens; cloud/gpt is priced $1 per 1M in and $25,000 per 1M out, so one answer costs
11 x 1,000 + 8 x 25,000,000 = 200,011,000 nano-dollars ($0.200011), and its pre-dispatch estimate
(prompt estimate + max_tokens = 8 at the output price) is just over $0.20. With daily_usd = 0.50 the
first two requests fit; the third would cross the cap ($0.400022 spent + ~$0.20).

The reset tests inject one wall clock through ``create_app(..., clock=...)`` (ledger timestamps, budget
windows and rate-limit windows all read it) and step it over the boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgeroute.config import Settings
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud, Reply
from tests.ledger_http.conftest import cloud_entry, memory_keys, nano_per_token, to_nano
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer

MSG = [{"role": "user", "content": "Summarise the plot of Hamlet."}]
PRICES = {"price_in": 1.0, "price_out": 25_000.0}
COST = 11 * nano_per_token(1.0) + 8 * nano_per_token(25_000.0)
IDE_TOKEN = "tok-ide-0123456789"
BATCH_TOKEN = "tok-batch-0123456789"


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def known_usage(cloud: FakeCloud) -> FakeCloud:
    cloud.reset(Reply(prompt_tokens=11, completion_tokens=8, cached_tokens=0))
    return cloud


@contextmanager
def serve(settings: Settings, home: Path, **components: Any) -> Iterator[httpx.Client]:
    app = create_app(settings, home_paths(home), keys=memory_keys(), **components)
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=60) as http:
        yield http


def ask(http: httpx.Client, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = {"model": "cloud/gpt", "messages": MSG, "max_tokens": 8}
    return http.post("/v1/chat/completions", json=body, headers=headers)


def assert_openai_error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    return str(error["message"])


def test_budget_crossing_request_is_served_locally(
    known_usage: FakeCloud, starter_gguf: Path, tmp_path: Path
) -> None:
    settings = make_settings(
        starter_gguf,
        cloud=[cloud_entry("gpt", known_usage.openai_base_url, **PRICES)],
        budget={"daily_usd": 0.5, "on_budget_exceeded": "local"},
    )
    with serve(settings, tmp_path) as http:
        for _ in range(2):
            r = ask(http)
            assert r.status_code == 200 and r.headers["x-edgeroute-tier"] == "cloud"
            assert to_nano(float(r.headers["x-edgeroute-cost-usd"])) == COST
        crossing = ask(http)
        assert crossing.status_code == 200, crossing.text
        assert crossing.headers["x-edgeroute-tier"] == "local"
        assert crossing.headers["x-edgeroute-model"] == "local/gemma3-270m"
        assert "budget" in crossing.headers["x-edgeroute-reason"]
        assert crossing.headers["x-edgeroute-cost-usd"] == "0"
        assert known_usage.count() == 2  # the third never reached the cloud

        daily = http.get("/api/stats", params={"window": "all"}).json()["budget"]["daily"]
        assert to_nano(daily["spent"]) == 2 * COST and to_nano(daily["left"]) == 500_000_000 - 2 * COST


@pytest.fixture
def before_midnight() -> Clock:
    """23:59:00 local time (the daily budget resets at local midnight, 60 s later)."""
    return Clock(datetime(2026, 11, 22, 23, 59, 0).timestamp())


def test_budget_reject_is_402_naming_the_budget_and_its_reset_then_resets(
    known_usage: FakeCloud, tmp_path: Path, before_midnight: Clock
) -> None:
    settings = Settings(
        cloud=[cloud_entry("gpt", known_usage.openai_base_url, **PRICES)],
        budget={"daily_usd": 0.5, "on_budget_exceeded": "reject"},
    )
    midnight = datetime(2026, 11, 23, 0, 0, 0).astimezone().isoformat(timespec="seconds")
    with serve(settings, tmp_path, clock=before_midnight) as http:
        assert [ask(http).status_code for _ in range(2)] == [200, 200]
        refused = ask(http)
        message = assert_openai_error(refused, 402, "budget_exceeded")
        assert refused.json()["error"]["type"] == "insufficient_quota"
        assert "global daily budget is $0.50" in message and "$0.400022 spent" in message
        assert f"resets at {midnight}" in message
        assert refused.headers["retry-after"] == "60"
        assert known_usage.count() == 2

        rows = http.get("/api/requests", params={"limit": 1}).json()["requests"]
        assert rows[0]["status"] == 402 and rows[0]["error"] == "budget_exceeded"
        assert rows[0]["cost_usd"] == 0 and rows[0]["tier"] is None

        before_midnight.advance(61)  # 00:00:01: a new day, a fresh daily budget
        again = ask(http)
        assert again.status_code == 200 and again.headers["x-edgeroute-tier"] == "cloud"
        daily = http.get("/api/stats", params={"window": "today"}).json()
        assert to_nano(daily["budget"]["daily"]["spent"]) == COST
        assert daily["requests"] == 1 and to_nano(daily["cost_usd"]) == COST  # "today" is the new day too


def rate_limited_settings(cloud: FakeCloud) -> Settings:
    return Settings(
        cloud=[cloud_entry("gpt", cloud.openai_base_url, **PRICES)],
        clients=[
            {"name": "ide", "token": IDE_TOKEN, "requests_per_minute": 2},
            {"name": "batch", "token": BATCH_TOKEN},
        ],
    )


def test_rate_limit_per_client_token_is_429_with_retry_after_then_resets(
    known_usage: FakeCloud, tmp_path: Path
) -> None:
    clock = Clock(1_800_000_000.0)
    with serve(rate_limited_settings(known_usage), tmp_path, clock=clock) as http:
        assert ask(http, IDE_TOKEN).status_code == 200  # t0
        clock.advance(10)
        assert ask(http, IDE_TOKEN).status_code == 200  # t0 + 10
        clock.advance(5)
        third = ask(http, IDE_TOKEN)
        message = assert_openai_error(third, 429, "rate_limited")
        assert "'ide'" in message and "2 requests per minute" in message
        assert third.headers["retry-after"] == "45"  # the first request leaves the window at t+60
        assert known_usage.count() == 2

        assert ask(http, BATCH_TOKEN).status_code == 200  # another client's token is not limited

        rows = http.get("/api/requests", headers=auth(IDE_TOKEN), params={"client": "ide"}).json()
        assert [(r["status"], r["client"], r["cost_usd"]) for r in rows["requests"]] == [
            (429, "ide", 0),
            (200, "ide", COST / 1e9),
            (200, "ide", COST / 1e9),
        ]

        clock.advance(45)  # t0 + 60: the first request's minute is over, one slot is free again
        assert ask(http, IDE_TOKEN).status_code == 200
        full = ask(http, IDE_TOKEN)
        assert full.status_code == 429 and full.headers["retry-after"] == "10"  # the second leaves at t0+70


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
