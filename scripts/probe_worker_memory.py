"""A local worker's anonymous memory over many small, identical chat requests, straight through
LocalEngine (no HTTP): the number the load test's memory check depends on.

Run: .venv/bin/python scripts/probe_worker_memory.py [--requests 600] [--n-ctx 512] [--every 100]
     [--growth-from 100] [--max-tokens 4] [--threads 1]
Prints the worker's (and this process's, the daemon side's) RssAnon every ``--every`` requests, then the
growth per request from request ``--growth-from`` to the last one: the figure to quote (steady state
after warm-up should be ~0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edgeroute.chat import ChatRequest, Message  # noqa: E402
from edgeroute.config import Settings  # noqa: E402
from edgeroute.engine import LocalEngine  # noqa: E402
from edgeroute.paths import Paths  # noqa: E402
from tests.hardening.daemon import _anon_rss  # noqa: E402


async def probe(
    requests: int, n_ctx: int, every: int, growth_from: int, max_tokens: int, threads: int
) -> None:
    from scripts.load_test import model_paths

    starter, _ = model_paths()
    home = Path(tempfile.mkdtemp(prefix="edgeroute-probe-"))
    paths = Paths(home / "config", home / "data", home / "logs", home / "run", home / "cache")
    settings = Settings(
        engine={"keep_alive": -1, "use_extra_bufts": False, "threads": threads},
        local=[{"name": "probe", "path": str(starter), "n_ctx": n_ctx}],
    )
    engine = LocalEngine(settings, paths)
    await engine.start()
    print(f"{'requests':>9}{'worker RssAnon (MB)':>22}{'daemon RssAnon (MB)':>22}")
    marks: dict[int, tuple[int, int]] = {}
    try:
        for i in range(requests + 1):
            req = ChatRequest(
                model="local/probe",
                messages=[Message("user", "Say hi in three words.")],
                max_tokens=max_tokens,
            )
            async for _ in engine.stream_chat("probe", req):
                pass
            if i % every == 0 or i in (growth_from, requests):
                worker = _anon_rss(engine.status().models[0].pid) or 0
                daemon = _anon_rss(os.getpid()) or 0
                marks[i] = (worker, daemon)
                if i % every == 0:
                    print(f"{i:>9}{worker / 2**20:>22.1f}{daemon / 2**20:>22.1f}", flush=True)
    finally:
        await engine.close()
    if growth_from < requests:
        span = requests - growth_from
        (w0, d0), (w1, d1) = marks[growth_from], marks[requests]
        print(
            f"growth per request from request {growth_from} to {requests}: "
            f"worker {(w1 - w0) / span / 1024:.2f} KB, daemon {(d1 - d0) / span / 1024:.2f} KB, "
            f"together {(w1 + d1 - w0 - d0) / span / 1024:.2f} KB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--n-ctx", type=int, default=512)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--growth-from", type=int, default=100, help="first request of the growth figure")
    parser.add_argument("--max-tokens", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    args = parser.parse_args()
    asyncio.run(probe(args.requests, args.n_ctx, args.every, args.growth_from, args.max_tokens, args.threads))


if __name__ == "__main__":
    main()
