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


def estimate_prompt_tokens(req: ChatRequest) -> int:
    """Prompt tokens of a chat request: messages, images and the tool schemas the model is shown."""
    tokens = sum(_message_tokens(m) for m in req.messages)
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
