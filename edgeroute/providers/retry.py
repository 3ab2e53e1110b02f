"""When to try the same upstream again, and how long to wait first.

Retried (before the first token only): 429, 5xx/408/529, connection errors and streams cut before their first
token. Not retried: timeouts (the time is already spent; fall back instead), 4xx client errors, malformed
answers. Waits grow exponentially with jitter; a ``Retry-After`` is honoured as given, and one longer than
``max_retry_after`` means "fall back now" (the health board then cools the endpoint down that long).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeroute.errors import UpstreamConnectError, UpstreamError, UpstreamRateLimited

RETRY_STATUSES = frozenset({408, 500, 502, 503, 504, 529})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5  # the wait is scaled by a random factor in [1 - jitter, 1]
    max_retry_after: float = 20.0
    max_connect_retries: int = 1  # a dead host stays dead: one more try, then fall back

    def is_retryable(self, exc: UpstreamError) -> bool:
        if isinstance(exc, UpstreamRateLimited | UpstreamConnectError):
            return True
        if exc.code == "upstream_disconnected":
            return True
        return exc.code == "upstream_error" and exc.upstream_status in RETRY_STATUSES

    def delay(self, retry: int, exc: UpstreamError, rand: float) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based), or None: do not retry."""
        if exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= self.max_retry_after else None
        backoff = min(self.max_delay, self.base_delay * (2**retry))
        return backoff * (1.0 - self.jitter * rand)

    def allows(self, retry: int, exc: UpstreamError, max_retries: int) -> bool:
        """Whether retry number ``retry`` (0-based) may happen after ``exc``."""
        if not self.is_retryable(exc):
            return False
        limit = (
            min(max_retries, self.max_connect_retries)
            if isinstance(exc, UpstreamConnectError)
            else max_retries
        )
        return retry < limit
