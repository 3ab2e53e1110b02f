"""Pydantic models of the Anthropic Messages request body (validation and OpenAPI at the edge)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    # Strict types, as the schema documents them: `"stream": 0` or `"max_tokens": "5"` is a client bug to
    # report (400 naming the field), not something to guess at. Unknown fields pass through.
    model_config = ConfigDict(extra="allow", strict=True)


class AnthropicMessageIn(Open):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class AnthropicToolIn(Open):
    name: str
    description: str | None = None
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class MessagesRequest(Open):
    model: str = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    messages: list[AnthropicMessageIn] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = None
    stream: bool = False
    tools: list[AnthropicToolIn] | None = None
    tool_choice: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class CountTokensRequest(Open):
    """``POST /v1/messages/count_tokens``: a Messages request without ``max_tokens``."""

    model: str = Field(min_length=1)
    messages: list[AnthropicMessageIn] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[AnthropicToolIn] | None = None
    tool_choice: dict[str, Any] | None = None
