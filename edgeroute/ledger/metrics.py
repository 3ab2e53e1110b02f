"""Prometheus metrics for ``GET /metrics``, in a registry of their own (one per app, never the process-wide
default, so tests can build many apps). ``observe`` is a ledger listener; the engine's gauges are read at
scrape time through callbacks (``track_engine``) or set directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from edgeroute.ledger.record import LedgerRecord

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "edgeroute_requests", "Finished requests.", ["tier", "model", "status"], registry=r
        )
        self.cost = Counter(
            "edgeroute_cost_usd", "Known spend in USD (cloud price, local energy).", registry=r
        )
        self.counterfactual = Counter(
            "edgeroute_counterfactual_usd",
            "What the same tokens would have cost on the reference model.",
            registry=r,
        )
        # A gauge, not a counter: a saving is negative when a pricier model than the reference answered,
        # and this total must equal /api/stats' saved_usd.
        self.saved = Gauge(
            "edgeroute_saved_usd_total", "Counterfactual minus actual spend, in USD.", registry=r
        )
        self.unknown_cost = Counter(
            "edgeroute_unknown_cost_requests",
            "Requests whose price is unknown (not counted as $0).",
            registry=r,
        )
        # kind: prompt, completion, and the parts of prompt that were cache_read and cache_write tokens.
        self.tokens = Counter("edgeroute_tokens", "Tokens processed.", ["kind"], registry=r)
        self.latency = Histogram(
            "edgeroute_request_latency_seconds",
            "Total request latency.",
            ["tier"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "edgeroute_ttft_seconds", "Time to first token.", ["tier"], buckets=TTFT_BUCKETS, registry=r
        )
        self.queue_depth = Gauge(
            "edgeroute_local_queue_depth", "Requests waiting for a local model.", registry=r
        )
        self.loaded_models = Gauge("edgeroute_loaded_models", "Local models loaded now.", registry=r)
        # Children bound once: ``labels()`` validates and locks on every call, and observe() runs per request.
        self._prompt_tokens = self.tokens.labels("prompt")
        self._completion_tokens = self.tokens.labels("completion")
        self._cache_read_tokens = self.tokens.labels("cache_read")
        self._cache_write_tokens = self.tokens.labels("cache_write")
        # The other children, by (metric, *labels), looked up once per label set as prometheus keeps them.
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, record: LedgerRecord) -> None:
        tier = record.tier or "none"
        self._child(self.requests, tier, record.served_model or "none", str(record.status)).inc()
        if record.cost_usd is None:
            self.unknown_cost.inc()
        elif record.cost_usd > 0:
            self.cost.inc(record.cost_usd)
        if record.counterfactual_usd:
            self.counterfactual.inc(record.counterfactual_usd)
        if record.saved_usd:
            self.saved.inc(record.saved_usd)
        self._prompt_tokens.inc(max(0, record.prompt_tokens))
        self._completion_tokens.inc(max(0, record.completion_tokens))
        if record.cached_tokens > 0:  # most requests use no prompt cache: skip the counters' locks
            self._cache_read_tokens.inc(record.cached_tokens)
        if record.cache_write_tokens > 0:
            self._cache_write_tokens.inc(record.cache_write_tokens)
        if record.ok:
            self._child(self.latency, tier).observe(record.latency_ms / 1000.0)
            if record.ttft_ms is not None:
                self._child(self.ttft, tier).observe(record.ttft_ms / 1000.0)

    def track_engine(self, queue_depth: Callable[[], float], loaded_models: Callable[[], float]) -> None:
        """Read the engine's state at each scrape."""
        self.queue_depth.set_function(queue_depth)
        self.loaded_models.set_function(loaded_models)

    def render(self) -> bytes:
        return generate_latest(self.registry)
