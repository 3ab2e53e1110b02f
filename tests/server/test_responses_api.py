"""The Responses API (``POST /v1/responses``) driven by the official ``openai`` SDK against a live daemon:
the real starter model, and OpenAI and Anthropic upstreams behind the loopback fake cloud (function
tools, their outputs sent back, streaming), the ledger's row, and the 400s for what a stateless router
cannot honour."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.server.live import LiveServer, oai

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = {"type": "function", "name": "get_weather", "description": "Weather now", "parameters": WEATHER}


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud) -> None:
    cloud.reset()


def test_local_model_answers_a_plain_input(live: LiveServer) -> None:
    raw = oai(live).responses.with_raw_response.create(
        model="local/gemma3-270m", input="Say hello.", max_output_tokens=8, temperature=0
    )
    response = raw.parse()
    assert raw.headers["x-edgeroute-tier"] == "local"
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.model == "local/gemma3-270m" and response.status in ("completed", "incomplete")
    assert response.output[0].type == "message" and response.output_text.strip()
    assert response.usage is not None and response.usage.input_tokens > 0
    assert 0 < response.usage.output_tokens <= 8


def test_local_stream_follows_the_event_sequence(live: LiveServer) -> None:
    with oai(live).responses.stream(
        model="local/gemma3-270m", input="Count to three.", max_output_tokens=10, temperature=0
    ) as stream:
        events = list(stream)
    # Cut by max_output_tokens, the answer ends with response.incomplete, as OpenAI's does (the SDK's
    # get_final_response() wants response.completed): the last event carries the response either way.
    final = events[-1].response  # type: ignore[union-attr]
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed" if final.status == "completed" else "response.incomplete",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas and final.output_text == deltas
    assert final.usage is not None and final.usage.output_tokens > 0


def test_instructions_and_history_reach_an_openai_upstream_as_chat(
    live: LiveServer, cloud: FakeCloud
) -> None:
    response = oai(live).responses.create(
        model="cloud/gpt",
        instructions="Be brief.",
        input=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "Hello!"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
        ],
        max_output_tokens=50,
        text={"format": {"type": "json_object"}},
        reasoning={"effort": "low"},
    )
    assert response.output_text == Reply().text
    assert response.usage is not None and response.usage.input_tokens == Reply().prompt_tokens
    body = cloud.requests[-1].body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Weather?"},
    ]
    assert body["max_tokens"] == 50 and body["stream"] is True
    assert body["response_format"] == {"type": "json_object"} and body["reasoning_effort"] == "low"


@pytest.mark.parametrize("target", ["cloud/gpt", "cloud/claude"])
def test_function_call_and_its_output_round_trip(live: LiveServer, cloud: FakeCloud, target: str) -> None:
    cloud.reset(Reply(text="", tool_calls=[("get_weather", {"city": "Paris"})]))
    client = oai(live)
    first = client.responses.create(model=target, input="Weather in Paris?", tools=[TOOL])  # type: ignore[list-item]
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"} and calls[0].call_id

    cloud.reset(Reply(text="It is sunny."))
    second = client.responses.create(
        model=target,
        tools=[TOOL],  # type: ignore[list-item]
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": calls[0].call_id,
                "name": "get_weather",
                "arguments": calls[0].arguments,
            },
            {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21 C"},
        ],
    )
    assert second.output_text == "It is sunny."
    body = cloud.requests[-1].body
    if target == "cloud/gpt":
        assistant, tool = body["messages"][1], body["messages"][2]
        assert assistant["tool_calls"][0]["id"] == calls[0].call_id
        assert tool == {"role": "tool", "content": "sunny, 21 C", "tool_call_id": calls[0].call_id}
        assert body["tools"][0]["function"]["name"] == "get_weather"
    else:
        use, result = body["messages"][1]["content"][0], body["messages"][2]["content"][0]
        assert (
            use["type"] == "tool_use" and use["id"] == calls[0].call_id and use["input"] == {"city": "Paris"}
        )
        assert result["type"] == "tool_result" and result["tool_use_id"] == calls[0].call_id
        assert body["tools"][0]["name"] == "get_weather"


def test_streamed_function_call_arguments(live: LiveServer, cloud: FakeCloud) -> None:
    cloud.reset(Reply(text="", tool_calls=[("get_weather", {"city": "Oslo"})], chunk_chars=4))
    with oai(live).responses.stream(model="cloud/gpt", input="Weather?", tools=[TOOL]) as stream:  # type: ignore[list-item]
        events = list(stream)
        final = stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(deltas) > 1 and len(done) == 1 and json.loads("".join(deltas)) == {"city": "Oslo"}
    (call,) = [item for item in final.output if item.type == "function_call"]
    assert call.arguments == done[0].arguments and call.status == "completed"
    assert events[-1].type == "response.completed"


def test_namespace_functions_are_flattened_and_split_back(live: LiveServer, cloud: FakeCloud) -> None:
    """Codex CLI groups tools in namespaces; chat-style models see ``namespace__name`` functions, and the
    client gets its function call back with ``namespace`` and the function's own name."""
    agents = {"type": "namespace", "name": "agents", "description": "Sub-agents.",
              "tools": [{"type": "function", "name": "spawn", "description": "Start one.", "parameters": WEATHER}]}  # fmt: skip
    cloud.reset(Reply(text="", tool_calls=[("agents__spawn", {"city": "Rome"})]))
    raw = oai(live).responses.with_raw_response.create(
        model="cloud/gpt",
        input="Go.",
        tool_choice={"type": "function", "namespace": "agents", "name": "spawn"},  # type: ignore[typeddict-unknown-key]
        tools=[TOOL, agents, {"type": "web_search", "external_web_access": False}],  # type: ignore[list-item]
    )
    (call,) = [item for item in raw.parse().output if item.type == "function_call"]
    assert (call.namespace, call.name) == ("agents", "spawn")
    assert raw.headers["x-edgeroute-dropped-tools"] == "web_search"  # hosted: nothing here can run it
    functions = [t["function"] for t in cloud.requests[-1].body["tools"]]
    assert [f["name"] for f in functions] == ["get_weather", "agents__spawn"]
    assert functions[1]["description"] == "Sub-agents. Start one."
    assert cloud.requests[-1].body["tool_choice"] == {
        "type": "function",
        "function": {"name": "agents__spawn"},
    }

    cloud.reset(Reply(text="Started."))
    oai(live).responses.create(
        model="cloud/gpt",
        tools=[agents],  # type: ignore[list-item]
        input=[
            {"role": "user", "content": "Go."},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "namespace": "agents",
                "name": "spawn",
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "ok"},
        ],
    )
    assert cloud.requests[-1].body["messages"][1]["tool_calls"][0]["function"]["name"] == "agents__spawn"


def test_a_codex_cli_shaped_request_is_served_and_its_own_fields_stay_here(
    live: LiveServer, cloud: FakeCloud
) -> None:
    """The shape Codex CLI 0.169 sends (captured from it): developer messages with item ids, store false,
    encrypted reasoning asked for, a prompt-cache key, client metadata, a namespace and web_search."""
    body = {
        "model": "cloud/gpt",
        "stream": True,
        "store": False,
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "session-1",
        "client_metadata": {"session_id": "session-1"},
        "tools": [TOOL, {"type": "web_search", "external_web_access": False}],
        "input": [
            {"type": "message", "id": "msg_a", "role": "developer",
             "content": [{"type": "input_text", "text": "You are a coding agent."}]},
            {"type": "message", "id": "msg_b", "role": "user",
             "content": [{"type": "input_text", "text": "<environment_context/>"}]},
            {"type": "message", "id": "msg_c", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        ],
    }  # fmt: skip
    with httpx.stream("POST", live.url + "/v1/responses", json=body, timeout=60) as r:
        assert r.status_code == 200 and r.headers["x-edgeroute-dropped-tools"] == "web_search"
        text = r.read().decode()
    assert "event: response.completed" in text and Reply().text[:6] in text
    sent = cloud.requests[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "You are a coding agent."}
    assert [m["content"] for m in sent["messages"][1:]] == ["<environment_context/>", "Hi"]
    for codex_only in ("include", "prompt_cache_key", "client_metadata", "store", "reasoning", "input"):
        assert codex_only not in sent, codex_only


def test_the_request_is_in_the_ledger(live: LiveServer) -> None:
    oai(live).responses.create(model="cloud/gpt", input="Hi")
    rows = httpx.get(live.url + "/api/requests", params={"limit": 1}, timeout=10).json()
    row = rows["requests"][0] if isinstance(rows, dict) else rows[0]
    assert row["endpoint"] == "/v1/responses" and row["served_model"] == "cloud/gpt"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "Hi", "previous_response_id": "resp_123"}, "previous_response_id"),
        ({"input": "Hi", "tools": [{"type": "namespace", "name": "ns", "tools": "x"}]}, "tools[0].tools"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": "Hi", "tools": [TOOL], "tool_choice": {"type": "web_search"}}, "tool_choice"),
        ({"input": [{"role": "moderator", "content": "Hi"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input[0].content[0]"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"input": [{"role": "system", "content": "Only rules"}]}, "input"),
        ({"input": []}, "input"),
        ({}, "input"),
    ],
)  # fmt: skip
def test_what_a_stateless_router_cannot_honour_is_a_400_naming_it(
    live: LiveServer, body: dict[str, Any], param: str
) -> None:
    r = httpx.post(live.url + "/v1/responses", json={"model": "cloud/gpt", **body}, timeout=10)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert param in (error["param"] or "") + error["message"], error
    assert httpx.get(live.url + "/health", timeout=10).status_code == 200


def test_unknown_model_is_a_404_through_the_sdk(live: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai(live).responses.create(model="cloud/nope", input="Hi")
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]
