"""The OpenAI-compatible provider against a loopback fake upstream: request translation, stream parsing
(text, reasoning, tool calls with indexes, usage incl. cached tokens), and each fault mapped to its error."""

from __future__ import annotations

import asyncio
import time

import pytest
from pytest_httpserver import HTTPServer

from edgeroute.chat import ChatRequest, Finish, Message, ReasoningDelta, Tool, ToolCall, Usage
from edgeroute.errors import UpstreamConnectError, UpstreamError, UpstreamRateLimited, UpstreamTimeout
from edgeroute.providers.http import UpstreamClient
from edgeroute.providers.openai import OpenAIProvider, ToolIndexer, build_body
from tests.fakes.cloud import FakeCloud, Fault, Reply
from tests.fakes.loopback import closed_port_url
from tests.providers.conftest import cloud_model
from tests.providers.helpers import collect, simple_request, text_of, tool_calls_of

KEY = "sk-test-openai-0123456789"


def provider(client: UpstreamClient, cloud: FakeCloud) -> OpenAIProvider:
    return OpenAIProvider(client, cloud.openai_base_url)


async def test_text_stream_with_exact_usage(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url)
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert text_of(events) == "Hello from the fake cloud."
    assert events[-2:] == [Usage(11, 7, cached_tokens=3), Finish("stop")]
    sent = fake_cloud.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["model"] == "gpt-upstream"


async def test_request_translation(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    image = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    req = ChatRequest(
        model="cloud/gpt",
        messages=[
            Message("system", "be brief"),
            Message("user", image),
            Message("assistant", None, tool_calls=[ToolCall("call_1", "lookup", '{"q": "x"}')]),
            Message("tool", "42", tool_call_id="call_1"),
        ],
        max_tokens=64,
        temperature=0.2,
        top_p=0.9,
        stop=["END"],
        seed=7,
        tools=[
            Tool("lookup", "Look something up", {"type": "object", "properties": {"q": {"type": "string"}}})
        ],
        tool_choice="auto",
        extra={"response_format": {"type": "json_object"}, "max_completion_tokens": 999},
    )
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url)
    await collect(provider(client, fake_cloud).stream_chat(model, req, KEY))
    body = fake_cloud.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": image},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                }
            ],
        },
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    ]
    assert body["max_tokens"] == 64 and "max_completion_tokens" not in body
    assert (body["temperature"], body["top_p"], body["stop"], body["seed"]) == (0.2, 0.9, ["END"], 7)
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    assert body["tool_choice"] == "auto"
    assert body["response_format"] == {"type": "json_object"}


def test_extra_cannot_turn_streaming_off() -> None:
    model = cloud_model("gpt", "openai", "http://127.0.0.1:9/v1")
    body = build_body(model, simple_request(extra={"stream": False, "stream_options": {"foo": 1}}))
    assert body["stream"] is True
    assert body["stream_options"] == {"foo": 1, "include_usage": True}


async def test_tool_calls_and_reasoning_stream(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    fake_cloud.reply = Reply(
        text="", reasoning="thinking...", tool_calls=[("get_weather", {"city": "Paris"}), ("get_time", {})]
    )
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url)
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["thinki", "ng..."]
    assert tool_calls_of(events) == {
        0: {"id": "call_0", "name": "get_weather", "arguments": {"city": "Paris"}},
        1: {"id": "call_1", "name": "get_time", "arguments": {}},
    }
    assert events[-1] == Finish("tool_calls")


async def test_no_usage_from_upstream_is_estimated(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    fake_cloud.reply = Reply(text="x" * 40, usage=False)
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url)
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request("a" * 80), KEY))
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.estimated
    assert usage.completion_tokens == 10  # 40 chars / 4
    assert usage.prompt_tokens == 4 + 20  # one message: overhead + 80 chars / 4


async def test_a_server_that_ignores_stream_is_read_as_one_body(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    fake_cloud.reply = Reply(text="whole answer", tool_calls=[("f", {"a": 1})], cannot_stream=True)
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url)
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert fake_cloud.requests[-1].body["stream"] is True  # asked to stream, answered with one body
    assert text_of(events) == "whole answer"
    assert tool_calls_of(events) == {0: {"id": "call_0", "name": "f", "arguments": {"a": 1}}}
    assert events[-2:] == [Usage(11, 7, cached_tokens=3), Finish("tool_calls")]


def test_tool_indexes_for_servers_without_or_with_constant_index() -> None:
    no_index = ToolIndexer()
    assert [
        no_index.index(None, "a"),
        no_index.index(None, None),
        no_index.index(None, "b"),
        no_index.index(None, None),
    ] == [0, 0, 1, 1]
    all_zero = ToolIndexer()
    assert [
        all_zero.index(0, "a"),
        all_zero.index(0, None),
        all_zero.index(0, "b"),
        all_zero.index(0, None),
    ] == [0, 0, 1, 1]
    proper = ToolIndexer()
    assert [proper.index(0, "a"), proper.index(1, "b"), proper.index(0, None), proper.index(1, None)] == [
        0,
        1,
        0,
        1,
    ]


@pytest.mark.parametrize(
    ("fault", "error", "code", "status"),
    [
        (Fault.http(500, "boom"), UpstreamError, "upstream_error", 500),
        (Fault.http(503, "busy", retry_after=3), UpstreamError, "upstream_error", 503),
        (Fault.rate_limited(retry_after=7), UpstreamRateLimited, "upstream_rate_limited", 429),
        (
            Fault.http(400, "This model's maximum context length is 8192 tokens"),
            UpstreamError,
            "context_length_exceeded",
            400,
        ),
        (Fault.http(404, "no such model"), UpstreamError, "upstream_not_found", 404),
        (Fault.http(422, "bad field"), UpstreamError, "upstream_bad_request", 422),
        (Fault.malformed_json(), UpstreamError, "upstream_bad_response", None),
        (Fault.cut(0), UpstreamError, "upstream_disconnected", None),
        (Fault.stream_error(), UpstreamError, "upstream_error", 502),
    ],
)
async def test_faults_before_the_first_token(
    client: UpstreamClient,
    fake_cloud: FakeCloud,
    fault: Fault,
    error: type[UpstreamError],
    code: str,
    status: int | None,
) -> None:
    fake_cloud.fail_next(fault)
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url)
    with pytest.raises(error) as info:
        await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert info.value.code == code
    assert info.value.upstream_status == status
    assert info.value.message.startswith("cloud/gpt: ")
    if fault.headers.get("retry-after"):
        assert info.value.retry_after == float(fault.headers["retry-after"])


async def test_stream_cut_after_tokens_raises_after_them(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.cut(2))
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url)
    seen = []
    with pytest.raises(UpstreamError) as info:
        async for event in provider(client, fake_cloud).stream_chat(model, simple_request(), KEY):
            seen.append(event)
    assert text_of(seen) == "Hello from t"
    assert info.value.code == "upstream_disconnected"


async def test_timeout_before_the_first_token(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    fake_cloud.fail_next(Fault.hang(5))
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, first_token_timeout=0.4)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match=r"no first token within 0\.4s"):
        await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert time.monotonic() - started < 3


async def test_slow_first_token_after_headers_hits_the_first_token_deadline(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.slow_first_token(5))
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, first_token_timeout=0.4)
    with pytest.raises(UpstreamTimeout, match="no first token"):
        await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))


async def test_slow_first_token_within_the_deadline_answers(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    fake_cloud.fail_next(Fault.slow_first_token(0.3))
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, first_token_timeout=3)
    started = time.monotonic()
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert text_of(events) == "Hello from the fake cloud."
    assert time.monotonic() - started >= 0.3


async def test_total_timeout_bounds_a_trickling_stream(client: UpstreamClient, fake_cloud: FakeCloud) -> None:
    fake_cloud.reply = Reply(text="x" * 60, chunk_chars=2, chunk_delay=0.1)
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, total_timeout=0.5)
    with pytest.raises(UpstreamTimeout, match=r"longer than 0\.5s"):
        await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))


async def test_a_deadline_passed_between_reads_fails_the_next_read_at_once(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    # The consumer holds the first event past total_timeout: the timer fires while no read waits, so the
    # next read must fail at once, even with the rest of the answer already buffered.
    fake_cloud.reply = Reply(text="x" * 20, chunk_chars=2, chunk_delay=0.02)
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, total_timeout=0.3)
    stream = provider(client, fake_cloud).stream_chat(model, simple_request(), KEY)
    await anext(stream)
    await asyncio.sleep(0.5)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match=r"longer than 0\.3s"):
        await collect(stream)
    assert time.monotonic() - started < 0.5


async def test_a_closed_stream_leaves_no_deadline_behind(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    # The call's one timer goes with the call: after the stream is closed, its deadline never cancels
    # the task that used it.
    model = cloud_model(
        "gpt", "openai", fake_cloud.openai_base_url, first_token_timeout=0.2, total_timeout=0.3
    )
    stream = provider(client, fake_cloud).stream_chat(model, simple_request(), KEY)
    await anext(stream)
    await stream.aclose()
    await asyncio.sleep(0.5)  # a leftover timer would have cancelled this sleep
    events = await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert text_of(events) == "Hello from the fake cloud."


async def test_connect_refused(client: UpstreamClient) -> None:
    base = closed_port_url() + "/v1"
    model = cloud_model("gpt", "openai", base)
    with pytest.raises(UpstreamConnectError, match="cannot connect"):
        await collect(OpenAIProvider(client, base).stream_chat(model, simple_request(), KEY))


async def test_refused_key_is_scrubbed_and_the_fix_is_named(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    fake_cloud.api_key = "sk-the-right-one-000000"
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, key="work-openai")
    with pytest.raises(UpstreamError) as info:
        await collect(provider(client, fake_cloud).stream_chat(model, simple_request(), KEY))
    assert info.value.code == "upstream_auth_failed" and info.value.upstream_status == 401
    assert "Incorrect API key provided" in info.value.message
    assert "`edgeroute keys set work-openai`" in info.value.message
    assert KEY not in info.value.message and KEY[3:15] not in info.value.message


async def test_an_html_page_instead_of_an_api_is_a_bad_response(
    client: UpstreamClient, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/chat/completions").respond_with_data(
        "<html><body>Sign in to the hotel Wi-Fi</body></html>", content_type="text/html"
    )
    base = httpserver.url_for("/v1")
    model = cloud_model("gpt", "openai", base)
    with pytest.raises(UpstreamError, match="HTML page") as info:
        await collect(OpenAIProvider(client, base).stream_chat(model, simple_request(), KEY))
    assert info.value.code == "upstream_bad_response"


async def test_waiting_for_a_pooled_connection_is_not_a_connect_failure(fake_cloud: FakeCloud) -> None:
    """A full pool makes the next request wait; that is not an unreachable host (which would mark the
    endpoint down): it is bounded by the request's own deadlines, and both answers arrive."""
    fake_cloud.reply = Reply(text="slow answer here", chunk_chars=4, chunk_delay=0.15)
    model = cloud_model("gpt", "openai", fake_cloud.openai_base_url, connect_timeout=0.2)
    client = UpstreamClient(max_connections=1)
    try:
        provider = OpenAIProvider(client, fake_cloud.openai_base_url)
        first, second = await asyncio.gather(
            collect(provider.stream_chat(model, simple_request(), KEY)),
            collect(provider.stream_chat(model, simple_request(), KEY)),
        )
    finally:
        await client.aclose()
    assert text_of(first) == text_of(second) == "slow answer here"
