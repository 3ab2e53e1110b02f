"""Load, scaled down (the full 10,000-request run is scripts/load_test.py): 20 clients send 300 mixed
requests to a real `edgeroute serve` with the starter model, MiniLM embeddings and a loopback fake cloud.
Every answer is complete or a fast, configured `local_busy`; the ledger holds one row per request with the
same status; a burst at one local model shows the queue depth at work."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.cloud import FakeCloud
from tests.hardening.daemon import ServeProcess
from tests.hardening.loadgen import (
    KEYS,
    KINDS,
    Result,
    expected_ledger,
    ledger_counts,
    load_config,
    one,
    preload,
    run_load,
)

QUEUE_DEPTH = 2


@pytest.fixture(scope="module")
def cloud() -> Iterator[FakeCloud]:
    with FakeCloud() as fake:
        yield fake


@pytest.fixture(scope="module")
def daemon(
    starter_gguf: Path, minilm_gguf: Path, cloud: FakeCloud, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    home = tmp_path_factory.mktemp("load-home")
    with ServeProcess(home, load_config(starter_gguf, minilm_gguf, cloud, QUEUE_DEPTH), env=KEYS) as serve:
        preload(serve.url)
        yield serve


def test_mixed_load_every_answer_complete_or_local_busy_and_every_request_in_the_ledger(
    daemon: ServeProcess,
) -> None:
    report = asyncio.run(run_load(daemon.url, total=300, concurrency=20, timeout_s=120))
    assert len(report.results) == 300
    assert not report.unexpected, report.unexpected[:5]
    answered = {r.kind for r in report.results if r.code is None}
    assert {k.name for k, _ in KINDS if not k.local} <= answered  # the cloud kinds never fail here
    assert answered & {"local_stream", "local_json"} and "embeddings" in answered  # local ones are served too
    busy = [r for r in report.results if r.code == "local_busy"]
    assert all(r.latency_s < 5 for r in busy)  # refused at once, not after waiting in a queue

    burst = asyncio.run(_burst(daemon.url, 8))
    served = [r for r in burst if r.code is None]
    refused = [r for r in burst if r.code == "local_busy"]
    assert len(served) + len(refused) == 8
    # one generating + QUEUE_DEPTH waiting are served; the rest are told to come back (with Retry-After,
    # checked in one()) rather than queued without bound
    assert len(served) >= 1 + QUEUE_DEPTH and len(refused) >= 1

    expected = expected_ledger(report)
    for r in burst:
        expected[(r.status, r.code if r.status != 200 else None)] += 1
    ledger = ledger_counts(str(daemon.home / "data" / "ledger.sqlite3"))
    assert ledger == expected
    stats = httpx.get(daemon.url + "/api/stats?window=all", timeout=30).json()
    assert stats["requests"] == 308


async def _burst(url: str, n: int) -> list[Result]:
    kind = next(k for k, _ in KINDS if k.name == "local_json")
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        return list(await asyncio.gather(*(one(client, kind) for _ in range(n))))
