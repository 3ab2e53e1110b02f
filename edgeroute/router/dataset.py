"""The shared routing-data format: JSON Lines rows with ``id``, ``task``, ``messages`` and per-model
``outcomes``. Training and evaluation read outcomes; ``edgeroute route`` reads only ``id`` and
``messages`` (see :func:`read_prompts`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from edgeroute.chat import Message

STRONG = "gpt-4-1106-preview"
# The data README's standard pairs: weak model per source.
WEAK_BY_SOURCE = {
    "routerbench": "mistralai/mistral-7b-chat",
    "routellm": "mistralai/Mixtral-8x7B-Instruct-v0.1",
}


@dataclass(slots=True)
class PromptRow:
    """What the router may see of a row: its id and its messages."""

    id: str
    messages: list[Message]

    def text(self) -> str:
        return "\n".join(m.text() for m in self.messages)


@dataclass(slots=True)
class OutcomeRow:
    """A prompt with the weak and strong model's score on it (for training and evaluation)."""

    id: str
    task: str
    messages: list[Message]
    weak: float
    strong: float
    group: str | None = None  # e.g. the MMLU subject
    weak_cost: float | None = None  # USD, when the data has it
    strong_cost: float | None = None

    def text(self) -> str:
        return "\n".join(m.text() for m in self.messages)


def parse_messages(raw: Any) -> list[Message]:
    """Messages from a row, tolerating the roles and content shapes of OpenAI chat."""
    if not isinstance(raw, list):
        raise ValueError("messages must be a list")
    out: list[Message] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError("each message must be an object")
        role = item.get("role", "user")
        if role not in ("system", "user", "assistant", "tool"):
            role = "user"
        content = item.get("content")
        if content is not None and not isinstance(content, (str, list)):
            content = str(content)
        out.append(Message(role=role, content=content))
    return out


def default_pair(row_id: str) -> tuple[str, str]:
    """(weak, strong) for a row, from its id's source prefix (``routerbench/...``)."""
    source = row_id.split("/", 1)[0]
    return WEAK_BY_SOURCE.get(source, WEAK_BY_SOURCE["routerbench"]), STRONG


def _lines(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {lineno}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"line {lineno}: not a JSON object")
        yield lineno, row


def read_prompts(stream: IO[str]) -> Iterator[PromptRow]:
    """Rows for routing: only ``id`` and ``messages`` are read; every other field is ignored unread."""
    for lineno, row in _lines(stream):
        if "messages" not in row:
            raise ValueError(f"line {lineno}: no messages")
        try:
            messages = parse_messages(row["messages"])
        except ValueError as exc:
            raise ValueError(f"line {lineno}: {exc}") from None
        yield PromptRow(id=str(row.get("id", lineno)), messages=messages)


def read_outcomes(
    path: Path, weak: str | None = None, strong: str | None = None
) -> tuple[list[OutcomeRow], int]:
    """Rows of a file that have both models measured, and how many were skipped for lacking one.
    Without ``weak``/``strong``, each row's standard pair (from its source) is used."""
    rows: list[OutcomeRow] = []
    skipped = 0
    with path.open(encoding="utf-8") as fh:
        for _, row in _lines(fh):
            rid = str(row["id"])
            w_name, s_name = (weak, strong) if weak and strong else default_pair(rid)
            outcomes = row.get("outcomes") or {}
            w, s = outcomes.get(w_name), outcomes.get(s_name)
            if not w or not s or w.get("score") is None or s.get("score") is None:
                skipped += 1
                continue
            rows.append(
                OutcomeRow(
                    id=rid,
                    task=str(row.get("task", path.stem)),
                    messages=parse_messages(row["messages"]),
                    weak=float(w["score"]),
                    strong=float(s["score"]),
                    group=row.get("subject"),
                    weak_cost=_cost(w),
                    strong_cost=_cost(s),
                )
            )
    return rows, skipped


def _cost(outcome: dict[str, Any]) -> float | None:
    value = outcome.get("cost_usd")
    return float(value) if isinstance(value, (int, float)) else None


def load_tasks(files: Iterable[Path]) -> dict[str, list[OutcomeRow]]:
    """Every file's rows by task name (MMLU is one task, whatever its subjects)."""
    out: dict[str, list[OutcomeRow]] = {}
    for path in files:
        rows, _ = read_outcomes(path)
        for r in rows:
            out.setdefault(r.task, []).append(r)
    return out
