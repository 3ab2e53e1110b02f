"""Thinking blocks kept in assistant turns, as Anthropic counts them: the blocks of earlier turns are
stripped from the context (not counted); those of the current tool loop (the assistant turns since the
last user turn that is not only tool results) are counted."""

from __future__ import annotations

from typing import Any

from edgeroute.chat import ChatRequest, Message, ToolCall
from edgeroute.providers.tokens import estimate_prompt_tokens, estimate_tokens
from edgeroute.wire.anthropic import count_tokens
from edgeroute.wire.anthropic_models import CountTokensRequest

OLD = "earlier reasoning " * 50  # 900 characters
NEW = "current reasoning " * 100  # 1,800 characters


def _thinking(text: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": "c2ln"}


def _assistant(thought: str, answer: str, call: str | None = None) -> Message:
    calls = [ToolCall(call, "Read", '{"path": "a.py"}')] if call else None
    return Message("assistant", [_thinking(thought), {"type": "text", "text": answer}], tool_calls=calls)


def _without_thinking(messages: list[Message]) -> list[Message]:
    out = []
    for m in messages:
        if m.role == "assistant" and isinstance(m.content, list):
            kept = [p for p in m.content if p.get("type") != "thinking"]
            m = Message(m.role, kept, tool_calls=m.tool_calls)
        out.append(m)
    return out


def test_only_the_current_tool_loops_thinking_counts() -> None:
    messages = [
        Message("user", "Fix the bug."),
        _assistant(OLD, "Done."),  # a finished turn: Anthropic strips its thinking
        Message("user", "Now the other one."),
        _assistant(NEW, "Reading.", call="t1"),  # the tool loop now running: its thinking stays
        Message("tool", "print(1)", tool_call_id="t1"),
        Message("user", "<system-reminder>same turn as the tool result</system-reminder>"),
    ]
    with_thinking = estimate_prompt_tokens(ChatRequest(model="m", messages=messages))
    bare = estimate_prompt_tokens(ChatRequest(model="m", messages=_without_thinking(messages)))
    assert with_thinking - bare == estimate_tokens(NEW)


def test_a_new_user_turn_ends_the_loop_and_its_thinking_stops_counting() -> None:
    messages = [
        Message("user", "Fix the bug."),
        _assistant(NEW, "Reading.", call="t1"),
        Message("tool", "print(1)", tool_call_id="t1"),
        _assistant(OLD, "Fixed."),
        Message("user", "Thanks, next."),
    ]
    with_thinking = estimate_prompt_tokens(ChatRequest(model="m", messages=messages))
    assert with_thinking == estimate_prompt_tokens(
        ChatRequest(model="m", messages=_without_thinking(messages))
    )


def test_count_tokens_counts_the_thinking_of_a_running_tool_loop() -> None:
    def body(thought: str) -> CountTokensRequest:
        return CountTokensRequest.model_validate(
            {
                "model": "cloud/claude",
                "messages": [
                    {"role": "user", "content": "Fix the bug."},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": thought, "signature": "c2ln"},
                        {"type": "tool_use", "id": "t1", "name": "Read", "input": {"path": "a.py"}},
                    ]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]},
                ],
            }
        )  # fmt: skip

    assert count_tokens(body(NEW)) - count_tokens(body("")) == estimate_tokens(NEW)
