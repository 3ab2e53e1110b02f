"""The ``anthropic`` provider kind: the native Messages API (``POST /v1/messages``), translated to and from
the internal request and stream types.

Request: system turns become the top-level ``system``; assistant tool calls become ``tool_use`` blocks and
tool results ``tool_result`` blocks in a user turn; image parts become ``image`` blocks; consecutive turns of
one role merge (the API wants them alternating); ``max_tokens`` is required (default 4096).
Assistant turns' thinking blocks (signed, or redacted) go back as the client sent them, in place, and so do
the turns a Messages API client sent with blocks only Anthropic reads (``Message.anthropic_blocks``), its
typed tools and its ``tool_choice`` (``req.extra``); an OpenAI client's ``parallel_tool_calls: false``
becomes ``disable_parallel_tool_use``.
Stream: ``text_delta`` -> TextDelta, ``thinking_delta`` -> ReasoningDelta, its block's ``signature_delta``
(or a whole answer's ``signature``) -> ReasoningDelta(signature=...), a ``redacted_thinking`` block ->
ReasoningDelta(redacted=data), ``tool_use`` blocks and their ``input_json_delta`` -> ToolCallDelta (tool
calls numbered 0, 1, ... apart from block indexes), any other block (``server_tool_use`` and its
``input_json_delta``, ``web_search_tool_result``...) -> ContentBlock at its ``content_block_stop``, a stop
reason the internal one says less than (``pause_turn``, ``refusal``) -> Finish.anthropic_stop; usage from ``message_start`` (input, cache reads and
writes, the writes' 1-hour part) and ``message_delta`` (output, and the same counts where newer API
versions repeat them there).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from edgeroute.chat import (
    ANTHROPIC_EXTRAS,
    THINKING_PARTS,
    ChatRequest,
    Citation,
    ContentBlock,
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
from edgeroute.errors import UpstreamError, UpstreamRateLimited
from edgeroute.providers.base import target_label
from edgeroute.providers.effort import think_by_effort
from edgeroute.providers.http import UpstreamClient
from edgeroute.providers.output_schema import anthropic_format_of
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

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
BETA_EXTRA = "anthropic-beta"  # ChatRequest.extra: the client's header, for Anthropic upstreams
# Anthropic requires a limit: a client that sends none gets the model's max_output_tokens, else this.
DEFAULT_MAX_TOKENS = 4096
STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "refusal": "content_filter",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
}
# Stop reasons the internal FinishReason says all of; any other goes to Anthropic clients as it came.
PLAIN_STOPS = ("end_turn", "stop_sequence", "max_tokens", "tool_use")
# Blocks the stream reader turns into text, reasoning or tool calls; any other is a ContentBlock.
READ_BLOCKS = ("text", "tool_use", *THINKING_PARTS)
# Fields of req.extra passed on: a Messages API client's own fields, and from an OpenAI client's extras
# only what means the same here (its ``metadata`` and ``service_tier`` take other values).
PASSTHROUGH: dict[Wire, tuple[str, ...]] = {"anthropic": ANTHROPIC_EXTRAS, "openai": ("top_k",)}
ERROR_STATUS = {"overloaded_error": 529, "api_error": 500, "rate_limit_error": 429, "timeout_error": 504}


def messages_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


def _cached(block: dict[str, Any], cache_control: Any) -> dict[str, Any]:
    """``block`` with the client's prompt-cache breakpoint, where it had one."""
    if cache_control is not None:
        block["cache_control"] = cache_control
    return block


def _image_block(part: dict[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url", "") if isinstance(image, dict) else str(image or "")
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";")[0] or "image/png"
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def content_blocks(content: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text" and part.get("text"):
            blocks.append(_cached({"type": "text", "text": part["text"]}, part.get("cache_control")))
        elif part.get("type") == "image_url":
            blocks.append(_cached(_image_block(part), part.get("cache_control")))
        elif part.get("type") in THINKING_PARTS:
            blocks.append(part)  # signed: it goes back exactly as Anthropic sent it
    return blocks


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _system(messages: list[Message]) -> str | list[dict[str, Any]] | None:
    """The top-level ``system``: one text, or text blocks when one marks a cache breakpoint."""
    system = [m for m in messages if m.role == "system"]
    if any(isinstance(m.content, list) and any("cache_control" in p for p in m.content) for m in system):
        return [block for m in system for block in content_blocks(m.content)] or None
    return "\n\n".join(m.text() for m in system if m.text()) or None


def to_anthropic_messages(
    messages: list[Message],
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """(system prompt, alternating user/assistant turns)."""
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for m in messages:
        if m.role == "system":
            continue
        if m.anthropic_blocks is not None:  # as a Messages API client sent it (a copy: turns get merged)
            add("assistant" if m.role == "assistant" else "user", list(m.anthropic_blocks))
        elif m.role == "tool":
            result = {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.text()}
            add("user", [_cached(result, m.cache_control)])
        elif m.role == "assistant":
            blocks = content_blocks(m.content)
            blocks += [
                _cached(
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c.arguments)},
                    c.cache_control,
                )
                for c in m.tool_calls or []
            ]
            add("assistant", blocks)
        else:
            add("user", content_blocks(m.content))
    return _system(messages), turns


def _manual_thinking(thinking: Any) -> bool:
    """Thinking with a fixed budget (``enabled``), under which Anthropic wants every turn of a tool loop
    to start thinking. Under ``adaptive`` thinking the model may skip it, so a turn without it is valid as
    it stands, and the thinking setting must stay the same through the loop."""
    return isinstance(thinking, dict) and thinking.get("type") == "enabled"


def _continues_tool_loop_unthought(turns: list[dict[str, Any]]) -> bool:
    """Whether the last turn answers tool calls of an assistant turn that does not start with a thinking
    block: with ``thinking`` on, Anthropic refuses that (400), and advises leaving ``thinking`` out. The
    block is missing where that turn came from elsewhere (another provider, the local engine)."""
    if len(turns) < 2 or turns[-1]["role"] != "user" or turns[-2]["role"] != "assistant":
        return False
    if not any(b.get("type") == "tool_result" for b in turns[-1]["content"]):
        return False
    first = turns[-2]["content"][0].get("type") if turns[-2]["content"] else None
    return first not in ("thinking", "redacted_thinking")


def tool_choice_to_anthropic(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name:
            return {"type": "tool", "name": name}
    return None


def _tools(req: ChatRequest) -> list[dict[str, Any]]:
    """A Messages API client's tools as sent where it sent typed ones, else the internal tools."""
    sent = req.extra.get("tools") if req.wire == "anthropic" else None
    if isinstance(sent, list):
        return sent
    return [
        _cached(
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "input_schema": t.parameters,
            },
            t.cache_control,
        )
        for t in req.tools or []
    ]


def _tool_choice(req: ChatRequest) -> dict[str, Any] | None:
    """A Messages API client's choice as sent; else the internal one, with an OpenAI client's
    ``parallel_tool_calls: false`` as ``disable_parallel_tool_use``."""
    if req.wire == "anthropic" and isinstance(req.extra.get("tool_choice"), dict):
        return dict(req.extra["tool_choice"])
    choice = tool_choice_to_anthropic(req.tool_choice)
    if req.wire == "openai" and req.extra.get("parallel_tool_calls") is False:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    return choice


def build_body(model: CloudModelConfig, req: ChatRequest) -> dict[str, Any]:
    system, turns = to_anthropic_messages(req.messages)
    body: dict[str, Any] = {k: req.extra[k] for k in PASSTHROUGH[req.wire] if k in req.extra}
    schema_format = anthropic_format_of(req.extra.get("response_format")) if req.wire == "openai" else None
    if schema_format is not None:  # an OpenAI client's JSON schema, as Anthropic's structured output
        body["output_config"] = {"format": schema_format}
    body.update(
        model=model.model,
        messages=turns,
        max_tokens=req.max_tokens or model.max_output_tokens or DEFAULT_MAX_TOKENS,
        stream=True,
    )
    if system:
        body["system"] = system
    if req.temperature is not None:
        body["temperature"] = min(req.temperature, 1.0)  # OpenAI allows up to 2, Anthropic up to 1
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    tools = _tools(req)
    if tools:
        body["tools"] = tools
        choice = _tool_choice(req)
        if choice is not None:
            body["tool_choice"] = choice
    if req.wire == "openai" and model.thinking is not None:
        think_by_effort(body, model.thinking, req.extra.get("reasoning_effort"))
    if _manual_thinking(body.get("thinking")) and _continues_tool_loop_unthought(turns):
        del body["thinking"]
    return body


class EventReader:
    """Turns Messages API stream events into internal events and remembers stop reason and usage."""

    def __init__(self, req: ChatRequest, label: str, secret: str) -> None:
        self._req = req
        self._label = label
        self._secret = secret
        self._tool_of_block: dict[int, int] = {}
        self._native: dict[int, tuple[dict[str, Any], list[str]]] = {}  # open blocks: (start, input pieces)
        self._tools = 0
        self._counter = CompletionCounter()
        self._input_tokens: int | None = None
        self._cache_read = 0
        self._cache_write = 0
        self._cache_write_1h = 0
        self._web_searches = 0
        self._output_tokens: int | None = None
        self.stop: FinishReason | None = None
        self.stop_sequence: str | None = None
        self.anthropic_stop: str | None = None
        self.stopped = False

    def _stop(self, reason: Any, sequence: Any) -> None:
        self.stop = STOP_REASONS.get(str(reason), "stop")
        self.anthropic_stop = (
            reason if isinstance(reason, str) and reason and reason not in PLAIN_STOPS else None
        )
        if reason == "stop_sequence" and isinstance(sequence, str):
            self.stop_sequence = sequence

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        if usage.get("input_tokens") is not None:
            self._input_tokens = int(usage["input_tokens"])
        self._cache_read = int(usage.get("cache_read_input_tokens") or self._cache_read)
        self._cache_write = int(usage.get("cache_creation_input_tokens") or self._cache_write)
        by_ttl = usage.get("cache_creation")  # newer API versions: the writes by cache lifetime
        if isinstance(by_ttl, dict):
            self._cache_write_1h = int(by_ttl.get("ephemeral_1h_input_tokens") or self._cache_write_1h)
        if usage.get("output_tokens") is not None:
            self._output_tokens = int(usage["output_tokens"])  # cumulative in message_delta
        server_tools = usage.get("server_tool_use")
        if isinstance(server_tools, dict):
            self._web_searches = int(server_tools.get("web_search_requests") or self._web_searches)

    def feed(self, data: Any) -> list[StreamEvent]:
        if not isinstance(data, dict):
            raise UpstreamError(f"{self._label}: unexpected data in the stream", code="upstream_bad_response")
        kind = data.get("type")
        if kind == "message_start":
            self._usage((data.get("message") or {}).get("usage"))
        elif kind == "content_block_start":
            return self._block_start(int(data.get("index", 0)), data.get("content_block") or {})
        elif kind == "content_block_delta":
            return self._block_delta(int(data.get("index", 0)), data.get("delta") or {})
        elif kind == "content_block_stop":
            return self._block_stop(int(data.get("index", 0)))
        elif kind == "message_delta":
            delta = data.get("delta") or {}
            if delta.get("stop_reason"):
                self._stop(delta["stop_reason"], delta.get("stop_sequence"))
            self._usage(data.get("usage"))
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            self._raise_error(data.get("error") or {})
        return []

    def _block_start(self, index: int, block: dict[str, Any]) -> list[StreamEvent]:
        kind = block.get("type")
        if kind not in READ_BLOCKS:
            self._native[index] = (block, [])  # whole at its stop (a call's input comes in deltas)
            return []
        if kind == "tool_use":
            tool = self._tools
            self._tools += 1
            self._tool_of_block[index] = tool
            delta = ToolCallDelta(index=tool, id=block.get("id"), name=block.get("name"))
            self._counter.add_tool_call(delta)
            return [delta]
        if kind == "text" and block.get("text"):
            self._counter.add_text(block["text"])
            return [TextDelta(block["text"])]
        if kind == "thinking":
            # Streamed, the block starts empty and its signature comes as a delta; whole, it has both.
            text, signature = block.get("thinking") or "", block.get("signature") or None
            self._counter.add_text(text)
            return [ReasoningDelta(text, signature)] if text or signature else []
        if kind == "redacted_thinking" and block.get("data"):
            return [ReasoningDelta("", redacted=block["data"])]
        return []

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[StreamEvent]:
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            self._counter.add_text(delta["text"])
            return [TextDelta(delta["text"])]
        if kind == "thinking_delta" and delta.get("thinking"):
            self._counter.add_text(delta["thinking"])
            return [ReasoningDelta(delta["thinking"])]
        if kind == "signature_delta" and delta.get("signature"):
            return [ReasoningDelta("", signature=delta["signature"])]
        if kind == "citations_delta" and isinstance(delta.get("citation"), dict):
            return [Citation(delta["citation"])]  # not output: Anthropic bills no cited text
        if kind == "input_json_delta" and index in self._native:
            self._native[index][1].append(str(delta.get("partial_json") or ""))
            return []
        if kind == "input_json_delta" and delta.get("partial_json") and index in self._tool_of_block:
            out = ToolCallDelta(index=self._tool_of_block[index], arguments=delta["partial_json"])
            self._counter.add_tool_call(out)
            return [out]
        return []

    def _block_stop(self, index: int) -> list[StreamEvent]:
        if index not in self._native:
            return []
        block, pieces = self._native.pop(index)
        if pieces:
            block = {**block, "input": _tool_input("".join(pieces))}
        self._counter.add_text(json.dumps(block))
        return [ContentBlock(block)]

    def _raise_error(self, error: dict[str, Any]) -> None:
        kind = str(error.get("type") or "api_error")
        message = scrub(str(error.get("message") or ""), self._secret)[:300]
        detail = f"{self._label}: error in the stream: {kind}" + (f": {message}" if message else "")
        status = ERROR_STATUS.get(kind)
        if status == 429:
            raise UpstreamRateLimited(detail, upstream_status=429)
        raise UpstreamError(detail, upstream_status=status)

    def feed_message(self, message: dict[str, Any]) -> list[StreamEvent]:
        """A whole (non-streamed) Messages API response as events."""
        self._usage(message.get("usage"))
        events: list[StreamEvent] = []
        for index, block in enumerate(message.get("content") or []):
            if block.get("type") == "tool_use":
                events += self._block_start(index, {**block, "input": None})
                arguments = json.dumps(block.get("input") or {})
                events.append(ToolCallDelta(index=self._tool_of_block[index], arguments=arguments))
                self._counter.add_text(arguments)
            elif block.get("type") not in READ_BLOCKS:
                events.append(ContentBlock(block))
            else:
                cited = block.get("citations") if block.get("type") == "text" else None
                events += [Citation(c) for c in cited or () if isinstance(c, dict)]
                events += self._block_start(index, block)
        self._stop(message.get("stop_reason"), message.get("stop_sequence"))
        self.stopped = True
        return events

    def tail(self) -> list[StreamEvent]:
        if self._input_tokens is None:
            usage = Usage(estimate_prompt_tokens(self._req), self._counter.tokens, estimated=True)
        else:
            usage = Usage(
                prompt_tokens=self._input_tokens + self._cache_read + self._cache_write,
                completion_tokens=self._output_tokens
                if self._output_tokens is not None
                else self._counter.tokens,
                cached_tokens=self._cache_read,
                estimated=self._output_tokens is None,
                cache_write_tokens=self._cache_write,
                cache_write_1h_tokens=min(self._cache_write_1h, self._cache_write),
                web_searches=self._web_searches,
            )
        reason = self.stop or ("tool_calls" if self._tools else "stop")
        return [usage, Finish(reason, self.stop_sequence, self.anthropic_stop)]


def request_headers(req: ChatRequest, api_key: str) -> dict[str, str]:
    """The API's headers, with the beta features an Anthropic client asked for (Claude Code's
    ``context_management``, effort and web fetch need theirs); OAuth betas are left out, since edgeroute
    signs in with an API key."""
    headers = {"x-api-key": api_key, "anthropic-version": API_VERSION, "accept": "text/event-stream"}
    betas = [b for b in str(req.extra.get(BETA_EXTRA, "")).split(",") if b.strip()]
    kept = ",".join(b.strip() for b in betas if not b.strip().startswith("oauth-"))
    if kept:
        headers["anthropic-beta"] = kept
    return headers


class AnthropicProvider:
    """One Messages API base URL."""

    def __init__(self, client: UpstreamClient, base_url: str) -> None:
        self._client = client
        self._url = messages_url(base_url)

    async def stream_chat(
        self, model: CloudModelConfig, req: ChatRequest, api_key: str
    ) -> AsyncIterator[StreamEvent]:
        label = target_label(model)
        with Deadline(model, label) as deadline:
            response = await open_response(
                self._client,
                self._url,
                build_body(model, req),
                request_headers(req, api_key),
                deadline,
                http_timeout(model),
                key_name=model.key_name,
                secret=api_key,
            )
            try:
                reader = EventReader(req, label, api_key)
                if response.headers.get("content-type", "").startswith("application/json"):
                    body = await read_body(response, deadline)
                    message = parse_json(body.decode("utf-8", "replace"), label)
                    if not isinstance(message, dict):
                        raise UpstreamError(f"{label}: unexpected answer", code="upstream_bad_response")
                    for event in reader.feed_message(message):
                        yield event
                else:
                    async with aclosing(iter_sse(response, deadline)) as events:
                        async for sse in events:
                            if not sse.data.strip():
                                continue
                            for event in reader.feed(parse_json(sse.data, label)):
                                deadline.mark_token()
                                yield event
                            if reader.stopped:
                                break
                    if not reader.stopped:
                        raise stream_ended_early(label)
                for event in reader.tail():
                    yield event
            finally:
                response.close()
