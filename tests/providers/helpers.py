"""Small helpers shared by the cloud-tier tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from edgeroute.chat import ChatRequest, Message, StreamEvent, TextDelta, ToolCallDelta


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [e async for e in events]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def tool_calls_of(events: list[StreamEvent]) -> dict[int, dict[str, Any]]:
    """index -> {"id", "name", "arguments" (parsed JSON)} assembled from the deltas."""
    calls: dict[int, dict[str, Any]] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            call = calls.setdefault(e.index, {"id": None, "name": None, "arguments": ""})
            call["id"] = call["id"] or e.id
            call["name"] = call["name"] or e.name
            call["arguments"] += e.arguments
    for call in calls.values():
        call["arguments"] = json.loads(call["arguments"] or "{}")
    return calls


def simple_request(text: str = "Say hello.", **fields: Any) -> ChatRequest:
    return ChatRequest(**{"model": "auto", "messages": [Message("user", text)], **fields})
