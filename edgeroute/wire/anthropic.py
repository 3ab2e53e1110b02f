"""Anthropic Messages API at the server edge: request bodies to the internal ChatRequest, internal events
to the Messages SSE sequence (message_start, content_block_start/delta/stop per block, message_delta with
stop_reason and usage, message_stop) and to complete ``message`` objects. Reasoning an upstream streams
(``reasoning_content``, Anthropic thinking) reaches Anthropic clients as ``thinking`` blocks, with the
signature an Anthropic upstream gave it (empty otherwise), and ``redacted_thinking`` blocks as they came.
Signed thinking blocks a client sends back stay in its assistant turns, for Anthropic upstreams alone.

What only Anthropic can take travels to Anthropic upstreams as sent and is left out elsewhere: typed tools
(server tools such as ``web_search_20250305``, Anthropic-defined client tools such as ``bash_20250124``),
the raw ``tool_choice`` (``disable_parallel_tool_use``), turns holding server tool blocks
(``server_tool_use``, ``web_search_tool_result``...) or documents, and tool results holding images or
documents (their images reach other backends in the user turn after the results). An Anthropic upstream's
server tool blocks reach Anthropic clients in their place in the answer, with its ``pause_turn``; other
clients get the text around them. Citations on the answer's text reach Anthropic clients on text blocks
of their own (a cited stretch, and the uncited text after it up to the next citation); other clients
get the text. A JSON schema the answer must match (``output_config.format``, the beta's
``output_format``) reaches every backend: as sent to Anthropic, as ``response_format`` to the others."""

from __future__ import annotations

import json
from typing import Any

from edgeroute import jsonio
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
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
    new_id,
)
from edgeroute.providers.output_schema import response_format_of
from edgeroute.providers.tokens import estimate_prompt_tokens
from edgeroute.wire.anthropic_models import CountTokensRequest, MessagesRequest
from edgeroute.wire.collect import Collected

STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
# System (and tool result) blocks that become one string keep a paragraph break between them: Claude
# Code sends its system prompt as several blocks, which glued together would run into one sentence.
BLOCK_SEPARATOR = "\n\n"
BILLING_HEADER = "x-anthropic-billing-header:"


def _text_of(blocks: str | list[dict[str, Any]] | None) -> str:
    if blocks is None:
        return ""
    if isinstance(blocks, str):
        return blocks
    return BLOCK_SEPARATOR.join(b.get("text", "") for b in blocks if b.get("type") == "text")


def _with_cache_control(part: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """``part`` with the prompt-cache breakpoint ``block`` carries, if any (an Anthropic upstream gets it
    back where the client put it)."""
    if "cache_control" in block:
        part["cache_control"] = block["cache_control"]
    return part


def _image_part(block: dict[str, Any]) -> dict[str, Any]:
    source = block.get("source", {})
    if source.get("type") == "url":
        url = source.get("url", "")
    else:
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    return _with_cache_control({"type": "image_url", "image_url": {"url": url}}, block)


def _tool_result_cache_control(block: dict[str, Any]) -> Any:
    """A tool result's breakpoint: on the block, or on the last of its content blocks (which become one
    text, ending where that block ended)."""
    content = block.get("content")
    if "cache_control" not in block and isinstance(content, list) and content:
        last = content[-1]
        return last.get("cache_control") if isinstance(last, dict) else None
    return block.get("cache_control")


def _plain_tool_result(block: dict[str, Any]) -> bool:
    """A tool result all text (internally a tool message's text), not one holding images or documents."""
    inner = block.get("content")
    return not isinstance(inner, list) or all(b.get("type") == "text" for b in inner)


def _convert_message(role: str, content: str | list[dict[str, Any]]) -> list[Message]:
    """One Anthropic message can become several internal ones: tool results are their own turns. Blocks
    the internal message cannot hold keep the turn, as sent, in ``Message.anthropic_blocks``."""
    if role == "system":
        # Where it stands in the conversation: OpenAI-compatible targets take it there; the Anthropic
        # provider joins it to the top-level system, which every Claude model accepts.
        system = _system(content)
        return [system] if system is not None else []
    if isinstance(content, str):
        return [Message(role="user" if role == "user" else "assistant", content=content)]
    out: list[Message] = []
    parts: list[dict[str, Any]] = []
    calls: list[ToolCall] = []
    tool_images: list[dict[str, Any]] = []  # for other backends, which take images in user turns alone
    native = False  # the turn holds blocks only Anthropic reads (documents, server tool blocks...)
    for block in content:
        kind = block.get("type")
        if kind == "text":
            parts.append(_with_cache_control({"type": "text", "text": block.get("text", "")}, block))
        elif kind == "image":
            parts.append(_image_part(block))
        elif role == "assistant" and _signed(block):
            parts.append(block)
        elif kind == "tool_use":
            calls.append(
                ToolCall(
                    block.get("id", ""),
                    block.get("name", ""),
                    json.dumps(block.get("input", {})),
                    block.get("cache_control"),
                )
            )
        elif kind == "tool_result":
            text = _text_of(block.get("content"))
            if block.get("is_error"):
                text = "Error: " + text
            result = Message(
                role="tool",
                content=text,
                tool_call_id=block.get("tool_use_id"),
                cache_control=_tool_result_cache_control(block),
            )
            if not _plain_tool_result(block):
                result.anthropic_blocks = [block]
                tool_images += [_image_part(b) for b in block["content"] if b.get("type") == "image"]
            out.append(result)
        elif kind not in THINKING_PARTS:
            native = True
        # unsigned thinking: not carried (Anthropic would refuse a thinking block unsigned)
    parts = tool_images + parts
    blocks = _native_blocks(role, content) if native or tool_images else None
    if parts or calls or blocks is not None:
        # One plain text block is one string; several stay blocks, as sent: Anthropic's prompt cache
        # matches the rendered prompt, and this turn must render the same after the client moves its
        # breakpoint on (other backends join the text).
        plain = len(parts) <= 1 and all(p["type"] == "text" and "cache_control" not in p for p in parts)
        body: str | list[dict[str, Any]] = "".join(p["text"] for p in parts) if plain else parts
        message = Message(
            role="user" if role == "user" else "assistant", content=body, tool_calls=calls or None
        )
        message.anthropic_blocks = blocks
        out.append(message)
    return out


def _native_blocks(role: str, content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The turn for an Anthropic upstream, as sent: a user turn without its tool results (their own
    messages carry them), an assistant turn without unsigned thinking (which Anthropic refuses)."""
    if role == "user":
        return [b for b in content if b.get("type") != "tool_result"]
    return [b for b in content if b.get("type") not in THINKING_PARTS or _signed(b)]


def _signed(block: dict[str, Any]) -> bool:
    """A thinking block Anthropic can verify: signed, or redacted (its data is the proof). One edgeroute
    rendered from another provider's reasoning has an empty signature."""
    if block.get("type") == "thinking":
        return bool(block.get("signature"))
    return block.get("type") == "redacted_thinking" and bool(block.get("data"))


def _tool_choice(choice: dict[str, Any] | None, tools: list[Tool] | None) -> Any:
    """The choice among the tools every backend runs (none left: no choice; a typed tool forced: none)."""
    if not choice or not tools:
        return None
    kind = choice.get("type")
    if kind == "any":
        return "required"
    if kind == "tool":
        name = choice.get("name")
        return (
            {"type": "function", "function": {"name": name}} if any(t.name == name for t in tools) else None
        )
    return kind  # "auto" | "none"


def _system(system: str | list[dict[str, Any]] | None) -> Message | None:
    """The system prompt as one message: text, or its text blocks when one marks a cache breakpoint.
    Claude Code's attribution block (``x-anthropic-billing-header: cc_version=...``) is metadata, not
    instructions: a local model read it back in its answers, so it reaches no model."""
    if isinstance(system, list):
        system = [b for b in system if not str(b.get("text", "")).startswith(BILLING_HEADER)]
    if isinstance(system, list) and any("cache_control" in b for b in system):
        blocks = [
            _with_cache_control({"type": "text", "text": b.get("text", "")}, b)
            for b in system
            if b.get("type") == "text"
        ]
        return Message(role="system", content=blocks) if blocks else None
    text = _text_of(system)
    return Message(role="system", content=text) if text else None


def _conversation(body: MessagesRequest | CountTokensRequest) -> tuple[list[Message], list[Tool] | None]:
    messages: list[Message] = []
    system = _system(body.system)
    if system is not None:
        messages.append(system)
    for m in body.messages:
        messages += _convert_message(m.role, m.content)
    # Typed tools (no schema here) are left to Anthropic upstreams: see _extras.
    tools = [
        Tool(t.name, t.description, t.input_schema, (t.model_extra or {}).get("cache_control"))
        for t in body.tools or []
        if not t.typed
    ]
    return messages, tools or None


def _extras(body: MessagesRequest) -> dict[str, Any]:
    """The fields Anthropic upstreams alone take; with typed tools, every tool as sent (in its place in the
    list), and the ``tool_choice`` as sent (``disable_parallel_tool_use``, a forced typed tool)."""
    fields = {"top_k": body.top_k, "metadata": body.metadata, **(body.model_extra or {})}
    extra = {k: fields[k] for k in ANTHROPIC_EXTRAS if fields.get(k) is not None}
    if body.tools and any(t.typed for t in body.tools):
        extra["tools"] = [t.model_dump(exclude_unset=True) for t in body.tools]
    if body.tool_choice:
        extra["tool_choice"] = body.tool_choice
    # The schema the answer must match, also for local and OpenAI-compatible targets (internal shape).
    response_format = response_format_of(extra.get("output_config"), extra.get("output_format"))
    if response_format is not None:
        extra["response_format"] = response_format
    return extra


def chat_request(body: MessagesRequest) -> ChatRequest:
    messages, tools = _conversation(body)
    return ChatRequest(
        model=body.model,
        messages=messages,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=list(body.stop_sequences or []),
        stream=bool(body.stream),
        include_usage=True,
        tools=tools,
        tool_choice=_tool_choice(body.tool_choice, tools),
        extra=_extras(body),
        wire="anthropic",
    )


def count_tokens(body: CountTokensRequest) -> int:
    """``/v1/messages/count_tokens``: the prompt's tokens as edgeroute estimates them everywhere (about
    four characters a token, plus the tool schemas), without loading or calling any model."""
    messages, tools = _conversation(body)
    return max(1, estimate_prompt_tokens(ChatRequest(model=body.model, messages=messages, tools=tools)))


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + jsonio.dumps(data) + b"\n\n"


def usage_json(usage: Usage) -> dict[str, Any]:
    """Anthropic's usage: ``input_tokens`` leaves out the prompt tokens read from the cache
    (``cache_read_input_tokens``) and written to it (``cache_creation_input_tokens``, by lifetime in
    ``cache_creation``); internally, as in OpenAI's convention, prompt tokens include both. Claude Code
    adds the three up for the context it shows and prices each."""
    read, written = usage.cached_tokens, usage.cache_write_tokens
    out: dict[str, Any] = {
        "input_tokens": max(0, usage.prompt_tokens - read - written),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "output_tokens": usage.completion_tokens,
    }
    if written:
        hour = usage.cache_write_1h_tokens
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": written - hour,
            "ephemeral_1h_input_tokens": hour,
        }
    if usage.web_searches:
        out["server_tool_use"] = {"web_search_requests": usage.web_searches}
    return out


def stop_reason(finish: FinishReason, stop_hit: str | None = None) -> str:
    return "stop_sequence" if stop_hit else STOP_REASONS.get(finish, "end_turn")


class MessagesStreamer:
    """Turns internal events into the Messages API event sequence for one stream."""

    def __init__(self, model: str, input_tokens_estimate: int = 0) -> None:
        self.id = new_id("msg_")
        self.model = model
        self.input_estimate = input_tokens_estimate
        self.usage: Usage | None = None
        self._block = -1
        self._block_kind: str | None = None
        self._block_has_text = False
        self._tool_blocks: dict[int, int] = {}
        self._finish: FinishReason = "stop"
        self._stop_sequence: str | None = None
        self._anthropic_stop: str | None = None

    def start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_estimate, "output_tokens": 0},
        }
        return _event("message_start", {"type": "message_start", "message": message})

    def _close_block(self) -> bytes:
        if self._block_kind is None:
            return b""
        self._block_kind = None
        return _event("content_block_stop", {"type": "content_block_stop", "index": self._block})

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close_block()
        self._block += 1
        self._block_kind = kind
        self._block_has_text = False
        start = {"type": "content_block_start", "index": self._block, "content_block": block}
        return out + _event("content_block_start", start)

    def event(self, event: StreamEvent) -> bytes | None:
        if isinstance(event, TextDelta):
            if not event.text:
                return None
            out = b""
            if self._block_kind != "text":
                out = self._open_block("text", {"type": "text", "text": ""})
            self._block_has_text = True
            delta = {
                "type": "content_block_delta",
                "index": self._block,
                "delta": {"type": "text_delta", "text": event.text},
            }
            return out + _event("content_block_delta", delta)
        if isinstance(event, Citation):
            return self._citation(event.citation)
        if isinstance(event, ReasoningDelta):
            return self._reasoning(event) or None
        if isinstance(event, ContentBlock):
            return self._whole_block(event.block)
        if isinstance(event, ToolCallDelta):
            out = b""
            if event.index not in self._tool_blocks:
                block = {
                    "type": "tool_use",
                    "id": event.id or new_id("toolu_", 20),
                    "name": event.name or "",
                    "input": {},
                }
                out = self._open_block("tool_use", block)
                self._tool_blocks[event.index] = self._block
            if event.arguments:
                index = self._tool_blocks[event.index]
                delta = {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": event.arguments},
                }
                out += _event("content_block_delta", delta)
            return out or None
        if isinstance(event, Usage):
            self.usage = event
            return None
        if isinstance(event, Finish):
            self._finish = "tool_calls" if self._tool_blocks and event.reason == "stop" else event.reason
            self._stop_sequence = event.stop_sequence
            self._anthropic_stop = event.anthropic_stop
        return None

    def _citation(self, citation: dict[str, Any]) -> bytes:
        """A cited stretch starts a text block of its own (after any text already in the open one), as
        Anthropic streams it: the block opens with ``citations: []``, each source as a ``citations_delta``."""
        out = b""
        if self._block_kind != "text" or self._block_has_text:
            out = self._open_block("text", {"type": "text", "text": "", "citations": []})
        return out + self._delta({"type": "citations_delta", "citation": citation})

    def _whole_block(self, block: dict[str, Any]) -> bytes:
        """A server tool block as Anthropic streams it: a call's input as one ``input_json_delta`` (clients
        build the input from the deltas), a result whole in its start."""
        if "input" not in block:
            return self._open_block(str(block.get("type")), block) + self._close_block()
        out = self._open_block(str(block.get("type")), {**block, "input": {}})
        out += self._delta(
            {"type": "input_json_delta", "partial_json": jsonio.dumps(block["input"]).decode()}
        )
        return out + self._close_block()

    def _reasoning(self, event: ReasoningDelta) -> bytes:
        """Thinking text into the open thinking block; its signature (as the last delta) closes it; a
        redacted block opens and closes at once."""
        if event.redacted is not None:
            block = {"type": "redacted_thinking", "data": event.redacted}
            return self._open_block("redacted_thinking", block) + self._close_block()
        out = b""
        if self._block_kind != "thinking" and (event.text or event.signature):
            out = self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        if event.text:
            out += self._delta({"type": "thinking_delta", "thinking": event.text})
        if event.signature:
            out += self._delta({"type": "signature_delta", "signature": event.signature})
            out += self._close_block()
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event(
            "content_block_delta", {"type": "content_block_delta", "index": self._block, "delta": delta}
        )

    def end(self, usage_extra: dict[str, Any] | None = None) -> bytes:
        """Close the open block, then message_delta (stop_reason, usage) and message_stop."""
        usage = self.usage or Usage(self.input_estimate, 0, estimated=True)
        delta = {
            "type": "message_delta",
            "delta": {
                "stop_reason": self._anthropic_stop or stop_reason(self._finish, self._stop_sequence),
                "stop_sequence": self._stop_sequence,
            },
            "usage": usage_json(usage),
        }
        return (
            self._close_block()
            + _event("message_delta", delta)
            + _event("message_stop", {"type": "message_stop"})
        )

    @staticmethod
    def error(body: dict[str, Any]) -> bytes:
        return _event("error", body)


def _text_and_blocks(result: Collected) -> list[dict[str, Any]]:
    """The answer's text as text blocks, split where the upstream's server tool blocks came and where a
    cited stretch starts (the block carries its citations)."""
    text = result.all_text
    content: list[dict[str, Any]] = []
    cited: dict[int, list[dict[str, Any]]] = {}
    for offset, citation in result.citations:
        cited.setdefault(min(offset, max(len(text) - 1, 0)), []).append(citation)  # none starts past the end
    natives: dict[int, list[dict[str, Any]]] = {}
    for offset, native in result.native_blocks:
        natives.setdefault(offset, []).append(native)
    cuts = sorted({0, len(text), *cited, *natives})
    for start, end in zip(cuts, [*cuts[1:], None], strict=True):
        content += natives.get(start, [])
        if end is not None and end > start:
            piece: dict[str, Any] = {"type": "text", "text": text[start:end]}
            if start in cited:
                piece["citations"] = cited[start]
            content.append(piece)
    return content


def message_response(model: str, result: Collected) -> dict[str, Any]:
    content: list[dict[str, Any]] = list(result.thinking) + _text_and_blocks(result)
    for call in result.tool_calls:
        try:
            args = json.loads(call.arguments) if call.arguments else {}
        except json.JSONDecodeError:
            args = {"_raw": call.arguments}
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": args})
    usage = result.usage or Usage(0, 0, estimated=True)
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": result.anthropic_stop or stop_reason(result.finish_reason, result.stop_sequence),
        "stop_sequence": result.stop_sequence,
        "usage": usage_json(usage),
    }
