"""Acceptance: a scripted sequence (local, cloud with known usage, a fallback, an error, a stream without
upstream usage) through a live daemon; /api/stats, /api/events, `edgeroute stats --json` (from the ledger
file and from the daemon) and /metrics all agree with totals computed here by hand, to the nano-dollar.

Prices (USD per 1M tokens): cloud/gpt 2.50 in, 1.25 cached in, 10.00 out; cloud/premium (the savings
reference, an Anthropic-format upstream) 15.00 in, 75.00 out and no cached price, so its cached tokens
count at the input price. Local answers cost $0 (no energy price configured).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from edgeroute.cli.main import cli
from edgeroute.paths import Paths
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud, Fault, Reply
from tests.ledger_http.conftest import (
    cloud_entry,
    memory_keys,
    metric_sum,
    metric_values,
    nano_per_token,
    to_nano,
)
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer

MSG = [{"role": "user", "content": "Name a colour."}]
GPT_IN, GPT_CACHED, GPT_OUT = nano_per_token(2.5), nano_per_token(1.25), nano_per_token(10.0)
REF_IN, REF_OUT = nano_per_token(15.0), nano_per_token(75.0)
LOCAL = "local/gemma3-270m"


@pytest.fixture
def stack(cloud: FakeCloud, starter_gguf: Path, edgeroute_home: Path) -> Iterator[tuple[LiveServer, Paths]]:
    settings = make_settings(
        starter_gguf,
        cloud=[
            cloud_entry(
                "gpt",
                cloud.openai_base_url,
                price_in=2.5,
                price_out=10.0,
                price_cached_in=1.25,
                fallbacks=[LOCAL],
            ),
            cloud_entry(
                "premium", cloud.anthropic_base_url, provider="anthropic", price_in=15.0, price_out=75.0
            ),
        ],
        savings={"reference": "cloud/premium"},
    )
    paths = home_paths(edgeroute_home)  # the CLI below resolves the same EDGEROUTE_HOME
    with LiveServer(create_app(settings, paths, keys=memory_keys())) as live:
        yield live, paths


def reference_nano(prompt: int, completion: int) -> int:
    """The counterfactual: the same tokens on cloud/premium (no cached price: cached count as input)."""
    return prompt * REF_IN + completion * REF_OUT


def local_usage(body: dict[str, Any]) -> tuple[int, int]:
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] >= 0
    return int(usage["prompt_tokens"]), int(usage["completion_tokens"])


class EventTap:
    """Reads /api/events in a thread until ``want`` request events arrived (bounded by a timeout)."""

    def __init__(self, url: str, want: int) -> None:
        self.events: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._want = want
        self._url = url
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.stream("GET", self._url + "/api/events", timeout=httpx.Timeout(60.0)) as r:
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("data: "):
                    self.events.append(json.loads(line.removeprefix("data: ")))
                    if len(self.events) >= self._want:
                        return

    def __enter__(self) -> EventTap:
        self._thread.start()
        assert self.connected.wait(10), "/api/events did not open"
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=30)


def test_scripted_sequence_totals_agree_everywhere(stack: tuple[LiveServer, Paths], cloud: FakeCloud) -> None:
    live, paths = stack
    http = httpx.Client(base_url=live.url, timeout=120)
    expected: list[tuple[int, int]] = []  # (cost, counterfactual) per request, in nano-dollars

    with EventTap(live.url, want=5) as tap:
        # 1. local: $0, the counterfactual is its tokens at the reference price
        r = http.post("/v1/chat/completions", json={"model": LOCAL, "messages": MSG, "max_tokens": 8})
        assert r.status_code == 200, r.text
        assert r.headers["x-edgeroute-tier"] == "local"
        p, c = local_usage(r.json())
        expected.append((0, reference_nano(p, c)))
        assert r.headers["x-edgeroute-cost-usd"] == "0"
        assert to_nano(float(r.headers["x-edgeroute-saved-usd"])) == reference_nano(p, c)

        # 2. cloud with known usage: 100k fresh + 20k cached prompt tokens, 40k completion tokens
        cloud.reset(Reply(prompt_tokens=120_000, completion_tokens=40_000, cached_tokens=20_000))
        r = http.post("/v1/chat/completions", json={"model": "cloud/gpt", "messages": MSG})
        assert r.status_code == 200, r.text
        cost = 100_000 * GPT_IN + 20_000 * GPT_CACHED + 40_000 * GPT_OUT
        assert cost == 675_000_000  # $0.675
        expected.append((cost, reference_nano(120_000, 40_000)))  # $4.80
        assert r.headers["x-edgeroute-cost-usd"] == "0.675"
        assert r.headers["x-edgeroute-saved-usd"] == "4.125"
        assert r.json()["usage"]["prompt_tokens_details"] == {"cached_tokens": 20_000}

        # 3. a fallback: cloud/gpt answers 500 before a token, the local model answers
        cloud.reset()
        cloud.fail_next(Fault.http(500))
        r = http.post("/v1/chat/completions", json={"model": "cloud/gpt", "messages": MSG, "max_tokens": 8})
        assert r.status_code == 200, r.text
        assert r.headers["x-edgeroute-tier"] == "local" and r.headers["x-edgeroute-model"] == LOCAL
        assert r.headers["x-edgeroute-fallbacks"].startswith("cloud/gpt:")
        p, c = local_usage(r.json())
        expected.append((0, reference_nano(p, c)))

        # 4. an error: cloud/premium has no fallbacks and fails; no tokens, so $0 (not "unknown")
        cloud.fail_next(Fault.http(500))
        r = http.post("/v1/chat/completions", json={"model": "cloud/premium", "messages": MSG})
        assert r.status_code >= 500
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        expected.append((0, 0))

        # 5. a stream from an upstream that never reports usage: edgeroute's estimate is billed
        cloud.reset(Reply(usage=False))
        body = {
            "model": "cloud/gpt",
            "messages": MSG,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        with http.stream("POST", "/v1/chat/completions", json=body) as s:
            assert s.status_code == 200
            assert "x-edgeroute-cost-usd" not in s.headers  # headers leave before the cost is known
            lines = [line for line in s.iter_lines() if line.startswith("data: ")]
        assert lines[-1] == "data: [DONE]"
        usage = json.loads(lines[-2].removeprefix("data: "))["usage"]
        p, c = usage["prompt_tokens"], usage["completion_tokens"]
        assert p > 0 and c > 0 and "prompt_tokens_details" not in usage
        cost = p * GPT_IN + c * GPT_OUT
        expected.append((cost, reference_nano(p, c)))
        assert to_nano(usage["cost_usd"]) == cost
        assert to_nano(usage["saved_usd"]) == reference_nano(p, c) - cost

    total_cost = sum(cost for cost, _ in expected)
    total_cf = sum(cf for _, cf in expected)
    total_saved = total_cf - total_cost

    # every request is one row, in order, with its own money
    rows = http.get("/api/requests", params={"limit": 10}).json()["requests"][::-1]
    assert len(rows) == 5
    assert [(to_nano(row["cost_usd"]), to_nano(row["counterfactual_usd"])) for row in rows] == expected
    assert [row["tier"] for row in rows] == ["local", "cloud", "local", None, "cloud"]
    assert rows[2]["attempts"][0]["target"] == "cloud/gpt" and rows[2]["attempts"][0]["status"] == 500
    assert rows[3]["status"] >= 500 and rows[3]["error"]
    assert [row["estimated"] for row in rows] == [False, False, False, False, True]
    assert rows[1]["cached_tokens"] == 20_000 and rows[1]["reference_model"] == "cloud/premium"

    # the live feed saw the same five rows
    assert [e["request_id"] for e in tap.events] == [row["request_id"] for row in rows]
    assert sum(to_nano(e["cost_usd"]) for e in tap.events) == total_cost

    # /api/stats
    stats = http.get("/api/stats", params={"window": "all"}).json()
    assert (stats["requests"], stats["local_requests"], stats["cloud_requests"], stats["errors"]) == (
        5,
        2,
        2,
        1,
    )
    assert to_nano(stats["cost_usd"]) == total_cost
    assert to_nano(stats["counterfactual_usd"]) == total_cf
    assert to_nano(stats["saved_usd"]) == total_saved
    assert stats["unknown_cost_requests"] == 0 and stats["estimated_requests"] == 1
    assert round(stats["cost_usd"], 2) == round(total_cost / 1e9, 2)  # "to the cent", trivially implied

    # `edgeroute stats --json`: from the ledger file (no daemon in the state file), then via the daemon
    assert f"(ledger file {paths.ledger_file})" in run_cli("stats", "--window", "all")
    from_file = json.loads(run_cli("stats", "--window", "all", "--json"))
    paths.runtime_dir.mkdir(parents=True, exist_ok=True)
    paths.state_file.write_text(json.dumps({"pid": os.getpid(), "url": live.url}))
    assert f"(daemon at {live.url})" in run_cli("stats", "--window", "all")
    from_daemon = json.loads(run_cli("stats", "--window", "all", "--json"))
    for doc in (from_file, from_daemon):
        assert doc["requests"] == 5
        assert to_nano(doc["cost_usd"]) == total_cost
        assert to_nano(doc["counterfactual_usd"]) == total_cf
        assert to_nano(doc["saved_usd"]) == total_saved

    # /metrics (float counters: equal to well under a cent)
    values = metric_values(http.get("/metrics").text)
    assert metric_sum(values, "edgeroute_requests_total") == 5
    assert metric_sum(values, "edgeroute_requests_total", tier="local") == 2
    assert metric_sum(values, "edgeroute_requests_total", tier="cloud") == 2
    assert metric_sum(values, "edgeroute_requests_total", tier="none") == 1
    assert values["edgeroute_cost_usd_total"] == pytest.approx(total_cost / 1e9, abs=1e-9)
    assert values["edgeroute_counterfactual_usd_total"] == pytest.approx(total_cf / 1e9, abs=1e-9)
    assert values["edgeroute_saved_usd_total"] == pytest.approx(total_saved / 1e9, abs=1e-9)
    assert values["edgeroute_unknown_cost_requests_total"] == 0

    # log_prompts is off by default: a hash of each prompt, never its text
    with sqlite3.connect(paths.ledger_file) as conn:
        stored = conn.execute("SELECT prompt_text, prompt_hash FROM requests").fetchall()
    assert len(stored) == 5 and all(text is None and len(digest) == 64 for text, digest in stored)
    http.close()


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output
