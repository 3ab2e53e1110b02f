"""Property tests (hypothesis) for the translations every request and answer goes through:

- streams: internal events -> our SSE writer (OpenAI ``ChatChunker`` / Anthropic ``MessagesStreamer``) ->
  bytes cut at random places -> the SSE parser -> the provider's stream reader (what edgeroute uses on an
  upstream of that kind) -> the same answer: text, tool calls, finish reason and usage;
- requests: an Anthropic Messages body -> the internal request -> the OpenAI upstream body -> parsed as an
  OpenAI request -> the same conversation, and the other way round (OpenAI body -> Anthropic upstream body
  -> parsed as a Messages request); and each format round-trips through itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeroute.chat import ChatRequest, Finish, Message, StreamEvent, TextDelta, ToolCallDelta, Usage
from edgeroute.config import CloudModelConfig
from edgeroute.providers import anthropic as anthropic_upstream
from edgeroute.providers import openai as openai_upstream
from edgeroute.sse import SSEDecoder
from edgeroute.wire import anthropic as anthropic_edge
from edgeroute.wire import openai as openai_edge
from edgeroute.wire.anthropic_models import MessagesRequest
from edgeroute.wire.collect import Collected, collect
from edgeroute.wire.openai_models import ChatCompletionRequest

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), min_size=1, max_size=40
)
names = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
json_args = st.dictionaries(
    names, st.one_of(st.integers(-1000, 1000), text, st.booleans(), st.none()), max_size=3
)


@st.composite
def answers(draw: st.DrawFn) -> list[StreamEvent]:
    """What a backend yields: text pieces, then tool calls (id and name first, arguments in pieces)."""
    events: list[StreamEvent] = [TextDelta(t) for t in draw(st.lists(text, max_size=6))]
    for index in range(draw(st.integers(0, 3))):
        args = json.dumps(draw(json_args))
        cuts = sorted(draw(st.lists(st.integers(0, len(args)), max_size=3)))
        pieces = [args[a:b] for a, b in itertools.pairwise([0, *cuts, len(args)])]
        events.append(ToolCallDelta(index, id=f"call_{index}_{draw(names)}", name=draw(names), arguments=""))
        events += [ToolCallDelta(index, arguments=p) for p in pieces if p]
    prompt = draw(st.integers(1, 5000))
    events.append(Usage(prompt, draw(st.integers(0, 5000)), cached_tokens=draw(st.integers(0, prompt))))
    events.append(Finish(draw(st.sampled_from(["stop", "length"]))))
    return events


def cut(data: bytes, points: list[int]) -> list[bytes]:
    marks = [0, *sorted(p % (len(data) + 1) for p in points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(marks)]


def sse_payloads(chunks: list[bytes]) -> list[str]:
    decoder = SSEDecoder()
    events = [e for c in chunks for e in decoder.feed(c)]
    events += decoder.close()
    assert not decoder.truncated
    return [e.data for e in events]


async def _aiter(events: list[StreamEvent]) -> AsyncIterator[StreamEvent]:
    for event in events:
        yield event


def collected(events: list[StreamEvent]) -> Collected:
    return asyncio.run(collect(_aiter(events)))


def same_answer(got: Collected, want: Collected, *, cached: bool = True) -> None:
    assert got.text == want.text
    assert [(c.id, c.name, json.loads(c.arguments)) for c in got.tool_calls] == [
        (c.id, c.name, json.loads(c.arguments)) for c in want.tool_calls
    ]
    assert got.finish_reason == want.finish_reason
    assert got.usage is not None and want.usage is not None
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (
        want.usage.prompt_tokens,
        want.usage.completion_tokens,
    )
    if cached:
        assert got.usage.cached_tokens == want.usage.cached_tokens
    assert not got.usage.estimated


REQ = ChatRequest(model="cloud/x", messages=[Message("user", "hi")])


@PROPS
@given(answers(), st.lists(st.integers(0, 10_000), max_size=10))
def test_openai_stream_written_then_read_is_the_same_answer(
    events: list[StreamEvent], points: list[int]
) -> None:
    chunker = openai_edge.ChatChunker("cloud/x", include_usage=True)
    wire = chunker.start() + b"".join(chunker.event(e) or b"" for e in events) + chunker.end(None)
    reader = openai_upstream.ChunkReader(REQ, "cloud/x", "sk-none")
    payloads = sse_payloads(cut(wire, points))
    assert payloads[-1] == "[DONE]"
    read = [e for p in payloads[:-1] for e in reader.feed(json.loads(p))] + reader.tail()
    same_answer(collected(read), collected(events))


@PROPS
@given(answers(), st.lists(st.integers(0, 10_000), max_size=10))
def test_anthropic_stream_written_then_read_is_the_same_answer(
    events: list[StreamEvent], points: list[int]
) -> None:
    streamer = anthropic_edge.MessagesStreamer("cloud/x", input_tokens_estimate=3)
    wire = streamer.start() + b"".join(streamer.event(e) or b"" for e in events) + streamer.end(None)
    reader = anthropic_upstream.EventReader(REQ, "cloud/x", "sk-none")
    read: list[StreamEvent] = []
    for payload in sse_payloads(cut(wire, points)):
        read += reader.feed(json.loads(payload))
    assert reader.stopped
    read += reader.tail()
    same_answer(collected(read), collected(events))


# ---- requests ------------------------------------------------------------------------------------------


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    """A realistic chat: an optional system prompt, user turns, assistant turns that may call tools,
    each call answered by a tool result before the next user turn."""
    out: list[Message] = []
    if draw(st.booleans()):
        out.append(Message("system", draw(text)))
    for turn in range(draw(st.integers(1, 4))):
        out.append(Message("user", draw(text)))
        calls = [
            (f"call_{turn}_{i}", draw(names), json.dumps(draw(json_args)))
            for i in range(draw(st.integers(0, 2)))
        ]
        if calls or draw(st.booleans()):
            from edgeroute.chat import ToolCall

            reply = draw(st.one_of(st.none(), text)) if calls else draw(text)
            out.append(Message("assistant", reply, tool_calls=[ToolCall(*c) for c in calls] or None))
            out += [Message("tool", draw(text), tool_call_id=c[0]) for c in calls]
    return out


def conversation(req: ChatRequest) -> list[tuple[Any, ...]]:
    """The meaning of a request's messages: consecutive user or assistant turns joined (Anthropic merges
    them), tool arguments as parsed JSON."""
    out: list[tuple[Any, ...]] = []
    for m in req.messages:
        calls = tuple(
            (c.id, c.name, json.dumps(json.loads(c.arguments), sort_keys=True)) for c in m.tool_calls or []
        )
        if m.role in ("user", "assistant") and out and out[-1][0] == m.role:
            role, body, previous = out.pop()
            out.append((role, body + m.text(), previous + calls))
        elif m.role == "tool":
            out.append(("tool", m.text(), m.tool_call_id))
        else:
            out.append((m.role, m.text(), calls))
    return out


CLOUD = CloudModelConfig(name="x", provider="openai", model="upstream-model")


def via_openai_upstream(req: ChatRequest) -> ChatRequest:
    body = openai_upstream.build_body(CLOUD, req)
    return openai_edge.chat_request(ChatCompletionRequest.model_validate(body))


def via_anthropic_upstream(req: ChatRequest) -> ChatRequest:
    body = anthropic_upstream.build_body(CLOUD, req)
    return anthropic_edge.chat_request(MessagesRequest.model_validate(body))


@PROPS
@given(conversations(), st.integers(1, 4096), st.floats(0, 1), st.lists(text, max_size=2))
def test_openai_request_through_both_upstream_formats_keeps_its_meaning(
    messages: list[Message], max_tokens: int, temperature: float, stop: list[str]
) -> None:
    body = {
        "model": "auto",
        "messages": [openai_upstream.message_to_openai(m) for m in messages],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stop": stop or None,
    }
    req = openai_edge.chat_request(ChatCompletionRequest.model_validate(body))
    assert conversation(req) == conversation(ChatRequest("auto", messages))
    for translated in (via_openai_upstream(req), via_anthropic_upstream(req)):
        assert conversation(translated) == conversation(req)
        assert (translated.max_tokens, translated.stop) == (max_tokens, stop)
        assert translated.temperature == temperature


@PROPS
@given(conversations())
def test_anthropic_request_through_both_upstream_formats_keeps_its_meaning(messages: list[Message]) -> None:
    system, turns = anthropic_upstream.to_anthropic_messages(messages)
    body: dict[str, Any] = {"model": "auto", "max_tokens": 100, "messages": turns}
    if system:
        body["system"] = system
    req = anthropic_edge.chat_request(MessagesRequest.model_validate(body))
    assert conversation(req) == conversation(ChatRequest("auto", messages))
    for translated in (via_anthropic_upstream(req), via_openai_upstream(req)):
        assert conversation(translated) == conversation(req)
