"""How long a full cyclic-GC collection stalls the daemon's event loop, with and without ``gc.freeze()``
after start-up (what ``edgeroute serve`` does: ``create_app(..., freeze_gc=True)``).

The app is built as the daemon builds it (its lifespan, a cloud model on a loopback fake upstream), warmed
with proxied requests, then ``gc.collect(2)`` is timed: first as every object is (the full pass Python
runs by itself once enough new objects have survived its younger generations), then after the freeze.
Run: .venv/bin/python scripts/probe_gc_pause.py [--requests 300] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_gateway  # noqa: E402

from edgeroute import jsonio  # noqa: E402


async def proxied(app: Any, body: bytes) -> None:
    """One chat request through the ASGI app, as uvicorn would hand it over."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 3343),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent


def timed_collections(repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        gc.collect(2)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def probe(requests: int, repeat: int, upstream: str) -> None:
    from edgeroute.config import Settings
    from edgeroute.paths import resolve_paths
    from edgeroute.server.app import create_app

    os.environ["BENCH_UPSTREAM_KEY"] = "sk-bench-not-a-real-key"
    settings = Settings.model_validate(
        {
            "cloud": [
                {
                    "name": "bench",
                    "provider": "openai",
                    "base_url": upstream,
                    "model": "bench-model",
                    "key_env": "BENCH_UPSTREAM_KEY",
                }
            ]
        }
    )
    app = create_app(settings, resolve_paths())  # frozen by hand below, to time both states
    body = jsonio.dumps(bench_gateway.BODY)
    async with app.router.lifespan_context(app):
        for _ in range(requests):
            await proxied(app, body)
        tracked = len(gc.get_objects())
        plain = timed_collections(repeat)
        gc.freeze()
        frozen = timed_collections(repeat)
        print(f"objects tracked after start-up and {requests} requests: {tracked}")
        print(f"{'full collection':<18}{'median ms':>10}{'max ms':>9}")
        print(f"{'as before':<18}{statistics.median(plain):>10.2f}{max(plain):>9.2f}")
        print(f"{'after gc.freeze()':<18}{statistics.median(frozen):>10.2f}{max(frozen):>9.2f}")
        gc.unfreeze()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="warm-up requests before timing")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    port = bench_gateway.free_port()
    upstream = subprocess.Popen([sys.executable, str(HERE / "fake_openai_upstream.py"), str(port)])
    try:
        bench_gateway.wait_ready(f"http://127.0.0.1:{port}/")
        with tempfile.TemporaryDirectory() as home:
            os.environ["EDGEROUTE_HOME"] = home
            asyncio.run(probe(args.requests, args.repeat, f"http://127.0.0.1:{port}/v1"))
    finally:
        upstream.terminate()
        upstream.wait(timeout=30)


if __name__ == "__main__":
    main()
