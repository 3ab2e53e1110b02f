"""One ledger row: what a finished request did and what it cost.

A plain dataclass the server fills in once the response is complete; the ledger stamps ``ts`` and ``id``.
Money fields are USD floats here (None = unknown price, never a silent $0) and integer nano-dollars in the
database, so sums are exact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from edgeroute import jsonio
from edgeroute.chat import Attempt

Tier = Literal["local", "cloud"]


def prompt_hash(text: str) -> str:
    """SHA-256 of the prompt text: lets the ledger spot repeated prompts without storing them."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class LedgerRecord:
    """A finished request.

    ``tier`` is None when no target answered (an error). ``prompt_tokens`` includes ``cached_tokens``
    (cache reads) and ``cache_write_tokens`` (cache writes, ``cache_write_1h_tokens`` of them to a 1-hour
    cache): the OpenAI convention, Anthropic's usage normalised to it. ``web_searches``: searches the
    provider ran and billed (in ``cost_usd``). ``estimated`` marks token counts
    edgeroute counted itself because the upstream sent no usage. ``prompt_text`` is dropped by the ledger
    unless ``ledger.log_prompts`` is on; ``prompt_hash`` is filled from it when empty.
    """

    request_id: str
    endpoint: str
    requested_model: str
    status: int
    latency_ms: float
    tier: Tier | None = None
    served_model: str | None = None
    client: str | None = None
    route_reason: str | None = None
    route_score: float | None = None
    route_features: dict[str, float] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    web_searches: int = 0
    estimated: bool = False
    ttft_ms: float | None = None
    error: str | None = None
    cost_usd: float | None = None
    counterfactual_usd: float | None = None
    saved_usd: float | None = None
    reference_model: str | None = None
    stream: bool = False
    prompt_hash: str = ""
    prompt_text: str | None = None
    ts: float | None = None
    id: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status < 400

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``/api/requests`` and ``/api/events``."""
        data = asdict(self)
        data["attempts"] = [asdict(a) for a in self.attempts]
        data["fallbacks"] = [a.header_value() for a in self.attempts if a.error is not None]
        if data["prompt_text"] is None:
            del data["prompt_text"]
        return data

    def to_json(self) -> str:
        return jsonio.dumps_str(self.to_dict())


def _attempt_dict(a: Attempt) -> dict[str, Any]:
    # Explicit rather than dataclasses.asdict, which deep-copies recursively (on every request's path).
    return {
        "target": a.target,
        "error": a.error,
        "status": a.status,
        "latency_ms": a.latency_ms,
        "message": a.message,
    }


def attempts_to_json(attempts: list[Attempt]) -> str:
    return jsonio.dumps_str([_attempt_dict(a) for a in attempts])


def attempts_from_json(text: str | None) -> list[Attempt]:
    if not text:
        return []
    return [Attempt(**item) for item in json.loads(text)]
