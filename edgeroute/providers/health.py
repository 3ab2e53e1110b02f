"""Per-endpoint health: a circuit breaker for upstreams that keep failing, and a fast "offline" verdict.

An endpoint is one provider kind at one base URL. It is skipped (no request, no waiting) while:
- ``unreachable``: its last request could not connect, for ``unreachable_s`` (a dead box or no network costs
  one connect timeout, not one per request);
- ``circuit_open``: ``failures_to_open`` requests in a row failed (5xx, 429, timeouts, cut streams), for a
  cooldown that doubles on each reopening up to ``max_cooldown_s``; a ``Retry-After`` too long to wait for
  opens it for that long. After the cooldown one request probes it: success closes the circuit.
The whole cloud is ``offline`` when DNS/routing fails, or two endpoints failed to connect with no success in
between, within ``offline_s``. Client errors (400, 401, 404, context too long) say nothing about health.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edgeroute.errors import UpstreamConnectError, UpstreamError, UpstreamRateLimited, UpstreamTimeout
from edgeroute.providers.upstream import is_network_down

HEALTH_CODES = frozenset({"upstream_error", "upstream_disconnected"})


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    failures_to_open: int = 3
    cooldown_s: float = 30.0
    max_cooldown_s: float = 300.0
    unreachable_s: float = 15.0
    offline_s: float = 15.0


@dataclass(slots=True)
class Unavailable:
    """Why an endpoint is skipped now: a trail error code, a message, and seconds until it is tried again."""

    code: str
    message: str
    retry_after: float


@dataclass(slots=True)
class EndpointHealth:
    failures: int = 0
    reopenings: int = 0
    skip_until: float = 0.0
    skip_code: str = ""
    last_error: str | None = None
    last_ok_at: float | None = None
    last_failure_at: float | None = None


@dataclass(slots=True)
class _Network:
    down_until: float = 0.0
    connect_failures: dict[str, float] = field(default_factory=dict)


class HealthBoard:
    """Health of every endpoint the pool talks to (state lives here, the clock is injected)."""

    def __init__(self, policy: HealthPolicy | None = None, clock: Callable[[], float] | None = None) -> None:
        self.policy = policy or HealthPolicy()
        self._clock = clock or time.monotonic
        self._endpoints: dict[str, EndpointHealth] = {}
        self._network = _Network()

    def _get(self, endpoint: str) -> EndpointHealth:
        return self._endpoints.setdefault(endpoint, EndpointHealth())

    @property
    def offline(self) -> bool:
        """True while the network looks down: callers should not wait on cloud timeouts."""
        return self._clock() < self._network.down_until

    def unavailable(self, endpoint: str) -> Unavailable | None:
        now = self._clock()
        if now < self._network.down_until:
            return Unavailable("offline", "the network looks down", self._network.down_until - now)
        state = self._endpoints.get(endpoint)
        if state is None or now >= state.skip_until:
            return None
        wait = state.skip_until - now
        if state.skip_code == "unreachable":
            return Unavailable("unreachable", f"could not connect {math.ceil(wait)}s ago or less", wait)
        return Unavailable(
            "circuit_open", f"cooling down after {state.failures} failures ({math.ceil(wait)}s left)", wait
        )

    def record_success(self, endpoint: str) -> None:
        state = self._get(endpoint)
        state.failures = 0
        state.reopenings = 0
        state.skip_until = 0.0
        state.last_ok_at = self._clock()
        self._network.down_until = 0.0
        self._network.connect_failures.clear()

    def record_failure(
        self, endpoint: str, exc: UpstreamError, *, retry_after_limit: float = math.inf
    ) -> None:
        """Count a failed request (after its retries) against ``endpoint``."""
        counted = isinstance(exc, UpstreamConnectError | UpstreamTimeout | UpstreamRateLimited) or (
            exc.code in HEALTH_CODES
        )
        if not counted:
            return
        now = self._clock()
        policy = self.policy
        state = self._get(endpoint)
        state.failures += 1
        state.last_error = exc.code
        state.last_failure_at = now
        if isinstance(exc, UpstreamConnectError):
            self._skip(state, now + policy.unreachable_s, "unreachable")
            self._note_connect_failure(endpoint, exc, now)
            return
        if exc.retry_after is not None and exc.retry_after > retry_after_limit:
            self._skip(state, now + exc.retry_after, "circuit_open")
        if state.failures >= policy.failures_to_open:
            cooldown = min(policy.max_cooldown_s, policy.cooldown_s * (2**state.reopenings))
            state.reopenings += 1
            self._skip(state, now + cooldown, "circuit_open")

    @staticmethod
    def _skip(state: EndpointHealth, until: float, code: str) -> None:
        if until > state.skip_until:
            state.skip_until = until
            state.skip_code = code

    def _note_connect_failure(self, endpoint: str, exc: UpstreamError, now: float) -> None:
        window = self.policy.offline_s
        failures = self._network.connect_failures
        failures[endpoint] = now
        for name, at in list(failures.items()):
            if now - at > window:
                del failures[name]
        if is_network_down(exc) or len(failures) >= 2:
            self._network.down_until = now + window

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Plain data for /api and the router: per endpoint, whether it is usable now and why not."""
        now = self._clock()
        out: dict[str, dict[str, object]] = {}
        for name, state in self._endpoints.items():
            skip = self.unavailable(name)
            out[name] = {
                "available": skip is None,
                "state": skip.code if skip else "ok",
                "retry_in_s": round(skip.retry_after, 1) if skip else 0.0,
                "consecutive_failures": state.failures,
                "last_error": state.last_error,
                "seconds_since_ok": None if state.last_ok_at is None else round(now - state.last_ok_at, 1),
            }
        return out
