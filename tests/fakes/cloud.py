"""A fake cloud upstream speaking the OpenAI (``POST /v1/chat/completions``) and Anthropic
(``POST /v1/messages``) wire formats, streamed or not, with tools, reasoning, usage and injectable faults.

    cloud = FakeCloud(Reply(text="Hi there"))          # the ASGI app is cloud.app
    with cloud:                                        # real uvicorn on 127.0.0.1:<ephemeral>
        cloud.fail_next(Fault.http(500), Fault.rate_limited(retry_after=2))
        ... point an OpenAI client at cloud.openai_base_url, an Anthropic one at cloud.anthropic_base_url ...
        assert len(cloud.requests) == 3                # every request received, in order

Faults are consumed one per request, in order (``fail_next``), or applied to every request (``always``).
The pytest fixture ``fake_cloud`` (tests/fakes/fixtures.py) yields a started instance.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer

Api = Literal["openai", "anthropic"]
FaultKind = Literal["status", "hang", "slow_first_token", "cut", "malformed_json", "stream_error"]


class InjectedDisconnect(Exception):
    """Raised inside a streaming body to make the server drop the connection mid-stream."""


@dataclass(slots=True)
class Fault:
    """One injected failure. Build with the class methods."""

    kind: FaultKind
    status: int = 500
    message: str = "injected fault"
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    after_chunks: int = 1

    @classmethod
    def http(
        cls, status: int = 500, message: str = "injected fault", retry_after: str | float | None = None
    ) -> Fault:
        """An HTTP error response in the provider's error shape."""
        headers = {"retry-after": _retry_after(retry_after)} if retry_after is not None else {}
        return cls("status", status=status, message=message, headers=headers)

    @classmethod
    def rate_limited(cls, retry_after: str | float | None = 1) -> Fault:
        return cls.http(429, "Rate limit reached", retry_after)

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        """No response at all (not even headers) for ``seconds``: a timeout before the first token."""
        return cls("hang", seconds=seconds)

    @classmethod
    def slow_first_token(cls, seconds: float) -> Fault:
        """Headers and the stream's preamble go out at once, the first token after ``seconds``."""
        return cls("slow_first_token", seconds=seconds)

    @classmethod
    def cut(cls, after_chunks: int = 2) -> Fault:
        """The connection drops after ``after_chunks`` content chunks (0: before any token)."""
        return cls("cut", after_chunks=after_chunks)

    @classmethod
    def malformed_json(cls, after_chunks: int = 0) -> Fault:
        """A ``data:`` line that is not JSON after ``after_chunks`` content chunks."""
        return cls("malformed_json", after_chunks=after_chunks)

    @classmethod
    def stream_error(cls, after_chunks: int = 0, message: str = "Overloaded") -> Fault:
        """An error event inside the stream (OpenAI ``{"error"}`` chunk, Anthropic ``event: error``)."""
        return cls("stream_error", message=message, after_chunks=after_chunks)


def _retry_after(value: str | float) -> str:
    return value if isinstance(value, str) else f"{value:g}"


@dataclass(slots=True)
class Reply:
    """What the fake answers when no fault applies."""

    text: str = "Hello from the fake cloud."
    reasoning: str | None = None
    signature: str = ""  # Anthropic: the thinking block's signature ("" = none: no signature_delta)
    redacted: str | None = None  # Anthropic: a redacted_thinking block's data, after the thinking block
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (name, arguments)
    chunk_chars: int = 6
    chunk_delay: float = 0.0
    usage: bool = True  # False: an upstream that never reports usage, even when asked
    cannot_stream: bool = False  # True: one JSON body even when asked to stream (some proxies, old servers)
    prompt_tokens: int = 11
    completion_tokens: int = 7
    cached_tokens: int = 3
    cache_write_tokens: int = 0  # Anthropic: prompt tokens written to the cache (part of prompt_tokens)
    cache_write_1h_tokens: int = 0  # ... of which to a 1-hour cache
    stop_sequence: str | None = None  # Anthropic: stop_reason "stop_sequence" naming this one
    # Anthropic: the answer's content blocks exactly (server tool blocks...), instead of the fields above;
    # streamed as Anthropic does: text as text deltas, a block with ``input`` as input_json_deltas, any
    # other whole in its content_block_start. OpenAI answers still use ``text``.
    content: list[dict[str, Any]] | None = None
    stop_reason: str | None = None  # Anthropic: this stop_reason (``pause_turn``...) instead of the usual
    web_searches: int = 0  # Anthropic: usage.server_tool_use.web_search_requests
    # OpenAI: this finish_reason (``content_filter``...) instead of the usual
    finish_reason: str | None = None
    refusal: str | None = None  # OpenAI: the model's refusal (``message.refusal`` / ``delta.refusal``)
    annotations: list[dict[str, Any]] = field(default_factory=list)  # OpenAI: url_citation... on the text
    logprobs: list[dict[str, Any]] | None = None  # OpenAI: logprobs.content, on the (first) text chunk

    def openai_finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")

    def anthropic_stop(self) -> tuple[str, str | None]:
        """(stop_reason, stop_sequence) as the Messages API reports them."""
        if self.stop_reason:
            return self.stop_reason, None
        if self.tool_calls:
            return "tool_use", None
        return ("stop_sequence", self.stop_sequence) if self.stop_sequence else ("end_turn", None)

    def text_chunks(self) -> list[str]:
        n = max(self.chunk_chars, 1)
        return [self.text[i : i + n] for i in range(0, len(self.text), n)]

    def argument_chunks(self, arguments: dict[str, Any]) -> list[str]:
        raw = json.dumps(arguments)
        n = max(self.chunk_chars, 1)
        return [raw[i : i + n] for i in range(0, len(raw), n)]


@dataclass(slots=True)
class Received:
    """One request the fake received."""

    api: Api
    path: str
    headers: dict[str, str]
    body: Any
    at: float


def _sse(data: Any, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {text}\n\n".encode()


class FakeCloud:
    """State (reply, faults, request log) and the ASGI app serving both wire formats."""

    def __init__(self, reply: Reply | None = None, *, api_key: str | None = None) -> None:
        self.reply = reply or Reply()
        self.api_key = api_key  # when set, requests must carry it (else 401 echoing what they sent)
        self.always: Fault | None = None
        self.requests: list[Received] = []
        self.disconnects = 0  # clients that went away while a fault held their request
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    # ---- control ---------------------------------------------------------------------------------

    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def reset(self, reply: Reply | None = None) -> None:
        """Back to a fresh state (reply, key, faults, log) while the server keeps running."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self.always = None
            self.api_key = None
            self.disconnects = 0
            self.reply = reply or Reply()

    def count(self, api: Api | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if api is None or r.api == api)

    def _take_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else self.always

    # ---- server ----------------------------------------------------------------------------------

    def start(self) -> FakeCloud:
        self._server = LoopbackServer(self.app).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeCloud is not started")
        return self._server.url

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # ---- shared ----------------------------------------------------------------------------------

    async def _receive(self, request: Request, api: Api) -> tuple[Any, Fault | None]:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(
                Received(api, request.url.path, dict(request.headers), body, time.monotonic())
            )
        return body, self._take_fault()

    async def _wait(self, request: Request, seconds: float) -> bool:
        """Sleep up to ``seconds``; False when the client went away meanwhile."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if await request.is_disconnected():
                with self._lock:
                    self.disconnects += 1
                return False
            await asyncio.sleep(min(0.05, max(end - time.monotonic(), 0)))
        return True

    def _auth_error(self, request: Request, api: Api) -> Response | None:
        if self.api_key is None:
            return None
        if api == "openai":
            sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        else:
            sent = request.headers.get("x-api-key", "")
        if sent == self.api_key:
            return None
        # Real providers echo (part of) a refused key; the fake echoes all of it to test scrubbing.
        message = f"Incorrect API key provided: {sent}."
        return self._error(api, 401, message, {})

    @staticmethod
    def _error(api: Api, status: int, message: str, headers: dict[str, str]) -> Response:
        if api == "openai":
            body: dict[str, Any] = {
                "error": {"message": message, "type": "server_error", "param": None, "code": None}
            }
            if status == 400 and "context" in message:
                body["error"]["code"] = "context_length_exceeded"
        else:
            kind = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error"}.get(
                status, "api_error" if status >= 500 else "invalid_request_error"
            )
            body = {"type": "error", "error": {"type": kind, "message": message}}
        return JSONResponse(body, status_code=status, headers=headers)

    async def _prelude(self, request: Request, api: Api) -> tuple[Any, Fault | None, Response | None]:
        body, fault = await self._receive(request, api)
        denied = self._auth_error(request, api)
        if denied is not None:
            return body, fault, denied
        if fault is not None and fault.kind == "status":
            return body, fault, self._error(api, fault.status, fault.message, fault.headers)
        if fault is not None and fault.kind == "hang" and not await self._wait(request, fault.seconds):
            return body, fault, Response(status_code=499)
        return body, fault, None

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    # ---- OpenAI ----------------------------------------------------------------------------------

    async def _openai(self, request: Request) -> Response:
        body, fault, early = await self._prelude(request, "openai")
        if early is not None:
            return early
        model = body.get("model", "fake-model") if isinstance(body, dict) else "fake-model"
        if self.reply.cannot_stream or not (isinstance(body, dict) and body.get("stream")):
            return JSONResponse(self._openai_completion(model))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            self._openai_stream(request, model, include_usage, fault), media_type="text/event-stream"
        )

    def _usage_openai(self) -> dict[str, Any]:
        r = self.reply
        return {
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "total_tokens": r.prompt_tokens + r.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": r.cached_tokens},
        }

    def _openai_completion(self, model: str) -> dict[str, Any]:
        r = self.reply
        message: dict[str, Any] = {"role": "assistant", "content": r.text or None, "refusal": r.refusal}
        if r.annotations:
            message["annotations"] = r.annotations
        if r.reasoning:
            message["reasoning_content"] = r.reasoning
        if r.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                for i, (n, a) in enumerate(r.tool_calls)
            ]
        out: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": r.openai_finish()}],
        }
        if r.logprobs is not None:
            out["choices"][0]["logprobs"] = {"content": r.logprobs, "refusal": None}
        if r.usage:
            out["usage"] = self._usage_openai()
        return out

    def _openai_pieces(self, model: str) -> Iterator[dict[str, Any]]:
        """The content chunks (role preamble excluded)."""
        r = self.reply

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        if r.reasoning:
            for i in range(0, len(r.reasoning), max(r.chunk_chars, 1)):
                yield chunk({"reasoning_content": r.reasoning[i : i + max(r.chunk_chars, 1)]})
        for number, piece in enumerate(r.text_chunks()):
            out = chunk({"content": piece})
            if r.logprobs is not None and number == 0:
                out["choices"][0]["logprobs"] = {"content": r.logprobs, "refusal": None}
            yield out
        if r.refusal:
            for i in range(0, len(r.refusal), max(r.chunk_chars, 1)):
                yield chunk({"refusal": r.refusal[i : i + max(r.chunk_chars, 1)]})
        if r.annotations:  # as OpenAI's search models send them: after the text, in one delta
            yield chunk({"annotations": r.annotations})
        for index, (name, arguments) in enumerate(r.tool_calls):
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": f"call_{index}",
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
            for piece in r.argument_chunks(arguments):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, r.openai_finish())

    async def _openai_stream(
        self, request: Request, model: str, include_usage: bool, fault: Fault | None
    ) -> AsyncIterator[bytes]:
        preamble = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
        yield _sse(preamble)
        async for piece in self._faulty(request, fault, self._openai_pieces(model), "openai"):
            yield piece
        if include_usage and self.reply.usage:
            yield _sse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": self._usage_openai(),
                }
            )
        yield b"data: [DONE]\n\n"

    async def _faulty(
        self, request: Request, fault: Fault | None, pieces: Iterator[Any], api: Api
    ) -> AsyncIterator[bytes]:
        """Stream ``pieces`` as SSE, applying a mid-stream fault."""
        if fault is not None and fault.kind == "slow_first_token":
            await asyncio.sleep(fault.seconds)
        for sent, piece in enumerate(pieces):
            if fault is not None and sent == fault.after_chunks:
                if fault.kind == "cut":
                    raise InjectedDisconnect("fake cloud: dropping the connection mid-stream")
                if fault.kind == "malformed_json":
                    yield b'data: {"choices": [{"delta": {"content": "unterminated\n\n'
                    return
                if fault.kind == "stream_error":
                    if api == "openai":
                        yield _sse({"error": {"message": fault.message, "type": "server_error", "code": 502}})
                    else:
                        yield _sse(
                            {
                                "type": "error",
                                "error": {"type": "overloaded_error", "message": fault.message},
                            },
                            "error",
                        )
                    return
            if self.reply.chunk_delay:
                await asyncio.sleep(self.reply.chunk_delay)
            if isinstance(piece, tuple):
                yield _sse(piece[1], piece[0])
            else:
                yield _sse(piece)

    # ---- Anthropic -------------------------------------------------------------------------------

    async def _anthropic(self, request: Request) -> Response:
        body, fault, early = await self._prelude(request, "anthropic")
        if early is not None:
            return early
        model = body.get("model", "fake-model") if isinstance(body, dict) else "fake-model"
        if self.reply.cannot_stream or not (isinstance(body, dict) and body.get("stream")):
            return JSONResponse(self._anthropic_message(model))
        return StreamingResponse(
            self._anthropic_stream(request, model, fault), media_type="text/event-stream"
        )

    def _anthropic_usage(self, *, start: bool) -> dict[str, Any]:
        r = self.reply
        if start:
            return {
                "input_tokens": r.prompt_tokens - r.cached_tokens - r.cache_write_tokens,
                "cache_read_input_tokens": r.cached_tokens,
                "cache_creation_input_tokens": r.cache_write_tokens,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": r.cache_write_tokens - r.cache_write_1h_tokens,
                    "ephemeral_1h_input_tokens": r.cache_write_1h_tokens,
                },
                "output_tokens": 1,
            }
        end: dict[str, Any] = {"output_tokens": r.completion_tokens}
        if r.web_searches:
            end["server_tool_use"] = {"web_search_requests": r.web_searches}
        return end

    def _anthropic_message(self, model: str) -> dict[str, Any]:
        r = self.reply
        content: list[dict[str, Any]] = [dict(b) for b in r.content or []]
        if r.content is None and r.reasoning:
            content.append({"type": "thinking", "thinking": r.reasoning, "signature": r.signature})
        if r.content is None and r.redacted:
            content.append({"type": "redacted_thinking", "data": r.redacted})
        if r.content is None and r.text:
            content.append({"type": "text", "text": r.text})
        if r.content is None:
            content += [
                {"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": a}
                for i, (n, a) in enumerate(r.tool_calls)
            ]
        out: dict[str, Any] = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": r.anthropic_stop()[0],
            "stop_sequence": r.anthropic_stop()[1],
        }
        if r.usage:
            out["usage"] = {**self._anthropic_usage(start=True), **self._anthropic_usage(start=False)}
        return out

    def _scripted_pieces(self, content: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
        """``Reply.content`` streamed block by block."""
        r = self.reply
        for index, block in enumerate(content):
            deltas: list[dict[str, Any]] = []
            start = block
            if block.get("type") == "text":
                # As Anthropic streams a cited block: it opens with no citations, each comes as a delta.
                start = {"type": "text", "text": "", **({"citations": []} if "citations" in block else {})}
                deltas = [{"type": "citations_delta", "citation": c} for c in block.get("citations") or []]
                deltas += [
                    {"type": "text_delta", "text": piece} for piece in Reply(text=block["text"]).text_chunks()
                ]
            elif "input" in block:
                start = {**block, "input": {}}
                deltas = [
                    {"type": "input_json_delta", "partial_json": p} for p in r.argument_chunks(block["input"])
                ]
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
            for delta in deltas:
                yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
            yield "content_block_stop", {"type": "content_block_stop", "index": index}

    def _anthropic_pieces(self) -> Iterator[tuple[str, dict[str, Any]]]:
        r = self.reply
        index = 0
        if r.content is not None:
            yield from self._scripted_pieces(r.content)
            yield self._anthropic_delta()
            return
        if r.reasoning:
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "thinking", "thinking": ""},
                },
            )
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "thinking_delta", "thinking": r.reasoning},
                },
            )
            if r.signature:
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "signature_delta", "signature": r.signature},
                    },
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
            index += 1
        if r.redacted:
            block = {"type": "redacted_thinking", "data": r.redacted}
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
            index += 1
        if r.text:
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            for piece in r.text_chunks():
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
            index += 1
        for i, (name, arguments) in enumerate(r.tool_calls):
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": {}},
                },
            )
            for piece in r.argument_chunks(arguments):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
            index += 1
        yield self._anthropic_delta()

    def _anthropic_delta(self) -> tuple[str, dict[str, Any]]:
        r = self.reply
        delta: dict[str, Any] = {
            "type": "message_delta",
            "delta": {"stop_reason": r.anthropic_stop()[0], "stop_sequence": r.anthropic_stop()[1]},
        }
        if r.usage:
            delta["usage"] = self._anthropic_usage(start=False)
        return "message_delta", delta

    async def _anthropic_stream(
        self, request: Request, model: str, fault: Fault | None
    ) -> AsyncIterator[bytes]:
        message: dict[str, Any] = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }
        if self.reply.usage:
            message["usage"] = self._anthropic_usage(start=True)
        yield _sse({"type": "message_start", "message": message}, "message_start")
        yield _sse({"type": "ping"}, "ping")
        async for piece in self._faulty(request, fault, self._anthropic_pieces(), "anthropic"):
            yield piece
        yield _sse({"type": "message_stop"}, "message_stop")
