"""What a local model does with a request beyond it, found by driving real agents against it (Aider sends
no ``max_tokens``, Claude Code and opencode 32000; the starter base model then wrote for minutes): its
answer stops at ``router.local_answer_room`` with ``length``; tools it cannot call are left out of an
answer the client lets it give in text, and a ``tool_choice`` that demands a call is a 400 saying how to
fix it. Live daemon on the real starter Gemma, official SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from edgeroute.server.app import create_app
from tests.server.conftest import home_paths, make_settings
from tests.server.live import LiveServer, ant, oai

LOCAL = "local/gemma3-270m"
ROOM = 12
MSG: list[Any] = [{"role": "user", "content": "Write a long story about a dragon who learns to cook."}]
TOOL: Any = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
}


@pytest.fixture(scope="module")
def small_room(starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    engine = {"keep_alive": -1, "use_extra_bufts": False, "queue_depth": 4, "threads": 1}
    settings = make_settings(starter_gguf, engine=engine, router={"local_answer_room": ROOM})
    with LiveServer(create_app(settings, home_paths(tmp_path_factory.mktemp("home")))) as server:
        yield server


@pytest.mark.parametrize("max_tokens", [None, 32000])
def test_a_local_answer_stops_at_the_answer_room(small_room: LiveServer, max_tokens: int | None) -> None:
    fields: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
    completion = oai(small_room).chat.completions.create(model=LOCAL, messages=MSG, **fields)
    assert completion.usage is not None and completion.usage.completion_tokens == ROOM
    assert completion.choices[0].finish_reason == "length"


def test_claude_codes_32000_on_a_local_model_ends_at_the_room_with_max_tokens(small_room: LiveServer) -> None:
    with ant(small_room).messages.stream(model=LOCAL, max_tokens=32000, messages=MSG) as stream:
        message = stream.get_final_message()
    assert message.usage.output_tokens == ROOM and message.stop_reason == "max_tokens"


def test_a_smaller_max_tokens_is_kept(small_room: LiveServer) -> None:
    completion = oai(small_room).chat.completions.create(model=LOCAL, messages=MSG, max_tokens=3)
    assert completion.usage is not None and completion.usage.completion_tokens == 3


def test_tools_a_local_model_cannot_call_are_left_out_of_a_text_answer(small_room: LiveServer) -> None:
    raw = oai(small_room).chat.completions.with_raw_response.create(
        model=LOCAL, messages=MSG, tools=[TOOL], max_tokens=4
    )
    completion = raw.parse()
    assert completion.choices[0].message.content and not completion.choices[0].message.tool_calls
    assert raw.headers["x-edgeroute-reason"] == "rule:pinned (tools left out)"  # also the ledger's reason


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "read_file"}}])
def test_a_demanded_tool_call_is_a_400_saying_how_to_fix_it(small_room: LiveServer, choice: Any) -> None:
    client = oai(small_room)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=LOCAL, messages=MSG, tools=[TOOL], tool_choice=choice)
    error: Any = caught.value.body
    assert error["code"] == "tools_not_supported" and error["param"] == "tool_choice"
    assert "supports_tools" in error["message"]
    assert client.chat.completions.create(model=LOCAL, messages=MSG, max_tokens=2).choices  # still serving


def test_an_anthropic_client_forcing_a_tool_gets_the_400_in_its_shape(small_room: LiveServer) -> None:
    tool: Any = {"name": "read_file", "input_schema": {"type": "object", "properties": {}}}
    with pytest.raises(anthropic.BadRequestError) as caught:
        ant(small_room).messages.create(
            model=LOCAL, max_tokens=8, messages=MSG, tools=[tool], tool_choice={"type": "any"}
        )
    body: Any = caught.value.body
    assert body["type"] == "error" and "supports_tools" in body["error"]["message"]
