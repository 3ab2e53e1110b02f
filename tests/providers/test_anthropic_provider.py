"""The Anthropic Messages provider against a loopback fake upstream: the request translation (system, tool
use/results, images, stop sequences, headers), stream events to internal events, usage, and faults."""

from __future__ import annotations

import pytest

from edgeroute.chat import ChatRequest, Finish, Message, ReasoningDelta, Tool, ToolCall, Usage
from edgeroute.errors import UpstreamError, UpstreamRateLimited
from edgeroute.providers.anthropic import (
    AnthropicProvider,
    build_body,
    messages_url,
    tool_choice_to_anthropic,
)
from edgeroute.providers.http import UpstreamClient
from tests.fakes.cloud import FakeCloud, Fault, Reply
from tests.providers.conftest import cloud_model
from tests.providers.helpers import collect, simple_request, text_of, tool_calls_of

KEY = "sk-ant-test-0123456789"


def provider(client: UpstreamClient, cloud: FakeCloud) -> AnthropicProvider:
    return AnthropicProvider(client, cloud.anthropic_base_url)


async def test_text_stream_headers_and_usage(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert text_of(events) == "Hello from the fake cloud."
    # input 8 + cache read 3 from message_start, output 7 from message_delta
    assert events[-2:] == [Usage(11, 7, cached_tokens=3), Finish("stop")]
    sent = fake_cloud.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body["max_tokens"] == 4096 and sent.body["stream"] is True


async def test_request_translation(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    req = ChatRequest(
        model="cloud/claude",
        messages=[
            Message("system", "be brief"),
            Message(
                "user",
                [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                ],
            ),
            Message(
                "assistant",
                "Let me look.",
                tool_calls=[ToolCall("toolu_1", "lookup", '{"q": "x"}'), ToolCall("toolu_2", "now", "")],
            ),
            Message("tool", "42", tool_call_id="toolu_1"),
            Message("tool", "noon", tool_call_id="toolu_2"),
            Message("user", "thanks"),
            Message("system", "and polite"),
        ],
        max_tokens=100,
        temperature=1.5,
        top_p=0.5,
        stop=["END"],
        seed=3,
        tools=[Tool("lookup", "Look up", {"type": "object", "properties": {"q": {"type": "string"}}})],
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        extra={"top_k": 5, "response_format": {"type": "json_object"}},
    )
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    await collect(provider(client, fake_cloud).stream_chat(model, req, KEY))
    body = fake_cloud.requests[0].body
    assert body["system"] == "be brief\n\nand polite"
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
                {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "noon"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    assert body["max_tokens"] == 100
    assert body["temperature"] == 1.0  # clamped to Anthropic's range
    assert (body["top_p"], body["stop_sequences"], body["top_k"]) == (0.5, ["END"], 5)
    assert "seed" not in body and "response_format" not in body
    assert body["tools"] == [
        {
            "name": "lookup",
            "description": "Look up",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "lookup"}


def test_small_translations() -> None:
    assert messages_url("https://api.anthropic.com") == "https://api.anthropic.com/v1/messages"
    assert messages_url("https://proxy.example/v1/") == "https://proxy.example/v1/messages"
    assert [tool_choice_to_anthropic(c) for c in ("auto", "required", "none", None)] == [
        {"type": "auto"},
        {"type": "any"},
        {"type": "none"},
        None,
    ]
    model = cloud_model("claude", "anthropic", "http://127.0.0.1:9")
    url_image = Message("user", [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}])
    body = build_body(model, ChatRequest(model="x", messages=[url_image]))
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
    ]


async def test_tool_use_and_thinking_stream(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    fake_cloud.reply = Reply(
        text="Checking.",
        reasoning="hmm",
        tool_calls=[("get_weather", {"city": "Oslo"}), ("get_time", {"tz": "UTC"})],
    )
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["hmm"]
    assert text_of(events) == "Checking."
    assert tool_calls_of(events) == {
        0: {"id": "toolu_0", "name": "get_weather", "arguments": {"city": "Oslo"}},
        1: {"id": "toolu_1", "name": "get_time", "arguments": {"tz": "UTC"}},
    }
    assert events[-1] == Finish("tool_calls")


async def test_missing_usage_is_estimated(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    fake_cloud.reply = Reply(text="y" * 20, usage=False)
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request("b" * 40), KEY))
    assert events[-2] == Usage(prompt_tokens=14, completion_tokens=5, estimated=True)


async def test_non_streamed_message_body(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    fake_cloud.reply = Reply(text="plain", tool_calls=[("f", {"a": 1})], cannot_stream=True)
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert fake_cloud.requests[-1].body["stream"] is True  # asked to stream, answered with one body
    assert text_of(events) == "plain"
    assert tool_calls_of(events) == {0: {"id": "toolu_0", "name": "f", "arguments": {"a": 1}}}
    assert events[-2:] == [Usage(11, 7, cached_tokens=3), Finish("tool_calls")]


@pytest.mark.parametrize(
    ("fault", "error", "code", "status"),
    [
        (Fault.http(529, "Overloaded"), UpstreamError, "upstream_error", 529),
        (Fault.rate_limited(retry_after=4), UpstreamRateLimited, "upstream_rate_limited", 429),
        (
            Fault.http(400, "prompt is too long: 250000 tokens > 200000 maximum"),
            UpstreamError,
            "context_length_exceeded",
            400,
        ),
        (Fault.stream_error(), UpstreamError, "upstream_error", 529),
        (Fault.malformed_json(), UpstreamError, "upstream_bad_response", None),
        (Fault.cut(0), UpstreamError, "upstream_disconnected", None),
    ],
)
async def test_faults(
    client: UpstreamClient,
    fake_cloud: FakeCloud,
    fault: Fault,
    error: type[UpstreamError],
    code: str,
    status: int | None,
) -> None:
    fake_cloud.fail_next(fault)
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    with pytest.raises(error) as info:
        await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert (info.value.code, info.value.upstream_status) == (code, status)


async def test_a_stream_without_message_stop_is_an_error(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.cut(3))
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    seen = []
    with pytest.raises(UpstreamError, match="connection closed mid-response"):
        async for event in provider(client, fake_cloud).stream_chat(model, simple_request(), KEY):
            seen.append(event)
    assert text_of(seen) == "Hello from t"
