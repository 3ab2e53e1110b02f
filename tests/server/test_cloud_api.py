"""The daemon in front of loopback fake cloud providers (OpenAI and Anthropic wire formats), driven by the
official SDKs: tools and tool-call streaming, both APIs in both directions, fallback, privacy, accounting."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from edgeroute.keys import KeyStore
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud, Fault, Reply
from tests.fakes.memory_keyring import MemoryKeyring
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer, ant, oai

MSG = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture(scope="module")
def cloud() -> Iterator[FakeCloud]:
    with FakeCloud() as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(
    cloud: FakeCloud, starter_gguf: Path, minilm_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    settings = make_settings(
        starter_gguf,
        local=[
            {"name": "gemma3-270m", "path": str(starter_gguf)},
            {"name": "minilm", "path": str(minilm_gguf), "role": "embed"},
        ],
        cloud=[
            {
                "name": "gpt",
                "provider": "openai",
                "base_url": cloud.openai_base_url,
                "model": "gpt-4o",
                "key": "fake-openai",
                "fallbacks": ["local/gemma3-270m"],
                "price_in": 2.5,
                "price_out": 10.0,
                "max_retries": 0,
            },
            {
                "name": "claude",
                "provider": "anthropic",
                "base_url": cloud.anthropic_base_url,
                "model": "claude-sonnet-4-5",
                "key": "fake-anthropic",
                "price_in": 3.0,
                "price_out": 15.0,
                "max_retries": 0,
            },
        ],
        savings={"reference": "cloud/gpt"},
    )
    keyring = MemoryKeyring()
    keys = KeyStore(backend=keyring, environ={})
    keys.set("fake-openai", "sk-test-openai-123456")
    keys.set("fake-anthropic", "sk-ant-test-123456")
    app = create_app(settings, home_paths(tmp_path_factory.mktemp("home")), keys=keys)
    with LiveServer(app) as live:
        yield live


@pytest.fixture(autouse=True)
def fresh(cloud: FakeCloud) -> None:
    cloud.reset()


def test_cloud_non_streaming_with_cost_headers(stack: LiveServer, cloud: FakeCloud) -> None:
    raw = oai(stack).chat.completions.with_raw_response.create(model="cloud/gpt", messages=MSG)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello from the fake cloud."
    assert completion.model == "cloud/gpt"
    assert raw.headers["x-edgeroute-tier"] == "cloud" and raw.headers["x-edgeroute-model"] == "cloud/gpt"
    # 11 prompt tokens at $2.5/M + 7 completion tokens at $10/M (cached tokens priced as input here)
    assert float(raw.headers["x-edgeroute-cost-usd"]) > 0
    assert raw.headers["x-edgeroute-saved-usd"] == "0"  # the reference model itself answered
    sent = cloud.requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-test-openai-123456"
    assert sent.body["stream"] is True and sent.body["stream_options"] == {"include_usage": True}


def test_tool_calls_stream_with_integer_index(stack: LiveServer, cloud: FakeCloud) -> None:
    cloud.reset(
        Reply(text="", tool_calls=[("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Lyon"})])
    )
    stream = oai(stack).chat.completions.create(
        model="cloud/gpt", messages=MSG, tools=TOOLS, stream=True, stream_options={"include_usage": True}
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            assert chunk.usage is not None
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for call in choice.delta.tool_calls or []:
            assert isinstance(call.index, int)
            entry = calls.setdefault(call.index, {"name": "", "args": ""})
            entry["name"] += call.function.name or "" if call.function else ""
            entry["args"] += call.function.arguments or "" if call.function else ""
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert [json.loads(calls[i]["args"])["city"] for i in (0, 1)] == ["Paris", "Lyon"]
    assert cloud.requests[-1].body["tools"][0]["function"]["name"] == "get_weather"


def test_sdk_stream_helper_assembles_tool_calls(stack: LiveServer, cloud: FakeCloud) -> None:
    cloud.reset(Reply(text="", tool_calls=[("get_weather", {"city": "Oslo"})]))
    with oai(stack).chat.completions.stream(model="cloud/gpt", messages=MSG, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Oslo"}


def test_anthropic_messages_streaming_to_anthropic_upstream_with_tool_use(
    stack: LiveServer, cloud: FakeCloud
) -> None:
    cloud.reset(Reply(text="Let me check.", tool_calls=[("get_weather", {"city": "Rome"})]))
    tools = [
        {"name": "get_weather", "description": "Weather", "input_schema": TOOLS[0]["function"]["parameters"]}
    ]
    with ant(stack).messages.stream(
        model="cloud/claude", max_tokens=100, messages=MSG, tools=tools
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "text" and final.content[0].text == "Let me check."
    assert final.content[1].type == "tool_use" and final.content[1].input == {"city": "Rome"}
    upstream = cloud.requests[-1]
    assert upstream.api == "anthropic" and upstream.headers["x-api-key"] == "sk-ant-test-123456"


def test_anthropic_client_against_openai_upstream(stack: LiveServer, cloud: FakeCloud) -> None:
    message = ant(stack).messages.create(model="cloud/gpt", max_tokens=50, system="Be brief.", messages=MSG)
    assert message.content[0].text == "Hello from the fake cloud."
    assert message.usage.output_tokens == 7
    sent = cloud.requests[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}


def test_tool_result_round_trip_through_messages(stack: LiveServer, cloud: FakeCloud) -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C and sunny"}],
        },
    ]
    ant(stack).messages.create(model="cloud/gpt", max_tokens=50, messages=messages)
    sent = cloud.requests[-1].body["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "18C and sunny"}


def test_fallback_before_first_token_reports_the_answering_model(stack: LiveServer, cloud: FakeCloud) -> None:
    cloud.fail_next(Fault.http(500))
    raw = oai(stack).chat.completions.with_raw_response.create(
        model="cloud/gpt", messages=MSG, max_tokens=4, stream=True
    )
    chunks = list(raw.parse())
    assert raw.headers["x-edgeroute-model"] == "local/gemma3-270m"
    assert raw.headers["x-edgeroute-tier"] == "local"
    assert raw.headers["x-edgeroute-fallbacks"].startswith("cloud/gpt:")
    assert "500" in raw.headers["x-edgeroute-fallbacks"]
    assert {c.model for c in chunks} == {"local/gemma3-270m"}


def test_private_request_never_reaches_the_cloud(stack: LiveServer, cloud: FakeCloud) -> None:
    before = cloud.count()
    private = {"x-edgeroute-private": "1"}
    r = httpx.post(
        stack.url + "/v1/chat/completions",
        json={"model": "auto", "messages": MSG, "max_tokens": 3},
        headers=private,
        timeout=60,
    )
    assert r.status_code == 200 and r.headers["x-edgeroute-tier"] == "local"
    assert r.headers["x-edgeroute-reason"].startswith("rule:private")
    # Asking for the cloud as well is a contradiction: refused, not silently served somewhere.
    for body, headers in (
        ({"model": "auto"}, {**private, "x-edgeroute-route": "cloud"}),
        ({"model": "cloud/gpt"}, private),
    ):
        refused = httpx.post(
            stack.url + "/v1/chat/completions",
            json={**body, "messages": MSG, "max_tokens": 3},
            headers=headers,
            timeout=60,
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "private_request_cloud_target"
    assert cloud.count() == before


def test_stream_usage_chunk_carries_cost(stack: LiveServer) -> None:
    body = {"model": "cloud/gpt", "messages": MSG, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", stack.url + "/v1/chat/completions", json=body, timeout=60) as r:
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    usage = json.loads(events[-2].removeprefix("data: "))["usage"]
    assert usage["prompt_tokens"] == 11 and usage["completion_tokens"] == 7
    assert usage["cost_usd"] > 0 and usage["saved_usd"] == 0


def test_embeddings_float_and_base64(stack: LiveServer) -> None:
    client = oai(stack)
    result = client.embeddings.create(model="auto", input=["a cat sat on the mat", "a kitten sat on a rug"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 384 and result.model == "local/minilm"
    assert abs(sum(x * x for x in result.data[0].embedding) - 1.0) < 1e-3
    encoded = client.embeddings.create(model="local/minilm", input="hello", encoding_format="base64")
    floats = client.embeddings.create(model="local/minilm", input="hello", encoding_format="float")
    decoded = struct.unpack("<384f", base64.b64decode(str(encoded.data[0].embedding)))
    assert decoded == pytest.approx(floats.data[0].embedding, abs=1e-6)
    r = httpx.post(stack.url + "/v1/embeddings", json={"model": "local/gemma3-270m", "input": "x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_an_embedding_model"


def test_models_list_includes_cloud_models_with_keys(stack: LiveServer) -> None:
    ids = [m.id for m in oai(stack).models.list()]
    assert {"auto", "local/gemma3-270m", "local/minilm", "cloud/gpt", "cloud/claude"} <= set(ids)


def test_every_request_lands_in_the_ledger_with_its_trail(stack: LiveServer, cloud: FakeCloud) -> None:
    before = httpx.get(stack.url + "/api/stats?window=all").json()["requests"]
    cloud.fail_next(Fault.http(503))
    oai(stack).chat.completions.create(model="cloud/gpt", messages=MSG, max_tokens=3)
    with pytest.raises(openai.NotFoundError):
        oai(stack).chat.completions.create(model="cloud/nope", messages=MSG)
    stats = httpx.get(stack.url + "/api/stats?window=all").json()
    assert stats["requests"] == before + 2
    rows = httpx.get(stack.url + "/api/requests?limit=2").json()["requests"]
    assert rows[0]["error"] == "model_not_found" and rows[0]["status"] == 404
    assert rows[1]["served_model"] == "local/gemma3-270m"
    assert rows[1]["attempts"][0]["target"] == "cloud/gpt" and rows[1]["attempts"][0]["status"] == 503
    metrics = httpx.get(stack.url + "/metrics").text
    assert "edgeroute_requests_total" in metrics


def test_mode_switch_changes_the_next_route(stack: LiveServer, cloud: FakeCloud) -> None:
    def tier() -> str:
        r = httpx.post(
            stack.url + "/v1/chat/completions",
            json={"model": "auto", "messages": MSG, "max_tokens": 2},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        return r.headers["x-edgeroute-tier"]

    try:
        assert httpx.post(stack.url + "/api/mode", json={"mode": "cloud-only"}).json() == {
            "mode": "cloud-only"
        }
        assert tier() == "cloud"
        httpx.post(stack.url + "/api/mode", json={"mode": "local-only"})
        before = cloud.count()
        cloud.fail_next(Fault.http(500))
        assert tier() == "local"
        assert httpx.get(stack.url + "/health").json()["mode"] == "local-only"
        assert cloud.count() == before
        bad = httpx.post(stack.url + "/api/mode", json={"mode": "sometimes"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "mode"
    finally:
        httpx.post(stack.url + "/api/mode", json={"mode": "auto"})


def test_timeseries_agrees_with_stats(stack: LiveServer) -> None:
    oai(stack).chat.completions.create(model="cloud/gpt", messages=MSG)
    stats = httpx.get(stack.url + "/api/stats?window=7d").json()
    series = httpx.get(stack.url + "/api/timeseries?window=7d&bucket=hour").json()
    assert sum(p["requests"] for p in series["points"]) == stats["requests"]
    assert round(sum(p["cost_usd"] for p in series["points"]), 6) == round(stats["cost_usd"], 6)
    assert httpx.get(stack.url + "/api/timeseries?bucket=fortnight").status_code == 400
