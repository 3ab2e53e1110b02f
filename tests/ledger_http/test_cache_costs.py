"""Prompt-cache accounting end to end, through a live daemon to the loopback fake Anthropic upstream: the
ledger row's cost is reads at the cached price, writes at 1.25x input (1-hour writes 2x, or 1.6x an
explicit ``price_cache_write``), plain input and output at their prices; ``/v1/messages`` reports usage as
Anthropic does (``input_tokens`` without reads or writes, both counted apart), and an OpenAI client gets
all prompt tokens with the reads in ``prompt_tokens_details.cached_tokens``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgeroute.config import Settings
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud, Reply
from tests.ledger_http.conftest import cloud_entry, memory_keys, nano_per_token, to_nano
from tests.server.conftest import home_paths
from tests.server.live import LiveServer

PLAIN, READ, WRITTEN, WRITTEN_1H, OUTPUT = 12, 20_000, 3_000, 1_000, 9
CACHING = Reply(
    text="Cached hello.",
    prompt_tokens=PLAIN + READ + WRITTEN,
    cached_tokens=READ,
    cache_write_tokens=WRITTEN,
    cache_write_1h_tokens=WRITTEN_1H,
    completion_tokens=OUTPUT,
)
PRICES = {"price_in": 3.0, "price_cached_in": 0.3, "price_out": 15.0}
# claude: writes at the default 1.25x input ($3.75), 1-hour writes at 2x input ($6)
COST = (
    PLAIN * nano_per_token(3.0)
    + READ * nano_per_token(0.3)
    + (WRITTEN - WRITTEN_1H) * nano_per_token(3.75)
    + WRITTEN_1H * nano_per_token(6.0)
    + OUTPUT * nano_per_token(15.0)
)
# claude-w: an explicit write price of $4; 1-hour writes 1.6x that ($6.40)
COST_W = (
    COST
    - (WRITTEN - WRITTEN_1H) * (nano_per_token(3.75) - nano_per_token(4.0))
    - WRITTEN_1H * (nano_per_token(6.0) - nano_per_token(6.4))
)
MESSAGES_USAGE = {
    "input_tokens": PLAIN,
    "cache_creation_input_tokens": WRITTEN,
    "cache_read_input_tokens": READ,
    "output_tokens": OUTPUT,
    "cache_creation": {
        "ephemeral_5m_input_tokens": WRITTEN - WRITTEN_1H,
        "ephemeral_1h_input_tokens": WRITTEN_1H,
    },
}
MSG = [{"role": "user", "content": "hello"}]


@pytest.fixture
def http(cloud: FakeCloud, tmp_path: Path) -> Iterator[httpx.Client]:
    base = cloud.anthropic_base_url
    settings = Settings(
        cloud=[
            cloud_entry("claude", base, provider="anthropic", **PRICES),
            cloud_entry("claude-w", base, provider="anthropic", price_cache_write=4.0, **PRICES),
        ]
    )  # type: ignore[arg-type]
    cloud.reset(CACHING)
    app = create_app(settings, home_paths(tmp_path / "home"), keys=memory_keys())
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def last_row(http: httpx.Client) -> dict[str, Any]:
    return dict(http.get("/api/requests", params={"limit": 1}).json()["requests"][0])


def assert_row(row: dict[str, Any], cost: int = COST) -> None:
    assert to_nano(row["cost_usd"]) == cost
    tokens = (
        "prompt_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "completion_tokens",
    )
    assert [row[k] for k in tokens] == [PLAIN + READ + WRITTEN, READ, WRITTEN, WRITTEN_1H, OUTPUT]


def data_lines(response: httpx.Response) -> list[str]:
    return [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]


def test_a_messages_answer_reports_and_bills_reads_and_writes(http: httpx.Client) -> None:
    r = http.post("/v1/messages", json={"model": "cloud/claude", "max_tokens": 50, "messages": MSG})
    assert r.status_code == 200, r.text
    assert r.json()["usage"] == MESSAGES_USAGE
    assert to_nano(float(r.headers["x-edgeroute-cost-usd"])) == COST
    assert_row(last_row(http))
    tokens = http.get("/api/stats").json()["tokens"]
    assert (tokens["prompt"], tokens["cached"], tokens["cache_write"]) == (
        PLAIN + READ + WRITTEN,
        READ,
        WRITTEN,
    )


def test_a_messages_stream_reports_them_in_its_final_usage(http: httpx.Client) -> None:
    body = {"model": "cloud/claude", "max_tokens": 50, "messages": MSG, "stream": True}
    with http.stream("POST", "/v1/messages", json=body) as s:
        assert s.status_code == 200
        events = [json.loads(line) for line in data_lines(s)]
    [delta] = [e for e in events if e["type"] == "message_delta"]
    assert delta["usage"] == MESSAGES_USAGE
    assert_row(last_row(http))


def test_an_explicit_write_price_is_what_writes_cost(http: httpx.Client) -> None:
    r = http.post("/v1/messages", json={"model": "cloud/claude-w", "max_tokens": 50, "messages": MSG})
    assert r.status_code == 200, r.text
    assert_row(last_row(http), COST_W)


@pytest.mark.parametrize("stream", [False, True])
def test_an_openai_client_gets_the_reads_as_cached_tokens(http: httpx.Client, stream: bool) -> None:
    body = {"model": "cloud/claude", "messages": MSG}
    if stream:
        asked = {**body, "stream": True, "stream_options": {"include_usage": True}}
        with http.stream("POST", "/v1/chat/completions", json=asked) as s:
            usage = json.loads(data_lines(s)[-2])["usage"]
    else:
        usage = http.post("/v1/chat/completions", json=body).json()["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (PLAIN + READ + WRITTEN, OUTPUT)
    assert usage["prompt_tokens_details"] == {"cached_tokens": READ}
    assert to_nano(usage["cost_usd"] if stream else last_row(http)["cost_usd"]) == COST
    assert_row(last_row(http))
