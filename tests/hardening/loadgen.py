"""A mixed-traffic load generator for a running daemon: N concurrent clients share a fixed number of
requests of seven kinds (local and cloud streams, JSON answers on both APIs, embeddings), read every answer
to its end and judge it. Used by ``tests/hardening/test_load.py`` (small) and ``scripts/load_test.py``.

A request is *expected* when it is a complete 200 answer (a stream ending in ``[DONE]`` / ``message_stop``
with no error event, a JSON body of the right shape), or a local request refused at once with
``503 local_busy`` and a ``Retry-After`` (the configured queue is full). Anything else is *unexpected*.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.cloud import FakeCloud
from tests.hardening.daemon import cloud_models, config_text

MSG = [{"role": "user", "content": "Say hi in three words."}]
LOCAL_MAX_TOKENS = 4
KEYS = {"HARDENING_OPENAI_KEY": "sk-load-openai-0000", "HARDENING_ANTHROPIC_KEY": "sk-load-ant-0000"}


def load_config(starter: Path, minilm: Path, cloud: FakeCloud, queue_depth: int) -> str:
    """The daemon under load: the starter chat model, MiniLM embeddings, two cloud models on the fake."""
    return config_text(
        {
            "engine": {"keep_alive": -1, "queue_depth": queue_depth, "use_extra_bufts": False},
            "local": [
                {"name": "gemma3-270m", "path": str(starter), "n_ctx": 512},
                {"name": "minilm", "path": str(minilm), "role": "embed"},
            ],
            "cloud": cloud_models(cloud.openai_base_url, cloud.anthropic_base_url),
        }
    )


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    path: str
    body: dict[str, Any]
    local: bool  # served by a local model: may be refused with local_busy
    stream: bool
    anthropic: bool = False


KINDS: tuple[tuple[Kind, float], ...] = (
    (
        Kind(
            "local_stream",
            "/v1/chat/completions",
            {"model": "local/gemma3-270m", "messages": MSG, "max_tokens": LOCAL_MAX_TOKENS, "stream": True},
            local=True,
            stream=True,
        ),
        0.15,
    ),
    (
        Kind(
            "cloud_stream",
            "/v1/chat/completions",
            {
                "model": "cloud/gpt",
                "messages": MSG,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            local=False,
            stream=True,
        ),
        0.20,
    ),
    (
        Kind(
            "anthropic_stream",
            "/v1/messages",
            {"model": "cloud/claude", "messages": MSG, "max_tokens": 64, "stream": True},
            local=False,
            stream=True,
            anthropic=True,
        ),
        0.10,
    ),
    (
        Kind(
            "cloud_json",
            "/v1/chat/completions",
            {"model": "cloud/gpt", "messages": MSG},
            local=False,
            stream=False,
        ),
        0.15,
    ),
    (
        Kind(
            "anthropic_json",
            "/v1/messages",
            {"model": "cloud/gpt", "messages": MSG, "max_tokens": 64},
            local=False,
            stream=False,
            anthropic=True,
        ),
        0.10,
    ),
    (
        Kind(
            "local_json",
            "/v1/chat/completions",
            {"model": "local/gemma3-270m", "messages": MSG, "max_tokens": LOCAL_MAX_TOKENS},
            local=True,
            stream=False,
        ),
        0.10,
    ),
    (
        Kind(
            "embeddings",
            "/v1/embeddings",
            {"model": "local/minilm", "input": ["a cat sat on the mat", "a dog lay on the rug"]},
            local=True,
            stream=False,
        ),
        0.20,
    ),
)


@dataclass(slots=True)
class Result:
    kind: str
    status: int
    code: str | None  # error code, or None for a complete answer
    expected: bool
    latency_s: float
    detail: str = ""


@dataclass(slots=True)
class LoadReport:
    results: list[Result] = field(default_factory=list)
    wall_s: float = 0.0
    rss_samples: list[tuple[int, int]] = field(default_factory=list)  # (requests done, bytes)

    @property
    def unexpected(self) -> list[Result]:
        return [r for r in self.results if not r.expected]

    def by_outcome(self) -> Counter[tuple[str, int, str | None]]:
        return Counter((r.kind, r.status, r.code) for r in self.results)

    def statuses(self) -> Counter[tuple[int, str | None]]:
        return Counter((r.status, r.code) for r in self.results)

    def latency_ms(self, kind: str, q: float) -> float:
        values = sorted(r.latency_s for r in self.results if r.kind == kind and r.code is None)
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def preload(base_url: str) -> None:
    """Load both local models before the clients start (a model loading under load refuses everything
    queued past the queue depth, which is correct but says nothing about steady state)."""
    for name in ("gemma3-270m", "minilm"):
        r = httpx.post(f"{base_url}/api/models/{name}/load", timeout=120)
        r.raise_for_status()


def plan(total: int, seed: int = 7) -> list[Kind]:
    """The request mix, shuffled with a fixed seed (the same run twice sends the same sequence)."""
    rng = random.Random(seed)
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    return rng.choices(kinds, weights=weights, k=total)


def _stream_complete(kind: Kind, text: str) -> str | None:
    """None when the SSE body is a complete answer, else what is wrong with it."""
    events = [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]
    if not events:
        return "empty stream"
    if kind.anthropic:
        if "event: error" in text:
            return "error event: " + next(e for e in events if '"error"' in e)[:200]
        return None if '"message_stop"' in events[-1] else "no message_stop"
    if events[-1] != "[DONE]":
        return "no [DONE]"
    for data in events[:-1]:
        if data.startswith('{"error"'):
            return "error event: " + data[:200]
    return None


def _json_complete(kind: Kind, body: Any) -> str | None:
    if kind.path == "/v1/embeddings":
        return None if len(body.get("data", [])) == len(kind.body["input"]) else "wrong number of vectors"
    if kind.anthropic:
        return None if body.get("type") == "message" and body.get("content") is not None else "not a message"
    return None if body.get("choices") else "no choices"


async def one(client: httpx.AsyncClient, kind: Kind) -> Result:
    started = time.perf_counter()
    try:
        async with client.stream("POST", kind.path, json=kind.body) as response:
            raw = (await response.aread()).decode("utf-8", "replace")
    except httpx.HTTPError as exc:
        return Result(kind.name, 0, type(exc).__name__, False, time.perf_counter() - started, str(exc)[:200])
    latency = time.perf_counter() - started
    status = response.status_code
    if status == 200:
        if kind.stream:
            problem = _stream_complete(kind, raw)
        else:
            try:
                problem = _json_complete(kind, json.loads(raw))
            except ValueError:
                problem = "invalid JSON"
        return Result(kind.name, status, problem and "incomplete", problem is None, latency, problem or "")
    try:
        error = json.loads(raw)["error"]
        code = error.get("code") or error.get("type")
    except (ValueError, KeyError, TypeError, AttributeError):
        code = "unparsable_error"
    busy = kind.local and status == 503 and code == "local_busy" and "retry-after" in response.headers
    return Result(kind.name, status, str(code), busy, latency, raw[:200])


async def run_load(
    base_url: str,
    total: int,
    concurrency: int,
    *,
    seed: int = 7,
    deadline_s: float = 3600.0,
    timeout_s: float = 120.0,
    on_progress: Callable[[int], Awaitable[None] | None] | None = None,
) -> LoadReport:
    """Send ``total`` requests from ``concurrency`` clients; stop issuing new ones after ``deadline_s``.
    ``on_progress(done)`` runs after every completed request (sample memory there)."""
    requests = plan(total, seed)
    report = LoadReport()
    next_index = 0
    stop_at = time.monotonic() + deadline_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits) as client:

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(requests) and time.monotonic() < stop_at:
                kind = requests[next_index]
                next_index += 1
                report.results.append(await one(client, kind))
                if on_progress is not None:
                    maybe = on_progress(len(report.results))
                    if maybe is not None:
                        await maybe

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        report.wall_s = time.perf_counter() - started
    return report


def ledger_counts(ledger_file: str) -> Counter[tuple[int, str | None]]:
    """(status, error) -> rows, read from the ledger file with a read-only connection."""
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT status, error, COUNT(*) FROM requests GROUP BY status, error").fetchall()
    return Counter({(int(s), e): int(n) for s, e, n in rows})


def expected_ledger(report: LoadReport) -> Counter[tuple[int, str | None]]:
    """What the ledger must hold for a run's results: one row per request, same status and error."""
    out: Counter[tuple[int, str | None]] = Counter()
    for r in report.results:
        out[(r.status, r.code if r.status != 200 else None)] += 1
    return out
