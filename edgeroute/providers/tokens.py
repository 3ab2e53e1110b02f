"""Token estimates for when nobody counted: an upstream stream without usage, and the context-window check
before a request is sent. About four characters per token for English and code; a little extra per message
for the chat template's role markers. Good enough to mark ``Usage.estimated`` and to spot a prompt that
cannot fit, never used for billing when the upstream reports real numbers."""

from __future__ import annotations

import json
import math

from edgeroute.chat import ChatRequest, Message, ToolCallDelta

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD = 4  # role markers and separators per chat turn
IMAGE_TOKENS = 768  # a mid-size image on OpenAI/Anthropic vision models


def estimate_tokens(text: str) -> int:
    """Tokens in ``text``: ceil(chars / 4); 0 for empty text."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def _message_tokens(message: Message) -> int:
    tokens = MESSAGE_OVERHEAD + estimate_tokens(message.text())
    if isinstance(message.content, list):
        tokens += IMAGE_TOKENS * sum(1 for p in message.content if p.get("type") == "image_url")
    for call in message.tool_calls or []:
        tokens += estimate_tokens(call.name) + estimate_tokens(call.arguments)
    return tokens


def _loop_thinking_tokens(messages: list[Message]) -> int:
    """The thinking text of the tool loop now running: the assistant turns after the last user turn that
    is not tool results. Anthropic strips earlier turns' thinking from the context and counts these
    (redacted blocks are encrypted, their size unknown: not counted). A tool result's turn can carry text
    too (Claude Code's reminders), which becomes a user message right after the tool ones: still the loop."""
    tokens = 0
    user_turn = False  # the message after this one (in time) is a user message
    for message in reversed(messages):
        role = message.role
        if role == "tool":
            user_turn = False
        elif role == "user":
            user_turn = True
        elif role != "assistant" or user_turn:
            break  # the system prompt, or the turn before a user's own message: the loop started after it
        elif isinstance(message.content, list):
            for part in message.content:
                if part.get("type") == "thinking":
                    tokens += estimate_tokens(part.get("thinking") or "")
    return tokens


def estimate_prompt_tokens(req: ChatRequest) -> int:
    """Prompt tokens of a chat request: messages, images, the current tool loop's thinking and the tool
    schemas the model is shown."""
    messages = req.messages
    tokens = sum(_message_tokens(m) for m in messages)
    if (messages and messages[-1].role != "user") or (len(messages) > 1 and messages[-2].role == "tool"):
        tokens += _loop_thinking_tokens(messages)  # a tool loop is running (or an assistant prefill)
    if req.tools:
        schema = [
            {"name": t.name, "description": t.description, "parameters": t.parameters} for t in req.tools
        ]
        tokens += estimate_tokens(json.dumps(schema, separators=(",", ":")))
    return tokens


class CompletionCounter:
    """Counts what a stream generated, so a stream without usage still gets an estimate."""

    def __init__(self) -> None:
        self.chars = 0

    def add_text(self, text: str) -> None:
        self.chars += len(text)

    def add_tool_call(self, delta: ToolCallDelta) -> None:
        self.chars += len(delta.name or "") + len(delta.arguments)

    @property
    def tokens(self) -> int:
        return math.ceil(self.chars / CHARS_PER_TOKEN) if self.chars else 0
