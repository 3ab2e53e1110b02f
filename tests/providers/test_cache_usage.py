"""Prompt-cache usage as an Anthropic upstream reports it, streamed and whole: reads, writes and the
writes' 1-hour part (newer API versions break ``cache_creation_input_tokens`` down by cache lifetime), all
inside ``prompt_tokens``; an older answer without the breakdown counts every write as a 5-minute one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edgeroute.chat import ChatRequest, Usage
from edgeroute.providers.anthropic import AnthropicProvider, EventReader
from edgeroute.providers.http import UpstreamClient
from tests.fakes.cloud import FakeCloud, Reply
from tests.providers.conftest import cloud_model
from tests.providers.helpers import collect, simple_request

KEY = "sk-test-cache-usage-0123456789"
CACHED = Reply(
    prompt_tokens=23_012, cached_tokens=20_000, cache_write_tokens=3_000, cache_write_1h_tokens=1_000
)


@pytest.mark.parametrize("whole", [False, True], ids=["streamed", "whole"])
async def test_reads_writes_and_hour_writes_reach_the_usage(
    client: UpstreamClient, fake_cloud: FakeCloud, whole: bool
) -> None:
    fake_cloud.reset(replace(CACHED, cannot_stream=whole))
    provider = AnthropicProvider(client, fake_cloud.anthropic_base_url)
    model = cloud_model("claude", "anthropic", fake_cloud.anthropic_base_url)
    events = await collect(provider.stream_chat(model, simple_request(), KEY))
    [usage] = [e for e in events if isinstance(e, Usage)]
    assert usage == Usage(
        23_012, 7, cached_tokens=20_000, cache_write_tokens=3_000, cache_write_1h_tokens=1_000
    )


def test_an_answer_without_the_breakdown_has_only_5_minute_writes() -> None:
    reader = EventReader(ChatRequest(model="auto", messages=[]), "cloud/claude", KEY)
    start = {"input_tokens": 5, "cache_creation_input_tokens": 400, "cache_read_input_tokens": 0}
    reader.feed({"type": "message_start", "message": {"usage": {**start, "output_tokens": 1}}})
    reader.feed(
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}
    )
    usage = reader.tail()[0]
    assert usage == Usage(405, 2, cache_write_tokens=400, cache_write_1h_tokens=0)


def test_usage_repeated_in_message_delta_keeps_the_hour_writes() -> None:
    """Newer API versions repeat the cumulative input counts in ``message_delta``."""
    reader = EventReader(ChatRequest(model="auto", messages=[]), "cloud/claude", KEY)
    usage = {
        "input_tokens": 5,
        "cache_creation_input_tokens": 400,
        "cache_read_input_tokens": 100,
        "cache_creation": {"ephemeral_5m_input_tokens": 150, "ephemeral_1h_input_tokens": 250},
    }
    reader.feed({"type": "message_start", "message": {"usage": {**usage, "output_tokens": 1}}})
    end = {**usage, "output_tokens": 30}
    reader.feed({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": end})
    assert reader.tail()[0] == Usage(
        505, 30, cached_tokens=100, cache_write_tokens=400, cache_write_1h_tokens=250
    )
