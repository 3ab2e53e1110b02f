"""Prometheus metrics live in a registry per Metrics object (never the process default)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from edgeroute.ledger import LedgerRecord, Metrics


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # building two must not clash on metric names
    first.observe(LedgerRecord("r", "/v1/chat/completions", "auto", 200, 1500.0, tier="cloud",
                               served_model="cloud/x", cost_usd=0.25, counterfactual_usd=0.5, saved_usd=0.25,
                               prompt_tokens=10, completion_tokens=5, ttft_ms=200.0))  # fmt: skip
    text = first.render().decode()
    assert 'edgeroute_requests_total{model="cloud/x",status="200",tier="cloud"} 1.0' in text
    assert "edgeroute_cost_usd_total 0.25" in text
    assert "edgeroute_saved_usd_total 0.25" in text
    assert 'edgeroute_request_latency_seconds_bucket{le="2.5",tier="cloud"} 1.0' in text
    assert 'edgeroute_ttft_seconds_count{tier="cloud"} 1.0' in text
    assert "edgeroute_cost_usd_total 0.0" in second.render().decode()
    assert REGISTRY.get_sample_value("edgeroute_cost_usd_total") is None
    assert first.content_type.startswith("text/plain")


def test_negative_savings_lower_the_saved_total() -> None:
    metrics = Metrics()
    metrics.observe(LedgerRecord("r", "/v1/chat/completions", "auto", 200, 1.0, tier="cloud",
                                 cost_usd=0.3, counterfactual_usd=0.1, saved_usd=-0.2))  # fmt: skip
    assert "edgeroute_saved_usd_total -0.2" in metrics.render().decode()


def test_engine_gauges_are_read_at_scrape_time() -> None:
    metrics = Metrics()
    state = {"queue": 0, "loaded": 1}
    metrics.track_engine(lambda: state["queue"], lambda: state["loaded"])
    state.update(queue=3, loaded=2)
    text = metrics.render().decode()
    assert "edgeroute_local_queue_depth 3.0" in text and "edgeroute_loaded_models 2.0" in text


def test_cache_reads_and_writes_are_counted_as_token_kinds() -> None:
    metrics = Metrics()
    text = metrics.render().decode()  # present at 0 before any request, like the other kinds
    assert 'edgeroute_tokens_total{kind="cache_read"} 0.0' in text
    assert 'edgeroute_tokens_total{kind="cache_write"} 0.0' in text
    metrics.observe(LedgerRecord("r", "/v1/messages", "auto", 200, 1.0, tier="cloud", prompt_tokens=1200,
                                 completion_tokens=7, cached_tokens=1000, cache_write_tokens=150,
                                 cache_write_1h_tokens=50))  # fmt: skip
    metrics.observe(LedgerRecord("r2", "/v1/messages", "auto", 200, 1.0, tier="cloud", prompt_tokens=30,
                                 completion_tokens=3, cached_tokens=-5))  # fmt: skip
    text = metrics.render().decode()
    assert 'edgeroute_tokens_total{kind="prompt"} 1230.0' in text  # reads and writes stay inside prompt
    assert 'edgeroute_tokens_total{kind="cache_read"} 1000.0' in text
    assert 'edgeroute_tokens_total{kind="cache_write"} 150.0' in text
