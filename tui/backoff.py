"""Reconnect delays: quick retries while a daemon restarts, then a steady pace that costs nothing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Backoff:
    initial: float = 0.5
    cap: float = 5.0
    factor: float = 2.0
    attempt: int = 0

    def next_delay(self) -> float:
        """The wait before the next attempt; each failure doubles it up to ``cap``."""
        delay = min(self.cap, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
