"""The providers' side of what reaches an upstream and what comes back: prompt-cache usage as Anthropic
reports it (reads and writes), the stop sequence a whole (non-streamed) answer stopped on, and the token
limit's name against a fake OpenAI upstream."""

from __future__ import annotations

from edgeroute.chat import ChatRequest, Finish, Message, Usage
from edgeroute.providers.anthropic import AnthropicProvider, EventReader
from edgeroute.providers.http import UpstreamClient
from edgeroute.providers.openai import OpenAIProvider
from tests.fakes.cloud import FakeCloud, Reply
from tests.providers.conftest import cloud_model
from tests.providers.helpers import collect, simple_request, text_of

KEY = "sk-test-forwarded-0123456789"


def test_cache_writes_and_reads_both_count_as_prompt_tokens_reads_as_cached() -> None:
    """Anthropic's ``input_tokens`` leaves out both cache reads and writes; internally prompt tokens
    include them (OpenAI's convention), with the reads as ``cached_tokens`` (billed at the cached rate)
    and the writes as ``cache_write_tokens`` (billed above the input rate)."""
    reader = EventReader(simple_request(), "cloud/claude", KEY)
    usage = {"input_tokens": 12, "cache_creation_input_tokens": 20000, "cache_read_input_tokens": 0}
    reader.feed({"type": "message_start", "message": {"usage": {**usage, "output_tokens": 1}}})
    reader.feed(
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}
    )
    assert reader.tail() == [Usage(20012, 9, cached_tokens=0, cache_write_tokens=20000), Finish("stop")]
    reader = EventReader(simple_request(), "cloud/claude", KEY)
    usage = {"input_tokens": 12, "cache_creation_input_tokens": 30, "cache_read_input_tokens": 20000}
    reader.feed({"type": "message_start", "message": {"usage": {**usage, "output_tokens": 1}}})
    reader.feed(
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}
    )
    assert reader.tail() == [Usage(20042, 9, cached_tokens=20000, cache_write_tokens=30), Finish("stop")]


async def test_a_whole_answer_names_the_stop_sequence_it_ended_on(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    fake_cloud.reset(Reply(text="one two", stop_sequence="END", cannot_stream=True))
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    provider = AnthropicProvider(client, fake_cloud.anthropic_base_url)
    events = await collect(provider.stream_chat(model, simple_request(stop=["END"]), KEY))
    assert text_of(events) == "one two" and events[-1] == Finish("stop", "END")


async def test_an_openai_provider_sends_the_configured_or_the_clients_name(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    provider = OpenAIProvider(client, fake_cloud.openai_base_url)
    plain = cloud_model("gpt", "openai", fake_cloud.openai_base_url)
    o3 = cloud_model("o3", "openai", fake_cloud.openai_base_url, max_tokens_field="max_completion_tokens")
    cases = [
        (plain, simple_request(max_tokens=30), "max_tokens"),  # an internal default: the older name
        (
            plain,
            simple_request(max_tokens=30, max_tokens_field="max_completion_tokens"),
            "max_completion_tokens",
        ),
        (o3, simple_request(max_tokens=30), "max_completion_tokens"),
        (o3, simple_request(max_tokens=30, max_tokens_field="max_tokens"), "max_completion_tokens"),
    ]
    for model, req, name in cases:
        await collect(provider.stream_chat(model, req, KEY))
        body = fake_cloud.requests[-1].body
        assert body[name] == 30 and len({"max_tokens", "max_completion_tokens"} & set(body)) == 1


async def test_an_openai_clients_cache_breakpoints_reach_an_anthropic_upstream(
    client: UpstreamClient, fake_cloud: FakeCloud
) -> None:
    """OpenRouter-style ``cache_control`` on an OpenAI client's text parts is Anthropic's own format."""
    ephemeral = {"type": "ephemeral"}
    req = ChatRequest(
        model="cloud/claude",
        messages=[
            Message("system", [{"type": "text", "text": "Long rules.", "cache_control": ephemeral}]),
            Message("user", [{"type": "text", "text": "Hi", "cache_control": ephemeral}]),
        ],
    )
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    await collect(AnthropicProvider(client, fake_cloud.anthropic_base_url).stream_chat(model, req, KEY))
    body = fake_cloud.requests[-1].body
    assert body["system"] == [{"type": "text", "text": "Long rules.", "cache_control": ephemeral}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": ephemeral}]}
    ]
