"""The daemon on the real starter model, driven by the official openai and anthropic SDKs and raw HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.server.live import LiveServer, oai

MSG = [{"role": "user", "content": "Say hello in three words."}]


def test_chat_non_streaming(local_server: LiveServer) -> None:
    raw = oai(local_server).chat.completions.with_raw_response.create(
        model="auto", messages=MSG, max_tokens=8
    )
    completion = raw.parse()
    assert completion.model == "local/gemma3-270m"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage is not None and completion.usage.prompt_tokens > 5
    assert completion.usage.completion_tokens <= 8
    assert raw.headers["x-edgeroute-tier"] == "local"
    assert raw.headers["x-edgeroute-model"] == "local/gemma3-270m"
    assert raw.headers["x-edgeroute-reason"]


def test_chat_streaming_with_sdk(local_server: LiveServer) -> None:
    stream = oai(local_server).chat.completions.create(
        model="local/gemma3-270m",
        messages=MSG,
        max_completion_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text


def test_raw_sse_byte_format(local_server: LiveServer) -> None:
    body = {
        "model": "auto",
        "messages": MSG,
        "max_tokens": 5,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", local_server.url + "/v1/chat/completions", json=body, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(e.startswith("data: ") for e in events[:-1])
    assert payloads[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {p["id"] for p in payloads} == {payloads[0]["id"]}
    assert all(p["object"] == "chat.completion.chunk" and p["model"] == "local/gemma3-270m" for p in payloads)
    assert payloads[-2]["choices"][0]["finish_reason"] == "length"
    assert payloads[-1]["choices"] == [] and payloads[-1]["usage"]["completion_tokens"] == 5


def test_stop_sequence_and_seed_are_deterministic(local_server: LiveServer) -> None:
    client = oai(local_server)
    a = client.chat.completions.create(model="auto", messages=MSG, max_tokens=12, temperature=0.8, seed=7)
    b = client.chat.completions.create(model="auto", messages=MSG, max_tokens=12, temperature=0.8, seed=7)
    assert a.choices[0].message.content == b.choices[0].message.content


def test_anthropic_messages_on_local(local_server: LiveServer) -> None:
    client = anthropic.Anthropic(base_url=local_server.url, api_key="edgeroute", max_retries=0)
    message = client.messages.create(model="auto", max_tokens=8, system="Be brief.", messages=MSG)
    assert message.role == "assistant" and message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.output_tokens <= 8 and message.usage.input_tokens > 0

    with client.messages.stream(model="auto", max_tokens=6, messages=MSG) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "content_block_stop" in kinds and "message_delta" in kinds
    assert final.content[0].text and final.stop_reason == "max_tokens" and final.usage.output_tokens == 6


def test_claude_codes_max_tokens_of_32000_is_served_by_the_local_model(local_server: LiveServer) -> None:
    """Claude Code asks for max_tokens 32000 on every request: a ceiling, not a need. Counting all of it
    against the 8k local context refused every request of a local-only setup (400)."""
    client = anthropic.Anthropic(base_url=local_server.url, api_key="edgeroute", max_retries=0)
    with client.messages.stream(model="auto", max_tokens=32000, messages=MSG) as stream:
        first = next(iter(stream))
        assert first.type == "message_start" and first.message.model == "local/gemma3-270m"
        assert any(event.type == "content_block_delta" for event in stream)  # then hang up: it stops


def test_models_list(local_server: LiveServer, starter_gguf: Path) -> None:
    models = {m.id: m for m in oai(local_server).models.list()}
    ids = list(models)
    assert ids[0] == "auto" and "local/gemma3-270m" in ids and all(ids)
    local = models["local/gemma3-270m"].model_dump()
    assert local["size_bytes"] == starter_gguf.stat().st_size  # the TUI's Size column
    time.sleep(1.1)  # ``created`` is the daemon's start, not the time of each call
    again = {m.id: m.created for m in oai(local_server).models.list()}
    assert again == {i: m.created for i, m in models.items()}


def test_disconnect_mid_stream_frees_the_model(local_server: LiveServer) -> None:
    body = {
        "model": "auto",
        "messages": [{"role": "user", "content": "Count from 1 to 500."}],
        "max_tokens": 400,
        "stream": True,
    }
    with httpx.stream("POST", local_server.url + "/v1/chat/completions", json=body, timeout=60) as response:
        lines = response.iter_lines()
        for _ in range(6):
            next(lines)
    # The client is gone: the model must be free for the next request right away, not after 400 tokens.
    start = time.perf_counter()
    done = oai(local_server).chat.completions.create(model="auto", messages=MSG, max_tokens=3)
    assert done.choices[0].message.content is not None
    assert time.perf_counter() - start < 5.0  # 400 tokens at ~40 tok/s would take ~10 s
    health = httpx.get(local_server.url + "/health").json()
    assert health["status"] == "ok"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_unknown_model_is_404_in_the_api_shape(local_server: LiveServer, path: str) -> None:
    body = {"model": "gpt-nope", "messages": MSG, "max_tokens": 5}
    response = httpx.post(local_server.url + path, json=body)
    assert response.status_code == 404
    data = response.json()
    if path == "/v1/messages":
        assert data["type"] == "error" and data["error"]["type"] == "not_found_error"
    else:
        assert data["error"]["code"] == "model_not_found" and data["error"]["param"] == "model"
