"""A local model configured with ``supports_tools`` answers tool calls as ``<tool_call>`` text; the official
SDKs get them as OpenAI ``tool_calls`` / Anthropic ``tool_use`` blocks.

The greedy starter (a base model) copies the few-shot pattern of earlier assistant turns that were such
calls, so it writes ``<tool_call>{...}</tool_call>`` for the new city (then rambles until max_tokens)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from edgeroute.server import create_app
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer, ant, oai

MODEL = "local/gemma3-270m"
GREEDY: dict[str, Any] = {"temperature": 0}
WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
OAI_TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather now", "parameters": WEATHER},
    }
]


def turns(city: str) -> list[dict[str, str]]:
    """Earlier turns whose answers were tool calls, then the question about ``city``."""
    messages: list[dict[str, str]] = []
    for shot in ("Paris", "Rome"):
        messages.append({"role": "user", "content": f"What is the weather in {shot}?"})
        call = json.dumps({"name": "get_weather", "arguments": {"city": shot}})
        messages.append({"role": "assistant", "content": f"<tool_call>{call}</tool_call>"})
    messages.append({"role": "user", "content": f"What is the weather in {city}?"})
    return messages


def oai_turns(city: str) -> list[ChatCompletionMessageParam]:
    return turns(city)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def live(starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    engine = {"keep_alive": -1, "use_extra_bufts": False, "queue_depth": 4, "threads": 1}
    local = [{"name": "gemma3-270m", "path": str(starter_gguf), "supports_tools": True}]
    settings = make_settings(starter_gguf, engine=engine, local=local)
    with LiveServer(create_app(settings, home_paths(tmp_path_factory.mktemp("home")))) as server:
        yield server


@pytest.mark.parametrize("city", ["Berlin", "Tokyo"])
def test_openai_message_carries_the_parsed_tool_call(live: LiveServer, city: str) -> None:
    completion = oai(live).chat.completions.create(
        model=MODEL, messages=oai_turns(city), tools=OAI_TOOLS, max_tokens=30, extra_body=GREEDY
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls", choice.message.content
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].type == "function"
    assert calls[0].id.startswith("call_")
    assert (calls[0].function.name, json.loads(calls[0].function.arguments)) == (
        "get_weather",
        {"city": city},
    )
    assert "tool_call" not in (choice.message.content or "")  # the markup is cut out of the text


def test_openai_stream_carries_the_tool_call(live: LiveServer) -> None:
    chunks = list(
        oai(live).chat.completions.create(
            model=MODEL,
            messages=oai_turns("Berlin"),
            tools=OAI_TOOLS,
            max_tokens=30,
            extra_body=GREEDY,
            stream=True,
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    calls = [call for d in deltas for call in d.tool_calls or []]
    assert len(calls) == 1 and calls[0].index == 0 and (calls[0].id or "").startswith("call_")
    assert calls[0].function is not None and calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments or "") == {"city": "Berlin"}
    assert "tool_call" not in "".join(d.content or "" for d in deltas)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "tool_calls"
    ]


def test_anthropic_message_has_a_tool_use_block(live: LiveServer) -> None:
    message = ant(live).messages.create(
        model=MODEL,
        max_tokens=30,
        extra_body=GREEDY,
        tools=[{"name": "get_weather", "description": "Weather now", "input_schema": WEATHER}],
        messages=turns("Berlin"),  # type: ignore[arg-type]
    )
    uses = [block for block in message.content if block.type == "tool_use"]
    assert message.stop_reason == "tool_use"
    assert len(uses) == 1 and uses[0].name == "get_weather" and uses[0].input == {"city": "Berlin"}
    assert uses[0].id.startswith("call_")


def test_plain_answer_passes_through_unchanged_with_tools_present(live: LiveServer) -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "List the numbers 1, 2, 3, 4."}]
    client = oai(live)
    plain = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12, extra_body=GREEDY)
    with_tools = client.chat.completions.create(
        model=MODEL, messages=messages, tools=OAI_TOOLS, max_tokens=12, extra_body=GREEDY
    )
    assert plain.choices[0].message.content  # the starter's template ignores tools: the same prompt
    assert with_tools.choices[0].message.content == plain.choices[0].message.content
    assert with_tools.choices[0].message.tool_calls is None
    assert with_tools.choices[0].finish_reason == plain.choices[0].finish_reason == "length"
