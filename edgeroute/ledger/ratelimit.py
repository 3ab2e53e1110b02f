"""Per-client rate limits: requests per minute and tokens per minute over a sliding 60-second window.

``acquire(client, tokens_estimate)`` runs before dispatch and raises ``RateLimited`` (429) with
``retry_after`` = seconds until the window has room. Tokens are counted when a request finishes
(``observe``, a ledger listener), so the token limit looks at what already ran plus this request's estimate.
A single request larger than the whole token limit is let through when the window is empty, rather than
being refused forever. Only clients with limits in ``[[clients]]`` are tracked: memory stays bounded by
their limits.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edgeroute.errors import RateLimited

if TYPE_CHECKING:
    from edgeroute.config import ClientConfig, Settings
    from edgeroute.ledger.record import LedgerRecord

WINDOW_S = 60.0


@dataclass(slots=True)
class _Limits:
    requests_per_minute: int | None
    tokens_per_minute: int | None


@dataclass(slots=True)
class _Usage:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0

    def prune(self, now: float) -> None:
        horizon = now - WINDOW_S
        while self.requests and self.requests[0] <= horizon:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= horizon:
            self.token_sum -= self.tokens.popleft()[1]


def _retry_after(seconds: float) -> float:
    """Whole seconds, at least 1: what a Retry-After header can say."""
    return float(max(1, math.ceil(seconds - 1e-9)))


class RateLimiter:
    def __init__(
        self, clients: Sequence[ClientConfig] = (), *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = {
            c.name: _Limits(c.requests_per_minute, c.tokens_per_minute)
            for c in clients
            if c.requests_per_minute is not None or c.tokens_per_minute is not None
        }
        self._usage: dict[str, _Usage] = {name: _Usage() for name in self._limits}
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
        return cls(settings.clients, clock=clock)

    @property
    def enabled(self) -> bool:
        return bool(self._limits)

    def acquire(self, client: str | None, tokens_estimate: int = 0) -> None:
        """Admit one request now or raise ``RateLimited(retry_after=...)``."""
        if client is None or client not in self._limits:
            return
        limits, usage, now = self._limits[client], self._usage[client], self._clock()
        usage.prune(now)
        rpm = limits.requests_per_minute
        if rpm is not None and len(usage.requests) >= rpm:
            wait = _retry_after(usage.requests[len(usage.requests) - rpm] + WINDOW_S - now)
            raise RateLimited(
                f"Rate limit: client '{client}' may send {rpm} requests per minute; retry in {wait:.0f}s.",
                retry_after=wait,
            )
        tpm = limits.tokens_per_minute
        if tpm is not None and usage.token_sum > 0 and usage.token_sum + max(0, tokens_estimate) > tpm:
            wait = _retry_after(self._tokens_free_at(usage, tpm, max(0, tokens_estimate)) - now)
            raise RateLimited(
                f"Rate limit: client '{client}' may use {tpm} tokens per minute "
                f"({usage.token_sum} used, this request ~{tokens_estimate}); retry in {wait:.0f}s.",
                retry_after=wait,
            )
        usage.requests.append(now)

    @staticmethod
    def _tokens_free_at(usage: _Usage, tpm: int, estimate: int) -> float:
        """When enough of the window's tokens expire for this request to fit (or the window empties)."""
        excess = usage.token_sum + estimate - tpm
        freed = 0
        for ts, count in usage.tokens:
            freed += count
            if freed >= excess:
                return ts + WINDOW_S
        return usage.tokens[-1][0] + WINDOW_S

    def add_tokens(self, client: str | None, tokens: int) -> None:
        if client is None or client not in self._limits or tokens <= 0:
            return
        usage, now = self._usage[client], self._clock()
        usage.prune(now)
        usage.tokens.append((now, tokens))
        usage.token_sum += tokens

    def observe(self, record: LedgerRecord) -> None:
        """Ledger listener: count a finished request's tokens."""
        self.add_tokens(record.client, record.total_tokens)
