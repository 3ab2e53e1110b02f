"""Collect a stream of internal events into one complete answer (for non-streaming responses)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from edgeroute.chat import (
    Annotation,
    Citation,
    ContentBlock,
    Finish,
    FinishReason,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)


@dataclass(slots=True)
class Collected:
    text: str = ""
    reasoning: str = ""
    thinking: list[dict[str, Any]] = field(default_factory=list)  # the reasoning as Anthropic blocks
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: FinishReason = "stop"
    stop_sequence: str | None = None
    usage: Usage | None = None
    # An Anthropic upstream's server tool blocks, each with the length of the text before it (its place).
    native_blocks: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # Sources the text cites, each with the length of the text before it (where its cited block starts).
    citations: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    anthropic_stop: str | None = None
    refusal: str = ""  # an OpenAI model's refusal text, kept apart from ``text``
    annotations: list[dict[str, Any]] = field(default_factory=list)  # OpenAI-style, offsets into ``text``
    logprobs: list[dict[str, Any]] | None = None  # OpenAI ``logprobs.content``, when the backend gave any

    @property
    def all_text(self) -> str:
        """The text for APIs without a refusal field: the refusal reads as text."""
        return self.text + self.refusal


class ToolCallAssembler:
    """Joins streamed tool-call pieces by index into complete calls."""

    def __init__(self) -> None:
        self._calls: dict[int, ToolCall] = {}

    def add(self, delta: ToolCallDelta) -> None:
        call = self._calls.get(delta.index)
        if call is None:
            call = self._calls[delta.index] = ToolCall(
                id=delta.id or f"call_{delta.index}", name="", arguments=""
            )
        if delta.id:
            call.id = delta.id
        if delta.name:
            call.name = delta.name
        call.arguments += delta.arguments

    def calls(self) -> list[ToolCall]:
        return [self._calls[i] for i in sorted(self._calls)]


class ThinkingAssembler:
    """Joins reasoning pieces into Anthropic thinking blocks: a signature ends a block, a redacted block
    stands alone, and reasoning nobody signed (an OpenAI-style upstream's) ends with an empty signature."""

    def __init__(self) -> None:
        self._blocks: list[dict[str, Any]] = []
        self._text: list[str] = []
        self._open = False

    def add(self, delta: ReasoningDelta) -> None:
        if delta.redacted is not None:
            self._close("")
            self._blocks.append({"type": "redacted_thinking", "data": delta.redacted})
            return
        if delta.text:
            self._text.append(delta.text)
            self._open = True
        if delta.signature is not None:
            self._open = True
            self._close(delta.signature)

    def _close(self, signature: str) -> None:
        if self._open:
            self._blocks.append({"type": "thinking", "thinking": "".join(self._text), "signature": signature})
            self._text, self._open = [], False

    def blocks(self) -> list[dict[str, Any]]:
        self._close("")
        return self._blocks


async def collect(events: AsyncIterator[StreamEvent]) -> Collected:
    out = Collected()
    text: list[str] = []
    refusal: list[str] = []
    reasoning: list[str] = []
    tools = ToolCallAssembler()
    thinking = ThinkingAssembler()
    length = 0
    async for event in events:
        if isinstance(event, TextDelta):
            if event.logprobs:
                if out.logprobs is None:
                    out.logprobs = []
                out.logprobs.extend(event.logprobs)
            if event.refusal:
                refusal.append(event.text)
                continue
            text.append(event.text)
            length += len(event.text)
        elif isinstance(event, ContentBlock):
            out.native_blocks.append((length, event.block))
        elif isinstance(event, Citation):
            out.citations.append((length, event.citation))
        elif isinstance(event, Annotation):
            out.annotations.append(event.annotation)
        elif isinstance(event, ToolCallDelta):
            tools.add(event)
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
            thinking.add(event)
        elif isinstance(event, Usage):
            out.usage = event
        elif isinstance(event, Finish):
            out.finish_reason = event.reason
            out.stop_sequence = event.stop_sequence
            out.anthropic_stop = event.anthropic_stop
    out.text = "".join(text)
    out.refusal = "".join(refusal)
    out.reasoning = "".join(reasoning)
    out.thinking = thinking.blocks()
    out.tool_calls = tools.calls()
    if out.tool_calls and out.finish_reason == "stop":
        out.finish_reason = "tool_calls"
    return out
