"""The tool-call extractor over sequences of text deltas, as a local model streams them."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import pytest

from edgeroute.chat import Finish, StreamEvent, TextDelta, TokenStats, ToolCallDelta, Usage
from edgeroute.engine.tool_calls import ToolCallExtractor, extract_tool_calls

TOOLS = ["get_weather", "get_time"]
QWEN = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def run(deltas: list[str], tools: list[str] = TOOLS) -> tuple[str, list[tuple[str, dict[str, object]]]]:
    """The text that went out and the calls ``(name, arguments)``, checking the call events' shape."""
    extractor = ToolCallExtractor(tools)
    pieces = [p for d in deltas for p in extractor.feed(d)] + extractor.finish()
    text = "".join(p.text for p in pieces if isinstance(p, TextDelta))
    calls = [p for p in pieces if isinstance(p, ToolCallDelta)]
    assert [c.index for c in calls] == list(range(len(calls)))
    assert extractor.calls == len(calls)
    for call in calls:
        assert call.id is not None and call.id.startswith("call_") and len(call.id) > 10
    assert len({c.id for c in calls}) == len(calls)
    return text, [(str(c.name), json.loads(c.arguments)) for c in calls]


def splits(text: str) -> list[list[str]]:
    """``text`` cut in two at every position, and one char per delta."""
    return [[text[:i], text[i:]] for i in range(len(text) + 1)] + [list(text)]


PARIS = [("get_weather", {"city": "Paris"})]


@pytest.mark.parametrize("deltas", splits("Let me check." + QWEN + " Done."))
def test_qwen_call_split_anywhere_between_text(deltas: list[str]) -> None:
    assert run(deltas) == ("Let me check. Done.", PARIS)


@pytest.mark.parametrize(
    "deltas", splits('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]')
)
def test_mistral_call_split_anywhere(deltas: list[str]) -> None:
    assert run(deltas) == ("", PARIS)


@pytest.mark.parametrize(
    "deltas", splits('<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}')
)
def test_llama_bare_json_split_anywhere(deltas: list[str]) -> None:
    assert run(deltas) == ("", PARIS)


def test_several_calls_with_layout_whitespace_dropped() -> None:
    answer = "Checking both.\n" + QWEN + "\n" + QWEN.replace("get_weather", "get_time") + "\n"
    assert run([answer]) == ("Checking both.", [*PARIS, ("get_time", {"city": "Paris"})])


def test_a_list_of_calls_in_one_tool_call_block() -> None:
    body = json.dumps(
        [{"name": "get_time", "arguments": {}}, {"name": "get_weather", "arguments": {"city": "Paris"}}]
    )
    assert run(["<tool_call>", body, "</tool_call>"]) == ("", [("get_time", {}), *PARIS])


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [('"{\\"city\\": \\"Paris\\"}"', {"city": "Paris"}), ("{}", {}), ('{"n": [1, 2]}', {"n": [1, 2]})],
)
def test_arguments_as_object_or_json_string(arguments: str, expected: dict[str, object]) -> None:
    assert run([f'<tool_call>{{"name": "get_time", "arguments": {arguments}}}</tool_call>']) == (
        "",
        [("get_time", expected)],
    )


def test_openai_shaped_call_inside_markup() -> None:
    body = (
        '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}'
    )
    assert run(["<tool_call>" + body + "</tool_call>"]) == ("", PARIS)


@pytest.mark.parametrize(
    "answer",
    [
        "Sure <tool_call>{not json}</tool_call> ok",
        'A <tool_call>{"arguments": {}}</tool_call>',  # no name
        '<tool_call>{"name": "get_time", "arguments": "not json"}</tool_call>',
        '<tool_call>{"name": "get_time", "arguments": [1]}</tool_call>',
        'Cut off <tool_call>{"name": "get_time", "argu',  # never closed
        "[TOOL_CALLS] oops",
        "Almost a marker: <tool_ca",
        "trailing blank \n\n",
    ],
)
def test_what_does_not_parse_stays_text(answer: str) -> None:
    for deltas in splits(answer):
        assert run(deltas) == (answer, [])


def test_malformed_call_stays_text_next_to_a_good_one() -> None:
    bad = "<tool_call>{broken</tool_call>"
    assert run([bad, "\n", QWEN]) == (bad, PARIS)


@pytest.mark.parametrize(
    "answer",
    [
        '{"name": "delete_everything", "arguments": {}}',  # not one of the request's tools
        '{"name": "get_weather", "arguments": {"city": "Paris"}} and more',
        '{"city": "Paris"}',
        '[{"name": "get_weather"}, 3]',
        "[link](http://x) text",
        "{ not json }",
        "<|python_tag|>print(1)",
    ],
)
def test_bare_json_that_is_not_a_known_call_stays_text(answer: str) -> None:
    for deltas in splits(answer):
        assert run(deltas) == (answer, [])


def test_bare_json_array_of_known_calls_is_mistral_without_its_marker() -> None:
    assert run(['[{"name": "get_weather", "arguments": {"city": "Paris"}}]']) == ("", PARIS)


def test_mistral_v11_form() -> None:
    answer = '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_time[ARGS]{}'
    assert run(list(answer)) == ("", [*PARIS, ("get_time", {})])


def test_plain_text_streams_at_once() -> None:
    extractor = ToolCallExtractor(TOOLS)
    assert extractor.feed("Hello") == [TextDelta("Hello")]
    assert extractor.feed(" world <") == [TextDelta(" world")]  # " <" may start a marker
    assert extractor.feed("b>") == [TextDelta(" <b>")]
    # a prose answer that starts like JSON is released as soon as it cannot be JSON
    assert ToolCallExtractor(TOOLS).feed("[1] the first") == [TextDelta("[1] the first")]
    assert ToolCallExtractor(TOOLS).feed("{") == []


async def stream(*events: StreamEvent) -> AsyncGenerator[StreamEvent, None]:
    for event in events:
        yield event


async def test_stream_wrapper_sets_finish_reason_and_keeps_stats_per_token() -> None:
    stats = TokenStats(prob=0.9, entropy=0.1, margin=0.8)
    tokens = ["Hi", " <tool_call>", QWEN.removeprefix("<tool_call>"), " bye"]
    source = stream(*(TextDelta(t, stats) for t in tokens), Usage(1, 4), Finish("stop"))
    out = [e async for e in extract_tool_calls(source, TOOLS)]
    texts = [e for e in out if isinstance(e, TextDelta)]
    assert all(t.stats == stats for t in texts) and len(texts) >= len(tokens)
    assert "".join(t.text for t in texts) == "Hi bye"
    assert [type(e).__name__ for e in out if not isinstance(e, TextDelta)] == [
        "ToolCallDelta",
        "Usage",
        "Finish",
    ]
    assert out[-1] == Finish("tool_calls")


async def test_stream_wrapper_flushes_held_text_and_keeps_plain_finish() -> None:
    source = stream(TextDelta("a <tool"), Usage(1, 1), Finish("length"))
    out = [e async for e in extract_tool_calls(source, TOOLS)]
    assert out == [TextDelta("a"), TextDelta(" <tool"), Usage(1, 1), Finish("length")]
