"""OpenAI wire format at the server edge: request bodies to internal requests, internal stream events to
``chat.completion.chunk`` SSE lines (role first, one id, finish_reason, usage chunk, ``[DONE]``) and to
complete ``chat.completion`` / ``text_completion`` objects."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from edgeroute import jsonio
from edgeroute.chat import (
    Annotation,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    Finish,
    Message,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
    new_id,
)
from edgeroute.errors import InvalidRequest
from edgeroute.wire.collect import Collected
from edgeroute.wire.openai_models import ChatCompletionRequest, CompletionRequestIn, EmbeddingRequestIn

DONE = b"data: [DONE]\n\n"


def _stops(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def chat_request(body: ChatCompletionRequest) -> ChatRequest:
    messages = []
    for m in body.messages:
        role = "system" if m.role == "developer" else "tool" if m.role == "function" else m.role
        calls = [ToolCall(c.id, c.function.name, c.function.arguments) for c in m.tool_calls or []] or None
        content = m.content
        if content is None and isinstance(refusal := (m.model_extra or {}).get("refusal"), str):
            content = refusal  # an OpenAI model's refusal, sent back in the history: it was its answer
        messages.append(
            Message(role=role, content=content, tool_calls=calls, tool_call_id=m.tool_call_id, name=m.name)
        )
    tools = (
        [
            Tool(
                t.function.name,
                t.function.description,
                t.function.parameters or {"type": "object", "properties": {}},
            )
            for t in body.tools
        ]
        if body.tools
        else None
    )
    known = set(ChatCompletionRequest.model_fields)
    extra = {k: v for k, v in (body.model_extra or {}).items() if k not in known and k not in ("user",)}
    if body.logprobs:  # parsed for local models, and passed on as sent to OpenAI-style upstreams
        extra["logprobs"] = True
        if body.top_logprobs is not None:
            extra["top_logprobs"] = body.top_logprobs
    elif body.top_logprobs:
        raise InvalidRequest("top_logprobs: needs logprobs set to true", param="top_logprobs")
    return ChatRequest(
        model=body.model,
        messages=messages,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        max_tokens_field="max_completion_tokens"
        if body.max_completion_tokens is not None
        else "max_tokens"
        if body.max_tokens is not None
        else None,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=_stops(body.stop),
        seed=body.seed,
        stream=body.stream,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        tools=tools,
        tool_choice=body.tool_choice,
        extra=extra,
        logprobs=(body.top_logprobs or 0) if body.logprobs else None,
    )


def completion_request(body: CompletionRequestIn) -> CompletionRequest:
    if isinstance(body.prompt, list) and len(body.prompt) != 1:
        # OpenAI reads a list as a batch (one choice per prompt): joining it would answer another question.
        raise InvalidRequest(
            "prompt: give one prompt per request (a list of several prompts, a batch, is not supported)",
            param="prompt",
        )
    prompt = body.prompt if isinstance(body.prompt, str) else body.prompt[0]
    if body.echo and body.suffix is not None:
        raise InvalidRequest("echo: not supported together with suffix (fill-in-the-middle)", param="echo")
    return CompletionRequest(
        model=body.model,
        prompt=prompt,
        suffix=body.suffix,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=_stops(body.stop),
        seed=body.seed,
        stream=body.stream,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
    )


def embedding_request(body: EmbeddingRequestIn) -> EmbeddingRequest:
    inputs = [body.input] if isinstance(body.input, str) else list(body.input)
    return EmbeddingRequest(model=body.model, inputs=inputs)


def usage_json(usage: Usage | None, extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if usage is None:
        return None
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    if extra:
        out.update(extra)
    return out


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + jsonio.dumps(obj) + b"\n\n"


class _Chunker:
    """What every OpenAI stream shares: one id and creation time, the served model, and the ending (the
    usage chunk with ``choices: []`` when the client asked for it, then ``[DONE]``)."""

    OBJECT = ""

    def __init__(self, model: str, include_usage: bool, prefix: str) -> None:
        self.id = new_id(prefix)
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self.usage: Usage | None = None

    def end(self, usage_extra: dict[str, Any] | None = None) -> bytes:
        """The usage chunk (when asked for) and ``[DONE]``."""
        if not self.include_usage:
            return DONE
        usage = usage_json(self.usage or Usage(0, 0, estimated=True), usage_extra)
        chunk = {"id": self.id, "object": self.OBJECT, "created": self.created, "model": self.model}
        return _sse({**chunk, "choices": [], "usage": usage}) + DONE


class ChatChunker(_Chunker):
    """Turns internal events into ``chat.completion.chunk`` SSE lines for one stream."""

    OBJECT = "chat.completion.chunk"

    def __init__(self, model: str, include_usage: bool) -> None:
        super().__init__(model, include_usage, "chatcmpl-")
        self._saw_tools = False

    def _chunk(
        self, delta: dict[str, Any], finish: str | None = None, logprobs: list[dict[str, Any]] | None = None
    ) -> bytes:
        lp = {"content": logprobs, "refusal": None} if logprobs else None
        return _sse(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": lp, "finish_reason": finish}],
            }
        )

    def start(self) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def event(self, event: StreamEvent) -> bytes | None:
        if isinstance(event, TextDelta):
            if not event.text and not event.logprobs:
                return None
            delta = {"refusal" if event.refusal else "content": event.text} if event.text else {}
            return self._chunk(delta, logprobs=event.logprobs)
        if isinstance(event, ToolCallDelta):
            self._saw_tools = True
            call: dict[str, Any] = {"index": event.index, "function": {"arguments": event.arguments}}
            if event.id is not None:
                call["id"] = event.id
                call["type"] = "function"
            if event.name is not None:
                call["function"]["name"] = event.name
            return self._chunk({"tool_calls": [call]})
        if isinstance(event, ReasoningDelta):  # text only: signatures are Anthropic's alone
            return self._chunk({"reasoning_content": event.text}) if event.text else None
        if isinstance(event, Annotation):
            return self._chunk({"annotations": [event.annotation]})
        if isinstance(event, Usage):
            self.usage = event
            return None
        if isinstance(event, Finish):
            reason = "tool_calls" if self._saw_tools and event.reason == "stop" else event.reason
            return self._chunk({}, reason)
        return None


def chat_completion(
    model: str, result: Collected, usage_extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": result.text if result.text or not (result.tool_calls or result.refusal) else None,
    }
    if result.refusal:
        message["refusal"] = result.refusal
    if result.annotations:
        message["annotations"] = result.annotations
    logprobs = {"content": result.logprobs, "refusal": None} if result.logprobs is not None else None
    if result.reasoning:
        message["reasoning_content"] = result.reasoning
    if result.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in result.tool_calls
        ]
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": logprobs, "finish_reason": result.finish_reason}
        ],
        "usage": usage_json(result.usage or Usage(0, 0, estimated=True), usage_extra),
    }


class CompletionChunker(_Chunker):
    """``text_completion`` SSE chunks for ``/v1/completions`` streams."""

    OBJECT = "text_completion"

    def __init__(self, model: str, include_usage: bool, echo: str = "") -> None:
        super().__init__(model, include_usage, "cmpl-")
        self._echo = echo

    def start(self) -> bytes:
        """With ``echo``, the prompt goes out first, as OpenAI sends it."""
        return self._chunk(self._echo, None) if self._echo else b""

    def _chunk(self, text: str, finish: str | None) -> bytes:
        return _sse(
            {
                "id": self.id,
                "object": "text_completion",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
            }
        )

    def event(self, event: StreamEvent) -> bytes | None:
        if isinstance(event, TextDelta):
            return self._chunk(event.text, None) if event.text else None
        if isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finish):
            return self._chunk("", event.reason)
        return None


def text_completion(
    model: str, result: Collected, usage_extra: dict[str, Any] | None = None, echo: str = ""
) -> dict[str, Any]:
    return {
        "id": new_id("cmpl-"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "text": echo + result.all_text,
                "logprobs": None,
                "finish_reason": result.finish_reason,
            }
        ],
        "usage": usage_json(result.usage or Usage(0, 0, estimated=True), usage_extra),
    }


def embeddings_response(
    model: str, vectors: Iterable[list[float]], prompt_tokens: int, encoding: str
) -> dict[str, Any]:
    data = []
    for i, vec in enumerate(vectors):
        emb: list[float] | str = vec
        if encoding == "base64":
            emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": emb})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


async def aiter_bytes(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk
