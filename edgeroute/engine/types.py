"""Plain results the engine hands out (status for the TUI and /api, embeddings for the router)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class EmbedResult:
    vectors: list[list[float]]  # L2-normalised, one per input, in order
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """One loaded model."""

    name: str
    pid: int
    rss_bytes: int | None
    estimated_bytes: int
    active: int  # 1 while a request runs, else 0
    queued: int  # requests waiting behind it
    keep_alive_left: float | None  # seconds until unloaded when idle; None: never
    requests_served: int
    last_tokens_per_s: float | None
    loaded_for: float  # seconds since the worker became ready
    load_seconds: float
    use_extra_bufts: bool
    n_ctx: int
    chat_format: str
    gpu_offload: bool


@dataclass(frozen=True, slots=True)
class EngineStatus:
    models: list[ModelStatus] = field(default_factory=list)
    free_memory_bytes: int = 0
    max_loaded: int = 0
