"""Pydantic models of the Anthropic Messages request body (validation and OpenAPI at the edge)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Open(BaseModel):
    # Strict types, as the schema documents them: `"stream": 0` or `"max_tokens": "5"` is a client bug to
    # report (400 naming the field), not something to guess at. Unknown fields pass through.
    model_config = ConfigDict(extra="allow", strict=True)


def check_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The nested shapes the translation reads: a text block's text is a string, an image's source an
    object, a tool result's content a string or a list of blocks. Anything else is the client's 400, not a
    500 from deep inside the translation."""
    for block in blocks:
        if "text" in block and not isinstance(block["text"], str):
            raise ValueError("a content block's text must be a string")
        kind = block.get("type")
        if kind == "thinking" and not all(
            isinstance(block.get(k, ""), str) for k in ("thinking", "signature")
        ):
            raise ValueError("a thinking block's thinking and signature must be strings")
        if kind == "redacted_thinking" and not isinstance(block.get("data", ""), str):
            raise ValueError("a redacted_thinking block's data must be a string")
        if kind == "image" and not isinstance(block.get("source", {}), dict):
            raise ValueError("an image block's source must be an object")
        if kind == "tool_result":
            inner = block.get("content")
            if isinstance(inner, list) and all(isinstance(b, dict) for b in inner):
                check_blocks(inner)
            elif inner is not None and not isinstance(inner, str):
                raise ValueError("a tool_result's content must be a string or a list of content blocks")
    return blocks


class AnthropicMessageIn(Open):
    # "system" mid-conversation: Claude Opus 4.8's instructions that apply from that point on; Claude Code
    # sends them (its first request ends with one).
    role: Literal["user", "assistant", "system"]
    content: str | list[dict[str, Any]]

    @field_validator("content")
    @classmethod
    def _blocks(cls, content: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        return content if isinstance(content, str) else check_blocks(content)


class AnthropicToolIn(Open):
    """A client tool (``type`` absent or ``"custom"``), or a typed one Anthropic defines (a server tool such
    as ``web_search_20250305``, or a client tool such as ``bash_20250124``): that one has no schema here,
    only an Anthropic upstream knows it."""

    type: str | None = None
    name: str
    description: str | None = None
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @property
    def typed(self) -> bool:
        return self.type not in (None, "custom")


class _Conversation(Open):
    """What a Messages request and a token count share: the conversation and its tools."""

    model: str = Field(min_length=1)
    messages: list[AnthropicMessageIn] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[AnthropicToolIn] | None = None
    tool_choice: dict[str, Any] | None = None

    @field_validator("system")
    @classmethod
    def _system_blocks(cls, system: str | list[dict[str, Any]] | None) -> str | list[dict[str, Any]] | None:
        return check_blocks(system) if isinstance(system, list) else system


class MessagesRequest(_Conversation):
    max_tokens: int = Field(ge=1)
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = None
    stream: bool | None = False  # null: not streamed (clients that write every field send it)
    metadata: dict[str, Any] | None = None


class CountTokensRequest(_Conversation):
    """``POST /v1/messages/count_tokens``: a Messages request without ``max_tokens``."""
