"""Cheap, task-independent features of a prompt, in pure Python (no numpy: one request costs ~0.1 ms).

Two ideas carry over from task to task better than topic does:
- **Focus.** Few-shot prompts repeat a template (``Answer:``, ``Print only a single choice...``) around
  worked examples; the difficulty lives in the last, unanswered item. :func:`focus_text` strips the
  examples and template lines, so a long few-shot prefix does not look "hard".
- **Structure.** How many parts a question has (``Statement 1 | ... Statement 2``, numbered items),
  compound answer options (``True, False``; ``I and II only``), answer options that share their words
  (distractors close to the answer), clauses, numbers and operators, constraint words: a small model
  fails more often when it has to get several things right at once, or tell near-identical things apart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from edgeroute.chat import Message

FEATURE_NAMES: tuple[str, ...] = (
    "log_chars",  # whole prompt
    "log_focus_chars",
    "log_stem_words",
    "log_clauses",
    "log_sentences",
    "question_marks",
    "log_numbers",
    "log_math_ops",
    "enumerated_parts",
    "options",
    "compound_options",
    "log_option_words",
    "option_overlap",
    "constraint_words",
    "multistep_words",
    "code",
    "turns",
    "few_shot",
    "non_ascii",
)

_OPTION = re.compile(r"^\s*\(?[A-Ha-h][).:]\s+\S")
_OPTION_LABEL = re.compile(r"^\s*\(?[A-Ha-h][).:]\s+")
_WORD = re.compile(r"[^\W\d_][\w'\-]*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_MATH = re.compile(r"[=+*/^<>√∑∫≤≥±×÷]|\\(?:frac|sqrt|sum|int|cdot)")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_CLAUSE = re.compile(r"[,;:]")
_ENUMERATED = re.compile(
    r"(?im)\b(?:statement|scenario|part|step|case|claim|premise|assertion|condition|requirement)\s*"
    r"(?:\d+|[ivx]+|[a-d])\b"
    r"|^\s*\(?(?:i{1,3}|iv|v|vi{1,3})[.)]\s"
    r"|^\s*\(?\d{1,2}[.)]\s"
    r"|^\s*[-*•]\s"
)
_COMPOUND = re.compile(r"(?i),|\b(?:and|or|only|both|neither|all of the above|none of the above)\b")
_CONSTRAINT = re.compile(
    r"(?i)\b(?:must|should|exactly|at least|at most|only|without|each|every|ensure|all|none|"
    r"no more than|no less than|unless|except|not)\b"
)
_MULTISTEP = re.compile(r"(?i)\b(?:then|after|before|first|second|third|finally|next|if|when|while|given)\b")
_CODE = re.compile(r"```|\bdef\s+\w+\(|\bclass\s+\w+|\breturn\b|\bfunction\b|[{};]\s*$|\bimport\s+\w+", re.M)


def _template_lines(lines: Sequence[str]) -> set[str]:
    counts: dict[str, int] = {}
    for line in lines:
        s = line.strip()
        if len(s) >= 3:
            counts[s] = counts.get(s, 0) + 1
    return {s for s, c in counts.items() if c >= 2}


def focus_text(text: str) -> tuple[str, int]:
    """The last unanswered item of ``text`` with repeated template lines removed, and how many worked
    examples came before it (0 for an ordinary prompt, which comes back unchanged)."""
    lines = text.split("\n")
    template = _template_lines(lines)
    if not template:
        return text.strip(), 0
    last = next(line.strip() for line in reversed(lines) if line.strip() in template)
    occurrences = [i for i, line in enumerate(lines) if line.strip() == last]
    start = 0
    if len(occurrences) >= 2:
        # The previous item ends at its template line plus its answer: skip to the next blank line.
        j = occurrences[-2] + 1
        while j < len(lines) and lines[j].strip():
            j += 1
        start = j
    body = [line for line in lines[start:] if line.strip() not in template]
    focus = "\n".join(body).strip()
    return (focus or text.strip()), len(occurrences) - 1


def last_user_text(messages: Sequence[Message]) -> str:
    """The last user turn's text (the whole conversation's when no turn is the user's)."""
    for m in reversed(messages):
        if m.role == "user":
            return m.text()
    return "\n".join(m.text() for m in messages)


def prompt_focus(messages: Sequence[Message]) -> str:
    """What the difficulty model and the embedding look at: the last user turn's focus item."""
    return focus_text(last_user_text(messages))[0]


def cheap_features(messages: Sequence[Message]) -> dict[str, float]:
    """The :data:`FEATURE_NAMES` features of a conversation."""
    full = "\n".join(m.text() for m in messages)
    focus, shots = focus_text(last_user_text(messages))
    lines = [line for line in focus.split("\n") if line.strip()]
    options = [line for line in lines if _OPTION.match(line)]
    stem = "\n".join(line for line in lines if not _OPTION.match(line))
    stem_words = _WORD.findall(stem)
    option_words = [len(_WORD.findall(o)) for o in options]
    n_chars = max(1, len(focus))
    return {
        "log_chars": math.log1p(len(full)),
        "log_focus_chars": math.log1p(len(focus)),
        "log_stem_words": math.log1p(len(stem_words)),
        "log_clauses": math.log1p(len(_CLAUSE.findall(stem))),
        "log_sentences": math.log1p(len(_SENTENCE_END.findall(stem))),
        "question_marks": float(min(stem.count("?"), 5)),
        "log_numbers": math.log1p(len(_NUMBER.findall(focus))),
        "log_math_ops": math.log1p(len(_MATH.findall(focus))),
        "enumerated_parts": math.log1p(len(_ENUMERATED.findall(stem)) + stem.count("|")),
        "options": float(min(len(options), 8)),
        "compound_options": (
            sum(1 for o in options if _COMPOUND.search(_OPTION_LABEL.sub("", o, count=1))) / len(options)
            if options
            else 0.0
        ),
        "log_option_words": math.log1p(sum(option_words) / len(option_words)) if option_words else 0.0,
        "option_overlap": _mean_pairwise_overlap(options),
        "constraint_words": math.log1p(len(_CONSTRAINT.findall(focus))),
        "multistep_words": math.log1p(len(_MULTISTEP.findall(focus))),
        "code": 1.0 if _CODE.search(focus) else 0.0,
        "turns": math.log1p(sum(1 for m in messages if m.role in ("user", "assistant"))),
        "few_shot": math.log1p(shots),
        "non_ascii": _non_ascii(focus) / n_chars,
    }


def _non_ascii(text: str) -> int:
    return 0 if text.isascii() else sum(1 for ch in text if ord(ch) > 127)


def _mean_pairwise_overlap(options: Sequence[str]) -> float:
    """Mean Jaccard overlap of the options' word sets (0 without at least two options)."""
    sets = [{w.lower() for w in _WORD.findall(_OPTION_LABEL.sub("", o, count=1))} for o in options[:8]]
    if len(sets) < 2:
        return 0.0
    total, pairs = 0.0, 0
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            union = sets[i] | sets[j]
            total += len(sets[i] & sets[j]) / len(union) if union else 0.0
            pairs += 1
    return total / pairs


def estimate_tokens(messages: Sequence[Message]) -> int:
    """A conservative prompt token count without a tokenizer: ~3.5 characters per token for English
    and code, one per character beyond ASCII (CJK), plus the chat template's few tokens per turn."""
    total = 0
    for m in messages:
        text = m.text()
        non_ascii = _non_ascii(text)
        total += math.ceil((len(text) - non_ascii) / 3.5) + non_ascii + 4
        if m.tool_calls:
            total += sum(math.ceil((len(tc.name) + len(tc.arguments)) / 3.5) + 4 for tc in m.tool_calls)
    return total + 2
