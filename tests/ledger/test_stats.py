"""/api/stats numbers against a hand-computed scripted sequence: local, cloud with known usage, a fallback,
an error, a stream without upstream usage, an unknown price; plus windows and the metrics' agreement."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from edgeroute.chat import Attempt, Usage
from edgeroute.config import Settings
from edgeroute.ledger import Ledger, LedgerReader, LedgerRecord, Metrics, PriceBook
from edgeroute.ledger.stats import percentile

CLOUD = [
    {"name": "gpt", "provider": "openai", "model": "gpt-5.4"},  # $2.50 / $15.00, cached $0.25
    {"name": "cheap", "provider": "openai", "model": "gpt-5.4-mini", "tier": "cheap"},  # $0.75 / $4.50
    {"name": "mystery", "provider": "openai", "model": "no-such-model"},  # unknown price
]
DAY = 86400.0


def scripted(book: PriceBook, now: float) -> list[LedgerRecord]:
    def rec(
        request_id: str,
        tier: str | None,
        served: str | None,
        usage: Usage,
        *,
        ts: float = now,
        **extra: Any,
    ) -> LedgerRecord:
        acct = book.account(
            tier=tier, served_model=served, usage=usage, seconds=extra.get("latency_ms", 0) / 1000
        )
        return LedgerRecord(
            request_id=request_id,
            endpoint="/v1/chat/completions",
            requested_model="auto",
            status=extra.pop("status", 200),
            latency_ms=extra.pop("latency_ms"),
            tier=tier,  # type: ignore[arg-type]
            served_model=served,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            estimated=usage.estimated,
            cost_usd=acct.cost_usd,
            counterfactual_usd=acct.counterfactual_usd,
            saved_usd=acct.saved_usd,
            reference_model=acct.reference,
            ts=ts,
            **extra,
        )

    return [
        rec("local", "local", "local/gemma3-270m", Usage(1000, 200), latency_ms=800, ttft_ms=100, client="ide"),
        rec("cloud", "cloud", "cloud/gpt", Usage(2000, 500, cached_tokens=1000), latency_ms=2000, ttft_ms=400,
            client="ide"),
        rec("fallback", "local", "local/gemma3-270m", Usage(300, 100), latency_ms=5600, client="ci",
            attempts=[Attempt("cloud/gpt", error="upstream_timeout", status=504, latency_ms=5000),
                      Attempt("local/gemma3-270m", latency_ms=600)]),
        rec("error", None, None, Usage(0, 0), latency_ms=3000, status=502, error="all_targets_failed", client="ci"),
        rec("stream", "cloud", "cloud/cheap", Usage(400, 600, estimated=True), latency_ms=1500, ttft_ms=200,
            stream=True),
        rec("unknown", "cloud", "cloud/mystery", Usage(100, 100), latency_ms=900),
        rec("yesterday", "local", "local/gemma3-270m", Usage(1000, 1000), latency_ms=700, ts=now - DAY),
        rec("old", "cloud", "cloud/gpt", Usage(0, 1000), latency_ms=1000, ts=now - 40 * DAY),
    ]  # fmt: skip


@pytest.fixture
def book() -> PriceBook:
    return PriceBook.from_settings(Settings(cloud=CLOUD))  # type: ignore[arg-type]


@pytest.fixture
async def filled(ledger_path: Path, book: PriceBook, clock: Any, tz: Any) -> tuple[Ledger, Metrics]:
    ledger = Ledger.open(ledger_path, clock=clock, tz=tz)
    metrics = Metrics()
    ledger.add_listener(metrics.observe)
    for r in scripted(book, clock()):
        await ledger.record(r)
    return ledger, metrics


async def test_today_matches_hand_computed_totals(filled: tuple[Ledger, Metrics]) -> None:
    ledger, _ = filled
    try:
        s = await ledger.stats("today")
    finally:
        await ledger.aclose()
    assert (s["requests"], s["local_requests"], s["cloud_requests"], s["errors"]) == (6, 2, 3, 1)
    assert s["local_share"] == 0.4
    # cost: cloud 0.01025 (1000 fresh x 2.50 + 1000 cached x 0.25 + 500 x 15.00) + stream 0.003; one unknown
    assert s["cost_usd"] == 0.01325 and s["unknown_cost_requests"] == 1
    # counterfactual at gpt-5.4: 0.0055 + 0.01025 + 0.00225 + 0 + 0.01 + 0.00175
    assert s["counterfactual_usd"] == 0.02975 and s["unknown_counterfactual_requests"] == 0
    # saved: 0.0055 + 0 + 0.00225 + 0 + 0.007 (the unknown-price row has no saving)
    assert s["saved_usd"] == 0.01475
    assert s["saved_pct"] == 52.68  # 0.01475 / (0.02975 - 0.00175)
    assert s["tokens"] == {
        "prompt": 3800,
        "completion": 1500,
        "cached": 1000,
        "cache_write": 0,
        "total": 5300,
    }
    assert s["estimated_requests"] == 1
    assert s["latency_ms"] == {"p50": 1500.0, "p95": 5600.0, "p99": 5600.0}  # the error is left out
    assert s["ttft_ms"] == {"p50": 200.0, "p95": 400.0, "p99": 400.0}
    local, cloud = s["by_tier"]["local"], s["by_tier"]["cloud"]
    assert (local["requests"], local["cost_usd"], local["saved_usd"]) == (2, 0.0, 0.00775)
    assert (cloud["requests"], cloud["cost_usd"], cloud["saved_usd"], cloud["unknown_cost_requests"]) == (
        3,
        0.01325,
        0.007,
        1,
    )
    assert set(s["by_model"]) == {"local/gemma3-270m", "cloud/gpt", "cloud/cheap", "cloud/mystery"}
    assert s["by_model"]["cloud/cheap"]["saved_usd"] == 0.007
    assert {k: (v["requests"], v["errors"], v["cost_usd"]) for k, v in s["by_client"].items()} == {
        "ide": (2, 0, 0.01025),
        "ci": (2, 1, 0.0),
        "anonymous": (2, 0, 0.003),
    }


async def test_rolling_and_all_windows(filled: tuple[Ledger, Metrics]) -> None:
    ledger, _ = filled
    try:
        week, month, everything = [await ledger.stats(w) for w in ("7d", "30d", "all")]
    finally:
        await ledger.aclose()
    assert (week["requests"], week["counterfactual_usd"], week["saved_usd"]) == (7, 0.04725, 0.03225)
    assert month["requests"] == 7
    assert (everything["requests"], everything["cost_usd"], everything["saved_usd"]) == (8, 0.02825, 0.03225)


async def test_metrics_agree_with_stats_to_the_cent(filled: tuple[Ledger, Metrics]) -> None:
    ledger, metrics = filled
    try:
        s = await ledger.stats("all")
    finally:
        await ledger.aclose()
    text = metrics.render().decode()

    def value(name: str, labels: str = "") -> float:
        pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
        return sum(float(m) for m in re.findall(pattern, text, re.MULTILINE))

    assert round(value("edgeroute_cost_usd_total"), 2) == round(s["cost_usd"], 2)
    assert value("edgeroute_cost_usd_total") == pytest.approx(s["cost_usd"], abs=1e-12)
    assert value("edgeroute_saved_usd_total") == pytest.approx(s["saved_usd"], abs=1e-12)
    assert value("edgeroute_counterfactual_usd_total") == pytest.approx(s["counterfactual_usd"], abs=1e-12)
    assert value("edgeroute_unknown_cost_requests_total") == 1
    assert value("edgeroute_tokens_total", '{kind="prompt"}') == s["tokens"]["prompt"]
    assert value("edgeroute_tokens_total", '{kind="completion"}') == s["tokens"]["completion"]
    assert value("edgeroute_requests_total", '{model="none",status="502",tier="none"}') == 1
    assert value("edgeroute_request_latency_seconds_count", '{tier="local"}') == 3
    assert value("edgeroute_request_latency_seconds_count", '{tier="cloud"}') == 4


async def test_cli_path_reads_the_same_numbers_without_the_daemon(
    filled: tuple[Ledger, Metrics], ledger_path: Path, clock: Any, tz: Any
) -> None:
    ledger, _ = filled
    try:
        live = await ledger.stats("today")
        offline = LedgerReader(ledger_path, tz=tz).stats("today", clock())
    finally:
        await ledger.aclose()
    assert offline == live


async def test_today_starts_at_local_midnight(ledger_path: Path, clock: Any, tz: Any) -> None:
    from datetime import datetime

    midnight = datetime(2026, 11, 22, 0, 0, tzinfo=tz).timestamp()
    ledger = Ledger.open(ledger_path, clock=clock, tz=tz)
    try:
        for request_id, ts in (("before", midnight - 1), ("at", midnight), ("now", clock())):
            await ledger.record(
                LedgerRecord(request_id, "/v1/chat/completions", "auto", 200, 10.0, tier="local", ts=ts)
            )
        s = await ledger.stats("today")
        assert s["requests"] == 2 and s["since"] == midnight
    finally:
        await ledger.aclose()


async def test_empty_or_missing_ledger_reads_as_zeros(tmp_path: Path) -> None:
    s = LedgerReader(tmp_path / "nothing.sqlite3").stats("all", 1_800_000_000.0)
    assert (s["requests"], s["cost_usd"], s["saved_pct"], s["latency_ms"]["p50"]) == (0, 0.0, None, None)
    assert not (tmp_path / "nothing.sqlite3").exists()


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None


async def test_unknown_window_is_a_400(ledger_path: Path) -> None:
    from edgeroute.errors import InvalidRequest

    ledger = Ledger.open(ledger_path)
    try:
        with pytest.raises(InvalidRequest) as info:
            await ledger.stats("1y")
        assert info.value.status == 400 and info.value.param == "window"
    finally:
        await ledger.aclose()
