"""The request path shared by every endpoint: resolve the model name, decide the route, open the stream
through the dispatcher's fallback chain, and describe the outcome in response headers.

Every route decision comes from one call, ``DaemonRouter.decide`` (edgeroute/server/routing.py), which
wraps the router's pure ``decide()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeroute.chat import Attempt, RouteDecision
from edgeroute.errors import ModelNotFound


@dataclass(slots=True)
class Targets:
    """The names a request may pin, split by tier, with the default local chat model."""

    local: dict[str, Any] = field(default_factory=dict)  # name -> engine registry entry
    cloud: dict[str, Any] = field(default_factory=dict)  # name -> CloudModelConfig

    def default_local(self, role: str = "chat") -> str | None:
        """The first local model for ``role`` (a model with no declared role counts as chat)."""
        for name, entry in self.local.items():
            if entry.is_embedding:
                continue
            if entry.role == role or (role == "chat" and entry.role in (None, "code")):
                return name
        return None


def resolve_model(name: str, targets: Targets) -> str | None:
    """``auto`` → None (the router decides); ``local/x`` / ``cloud/x`` / a bare unique name → the target.
    Anything else is a 404, never a silent substitute."""
    if name in ("auto", "edgeroute", "edgeroute/auto"):
        return None
    tier, _, rest = name.partition("/")
    if tier == "local" and rest in targets.local:
        return name
    if tier == "cloud" and rest in targets.cloud:
        return name
    if not rest:
        matches = [f"local/{name}"] if name in targets.local else []
        matches += [f"cloud/{name}"] if name in targets.cloud else []
        if len(matches) == 1:
            return matches[0]
    known = ["auto"] + [f"local/{n}" for n in targets.local] + [f"cloud/{n}" for n in targets.cloud]
    raise ModelNotFound(f"The model '{name}' does not exist. Available: {', '.join(known)}", param="model")


def route_headers(decision: RouteDecision, served: str, trail: list[Attempt]) -> dict[str, str]:
    """The contract's ``x-edgeroute-*`` headers (the cost headers are added once the cost is known)."""
    headers = {
        "x-edgeroute-tier": "local" if served.startswith("local/") else "cloud",
        "x-edgeroute-model": served,
        "x-edgeroute-reason": decision.reason,
        "x-edgeroute-fallbacks": ", ".join(a.header_value() for a in trail if a.error),
    }
    if decision.score is not None:
        headers["x-edgeroute-score"] = f"{decision.score:.3f}"
    return headers
