"""What real IDE clients expect of the wire (../shared/CLIENTS.md), checked against a live daemon with the
official ``openai`` / ``anthropic`` SDKs and raw HTTP. Wire-format checks go through loopback fake clouds
(OpenAI and Anthropic upstreams); only the completions checks run the local starter model, a few tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from edgeroute.keys import KeyStore
from edgeroute.server import create_app
from tests.engine.gguf_edit import with_extra_metadata
from tests.fakes.cloud import FakeCloud, Fault, Reply
from tests.fakes.memory_keyring import MemoryKeyring
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer, ant, oai

CHAT = "/v1/chat/completions"
MSG = [{"role": "user", "content": "What is the weather in Paris and Lyon?"}]
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER}]
TWO_CALLS = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Lyon"})]


@pytest.fixture(scope="module")
def cloud() -> Iterator[FakeCloud]:
    with FakeCloud() as fake:
        yield fake


@pytest.fixture(scope="module")
def coder_gguf(starter_gguf: Path) -> Path:
    """The starter Gemma with FIM token ids in its header (its unused control tokens stand in for them),
    the same file tests/engine builds."""
    dest = starter_gguf.parents[2] / "fim" / "gemma-3-270m-fim.gguf"
    if not dest.is_file() or dest.stat().st_mtime < starter_gguf.stat().st_mtime:
        keys = (
            "tokenizer.ggml.fim_pre_token_id",
            "tokenizer.ggml.fim_suf_token_id",
            "tokenizer.ggml.fim_mid_token_id",
        )
        with_extra_metadata(starter_gguf, dest, dict(zip(keys, (6, 7, 8), strict=True)))
    return dest


@pytest.fixture(scope="module")
def live(
    cloud: FakeCloud, starter_gguf: Path, coder_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    def target(name: str, provider: str, base_url: str, key: str) -> dict[str, Any]:
        return {"name": name, "provider": provider, "base_url": base_url, "model": f"{name}-upstream",
                "key": key, "max_retries": 0, "price_in": 1.0, "price_out": 2.0}  # fmt: skip

    settings = make_settings(
        starter_gguf,
        local=[
            {"name": "gemma3-270m", "path": str(starter_gguf)},
            {"name": "coder", "path": str(coder_gguf), "role": "code"},
        ],
        cloud=[
            target("gpt", "openai", cloud.openai_base_url, "fake-openai"),
            target("claude", "anthropic", cloud.anthropic_base_url, "fake-anthropic"),
        ],
    )
    keys = KeyStore(backend=MemoryKeyring(), environ={})
    keys.set("fake-openai", "sk-conformance-openai")
    keys.set("fake-anthropic", "sk-conformance-anthropic")
    app = create_app(settings, home_paths(tmp_path_factory.mktemp("home")), keys=keys)
    with LiveServer(app) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud) -> None:
    cloud.reset()


def sse_data(live: LiveServer, path: str, body: dict[str, Any]) -> list[str]:
    """The ``data:`` payloads of a stream, checking the framing on the way (every event ``data: ...``)."""
    with httpx.stream("POST", live.url + path, json=body, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == ""
    assert all(e.startswith("data: ") for e in events[:-1]), raw
    return [e.removeprefix("data: ") for e in events[:-1]]


def anthropic_events(
    live: LiveServer, body: dict[str, Any], path: str = "/v1/messages"
) -> list[dict[str, Any]]:
    """A Messages stream as its JSON events, checking that each ``event:`` name is its data's ``type``."""
    with httpx.stream("POST", live.url + path, json={**body, "stream": True}, timeout=60) as response:
        assert response.status_code == 200, response.read()
        raw = response.read().decode()
    out = []
    for block in raw.split("\n\n")[:-1]:
        name, data = block.split("\n", 1)
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        out.append(event)
    return out


# ---- OpenAI chat streaming -----------------------------------------------------------------------


def test_chat_stream_role_first_one_id_finish_then_usage_then_done(
    live: LiveServer, cloud: FakeCloud
) -> None:
    cloud.reset(Reply(reasoning="Thinking it over.", text="Sunny in Paris."))
    body = {"model": "cloud/gpt", "messages": MSG, "stream": True, "stream_options": {"include_usage": True}}
    payloads = sse_data(live, CHAT, body)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"cloud/gpt"}
    # Cline reads reasoning_content; it streams before the answer.
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks[:-1])
    assert reasoning == "Thinking it over."
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert text == "Sunny in Paris."
    # The finish_reason chunk, then the usage chunk with choices: [], then [DONE].
    finishes = [c["choices"][0]["finish_reason"] for c in chunks[:-1]]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 11
    assert chunks[-1]["usage"]["total_tokens"] == 18
    whole = oai(live).chat.completions.create(model="cloud/gpt", messages=MSG)
    assert (whole.choices[0].message.model_extra or {})["reasoning_content"] == "Thinking it over."


def test_chat_stream_without_include_usage_has_no_usage_chunk(live: LiveServer) -> None:
    payloads = sse_data(live, CHAT, {"model": "cloud/gpt", "messages": MSG, "stream": True})
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert payloads[-1] == "[DONE]"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"] and not c.get("usage") for c in chunks)


@pytest.mark.parametrize("upstream", ["cloud/gpt", "cloud/claude"])
def test_parallel_tool_calls_stream_with_their_own_integer_index(
    live: LiveServer, cloud: FakeCloud, upstream: str
) -> None:
    cloud.reset(Reply(text="", tool_calls=TWO_CALLS))
    body = {"model": upstream, "messages": MSG, "tools": OPENAI_TOOLS, "stream": True}
    chunks = [json.loads(p) for p in sse_data(live, CHAT, body)[:-1]]
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for call in chunk["choices"][0]["delta"].get("tool_calls", []):
            assert type(call["index"]) is int
            entry = calls.setdefault(call["index"], {"id": "", "name": "", "args": ""})
            if "id" in call:  # the first piece of a call: id, type and name
                assert call["type"] == "function" and call["function"]["name"] == "get_weather"
                entry["id"], entry["name"] = call["id"], call["function"]["name"]
            entry["args"] += call["function"].get("arguments", "")
    assert sorted(calls) == [0, 1]
    assert calls[0]["id"] and calls[0]["id"] != calls[1]["id"]
    assert [json.loads(calls[i]["args"]) for i in (0, 1)] == [{"city": "Paris"}, {"city": "Lyon"}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"

    # The SDK's stream helper assembles both calls; the non-streamed answer has content null.
    with oai(live).chat.completions.stream(model=upstream, messages=MSG, tools=OPENAI_TOOLS) as stream:
        final = stream.get_final_completion()
    assert [c.function.name for c in final.choices[0].message.tool_calls or []] == ["get_weather"] * 2
    whole = oai(live).chat.completions.create(model=upstream, messages=MSG, tools=OPENAI_TOOLS)
    assert whole.choices[0].message.content is None
    assert (
        whole.choices[0].finish_reason == "tool_calls" and len(whole.choices[0].message.tool_calls or []) == 2
    )


def test_an_error_mid_stream_is_an_error_chunk_then_done(live: LiveServer, cloud: FakeCloud) -> None:
    cloud.fail_next(Fault.stream_error(after_chunks=1, message="Overloaded"))
    payloads = sse_data(live, CHAT, {"model": "cloud/gpt", "messages": MSG, "stream": True})
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])["error"]
    assert set(error) >= {"message", "type", "code"} and error["code"]
    cloud.fail_next(Fault.stream_error(after_chunks=1))
    with pytest.raises(openai.APIError):
        list(oai(live).chat.completions.create(model="cloud/gpt", messages=MSG, stream=True))


# ---- OpenAI request fields clients send ------------------------------------------------------------

HISTORY: list[dict[str, Any]] = [
    {"role": "developer", "content": "Answer briefly."},  # newer OpenAI SDKs and Copilot send it
    {"role": "system", "content": [{"type": "text", "text": "You are helpful."}]},
    {"role": "user", "name": "ada", "content": [{"type": "text", "text": "Weather in Paris?"}]},
    {
        "role": "assistant",
        "content": None,  # an assistant turn that only called tools
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "18C"}]},
]


def test_fields_real_clients_send_are_accepted_and_forwarded(live: LiveServer, cloud: FakeCloud) -> None:
    extras = {
        "max_completion_tokens": 40,  # Zed's default
        "response_format": {"type": "json_object"},
        "logprobs": False,
        "stop": "\n\n",
        "seed": 3,
        "user": "someone",
        "presence_penalty": 0.1,
        "frequency_penalty": 0.1,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "temperature": 0,  # a JSON integer where the schema says number
        "top_p": 1,
        "n": 1,
    }
    completion = oai(live).chat.completions.create(
        model="cloud/gpt", messages=HISTORY, tools=OPENAI_TOOLS, **extras
    )
    assert completion.choices[0].message.content == "Hello from the fake cloud."
    sent = cloud.requests[-1].body
    assert [m["role"] for m in sent["messages"]] == ["system", "system", "user", "assistant", "tool"]
    assert sent["messages"][2]["name"] == "ada"
    assert sent["messages"][3]["content"] is None and sent["messages"][3]["tool_calls"][0]["id"] == "call_1"
    assert sent["messages"][4]["tool_call_id"] == "call_1"
    assert sent["max_completion_tokens"] == 40 and "max_tokens" not in sent  # o-series refuse max_tokens
    assert sent["stop"] == ["\n\n"] and sent["seed"] == 3
    assert sent["response_format"] == {"type": "json_object"} and sent["parallel_tool_calls"] is True
    assert sent["temperature"] == 0 and sent["tool_choice"] == "auto"


def test_the_same_history_runs_on_the_anthropic_upstream(live: LiveServer, cloud: FakeCloud) -> None:
    oai(live).chat.completions.create(
        model="cloud/claude", messages=HISTORY, tools=OPENAI_TOOLS, max_tokens=30
    )
    sent = cloud.requests[-1].body
    assert sent["system"] == "Answer briefly.\n\nYou are helpful."
    assert [t["role"] for t in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][1]["content"][0]["type"] == "tool_use"
    assert sent["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "call_1",
        "content": "18C",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("n", 2), ("stream", "yes"), ("messages", [{"role": "user", "content": 5}]), ("stop", 3)],
)
def test_fields_edgeroute_cannot_honour_are_a_clear_400(live: LiveServer, field: str, value: Any) -> None:
    body = {"model": "cloud/gpt", "messages": MSG, field: value}
    r = httpx.post(live.url + CHAT, json=body, timeout=30)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"].split(".")[0] == field and error["message"].startswith(field)


# ---- Anthropic Messages ------------------------------------------------------------------------------


def assert_event_order(events: list[dict[str, Any]]) -> None:
    """message_start, then per block start / delta+ / stop (indexes 0, 1, ...), message_delta, message_stop."""
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    open_block: int | None = None
    next_index = 0
    for event in events[1:-2]:
        if event["type"] == "content_block_start":
            assert open_block is None and event["index"] == next_index
            open_block, next_index = event["index"], next_index + 1
        elif event["type"] == "content_block_delta":
            assert event["index"] == open_block
        elif event["type"] == "content_block_stop":
            assert event["index"] == open_block
            open_block = None
        else:
            assert event["type"] == "ping", event
    assert open_block is None


@pytest.mark.parametrize("upstream", ["cloud/gpt", "cloud/claude"])
def test_messages_stream_event_order_with_text_and_parallel_tool_use(
    live: LiveServer, cloud: FakeCloud, upstream: str
) -> None:
    cloud.reset(Reply(text="Checking both.", tool_calls=TWO_CALLS))
    body = {"model": upstream, "max_tokens": 100, "messages": MSG, "tools": ANTHROPIC_TOOLS}
    events = anthropic_events(live, body)
    assert_event_order(events)
    start = events[0]["message"]
    assert start["role"] == "assistant" and start["content"] == [] and start["id"].startswith("msg_")
    blocks = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in blocks] == ["text", "tool_use", "tool_use"]
    assert all(b["id"].startswith(("toolu_", "call_")) and b["input"] == {} for b in blocks[1:])
    partial: dict[int, str] = {}
    for e in events:
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta":
            partial[e["index"]] = partial.get(e["index"], "") + e["delta"]["partial_json"]
    assert [json.loads(partial[i]) for i in (1, 2)] == [{"city": "Paris"}, {"city": "Lyon"}]
    delta = events[-2]
    assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["output_tokens"] == 7


def test_claude_code_request_shape_is_accepted(live: LiveServer, cloud: FakeCloud) -> None:
    """What Claude Code sends: ``?beta=true``, ``anthropic-beta``, a system of blocks with cache_control,
    metadata, stop_sequences, text blocks with cache_control, and a tool_use / tool_result round trip."""
    client = anthropic.Anthropic(
        base_url=live.url,
        api_key="edgeroute",
        max_retries=0,
        default_headers={
            "anthropic-beta": "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
        },
    )
    messages: list[Any] = [
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>Be careful.</system-reminder>"},
            {"type": "text", "text": "Weather in Paris?", "cache_control": {"type": "ephemeral"}},
        ]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}]},
        ]},
    ]  # fmt: skip
    system: Any = [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "Be concise.", "cache_control": {"type": "ephemeral"}},
    ]
    with client.beta.messages.stream(  # the beta namespace sends ?beta=true, as Claude Code does
        model="cloud/gpt",
        max_tokens=64,
        system=system,
        messages=messages,
        tools=ANTHROPIC_TOOLS,  # type: ignore[arg-type]
        metadata={"user_id": "user_abc"},
        stop_sequences=["\n\nHuman:"],
        extra_body={"temperature": 1},  # a JSON integer where the schema says number
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "Hello from the fake cloud."
    sent = cloud.requests[-1].body
    # System blocks keep a separator when they become one text: no "Claude Code.Be concise."
    assert sent["messages"][0] == {"role": "system", "content": "You are Claude Code.\n\nBe concise."}
    user = sent["messages"][1]["content"]
    assert user.startswith("<system-reminder>Be careful.</system-reminder>") and user.endswith("Paris?")
    assert sent["messages"][2]["content"] == "Let me check."
    assert sent["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert sent["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}
    assert sent["stop"] == ["\n\nHuman:"]


CLAUDE_CODE_TURNS: list[Any] = [
    {"role": "user", "content": [{"type": "text", "text": "List the files."}]},
    {"role": "system", "content": "Available agent types: Explore, Plan."},
]


def test_a_system_message_inside_messages_as_claude_code_sends_it(live: LiveServer, cloud: FakeCloud) -> None:
    """Claude Code 2.1 ends its first request with a ``role: "system"`` message (Opus 4.8's
    mid-conversation instructions): an OpenAI-compatible upstream gets it where it stood, an Anthropic one
    in the top-level ``system`` (which every Claude model accepts), and the local model answers too."""
    client = ant(live)
    extra = {"system": "You are Claude Code.", "max_tokens": 8}

    client.messages.create(model="cloud/gpt", messages=CLAUDE_CODE_TURNS, **extra)
    assert [(m["role"], m["content"]) for m in cloud.requests[-1].body["messages"]] == [
        ("system", "You are Claude Code."),
        ("user", "List the files."),
        ("system", "Available agent types: Explore, Plan."),
    ]

    client.messages.create(model="cloud/claude", messages=CLAUDE_CODE_TURNS, **extra)
    upstream = cloud.requests[-1].body
    assert upstream["system"] == "You are Claude Code.\n\nAvailable agent types: Explore, Plan."
    assert upstream["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "List the files."}]}
    ]

    local = client.messages.create(model="local/gemma3-270m", messages=CLAUDE_CODE_TURNS, **extra)
    assert local.model == "local/gemma3-270m" and local.usage.output_tokens > 0
    # The local model read the trailing system message too (its template used to drop it).
    without = client.messages.create(model="local/gemma3-270m", messages=CLAUDE_CODE_TURNS[:-1], **extra)

    def prompt_tokens(usage: Any) -> int:  # a prefix the local model had cached counts apart
        return int(usage.input_tokens + (usage.cache_read_input_tokens or 0))

    assert prompt_tokens(local.usage) > prompt_tokens(without.usage) + 5
    counted = client.messages.count_tokens(model="cloud/claude", messages=CLAUDE_CODE_TURNS)
    assert counted.input_tokens > 5


def test_explicit_nulls_in_a_messages_request_mean_not_given(live: LiveServer) -> None:
    """Clients that write every field (Kotlin, Java) send ``null`` for what they leave unset."""
    nulls = dict.fromkeys(["stream", "system", "temperature", "top_p", "top_k", "stop_sequences", "tools"])
    body = {"model": "cloud/claude", "max_tokens": 8, "messages": MSG, **nulls, "metadata": None}
    answer = httpx.post(live.url + "/v1/messages", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "message"


def test_count_tokens_answers_for_claude_code(live: LiveServer) -> None:
    """Claude Code calls ``/v1/messages/count_tokens?beta=true`` for its context accounting; a 404 there
    leaves it guessing."""
    client = ant(live)
    short = client.messages.count_tokens(model="cloud/claude", messages=[{"role": "user", "content": "Hi"}])
    long = client.beta.messages.count_tokens(
        model="cloud/claude",
        system="You are a careful assistant. " * 20,
        messages=[{"role": "user", "content": "Tell me about rivers. " * 40}],
        tools=ANTHROPIC_TOOLS,  # type: ignore[arg-type]
    )
    assert 0 < short.input_tokens < long.input_tokens
    assert 200 < long.input_tokens < 800  # ~1.5k characters of prompt
    bad = httpx.post(live.url + "/v1/messages/count_tokens", json={"model": "cloud/claude"})
    assert bad.status_code == 400 and bad.json()["type"] == "error"
    assert bad.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("upstream", ["cloud/gpt", "cloud/claude"])
def test_reasoning_reaches_anthropic_clients_as_thinking_blocks(
    live: LiveServer, cloud: FakeCloud, upstream: str
) -> None:
    cloud.reset(Reply(reasoning="Paris is in France.", text="Sunny."))
    body = {"model": upstream, "max_tokens": 50, "messages": MSG}
    events = anthropic_events(live, body)
    assert_event_order(events)
    blocks = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    thinking = "".join(
        e["delta"]["thinking"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0
    )
    assert thinking == "Paris is in France."
    with ant(live).messages.stream(**body) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    whole = ant(live).messages.create(**body)
    assert whole.content[0].type == "thinking" and whole.content[0].thinking == "Paris is in France."
    assert whole.content[1].type == "text" and whole.content[1].text == "Sunny."


def test_an_error_mid_stream_is_an_anthropic_error_event(live: LiveServer, cloud: FakeCloud) -> None:
    # after the text block's start and its first delta: the answer has begun, so no fallback can hide it
    cloud.fail_next(Fault.stream_error(after_chunks=2))
    events = anthropic_events(live, {"model": "cloud/claude", "max_tokens": 50, "messages": MSG})
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "error"
    assert set(events[-1]["error"]) == {"type", "message"} and events[-1]["error"]["message"]
    assert "message_stop" not in [e["type"] for e in events]
    cloud.fail_next(Fault.stream_error(after_chunks=2))
    client = ant(live)
    with (
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(model="cloud/claude", max_tokens=50, messages=MSG) as stream,
    ):
        stream.get_final_message()


# ---- models, methods, paths --------------------------------------------------------------------------


def test_model_lists_have_ids_for_every_client(live: LiveServer) -> None:
    listed = httpx.get(live.url + "/v1/models").json()
    ids = [m["id"] for m in listed["data"]]
    assert [m["id"] for m in httpx.get(live.url + "/models").json()["data"]] == ids
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)
    assert {"auto", "local/gemma3-270m", "cloud/gpt", "cloud/claude"} <= set(ids)
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in listed["data"])
    assert oai(live).models.retrieve("local/gemma3-270m").id == "local/gemma3-270m"
    assert [m.id for m in ant(live).models.list()] == ids  # the Anthropic SDK reads the same list
    claude = ant(live).models.retrieve("cloud/claude")  # with Anthropic's fields filled, not None
    assert (claude.type, claude.display_name) == ("model", "cloud/claude") and claude.created_at.year >= 2026


def test_an_unknown_model_is_a_404_in_the_shape_of_the_sdk_that_asked(live: LiveServer) -> None:
    with pytest.raises(anthropic.NotFoundError) as from_anthropic:
        ant(live).models.retrieve("cloud/nope")
    assert from_anthropic.value.body["type"] == "error"  # type: ignore[index]
    assert from_anthropic.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as from_openai:
        oai(live).models.retrieve("cloud/nope")
    assert from_openai.value.body["code"] == "model_not_found"  # type: ignore[index]


@pytest.mark.parametrize("path", ["/health", "/", "/v1/models", "/models"])
def test_head_answers_like_get_without_a_body(live: LiveServer, path: str) -> None:
    r = httpx.head(live.url + path)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"] == "application/json"


def test_base_url_without_v1_reaches_the_same_endpoints(live: LiveServer) -> None:
    """``/models`` answers without ``/v1`` (an ``apiBase`` of http://localhost:3343): so must the rest."""
    client = openai.OpenAI(base_url=live.url, api_key="edgeroute", max_retries=0)
    assert "cloud/gpt" in [m.id for m in client.models.list()]
    assert client.chat.completions.create(model="cloud/gpt", messages=MSG).choices[0].message.content
    stream = client.chat.completions.create(model="cloud/gpt", messages=MSG, stream=True)
    assert (
        "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hello from the fake cloud."
    )
    assert client.completions.create(model="local/gemma3-270m", prompt="Hi", max_tokens=1).choices
    assert client.models.retrieve("cloud/gpt").id == "cloud/gpt"
    root = httpx.get(live.url + "/")  # tools that probe the base URL itself to see whether a server is up
    assert root.status_code == 200 and root.json()["status"] == "ok"


def test_browser_sdk_preflight_headers_are_allowed(starter_gguf: Path, tmp_path: Path) -> None:
    """The official JS SDKs in a page of an allowed origin send x-stainless-* and anthropic-* headers."""
    settings = make_settings(starter_gguf, server={"allowed_origins": ["http://localhost:5173"]})
    with LiveServer(create_app(settings, home_paths(tmp_path))) as server:
        for path, headers in (
            (CHAT, "authorization,content-type,x-stainless-os,x-stainless-lang,x-stainless-retry-count"),
            ("/v1/messages", "x-api-key,content-type,anthropic-version,anthropic-beta,"
             "anthropic-dangerous-direct-browser-access,x-stainless-timeout"),
        ):  # fmt: skip
            r = httpx.options(
                server.url + path,
                headers={
                    "origin": "http://localhost:5173",
                    "access-control-request-method": "POST",
                    "access-control-request-headers": headers,
                },
            )
            assert r.status_code == 200, r.text
            assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
        foreign = httpx.options(
            server.url + CHAT,
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert foreign.status_code == 403


def test_cloud_and_autocomplete_requests_do_not_wait_for_or_cancel_a_local_chat(live: LiveServer) -> None:
    """One IDE sends chat and autocomplete at once: neither a global lock nor cancel-the-previous."""
    body = {"model": "local/gemma3-270m", "messages": MSG, "max_tokens": 24, "stream": True}
    with httpx.stream("POST", live.url + CHAT, json=body, timeout=60) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")  # the local stream is under way
        assert oai(live).chat.completions.create(model="cloud/gpt", messages=MSG).choices
        done = oai(live).completions.create(model="local/gemma3-270m", prompt="def", max_tokens=1)
        assert done.choices[0].finish_reason in ("stop", "length")
        rest = [line.removeprefix("data: ") for line in lines if line]
    assert rest[-1] == "[DONE]"
    assert json.loads(rest[-2])["choices"][0]["finish_reason"] in ("stop", "length")


# ---- /v1/completions (local model, a few tokens) ---------------------------------------------------------


def test_completion_prompt_with_inline_special_tokens(live: LiveServer) -> None:
    templated = "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    done = oai(live).completions.create(model="local/gemma3-270m", prompt=templated, max_tokens=1)
    assert done.object == "text_completion" and done.choices[0].finish_reason in ("stop", "length")
    assert done.usage is not None and done.usage.prompt_tokens <= 10  # each turn marker is one token


def test_completion_stream_echo_and_one_prompt_per_request(live: LiveServer) -> None:
    body = {
        "model": "local/gemma3-270m",
        "prompt": "The sky is",
        "max_tokens": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
        "echo": True,
    }
    payloads = sse_data(live, "/v1/completions", body)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert {c["object"] for c in chunks} == {"text_completion"} and len({c["id"] for c in chunks}) == 1
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 2
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert "".join(c["choices"][0]["text"] for c in chunks[:-1]).startswith("The sky is")
    whole = oai(live).completions.create(
        model="local/gemma3-270m", prompt="The sky is", max_tokens=1, echo=True
    )
    assert whole.choices[0].text.startswith("The sky is") and len(whole.choices[0].text) > len("The sky is")
    # A list of prompts is a batch in OpenAI's API, not one prompt joined up: refused, never merged.
    batch = httpx.post(live.url + "/v1/completions", json={**body, "stream": False, "prompt": ["a", "b"]})
    assert batch.status_code == 400 and batch.json()["error"]["param"] == "prompt"
    single = httpx.post(
        live.url + "/v1/completions",
        json={"model": "local/gemma3-270m", "prompt": ["The sky is"], "max_tokens": 1},
        timeout=60,
    )
    assert single.status_code == 200 and single.json()["choices"][0]["text"]


def test_fim_suffix_on_a_model_without_fim_tokens_is_a_clear_400(live: LiveServer) -> None:
    r = httpx.post(
        live.url + "/v1/completions",
        json={"model": "local/gemma3-270m", "prompt": "def f(", "suffix": "\n", "max_tokens": 2},
        timeout=60,
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "fim_not_supported"


def test_fim_suffix_with_auto_goes_to_the_local_fim_model(live: LiveServer) -> None:
    """Continue's autocomplete: a prefix, a ``suffix``, model whatever the user named (here ``auto``)."""
    body = {"model": "auto", "prompt": "def add(a, b):\n    return ", "suffix": "\n", "max_tokens": 2}
    raw = oai(live).completions.with_raw_response.create(**body)
    done = raw.parse()
    assert raw.headers["x-edgeroute-model"] == "local/coder" and done.model == "local/coder"
    assert done.choices[0].finish_reason in ("stop", "length") and done.usage is not None
