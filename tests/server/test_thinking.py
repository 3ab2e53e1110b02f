"""Signed thinking end to end, Anthropic to Anthropic: the signature (``signature_delta`` streamed,
``signature`` whole) and ``redacted_thinking`` blocks of an Anthropic upstream reach Anthropic clients as
sent; the thinking blocks Claude Code sends back in a tool loop reach the Anthropic upstream in place, and
with them ``thinking`` stays on. OpenAI clients get the reasoning text only, OpenAI upstreams and the local
engine neither block nor parameter. Through a live daemon against the loopback fake cloud."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from edgeroute.chat import Message, ToolCall
from edgeroute.engine.engine import _message_dict
from tests.fakes.cloud import FakeCloud, Reply
from tests.server.conftest import post, sent
from tests.server.live import LiveServer, ant

SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"
THINKING = {"type": "enabled", "budget_tokens": 1024}
SIGNED_BLOCK = {"type": "thinking", "thinking": "I should check the weather.", "signature": SIGNATURE}
REDACTED_BLOCK = {"type": "redacted_thinking", "data": REDACTED}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}


@pytest.fixture(autouse=True)
def signed_reply(cloud: FakeCloud) -> None:
    cloud.reset(Reply(reasoning="Paris is in France.", signature=SIGNATURE, redacted=REDACTED, text="Sunny."))


def question(model: str, **fields: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 2048, "thinking": THINKING,
            "messages": [{"role": "user", "content": "Weather in Paris?"}], **fields}  # fmt: skip


def tool_loop(model: str, assistant: list[dict[str, Any]]) -> dict[str, Any]:
    """Claude Code's next request in a tool loop: the assistant turn it got back, then the tool result."""
    return question(
        model,
        tools=[{"name": "get_weather", "description": "Weather", "input_schema": WEATHER}],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": copy.deepcopy(assistant)},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}],
            },
        ],
    )


def sse_events(live: LiveServer, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    with httpx.stream("POST", live.url + path, json={**body, "stream": True}, timeout=60) as response:
        assert response.status_code == 200, response.read()
        raw = response.read().decode()
    return [
        json.loads(line.removeprefix("data: "))
        for line in raw.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def test_a_streamed_answer_carries_the_signature_and_the_redacted_block(
    live: LiveServer, cloud: FakeCloud
) -> None:
    events = sse_events(live, "/v1/messages", question("cloud/claude"))
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "redacted_thinking", "text"]
    assert starts[1] == REDACTED_BLOCK
    thinking = [e for e in events if e.get("index") == 0 and e["type"] != "content_block_start"]
    deltas = [e["delta"] for e in thinking[:-1]]
    assert "".join(d.get("thinking", "") for d in deltas) == "Paris is in France."
    # the signature is the block's last delta, right before its content_block_stop
    assert deltas[-1] == {"type": "signature_delta", "signature": SIGNATURE}
    assert thinking[-1] == {"type": "content_block_stop", "index": 0}
    with ant(live).messages.stream(**question("cloud/claude")) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    first, second = final.content[0], final.content[1]
    assert first.type == "thinking" and (first.thinking, first.signature) == (
        "Paris is in France.",
        SIGNATURE,
    )
    assert second.type == "redacted_thinking" and second.data == REDACTED


def test_a_whole_answer_carries_the_signature_and_openai_clients_get_the_text_only(
    live: LiveServer, cloud: FakeCloud
) -> None:
    whole = post(live, "/v1/messages", question("cloud/claude"))
    assert whole["content"] == [
        {"type": "thinking", "thinking": "Paris is in France.", "signature": SIGNATURE},
        REDACTED_BLOCK,
        {"type": "text", "text": "Sunny."},
    ]
    chat = {"model": "cloud/claude", "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    answer = post(live, "/v1/chat/completions", chat)
    assert answer["choices"][0]["message"]["reasoning_content"] == "Paris is in France."
    chunks = sse_events(live, "/v1/chat/completions", chat)
    reasoning = [c["choices"][0]["delta"]["reasoning_content"] for c in chunks
                 if c["choices"] and "reasoning_content" in c["choices"][0]["delta"]]  # fmt: skip
    assert "".join(reasoning) == "Paris is in France." and all(reasoning)
    assert SIGNATURE not in json.dumps([answer, chunks]) and REDACTED not in json.dumps([answer, chunks])


def test_a_tool_loop_reaches_an_anthropic_upstream_with_its_thinking_blocks_in_place(
    live: LiveServer, cloud: FakeCloud
) -> None:
    assistant = [SIGNED_BLOCK, REDACTED_BLOCK, {"type": "text", "text": "Let me check."}, TOOL_USE]
    post(live, "/v1/messages", tool_loop("cloud/claude", assistant))
    body = sent(cloud)
    assert body["thinking"] == THINKING
    assert body["messages"][1] == {"role": "assistant", "content": assistant}
    # A turn answered elsewhere (an OpenAI upstream's reasoning has no signature): no block Anthropic
    # could verify, so the loop goes on without ``thinking`` rather than get a 400.
    cloud.reset()
    unsigned = {"type": "thinking", "thinking": "I should check.", "signature": ""}
    post(live, "/v1/messages", tool_loop("cloud/claude", [unsigned, TOOL_USE]))
    body = sent(cloud)
    assert "thinking" not in body
    assert body["messages"][1] == {"role": "assistant", "content": [TOOL_USE]}


def test_an_openai_upstream_and_the_local_engine_get_neither_block_nor_parameter(
    live: LiveServer, cloud: FakeCloud
) -> None:
    cloud.reset(Reply(text="Sunny."))
    assistant = [SIGNED_BLOCK, REDACTED_BLOCK, {"type": "text", "text": "Let me check."}, TOOL_USE]
    post(live, "/v1/messages", tool_loop("cloud/gpt", assistant))
    body = sent(cloud)
    assert "thinking" not in body
    assert body["messages"][1]["content"] == "Let me check."
    assert SIGNATURE not in json.dumps(body) and REDACTED not in json.dumps(body)
    turn = Message("assistant", [SIGNED_BLOCK, {"type": "text", "text": "Let me check."}],
                   tool_calls=[ToolCall("toolu_1", "get_weather", '{"city": "Paris"}')])  # fmt: skip
    assert _message_dict(turn)["content"] == "Let me check."


def test_the_last_message_delta_carries_the_upstreams_real_usage(live: LiveServer, cloud: FakeCloud) -> None:
    """message_start has to go out before the upstream answers, so its input_tokens is edgeroute's estimate;
    the closing message_delta carries what the upstream counted, cache reads and writes included."""
    cloud.reset(Reply(prompt_tokens=1200, cached_tokens=1000, cache_write_tokens=150, completion_tokens=9))
    events = sse_events(live, "/v1/messages", question("cloud/claude"))
    start = events[0]["message"]["usage"]
    assert set(start) == {"input_tokens", "output_tokens"} and start["input_tokens"] > 0
    assert [e["type"] for e in events[-2:]] == ["message_delta", "message_stop"]
    assert events[-2]["usage"] == {
        "input_tokens": 50,
        "cache_creation_input_tokens": 150,
        "cache_read_input_tokens": 1000,
        "output_tokens": 9,
        "cache_creation": {"ephemeral_5m_input_tokens": 150, "ephemeral_1h_input_tokens": 0},
    }
