"""Where a request's cost shows up (docs/ledger.md states the same): headers on non-streaming responses of
both APIs; inside the trailing usage chunk of an OpenAI stream that asked for usage; nowhere in-band on an
Anthropic stream or an OpenAI stream without ``include_usage`` (their headers leave before the cost is
known), but always in the ledger row (/api/requests, /api/events)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgeroute.config import Settings
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud
from tests.ledger_http.conftest import cloud_entry, memory_keys, nano_per_token, to_nano
from tests.server.conftest import home_paths
from tests.server.live import LiveServer

MSG = [{"role": "user", "content": "hello"}]
# the fake's default usage: 11 prompt tokens (3 of them cached), 7 completion tokens
COST = 8 * nano_per_token(2.0) + 3 * nano_per_token(0.5) + 7 * nano_per_token(8.0)


@pytest.fixture
def http(cloud: FakeCloud, tmp_path: Path) -> Iterator[httpx.Client]:
    settings = Settings(
        cloud=[cloud_entry("gpt", cloud.openai_base_url, price_in=2.0, price_cached_in=0.5, price_out=8.0)]
    )
    app = create_app(settings, home_paths(tmp_path / "home"), keys=memory_keys())
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def last_row_cost(http: httpx.Client) -> int:
    row = http.get("/api/requests", params={"limit": 1}).json()["requests"][0]
    return to_nano(row["cost_usd"])


def data_lines(response: httpx.Response) -> list[str]:
    return [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]


def test_anthropic_messages_cost_in_headers_not_in_the_stream(http: httpx.Client) -> None:
    body = {"model": "cloud/gpt", "max_tokens": 50, "messages": MSG}
    r = http.post("/v1/messages", json=body)
    assert r.status_code == 200 and r.json()["type"] == "message"
    assert to_nano(float(r.headers["x-edgeroute-cost-usd"])) == COST
    assert r.headers["x-edgeroute-saved-usd"] == "0"  # the only cloud model is its own reference

    with http.stream("POST", "/v1/messages", json={**body, "stream": True}) as s:
        assert s.status_code == 200
        assert "x-edgeroute-cost-usd" not in s.headers
        events = [json.loads(line) for line in data_lines(s)]
    assert events[-1]["type"] == "message_stop"
    assert not [e for e in events if "cost_usd" in json.dumps(e)]
    assert last_row_cost(http) == COST  # the ledger has it all the same


def test_openai_stream_cost_only_in_the_requested_usage_chunk(http: httpx.Client) -> None:
    body = {"model": "cloud/gpt", "messages": MSG, "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as s:
        assert "x-edgeroute-cost-usd" not in s.headers
        lines = data_lines(s)
    assert lines[-1] == "[DONE]" and not [line for line in lines if "cost_usd" in line]
    assert last_row_cost(http) == COST

    asked = {**body, "stream_options": {"include_usage": True}}
    with http.stream("POST", "/v1/chat/completions", json=asked) as s:
        lines = data_lines(s)
    usage = json.loads(lines[-2])["usage"]
    assert to_nano(usage["cost_usd"]) == COST and usage["saved_usd"] == 0
    assert usage["prompt_tokens_details"] == {"cached_tokens": 3}
