"""Acceptance: 100 concurrent requests (streamed and not) against a live daemon give 100 ledger rows, while
/api/stats and /api/requests are read at the same time, and nothing logs "database is locked"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from edgeroute.paths import Paths
from edgeroute.server import create_app
from tests.fakes.cloud import FakeCloud
from tests.ledger_http.conftest import cloud_entry, memory_keys
from tests.server.conftest import home_paths
from tests.server.live import LiveServer

N = 100
MSG = [{"role": "user", "content": "hello"}]


@pytest.fixture
def stack(cloud: FakeCloud, tmp_path: Path) -> Iterator[tuple[LiveServer, Paths, FastAPI]]:
    from edgeroute.config import Settings

    settings = Settings(cloud=[cloud_entry("gpt", cloud.openai_base_url, price_in=2.0, price_out=8.0)])
    paths = home_paths(tmp_path / "home")
    app = create_app(settings, paths, keys=memory_keys())
    with LiveServer(app) as live:
        yield live, paths, app


async def chat(client: httpx.AsyncClient, i: int) -> str:
    body: dict[str, Any] = {"model": "cloud/gpt", "messages": MSG, "stream": bool(i % 2)}
    if i % 2:
        async with client.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.status_code == 200
            lines = [line async for line in r.aiter_lines() if line]
        assert lines[-1] == "data: [DONE]"
    else:
        r = await client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
    return r.headers["x-edgeroute-model"]


async def read_stats(client: httpx.AsyncClient) -> int:
    stats = (await client.get("/api/stats", params={"window": "all"})).json()
    recent = await client.get("/api/requests", params={"limit": 500})
    assert recent.status_code == 200
    return int(stats["requests"])


def test_hundred_concurrent_requests_hundred_rows(
    stack: tuple[LiveServer, Paths, FastAPI], cloud: FakeCloud, caplog: pytest.LogCaptureFixture
) -> None:
    live, paths, app = stack
    caplog.set_level(logging.WARNING)

    async def burst() -> tuple[list[str], list[int]]:
        limits = httpx.Limits(max_connections=N + 20, max_keepalive_connections=N + 20)
        async with httpx.AsyncClient(base_url=live.url, timeout=60, limits=limits) as client:
            chats = asyncio.gather(*(chat(client, i) for i in range(N)))
            reads = asyncio.gather(*(read_stats(client) for _ in range(20)))
            return await asyncio.gather(chats, reads)

    served, seen = asyncio.run(asyncio.wait_for(burst(), timeout=50))
    assert served == ["cloud/gpt"] * N and cloud.count() == N
    assert all(0 <= n <= N for n in seen)  # readers saw consistent snapshots while rows were written

    stats = httpx.get(live.url + "/api/stats", params={"window": "all"}).json()
    assert stats["requests"] == N and stats["cloud_requests"] == N and stats["errors"] == 0
    with contextlib.closing(sqlite3.connect(paths.ledger_file)) as conn:
        count, ids = conn.execute("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM requests").fetchone()
    assert (count, ids) == (N, N)
    ledger = app.state.services.ledger
    assert ledger.rows_written == N and ledger.commits <= N  # group commit: often fewer commits than rows
    problems = [r.getMessage() for r in caplog.records if "locked" in r.getMessage().lower()]
    assert problems == [] and not [r for r in caplog.records if r.name.startswith("edgeroute.ledger")]
