"""Task routes from the config, matched the way LLM gateways match them: a task label the client sent,
any of a list of keywords, or a regular expression on the last user message. First match wins."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from edgeroute.config import TaskRouteConfig


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: TaskRouteConfig
    why: str  # "task=summarize", "keyword=sql", "regex"


def _keyword_hit(text_lower: str, keywords: Sequence[str]) -> str | None:
    for kw in keywords:
        k = kw.lower().strip()
        if not k:
            continue
        # Whole words for word-like keywords ("sql" must not match "mysqldump"); substrings otherwise.
        if re.fullmatch(r"[\w ]+", k):
            if re.search(r"(?<!\w)" + re.escape(k) + r"(?!\w)", text_lower):
                return kw
        elif k in text_lower:
            return kw
    return None


def match_route(
    routes: Sequence[TaskRouteConfig], text: str, task: str | None, prompt_tokens: int
) -> RouteMatch | None:
    """The first route that matches and accepts a prompt of ``prompt_tokens`` tokens."""
    lower = text.lower()
    for route in routes:
        if route.max_input_tokens is not None and prompt_tokens > route.max_input_tokens:
            continue
        if route.task is not None and task is not None and route.task.lower() == task.lower():
            return RouteMatch(route, f"task={route.task}")
        hit = _keyword_hit(lower, route.keywords)
        if hit is not None:
            return RouteMatch(route, f"keyword={hit}")
        if route.regex is not None and re.search(route.regex, text):
            return RouteMatch(route, "regex")
    return None
