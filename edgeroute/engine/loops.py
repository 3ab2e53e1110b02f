"""Noticing a local model stuck in a loop (worker process; pure Python, no llama.cpp).

Small quantized models, given a prompt beyond them (an agent's 3,000-token system prompt to a 270M
model), fall into writing one sentence over and over. Nothing stops that before the token limit: minutes
of tokens, and an agent such as Claude Code then asks it to go on, three more times. A run of generated
tokens that repeats one stretch exactly, long enough that real text does not (a 200-token tail made of
three or more copies of one stretch of up to 300 tokens: the starter model, given Claude Code's prompt,
recited eight paragraphs of it, 229 tokens, over and over), ends the answer instead.
"""

from __future__ import annotations

MIN_SPAN = 200  # tokens the repeated run must cover
MAX_PERIOD = 300  # the longest repeated stretch looked for (it must fit three times in the run)
KEEP = 3 * MAX_PERIOD  # the tail a check can need
CHECK_EVERY = 16  # tokens between checks


class LoopDetector:
    """Fed each generated token; says when the tail has become one stretch repeated."""

    __slots__ = ("_count", "_tokens")

    def __init__(self) -> None:
        self._tokens: list[int] = []
        self._count = 0

    def feed(self, token: int) -> bool:
        tokens = self._tokens
        tokens.append(token)
        self._count += 1
        if len(tokens) > 2 * KEEP:
            del tokens[: len(tokens) - KEEP]  # only the tail is ever compared
        if self._count < MIN_SPAN or self._count % CHECK_EVERY:
            return False
        return repeats(tokens)


def repeats(tokens: list[int]) -> bool:
    """Whether the tail of ``tokens`` is one stretch of at most :data:`MAX_PERIOD` tokens repeated over
    :data:`MIN_SPAN` tokens or more, at least three times."""
    n = len(tokens)
    last, before = tokens[n - 1], tokens[n - 2]
    for period in range(1, MAX_PERIOD + 1):
        span = max(MIN_SPAN, 3 * period)
        if span > n:
            return False
        if tokens[n - 1 - period] != last or tokens[n - 2 - period] != before:
            continue  # the cheap test first: most periods fail on the last two tokens
        if tokens[n - span + period :] == tokens[n - span : n - period]:
            return True
    return False
