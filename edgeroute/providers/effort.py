"""An OpenAI client's ``reasoning_effort`` as thinking on an Anthropic model.

OpenAI-API clients (Cline, Zed, Continue) ask for reasoning with ``reasoning_effort``; Claude thinks when
the request says ``thinking``. How depends on the model, so the config says it per ``[[cloud]]`` model
(``thinking``): ``adaptive`` for Claude Opus/Sonnet 4.6 and later (``thinking: adaptive`` with
``output_config.effort``; the newest models take nothing else) and ``budget`` for older ones (``thinking:
enabled`` with a token budget that grows with the effort). Unset, the model answers without thinking.
"""

from __future__ import annotations

from typing import Any, Literal

ThinkingMode = Literal["adaptive", "budget"]
EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high"}
BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
MIN_BUDGET = 1024  # Anthropic's smallest thinking budget


def think_by_effort(body: dict[str, Any], mode: ThinkingMode, effort: Any) -> None:
    """Add to an Anthropic request ``body`` (built, with its ``max_tokens``) the thinking ``effort`` asks
    for; ``minimal``, ``none`` or no effort add nothing. Thinking takes no temperature but 1, no
    ``top_k`` and a ``top_p`` of 0.95 or more, so those go; budgeted thinking takes no forced tool and
    needs a budget below ``max_tokens``, else the request goes without it."""
    level = EFFORTS.get(str(effort)) if isinstance(effort, str) else None
    if level is None:
        return
    if mode == "adaptive":
        body["thinking"] = {"type": "adaptive"}
        body["output_config"] = {**body.get("output_config", {}), "effort": level}
    else:
        forced = isinstance(body.get("tool_choice"), dict) and body["tool_choice"].get("type") in (
            "any",
            "tool",
        )
        budget = min(BUDGETS[level], int(body["max_tokens"]) - 1)
        if forced or budget < MIN_BUDGET:
            return
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if body.get("temperature", 1.0) != 1.0:
        del body["temperature"]
    body.pop("top_k", None)
    if body.get("top_p", 1.0) < 0.95:
        del body["top_p"]
