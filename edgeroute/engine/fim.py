"""Fill-in-the-middle prompts from a model's own FIM token ids (prefix-suffix-middle order).

llama-cpp-python's ``suffix`` path assumes ids it does not read from the GGUF, so the prompt is assembled
here from the ids the metadata (or the vocabulary) names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FimTokens:
    prefix: int
    suffix: int
    middle: int


def build_fim_prompt(
    fim: FimTokens, prefix_tokens: list[int], suffix_tokens: list[int], bos: int | None = None
) -> list[int]:
    """``[bos] <prefix> P... <suffix> S... <middle>``: the model then writes the middle."""
    head = [bos] if bos is not None else []
    return [*head, fim.prefix, *prefix_tokens, fim.suffix, *suffix_tokens, fim.middle]
