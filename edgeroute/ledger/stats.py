"""The ``/api/stats`` document, computed from the ledger's grouped aggregates by pure functions.

Definitions (the acceptance tests compute these by hand):
- ``requests``: every row; ``errors``: rows with an error code or a status >= 400.
- ``local_requests`` / ``cloud_requests``: rows answered by that tier (an error no target answered counts in
  neither); ``local_share`` = local / (local + cloud).
- ``cost_usd``, ``counterfactual_usd``, ``saved_usd``: sums over rows whose amount is known, in exact
  nano-dollars; rows with an unknown price are counted in ``unknown_cost_requests`` (and
  ``unknown_counterfactual_requests``) instead of being added as $0.
- ``saved_pct`` = saved / counterfactual over the rows whose saving is known.
- latency percentiles (nearest rank) over successful requests only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from edgeroute.ledger.money import nano_to_usd
from edgeroute.ledger.queries import Group

NO_CLIENT = "anonymous"
NO_MODEL = "none"


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def percentiles(sorted_values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{q}": percentile(sorted_values, q) for q in (50, 95, 99)}


def _ratio(part: int, whole: int, scale: float = 1.0, digits: int = 4) -> float | None:
    return round(scale * part / whole, digits) if whole else None


@dataclass(slots=True)
class _Totals:
    """Running sums for one slice (a tier, a model, a client or everything); money in nano-dollars."""

    requests: int = 0
    errors: int = 0
    local: int = 0
    cloud: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    estimated: int = 0
    cost: int = 0
    unknown_cost: int = 0
    counterfactual: int = 0
    unknown_counterfactual: int = 0
    saved: int = 0
    saved_basis: int = 0

    def add(self, g: Group) -> None:
        self.requests += g.requests
        self.errors += g.errors
        self.local += g.requests if g.tier == "local" else 0
        self.cloud += g.requests if g.tier == "cloud" else 0
        self.prompt_tokens += g.prompt_tokens
        self.completion_tokens += g.completion_tokens
        self.cached_tokens += g.cached_tokens
        self.cache_write_tokens += g.cache_write_tokens
        self.estimated += g.estimated
        self.cost += g.cost_nusd
        self.unknown_cost += g.unknown_cost
        self.counterfactual += g.counterfactual_nusd
        self.unknown_counterfactual += g.unknown_counterfactual
        self.saved += g.saved_nusd
        self.saved_basis += g.saved_basis_nusd

    def money(self) -> dict[str, Any]:
        return {
            "cost_usd": nano_to_usd(self.cost),
            "counterfactual_usd": nano_to_usd(self.counterfactual),
            "saved_usd": nano_to_usd(self.saved),
            "saved_pct": _ratio(self.saved, self.saved_basis, 100.0, 2),
            "unknown_cost_requests": self.unknown_cost,
            "unknown_counterfactual_requests": self.unknown_counterfactual,
        }

    def slice(self) -> dict[str, Any]:
        """The shape of one ``by_*`` entry."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            **self.money(),
        }


def summarize(
    groups: Iterable[Group],
    latencies_ms: Sequence[float],
    ttfts_ms: Sequence[float],
    *,
    window: str,
    since: float | None,
    now: float,
    budget: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the stats document from ``queries.fetch_groups`` / ``fetch_latencies`` results."""
    total = _Totals()
    by_tier = {"local": _Totals(), "cloud": _Totals()}
    by_model: dict[str, _Totals] = {}
    by_client: dict[str, _Totals] = {}
    for g in groups:
        total.add(g)
        if g.tier in by_tier:
            by_tier[g.tier].add(g)
        if g.model is not None:
            by_model.setdefault(g.model, _Totals()).add(g)
        by_client.setdefault(g.client if g.client is not None else NO_CLIENT, _Totals()).add(g)
    return {
        "window": window,
        "since": since,
        "until": now,
        "requests": total.requests,
        "local_requests": total.local,
        "cloud_requests": total.cloud,
        "errors": total.errors,
        "local_share": _ratio(total.local, total.local + total.cloud),
        **total.money(),
        "estimated_requests": total.estimated,
        "tokens": {
            "prompt": total.prompt_tokens,
            "completion": total.completion_tokens,
            "cached": total.cached_tokens,
            "cache_write": total.cache_write_tokens,
            "total": total.prompt_tokens + total.completion_tokens,
        },
        "latency_ms": percentiles(latencies_ms),
        "ttft_ms": percentiles(ttfts_ms),
        "by_tier": {name: t.slice() for name, t in by_tier.items()},
        "by_model": {name: t.slice() for name, t in sorted(by_model.items())},
        "by_client": {name: t.slice() for name, t in sorted(by_client.items())},
        "budget": budget if budget is not None else {},
    }
