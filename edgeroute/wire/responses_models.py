"""Pydantic model of the OpenAI Responses API request body (``POST /v1/responses``) edgeroute accepts.

The top-level fields validate here (a wrong one is a 400 naming it); the input items and tools are read,
and refused with a 400 naming their position, by :mod:`edgeroute.wire.responses`, which knows which of
the API's many item and tool kinds a stateless router can honour."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from edgeroute.wire.openai_models import NullableFlag, Open


class ResponsesRequest(Open):
    model: str = Field(min_length=1)
    input: str | list[dict[str, Any]] = Field(min_length=1)
    instructions: str | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stream: NullableFlag = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
