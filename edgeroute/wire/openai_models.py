"""Pydantic models of the OpenAI request bodies edgeroute accepts. They validate at the edge (a wrong
field is a 400 naming it) and document the API in the OpenAPI schema. Unknown fields are allowed and
passed on to OpenAI-compatible upstreams, as clients send many provider-specific extras."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class Open(BaseModel):
    # Strict types, as the schema documents them: `"stream": 0` or `"max_tokens": "5"` is a client bug to
    # report (400 naming the field), not something to guess at. Unknown fields pass through.
    model_config = ConfigDict(extra="allow", strict=True)


def _false_if_null(value: Any) -> Any:
    return False if value is None else value


def _float_if_null(value: Any) -> Any:
    return "float" if value is None else value


# OpenAI's spec makes these nullable and SDKs send an explicit null for "not given" (`"stream": null`):
# null means the default, anything else is still validated strictly.
NullableFlag = Annotated[bool, BeforeValidator(_false_if_null, json_schema_input_type=bool | None)]


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
    include_usage: NullableFlag = False


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
    stream: NullableFlag = False
    stream_options: StreamOptions | None = None
    tools: list[ToolIn] | None = None
    tool_choice: str | dict[str, Any] | None = None
    logprobs: NullableFlag = False
    top_logprobs: int | None = Field(None, ge=0, le=20)


class CompletionRequestIn(Open):
    model: str = Field(min_length=1)
    prompt: str | list[str]
    suffix: str | None = None
    echo: NullableFlag = False
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: NullableFlag = False
    stream_options: StreamOptions | None = None


class EmbeddingRequestIn(Open):
    model: str = Field(min_length=1)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Annotated[
        Literal["float", "base64"],
        BeforeValidator(_float_if_null, json_schema_input_type=Literal["float", "base64"] | None),
    ] = "float"
