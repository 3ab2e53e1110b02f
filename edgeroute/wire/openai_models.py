"""Pydantic models of the OpenAI request bodies edgeroute accepts. They validate at the edge (a wrong
field is a 400 naming it) and document the API in the OpenAPI schema. Unknown fields are allowed and
passed on to OpenAI-compatible upstreams, as clients send many provider-specific extras."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    # Strict types, as the schema documents them: `"stream": 0` or `"max_tokens": "5"` is a client bug to
    # report (400 naming the field), not something to guess at. Unknown fields pass through.
    model_config = ConfigDict(extra="allow", strict=True)


class FunctionCall(Open):
    name: str
    arguments: str = ""


class ToolCallIn(Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessageIn(Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class FunctionDef(Open):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolIn(Open):
    type: Literal["function"] = "function"
    function: FunctionDef


class StreamOptions(Open):
    include_usage: bool = False


class ChatCompletionRequest(Open):
    model: str = Field(min_length=1)
    messages: list[ChatMessageIn] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolIn] | None = None
    tool_choice: str | dict[str, Any] | None = None


class CompletionRequestIn(Open):
    model: str = Field(min_length=1)
    prompt: str | list[str]
    suffix: str | None = None
    echo: bool = False
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None


class EmbeddingRequestIn(Open):
    model: str = Field(min_length=1)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
