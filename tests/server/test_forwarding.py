"""What reaches the cloud upstreams, end to end: a client's request through a live daemon to the loopback
fake clouds, asserted on the exact JSON the fake received. The token-limit field keeps the client's name
(OpenAI's o-series and gpt-5 refuse ``max_tokens``), Claude Code's prompt-cache breakpoints and its
Anthropic-only fields reach an Anthropic upstream and never an OpenAI one, and a stop sequence an upstream
stopped on is reported as such."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.server.conftest import cloud_target, gpt_and_claude, post, sent
from tests.server.live import LiveServer

EPHEMERAL = {"type": "ephemeral"}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture(scope="module")
def live(
    cloud: FakeCloud, starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    o3 = cloud_target(cloud, "o3", "openai", max_tokens_field="max_completion_tokens")
    with gpt_and_claude(cloud, starter_gguf, tmp_path_factory.mktemp("home"), o3) as live:
        yield live


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud) -> None:
    cloud.reset()


def chat(model: str, **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}], **fields}


# ---- the token limit keeps its name --------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_completion_tokens", "max_tokens"])
def test_the_token_limit_reaches_openai_under_the_name_the_client_used(
    live: LiveServer, cloud: FakeCloud, field: str
) -> None:
    post(live, "/v1/chat/completions", chat("cloud/gpt", **{field: 40}))
    body = sent(cloud)
    other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
    assert body[field] == 40 and other not in body


def test_max_completion_tokens_wins_when_a_client_sends_both(live: LiveServer, cloud: FakeCloud) -> None:
    post(live, "/v1/chat/completions", chat("cloud/gpt", max_tokens=10, max_completion_tokens=40))
    body = sent(cloud)
    assert body["max_completion_tokens"] == 40 and "max_tokens" not in body


def test_a_messages_request_sends_max_tokens_unless_the_model_is_configured_otherwise(
    live: LiveServer, cloud: FakeCloud
) -> None:
    messages = {"max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
    post(live, "/v1/messages", {"model": "cloud/gpt", **messages})
    body = sent(cloud)
    assert body["max_tokens"] == 50 and "max_completion_tokens" not in body
    # A model configured with max_tokens_field gets that name, whatever the client wrote.
    for path, request in [
        ("/v1/messages", {"model": "cloud/o3", **messages}),
        ("/v1/chat/completions", chat("cloud/o3", max_tokens=50)),
    ]:
        cloud.reset()
        post(live, path, request)
        body = sent(cloud)
        assert body["max_completion_tokens"] == 50 and "max_tokens" not in body


# ---- Claude Code's prompt-cache breakpoints ------------------------------------------------------

CLAUDE_CODE_SYSTEM = [
    {"type": "text", "text": "You are Claude Code."},
    {"type": "text", "text": "Be concise.", "cache_control": EPHEMERAL},
]
CLAUDE_CODE_TURNS = [
    {"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>Be careful.</system-reminder>"},
        {"type": "text", "text": "Weather in Paris?", "cache_control": EPHEMERAL},
    ]},
    {"role": "assistant", "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"},
         "cache_control": EPHEMERAL},
    ]},
    {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}],
         "cache_control": EPHEMERAL},
    ]},
]  # fmt: skip
CLAUDE_CODE_TOOLS = [
    {"name": "get_weather", "description": "Weather", "input_schema": WEATHER, "cache_control": EPHEMERAL}
]


def claude_code(model: str, **fields: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 64,
        "system": copy.deepcopy(CLAUDE_CODE_SYSTEM),
        "messages": copy.deepcopy(CLAUDE_CODE_TURNS),
        "tools": copy.deepcopy(CLAUDE_CODE_TOOLS),
        **fields,
    }


def test_cache_breakpoints_reach_an_anthropic_upstream_where_the_client_put_them(
    live: LiveServer, cloud: FakeCloud
) -> None:
    post(live, "/v1/messages", claude_code("cloud/claude"))
    body = sent(cloud)
    assert body["system"] == CLAUDE_CODE_SYSTEM
    assert body["tools"] == CLAUDE_CODE_TOOLS
    assert body["messages"] == [
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>Be careful.</system-reminder>"},
            {"type": "text", "text": "Weather in Paris?", "cache_control": EPHEMERAL},
        ]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"},
             "cache_control": EPHEMERAL},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C", "cache_control": EPHEMERAL},
        ]},
    ]  # fmt: skip


BILLING = {
    "type": "text",
    "text": "x-anthropic-billing-header: cc_version=2.1.197.3aa; cc_entrypoint=sdk-cli;",
}


@pytest.mark.parametrize("model", ["cloud/claude", "cloud/gpt"])
def test_claude_codes_billing_header_block_reaches_no_model(
    live: LiveServer, cloud: FakeCloud, model: str
) -> None:
    """Claude Code 2.1 opens its system prompt with an attribution block; the local model read it back in
    its answers. It is metadata: no backend gets it, the rest of the system prompt arrives as before."""
    request = claude_code(model)
    request["system"].insert(0, BILLING)
    post(live, "/v1/messages", request)
    body = sent(cloud)
    assert "x-anthropic-billing-header" not in json.dumps(body)
    if model == "cloud/claude":
        assert body["system"] == CLAUDE_CODE_SYSTEM
    else:
        assert body["messages"][0] == {"role": "system", "content": "You are Claude Code.\n\nBe concise."}


def test_a_turn_keeps_its_blocks_after_claude_code_moves_the_breakpoint_on(
    live: LiveServer, cloud: FakeCloud
) -> None:
    """Anthropic's prompt cache matches the prompt as it was rendered: a turn sent as two text blocks
    must reach it as two blocks in the next request too, after the client moved its breakpoint to a later
    turn, or every turn from there on is a cache miss (and a cache write) again."""
    later = claude_code("cloud/claude")
    first = later["messages"][0]["content"]
    del first[1]["cache_control"]  # the breakpoint has moved to the newest turn
    later["messages"].append(
        {"role": "user", "content": [{"type": "text", "text": "And Rome?", "cache_control": EPHEMERAL}]}
    )
    later["messages"][2]["content"][0].pop("cache_control")
    post(live, "/v1/messages", later)
    assert sent(cloud)["messages"][0] == {"role": "user", "content": first}


def test_an_image_block_keeps_its_breakpoint(live: LiveServer, cloud: FakeCloud) -> None:
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    content = [
        {"type": "image", "source": image, "cache_control": EPHEMERAL},
        {"type": "text", "text": "What is this?"},
    ]
    post(live, "/v1/messages", {"model": "cloud/claude", "max_tokens": 20, "system": "Be brief.",
                                "messages": [{"role": "user", "content": content}]})  # fmt: skip
    body = sent(cloud)
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": content}]


def test_an_openai_upstream_gets_the_same_conversation_without_cache_control(
    live: LiveServer, cloud: FakeCloud
) -> None:
    post(live, "/v1/messages", claude_code("cloud/gpt"))
    body = sent(cloud)
    assert "cache_control" not in json.dumps(body)
    assert body["messages"] == [
        {"role": "system", "content": "You are Claude Code.\n\nBe concise."},
        {"role": "user", "content": "<system-reminder>Be careful.</system-reminder>Weather in Paris?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        ]},
        {"role": "tool", "content": "18C", "tool_call_id": "toolu_1"},
    ]  # fmt: skip
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER},
        }
    ]


# ---- Anthropic-only fields ------------------------------------------------------------------------

ANTHROPIC_ONLY = {
    "top_k": 5,
    "metadata": {"user_id": "user_abc"},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
}


def fresh_turn(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": 2048, "messages": [{"role": "user", "content": "Hi"}]}


def test_anthropic_only_fields_reach_an_anthropic_upstream(live: LiveServer, cloud: FakeCloud) -> None:
    post(live, "/v1/messages", {**fresh_turn("cloud/claude"), **ANTHROPIC_ONLY})
    body = sent(cloud)
    assert {k: body.get(k) for k in ANTHROPIC_ONLY} == ANTHROPIC_ONLY


def test_thinking_is_left_out_where_a_tool_loop_continues_without_its_thinking_block(
    live: LiveServer, cloud: FakeCloud
) -> None:
    """With ``thinking`` on, Anthropic wants the signed thinking block back at the head of the assistant
    turn whose tool results follow; where that turn has none (another provider answered it), edgeroute
    sends the request without ``thinking`` (what Anthropic's own error advises) rather than get a 400.
    With the block in the history, see tests/server/test_thinking.py."""
    post(live, "/v1/messages", claude_code("cloud/claude", **ANTHROPIC_ONLY))
    body = sent(cloud)
    assert "thinking" not in body
    assert (body["top_k"], body["metadata"]) == (5, {"user_id": "user_abc"})


def test_adaptive_thinking_stays_on_through_a_tool_loop_whose_turn_skipped_thinking(
    live: LiveServer, cloud: FakeCloud
) -> None:
    """Under adaptive thinking (Claude Code on Opus 4.6 and later) Claude may answer a tool call without
    thinking; Anthropic takes that turn back as it is and wants one thinking setting through the loop."""
    adaptive = {"type": "adaptive"}
    post(live, "/v1/messages", claude_code("cloud/claude", thinking=adaptive))
    assert sent(cloud)["thinking"] == adaptive


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_no_anthropic_field_reaches_an_openai_upstream(live: LiveServer, cloud: FakeCloud, path: str) -> None:
    request = fresh_turn("cloud/gpt") if path == "/v1/messages" else chat("cloud/gpt")
    post(live, path, {**request, **ANTHROPIC_ONLY, "service_tier": "auto"})
    body = sent(cloud)
    leaked = set(ANTHROPIC_ONLY) | {"service_tier"}
    if path == "/v1/messages":
        assert not leaked & set(body), body
    else:  # an OpenAI client's own extras are its business: they pass through to OpenAI upstreams
        assert leaked <= set(body)


def test_an_openai_clients_extras_reach_an_anthropic_upstream_only_where_they_mean_the_same(
    live: LiveServer, cloud: FakeCloud
) -> None:
    extras = {
        "top_k": 5,
        "metadata": {"run": "42"},
        "service_tier": "flex",
        "response_format": {"type": "text"},
    }
    post(live, "/v1/chat/completions", chat("cloud/claude", max_tokens=20, **extras))
    body = sent(cloud)
    assert body["top_k"] == 5
    assert not {"metadata", "service_tier", "response_format"} & set(body), body


# ---- the stop sequence an upstream stopped on ------------------------------------------------------


def test_a_stop_sequence_hit_is_reported_on_messages(live: LiveServer, cloud: FakeCloud) -> None:
    cloud.reset(Reply(text="one two", stop_sequence="END"))
    request = {**fresh_turn("cloud/claude"), "stop_sequences": ["END"]}
    whole = post(live, "/v1/messages", request)
    assert (whole["stop_reason"], whole["stop_sequence"]) == ("stop_sequence", "END")
    with httpx.stream("POST", live.url + "/v1/messages", json={**request, "stream": True}, timeout=60) as r:
        raw = r.read().decode()
    deltas = [json.loads(line.removeprefix("data: ")) for line in raw.splitlines() if "message_delta" in line
              and line.startswith("data: ")]  # fmt: skip
    assert [d["delta"] for d in deltas] == [{"stop_reason": "stop_sequence", "stop_sequence": "END"}]
    assert sent_all(cloud)[0]["stop_sequences"] == ["END"]
    openai_answer = post(live, "/v1/chat/completions", chat("cloud/claude", stop=["END"]))
    assert openai_answer["choices"][0]["finish_reason"] == "stop"


def test_end_turn_still_has_no_stop_sequence(live: LiveServer, cloud: FakeCloud) -> None:
    whole = post(live, "/v1/messages", fresh_turn("cloud/claude"))
    assert (whole["stop_reason"], whole["stop_sequence"]) == ("end_turn", None)


def sent_all(cloud: FakeCloud) -> list[dict[str, Any]]:
    return [dict(r.body) for r in cloud.requests]
