"""The daemon <-> worker message protocol: length-prefixed pickled tuples over a private socketpair.

Tuples rather than objects keep the per-token cost to a few microseconds (one pickle, one ``send``); the
socket is created by the daemon and inherited only by its own worker, so unpickling is not a trust boundary.

Daemon -> worker::

    ("generate", rid, GenerateJob)      stream tokens for a prepared prompt
    ("cancel", rid)                     stop that generation at the next token
    ("tokenize", rid, text, special)    -> ("result", rid, n_tokens)
    ("embed", rid, [texts])             -> ("result", rid, (vectors, n_tokens))
    ("shutdown",)

Worker -> daemon::

    ("ready", WorkerInfo) | ("load_failed", message)
    ("accepted", rid)                   a generate request was taken: a crash from here fails it
    ("token", rid, text, stats | None)  stats: (prob, entropy, margin)
    ("done", rid, Finished)
    ("error", rid, code, message)
    ("log", level, message)
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

HEADER = struct.Struct("!I")
MAX_MESSAGE = 1 << 30


def encode(message: tuple[Any, ...]) -> bytes:
    """One frame: a 4-byte big-endian length, then the pickled tuple."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> tuple[Any, ...]:
    message = pickle.loads(payload)
    if not isinstance(message, tuple) or not message:
        raise ValueError("malformed worker message")
    return message


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """Everything a worker needs to load its model; sent once, right after the process starts."""

    name: str
    model_path: str
    n_ctx: int
    n_threads: int
    n_gpu_layers: int
    use_extra_bufts: bool
    embedding: bool = False
    vocab_only: bool = False
    chat_format: str | None = None
    warmup: bool = True
    # From the GGUF header the daemon already read, so the worker need not parse it again.
    architecture: str = ""
    chat_template: str | None = None
    fim_ids: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What the worker reports once its model is loaded."""

    n_ctx: int
    n_vocab: int
    chat_format: str
    add_bos: bool
    gpu_offload: bool
    load_seconds: float


@dataclass(frozen=True, slots=True)
class GenerateJob:
    """A generation request, already in worker terms: either chat messages for the model's template or a raw
    prompt (``fim_suffix`` set: fill-in-the-middle)."""

    kind: Literal["chat", "completion"]
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    prompt: str = ""
    fim_suffix: str | None = None
    max_tokens: int | None = None
    temperature: float = 0.8
    top_p: float = 0.95
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    want_stats: bool = False
    # response_format: the JSON schema (as text) the answer must match, sampled under its grammar.
    json_schema: str | None = None
    # End the answer when it becomes one stretch of tokens repeated (engine.stop_loops).
    stop_loops: bool = True
    # OpenAI logprobs: None, or how many alternatives each token's entry lists (sent as a 5th element of
    # the "token" message).
    logprobs: int | None = None
    # Sampling controls the client set (engine/sampling.py), as Llama.generate keywords over the defaults.
    sampling: dict[str, float] = field(default_factory=dict)
    logit_bias: dict[int, float] = field(default_factory=dict)  # token id -> bias added to its logit


@dataclass(frozen=True, slots=True)
class Finished:
    """The end of a generation: exact token counts, the generation speed the worker measured and, when a
    user stop sequence ended it, which one (``reason`` is then "stop")."""

    reason: Literal["stop", "length", "cancelled", "loop"]  # loop: ended as a repetition loop (loops.py)
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    prompt_seconds: float
    generate_seconds: float
    stop_sequence: str | None = None

    @property
    def tokens_per_second(self) -> float | None:
        if self.completion_tokens < 2 or self.generate_seconds <= 0:
            return None
        return (self.completion_tokens - 1) / self.generate_seconds
