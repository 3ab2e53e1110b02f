"""The ``openai`` provider kind: any OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, OpenRouter,
Groq, DeepSeek, Together, Mistral, Gemini's OpenAI endpoint, a remote vLLM / llama-server / Ollama box).

Always streams, and always asks for usage in the stream (``stream_options.include_usage``) so token counts
and cost are exact; an upstream that sends none gets an estimate marked ``Usage.estimated``. A server that
ignores ``stream`` and answers with one JSON body is read the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from edgeroute.chat import (
    THINKING_PARTS,
    Annotation,
    ChatRequest,
    Finish,
    FinishReason,
    Message,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    Wire,
)
from edgeroute.config import CloudModelConfig
from edgeroute.errors import UpstreamError
from edgeroute.providers.base import target_label
from edgeroute.providers.http import UpstreamClient
from edgeroute.providers.tokens import CompletionCounter, estimate_prompt_tokens
from edgeroute.providers.upstream import (
    Deadline,
    http_timeout,
    iter_sse,
    open_response,
    parse_json,
    read_body,
    scrub,
    stream_ended_early,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def _content_from_anthropic(message: Message) -> str | list[dict[str, Any]] | None:
    """A Messages API client's content as OpenAI takes it: no Anthropic thinking blocks (signed for
    Anthropic alone), parts that are all text become one string (as when they carry no cache breakpoint),
    and no part keeps its ``cache_control`` (OpenAI's own caching needs none)."""
    content = message.content
    if not isinstance(content, list):
        return content
    parts = [p for p in content if p.get("type") not in THINKING_PARTS]
    if all(p.get("type") == "text" for p in parts):
        return message.text()
    return [{k: v for k, v in p.items() if k != "cache_control"} for p in parts]


def message_to_openai(message: Message, wire: Wire = "openai") -> dict[str, Any]:
    content = message.content if wire == "openai" else _content_from_anthropic(message)
    out: dict[str, Any] = {"role": message.role, "content": content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
    return out


def build_body(model: CloudModelConfig, req: ChatRequest) -> dict[str, Any]:
    """The ``/chat/completions`` body: an OpenAI client's ``req.extra`` passes through (a Messages API
    client's does not: its fields mean nothing here, but for the JSON schema its ``output_config``
    asked for, which the edge gave the internal ``response_format``), the fields edgeroute knows win. The token limit
    goes under the name the model is configured with, else the one the client used, else ``max_tokens``
    (the older name, which every compatible server accepts)."""
    body: dict[str, Any] = dict(req.extra) if req.wire == "openai" else {}
    if req.wire == "anthropic" and "response_format" in req.extra:  # from output_config.format
        body["response_format"] = req.extra["response_format"]
    stream_options = body.get("stream_options")
    body.update(
        model=model.model,
        messages=[message_to_openai(m, req.wire) for m in req.messages],
        stream=True,
        stream_options={
            **(stream_options if isinstance(stream_options, dict) else {}),
            "include_usage": True,
        },
    )
    if req.max_tokens is not None:
        body.pop("max_completion_tokens", None)
        body.pop("max_tokens", None)
        body[model.max_tokens_field or req.max_tokens_field or "max_tokens"] = req.max_tokens
    optional = {
        "temperature": req.temperature,
        "top_p": req.top_p,
        "seed": req.seed,
        "tool_choice": req.tool_choice,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if req.stop:
        body["stop"] = list(req.stop)
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "parameters": t.parameters,
                },
            }
            for t in req.tools
        ]
        anthropic_choice = req.extra.get("tool_choice") if req.wire == "anthropic" else None
        if isinstance(anthropic_choice, dict) and anthropic_choice.get("disable_parallel_tool_use"):
            body["parallel_tool_calls"] = False  # Anthropic's name for it; OpenAI takes it with tools only
    return body


class ToolIndexer:
    """Gives every streamed tool call its own integer index, also for servers that send none, or 0 for
    every call (a new ``id`` at a used index is a new call)."""

    def __init__(self) -> None:
        self._slots: dict[int, tuple[str | None, int]] = {}
        self._count = 0
        self._current: int | None = None

    def _new(self, upstream: int | None, call_id: str | None) -> int:
        index = self._count
        self._count += 1
        if upstream is not None:
            self._slots[upstream] = (call_id, index)
        self._current = index
        return index

    def index(self, upstream: int | None, call_id: str | None) -> int:
        if upstream is None:
            if call_id is None and self._current is not None:
                return self._current
            return self._new(None, call_id)
        slot = self._slots.get(upstream)
        if slot is None or (call_id is not None and slot[0] is not None and call_id != slot[0]):
            return self._new(upstream, call_id)
        if slot[0] is None and call_id is not None:
            self._slots[upstream] = (call_id, slot[1])
        self._current = slot[1]
        return slot[1]


def parse_usage(data: Any) -> Usage | None:
    if not isinstance(data, dict) or data.get("prompt_tokens") is None:
        return None
    details = data.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(data.get("prompt_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
    )


def _attach_logprobs(events: list[StreamEvent], entries: list[dict[str, Any]]) -> None:
    """The chunk's token logprobs on its text delta (a delta of their own where it has no text)."""
    for event in reversed(events):
        if isinstance(event, TextDelta) and not event.refusal:
            event.logprobs = (event.logprobs or []) + entries
            return
    events.append(TextDelta("", logprobs=entries))


class ChunkReader:
    """Turns ``chat.completion.chunk`` objects into internal events and remembers finish and usage."""

    def __init__(self, req: ChatRequest, label: str, secret: str) -> None:
        self._req = req
        self._label = label
        self._secret = secret
        self._tools = ToolIndexer()
        self._counter = CompletionCounter()
        self.usage: Usage | None = None
        self.finish: FinishReason | None = None
        self.saw_tool_call = False

    def feed(self, chunk: Any, *, whole_message: bool = False) -> list[StreamEvent]:
        if not isinstance(chunk, dict):
            raise UpstreamError(f"{self._label}: unexpected data in the stream", code="upstream_bad_response")
        error = chunk.get("error")
        if error:
            message = error.get("message", "") if isinstance(error, dict) else str(error)
            code = error.get("code") if isinstance(error, dict) else None
            raise UpstreamError(
                f"{self._label}: error in the stream: {scrub(str(message), self._secret)[:300]}",
                upstream_status=code if isinstance(code, int) else None,
            )
        self.usage = parse_usage(chunk.get("usage")) or self.usage
        events: list[StreamEvent] = []
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("message" if whole_message else "delta") or {}
            events += self._delta(delta, whole_message)
            logprobs = choice.get("logprobs")
            if isinstance(logprobs, dict) and isinstance(entries := logprobs.get("content"), list):
                _attach_logprobs(events, [e for e in entries if isinstance(e, dict)])
            reason = choice.get("finish_reason")
            if reason:
                self.finish = FINISH_REASONS.get(reason, "stop")
        return events

    def _delta(self, delta: dict[str, Any], whole_message: bool) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._counter.add_text(reasoning)
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._counter.add_text(content)
            events.append(TextDelta(content))
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._counter.add_text(refusal)
            events.append(TextDelta(refusal, refusal=True))
        annotations = delta.get("annotations")
        if isinstance(annotations, list):
            events += [Annotation(a) for a in annotations if isinstance(a, dict)]
        for position, call in enumerate(delta.get("tool_calls") or []):
            function = call.get("function") or {}
            upstream_index = position if whole_message else call.get("index")
            out = ToolCallDelta(
                index=self._tools.index(upstream_index, call.get("id")),
                id=call.get("id"),
                name=function.get("name"),
                arguments=function.get("arguments") or "",
            )
            self.saw_tool_call = True
            self._counter.add_tool_call(out)
            events.append(out)
        return events

    def tail(self) -> list[StreamEvent]:
        """Usage (exact, or estimated when the upstream sent none) and the final Finish."""
        usage = self.usage or Usage(
            prompt_tokens=estimate_prompt_tokens(self._req),
            completion_tokens=self._counter.tokens,
            estimated=True,
        )
        reason = self.finish or "stop"
        if reason == "stop" and self.saw_tool_call:
            reason = "tool_calls"
        return [usage, Finish(reason)]


class OpenAIProvider:
    """One OpenAI-compatible base URL."""

    def __init__(self, client: UpstreamClient, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/chat/completions"

    async def stream_chat(
        self, model: CloudModelConfig, req: ChatRequest, api_key: str
    ) -> AsyncIterator[StreamEvent]:
        label = target_label(model)
        with Deadline(model, label) as deadline:
            response = await open_response(
                self._client,
                self._url,
                build_body(model, req),
                {"authorization": f"Bearer {api_key}", "accept": "text/event-stream"},
                deadline,
                http_timeout(model),
                key_name=model.key_name,
                secret=api_key,
            )
            try:
                reader = ChunkReader(req, label, api_key)
                if response.headers.get("content-type", "").startswith("application/json"):
                    body = await read_body(response, deadline)
                    for event in reader.feed(
                        parse_json(body.decode("utf-8", "replace"), label), whole_message=True
                    ):
                        yield event
                else:
                    done = False
                    async with aclosing(iter_sse(response, deadline)) as events:
                        async for sse in events:
                            data = sse.data.strip()
                            if data == "[DONE]":
                                # Read on to the end of the body (a few bytes): a response closed
                                # before EOF cannot go back to the pool, costing a new TCP connection.
                                done = True
                                continue
                            if not data or done:
                                continue
                            for event in reader.feed(parse_json(data, label)):
                                deadline.mark_token()
                                yield event
                    if not done and reader.finish is None:
                        raise stream_ended_early(label)
                for event in reader.tail():
                    yield event
            finally:
                response.close()
