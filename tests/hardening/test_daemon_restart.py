"""A real `edgeroute serve` killed with SIGKILL while answering (local and cloud streams in flight), then
started again on the same port and home: the clients in flight get an error at once rather than hanging,
the workers die with their daemon, every answer received in full before the kill is a ledger row, and the
restarted daemon serves and appends to the same ledger."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.fakes.cloud import FakeCloud, Reply
from tests.hardening.daemon import ServeProcess, cloud_models, config_text

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

KEYS = {"HARDENING_OPENAI_KEY": "sk-restart-openai-0000", "HARDENING_ANTHROPIC_KEY": "sk-restart-ant-0000"}
MSG = [{"role": "user", "content": "Tell me a long story about the sea."}]


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    with FakeCloud() as fake:
        yield fake


def count_rows(home: Path) -> int:
    with contextlib.closing(sqlite3.connect(home / "data" / "ledger.sqlite3")) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


def read_stream(url: str, body: dict[str, Any], out: list[tuple[str, float]]) -> None:
    """Read a stream to its end; record how it ended and when."""
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=60) as r:
            last = ""
            for line in r.iter_lines():
                last = line or last
        out.append(("complete" if last == "data: [DONE]" else "truncated", time.monotonic()))
    except httpx.HTTPError as exc:
        out.append((type(exc).__name__, time.monotonic()))


def test_sigkill_mid_answer_then_restart(cloud: FakeCloud, starter_gguf: Path, tmp_path: Path) -> None:
    config = config_text(
        {
            "engine": {"keep_alive": -1, "use_extra_bufts": False},
            "local": [{"name": "gemma3-270m", "path": str(starter_gguf), "n_ctx": 1024}],
            "cloud": cloud_models(cloud.openai_base_url, cloud.anthropic_base_url),
        }
    )
    home = tmp_path / "home"
    daemon = ServeProcess(home, config, env=KEYS).start()
    try:
        url = daemon.url
        for i in range(6):  # answered in full: the ledger owes these rows
            model = "local/gemma3-270m" if i % 3 == 0 else "cloud/gpt"
            r = httpx.post(
                url + "/v1/chat/completions",
                json={"model": model, "messages": MSG, "max_tokens": 3, "stream": bool(i % 2)},
                timeout=120,
            )
            assert r.status_code == 200
        workers = [p.pid for p in daemon.tree()[1:]]
        assert workers, "the local request should have started a worker"

        cloud.reset(Reply(text="wave " * 400, chunk_chars=5, chunk_delay=0.05))  # ~20 s of streaming
        ends: list[tuple[str, float]] = []
        threads = [
            threading.Thread(
                target=read_stream,
                args=(url, {"model": m, "messages": MSG, "max_tokens": 500, "stream": True}, ends),
            )
            for m in ("cloud/gpt", "cloud/gpt", "local/gemma3-270m")
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while cloud.count() < 2 and time.monotonic() < deadline:  # both cloud streams under way
            time.sleep(0.05)
        time.sleep(0.5)
        daemon.kill()
        killed_at = time.monotonic()
        for t in threads:
            t.join(timeout=30)
        assert len(ends) == 3
        assert all(how != "complete" for how, _ in ends), ends
        assert all(at - killed_at < 5 for _, at in ends), "a client hung after the daemon died"

        gone = psutil.wait_procs([psutil.Process(p) for p in workers if psutil.pid_exists(p)], timeout=15)[1]
        assert not gone, f"workers outlived their daemon: {[p.pid for p in gone]}"
        assert count_rows(home) == 6  # every full answer; the interrupted ones never completed

        cloud.reset()
        daemon = ServeProcess(
            home, config, env=KEYS, port=daemon.port
        ).start()  # stale state file left behind
        r = httpx.post(url + "/v1/chat/completions", json={"model": "cloud/gpt", "messages": MSG}, timeout=60)
        assert r.status_code == 200
        stats = httpx.get(url + "/api/stats?window=all", timeout=30).json()
        assert stats["requests"] == 7
    finally:
        daemon.stop()
