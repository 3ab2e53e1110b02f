"""What Claude Code sends beyond plain chat reaches an Anthropic upstream as sent, and other backends get
only what they can take: typed tools (server tools such as WebSearch's ``web_search_20250305``,
Anthropic-defined client tools), ``tool_choice.disable_parallel_tool_use``, ``output_config`` and
``context_management``, tool results holding images, documents, and the server tool blocks of earlier
answers. An Anthropic upstream's server tool blocks (``server_tool_use``, ``web_search_tool_result``) and
``pause_turn`` reach Anthropic clients in order, streamed and whole; OpenAI clients get the text around
them. Through a live daemon against the loopback fake cloud, driven by the official SDKs."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.server.conftest import sent
from tests.server.live import LiveServer, ant, final_message
from tests.server.live import oai as openai_sdk


def oai(live: LiveServer) -> Any:
    """The OpenAI SDK, untyped: these tests send what its types do not describe (raw dict messages)."""
    return openai_sdk(live)


WEB_SEARCH: dict[str, Any] = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
BASH: dict[str, Any] = {"type": "bash_20250124", "name": "bash"}
WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TOOLS: list[dict[str, Any]] = [WEATHER, WEB_SEARCH, BASH]
NO_PARALLEL: dict[str, Any] = {"type": "auto", "disable_parallel_tool_use": True}
OUTPUT_CONFIG: dict[str, Any] = {"effort": "medium"}
CONTEXT_MANAGEMENT: dict[str, Any] = {"edits": [{"type": "clear_tool_uses_20250919"}]}
SEARCH_CALL: dict[str, Any] = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
               "input": {"query": "weather Paris today"}}  # fmt: skip
SEARCH_RESULT: dict[str, Any] = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [{"type": "web_search_result", "url": "https://example.com/paris", "title": "Paris weather",
                 "encrypted_content": "EqgfCioIARgBIiQ3YTAw", "page_age": "1 hour ago"}],
}  # fmt: skip
SEARCH_ANSWER: list[dict[str, Any]] = [
    {"type": "text", "text": "Let me search."},
    SEARCH_CALL,
    SEARCH_RESULT,
    {"type": "text", "text": "It is sunny in Paris."},
]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
IMAGE: dict[str, Any] = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
}
DOCUMENT: dict[str, Any] = {
    "type": "document",
    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
}


@pytest.fixture(autouse=True)
def fresh_cloud(cloud: FakeCloud) -> None:
    cloud.reset(Reply(text="Sunny."))


def claude_code_request(model: str, **fields: Any) -> dict[str, Any]:
    """A request as Claude Code words one: typed tools next to its own, no parallel tool calls, effort and
    context editing."""
    return {
        "model": model,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": copy.deepcopy(TOOLS),
        "tool_choice": NO_PARALLEL,
        "extra_body": {"output_config": OUTPUT_CONFIG, "context_management": CONTEXT_MANAGEMENT},
        **fields,
    }


def test_an_anthropic_upstream_gets_typed_tools_tool_choice_and_claude_codes_fields_as_sent(
    live: LiveServer, cloud: FakeCloud
) -> None:
    ant(live).messages.create(**claude_code_request("cloud/claude"))
    body = sent(cloud)
    assert body["tools"] == TOOLS  # in the client's order, the typed ones with no schema added
    assert body["tool_choice"] == NO_PARALLEL
    assert body["output_config"] == OUTPUT_CONFIG
    assert body["context_management"] == CONTEXT_MANAGEMENT


BETAS = "claude-code-20250219,context-management-2025-06-27,oauth-2025-04-20,effort-2025-11-24"


def test_the_clients_beta_header_reaches_an_anthropic_upstream_and_no_other(
    live: LiveServer, cloud: FakeCloud
) -> None:
    """The features Claude Code turns on by header (context editing, effort) need it upstream too; the OAuth
    one is left out (edgeroute signs in with an API key)."""
    client = ant(live).with_options(default_headers={"anthropic-beta": BETAS})
    client.messages.create(**claude_code_request("cloud/claude"))
    assert cloud.requests[-1].headers["anthropic-beta"] == (
        "claude-code-20250219,context-management-2025-06-27,effort-2025-11-24"
    )
    client.messages.create(**claude_code_request("cloud/gpt"))
    assert "anthropic-beta" not in cloud.requests[-1].headers
    ant(live).messages.create(**claude_code_request("cloud/claude"))
    assert "anthropic-beta" not in cloud.requests[-1].headers


def test_websearchs_own_request_with_auto_goes_to_the_anthropic_model(
    live: LiveServer, cloud: FakeCloud
) -> None:
    raw = ant(live).messages.with_raw_response.create(**claude_code_request("auto", tools=[WEB_SEARCH]))
    assert (raw.headers["x-edgeroute-model"], raw.headers["x-edgeroute-reason"]) == (
        "cloud/claude",
        "rule:server-tools",
    )
    assert sent(cloud)["tools"] == [WEB_SEARCH]


def test_an_openai_upstream_gets_no_typed_tool_and_no_anthropic_field(
    live: LiveServer, cloud: FakeCloud
) -> None:
    ant(live).messages.create(**claude_code_request("cloud/gpt"))
    body = sent(cloud)
    assert body["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                          "parameters": WEATHER["input_schema"]}}
    ]  # fmt: skip
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is False  # Claude Code's disable_parallel_tool_use, in OpenAI's words
    assert not {"output_config", "context_management"} & set(body)
    # WebSearch's own request carries the server tool alone: no tools, and no choice among none.
    cloud.reset(Reply(text="Sunny."))
    ant(live).messages.create(**claude_code_request("cloud/gpt", tools=[WEB_SEARCH]))
    body = sent(cloud)
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(body)
    assert "web_search" not in json.dumps(body)


def test_an_openai_clients_parallel_tool_calls_false_reaches_anthropic_as_disable_parallel_tool_use(
    live: LiveServer, cloud: FakeCloud
) -> None:
    function = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": WEATHER["input_schema"]},
    }
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    oai(live).chat.completions.create(
        model="cloud/claude",
        messages=messages,
        tools=[function],
        parallel_tool_calls=False,
    )
    assert sent(cloud)["tool_choice"] == NO_PARALLEL
    cloud.reset(Reply(text="Sunny."))
    oai(live).chat.completions.create(
        model="cloud/claude", messages=messages, tools=[function], tool_choice="required",
        parallel_tool_calls=False,
    )  # fmt: skip
    assert sent(cloud)["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


@pytest.mark.parametrize("upstream_streams", [True, False], ids=["upstream-sse", "upstream-json"])
@pytest.mark.parametrize("client_streams", [True, False], ids=["client-sse", "client-json"])
def test_server_tool_blocks_and_pause_turn_reach_an_anthropic_client_in_order(
    live: LiveServer, cloud: FakeCloud, client_streams: bool, upstream_streams: bool
) -> None:
    cloud.reset(Reply(content=SEARCH_ANSWER, stop_reason="pause_turn", cannot_stream=not upstream_streams))
    request = claude_code_request("cloud/claude", tools=[WEB_SEARCH], tool_choice={"type": "auto"})
    final = final_message(live, request, streamed=client_streams)
    assert final.stop_reason == "pause_turn"
    assert [block.to_dict() for block in final.content] == SEARCH_ANSWER


def test_a_streamed_server_tool_call_is_one_input_delta_and_a_result_comes_whole(
    live: LiveServer, cloud: FakeCloud
) -> None:
    cloud.reset(Reply(content=SEARCH_ANSWER, stop_reason="pause_turn"))
    body = {"model": "cloud/claude", "max_tokens": 1024, "stream": True, "tools": [WEB_SEARCH],
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}  # fmt: skip
    with httpx.stream("POST", live.url + "/v1/messages", json=body, timeout=60) as response:
        assert response.status_code == 200, response.read()
        raw = response.read().decode()
    events = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    blocks = [e for e in events if e["type"].startswith("content_block") and e["index"] in (1, 2)]
    assert blocks == [
        {"type": "content_block_start", "index": 1, "content_block": {**SEARCH_CALL, "input": {}}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "input_json_delta", "partial_json": json.dumps(SEARCH_CALL["input"], separators=(",", ":"))}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": SEARCH_RESULT},
        {"type": "content_block_stop", "index": 2},
    ]  # fmt: skip
    assert events[-2]["delta"]["stop_reason"] == "pause_turn"


def test_an_openai_client_gets_the_text_around_server_tool_blocks(live: LiveServer, cloud: FakeCloud) -> None:
    cloud.reset(Reply(content=SEARCH_ANSWER, stop_reason="pause_turn"))
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    whole = oai(live).chat.completions.create(model="cloud/claude", messages=messages)
    assert whole.choices[0].message.content == "Let me search.It is sunny in Paris."
    assert whole.choices[0].finish_reason == "stop"
    stream = oai(live).chat.completions.create(model="cloud/claude", messages=messages, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Let me search.It is sunny in Paris."


def later_turn(model: str, assistant: list[dict[str, Any]], user: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": model, "max_tokens": 1024, "tools": copy.deepcopy(TOOLS),
            "messages": [{"role": "user", "content": "Weather in Paris?"},
                         {"role": "assistant", "content": copy.deepcopy(assistant)},
                         {"role": "user", "content": copy.deepcopy(user)}]}  # fmt: skip


CITED: dict[str, Any] = {"type": "text", "text": "It is sunny in Paris.", "citations": [
    {"type": "web_search_result_location", "url": "https://example.com/paris", "title": "Paris weather",
     "encrypted_index": "Eo8BCioIAhgB", "cited_text": "Sunny all day"}]}  # fmt: skip
EARLIER_ANSWER: list[dict[str, Any]] = [*SEARCH_ANSWER[:3], CITED]


def test_server_tool_blocks_sent_back_reach_an_anthropic_upstream_in_place_and_no_other(
    live: LiveServer, cloud: FakeCloud
) -> None:
    thanks = [{"type": "text", "text": "Thanks!"}]
    ant(live).messages.create(**later_turn("cloud/claude", EARLIER_ANSWER, thanks))
    assert sent(cloud)["messages"][1] == {"role": "assistant", "content": EARLIER_ANSWER}
    cloud.reset(Reply(text="Sunny."))
    ant(live).messages.create(**later_turn("cloud/gpt", EARLIER_ANSWER, thanks))
    body = sent(cloud)
    assert body["messages"][1] == {"role": "assistant", "content": "Let me search.It is sunny in Paris."}
    assert "srvtoolu_1" not in json.dumps(body)


SCREENSHOT_CALL = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
SCREENSHOT_TURN: list[Any] = [  # Claude Code's Read tool on a screenshot, then a PDF and a question
    {"type": "tool_result", "tool_use_id": "toolu_1",
     "content": [{"type": "text", "text": "Screenshot:"}, IMAGE, DOCUMENT]},
    DOCUMENT,
    {"type": "text", "text": "What does it say?"},
]  # fmt: skip


def test_a_tool_results_image_and_a_document_reach_an_anthropic_upstream_as_sent(
    live: LiveServer, cloud: FakeCloud
) -> None:
    ant(live).messages.create(**later_turn("cloud/claude", [SCREENSHOT_CALL], SCREENSHOT_TURN))
    assert sent(cloud)["messages"][2] == {"role": "user", "content": SCREENSHOT_TURN}


def test_an_openai_upstream_gets_a_tool_results_text_then_its_image_and_no_document(
    live: LiveServer, cloud: FakeCloud
) -> None:
    ant(live).messages.create(**later_turn("cloud/gpt", [SCREENSHOT_CALL], SCREENSHOT_TURN))
    body = sent(cloud)
    assert body["messages"][2:] == [
        {"role": "tool", "content": "Screenshot:", "tool_call_id": "toolu_1"},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "text", "text": "What does it say?"}]},
    ]  # fmt: skip
    assert "application/pdf" not in json.dumps(body)


@pytest.mark.parametrize("streamed", [False, True])
def test_web_searches_the_upstream_ran_reach_the_client_and_the_ledger(
    live: LiveServer, cloud: FakeCloud, streamed: bool
) -> None:
    """Anthropic bills each search ($10 per 1,000): the count reaches Claude Code in ``usage`` as Anthropic
    reports it, and the ledger row, whose cost includes it (tests/ledger/test_web_search_cost.py)."""
    cloud.reset(Reply(content=SEARCH_ANSWER, web_searches=2))
    request = claude_code_request("cloud/claude", tools=[WEB_SEARCH], tool_choice={"type": "auto"})
    final = final_message(live, request, streamed=streamed)
    assert final.usage.server_tool_use is not None
    assert final.usage.server_tool_use.web_search_requests == 2
    row = httpx.get(live.url + "/api/requests?limit=1", timeout=30).json()["requests"][0]
    assert row["served_model"] == "cloud/claude" and row["web_searches"] == 2


CITE_PARIS: dict[str, Any] = {"type": "web_search_result_location", "url": "https://example.com/paris",
                              "title": "Paris weather", "encrypted_index": "Eo8BCioIAhgBIiQ",
                              "cited_text": "Sunny, 24 degrees."}  # fmt: skip
CITE_METEO: dict[str, Any] = {**CITE_PARIS, "url": "https://example.com/meteo", "title": "Meteo"}
CITED_ANSWER: list[dict[str, Any]] = [
    SEARCH_CALL,
    SEARCH_RESULT,
    {"type": "text", "text": "According to the forecast, "},
    {"type": "text", "text": "it is sunny in Paris", "citations": [CITE_PARIS, CITE_METEO]},
    {"type": "text", "text": "."},
]


@pytest.mark.parametrize(
    ("client_streams", "upstream_streams"), [(True, True), (False, True), (True, False), (False, False)]
)
def test_citations_reach_an_anthropic_client_on_the_text_they_cite(
    live: LiveServer, cloud: FakeCloud, client_streams: bool, upstream_streams: bool
) -> None:
    """A web search answer's text cites its sources (``citations`` on text blocks, streamed as
    ``citations_delta``); they reach Claude Code on the text block they start, not dropped."""
    cloud.reset(Reply(content=CITED_ANSWER, cannot_stream=not upstream_streams))
    request = claude_code_request("cloud/claude", tools=[WEB_SEARCH], tool_choice={"type": "auto"})
    final = final_message(live, request, streamed=client_streams)
    texts = [block.to_dict() for block in final.content if block.type == "text"]
    assert "".join(t["text"] for t in texts) == "According to the forecast, it is sunny in Paris."
    cited = [t for t in texts if t.get("citations")]
    assert len(cited) == 1 and cited[0]["text"].startswith("it is sunny in Paris")
    assert cited[0]["citations"] == [CITE_PARIS, CITE_METEO]
    assert texts[0] == {"type": "text", "text": "According to the forecast, "}


def test_an_openai_client_gets_the_cited_text_without_the_citations(
    live: LiveServer, cloud: FakeCloud
) -> None:
    cloud.reset(Reply(content=CITED_ANSWER))
    completion = oai(live).chat.completions.create(
        model="cloud/claude", messages=[{"role": "user", "content": "Weather?"}]
    )
    assert completion.choices[0].message.content == "According to the forecast, it is sunny in Paris."
