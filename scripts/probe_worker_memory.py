"""A local worker's anonymous memory over many small, identical chat requests, straight through
LocalEngine (no HTTP): the number the load test's memory check depends on.

Run: .venv/bin/python scripts/probe_worker_memory.py [--requests 600] [--n-ctx 512] [--every 100]
Compare with MALLOC_MMAP_THRESHOLD_=131072 in the environment (glibc's dynamic mmap threshold otherwise
keeps the 1 MB logits buffers of a 262k-vocabulary model on the heap, where they fragment).
"""

from __future__ import annotations

import argparse
import asyncio
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


async def probe(requests: int, n_ctx: int, every: int) -> None:
    from scripts.load_test import model_paths

    starter, _ = model_paths()
    home = Path(tempfile.mkdtemp(prefix="edgeroute-probe-"))
    paths = Paths(home / "config", home / "data", home / "logs", home / "run", home / "cache")
    settings = Settings(
        engine={"keep_alive": -1, "use_extra_bufts": False},
        local=[{"name": "probe", "path": str(starter), "n_ctx": n_ctx}],
    )
    engine = LocalEngine(settings, paths)
    await engine.start()
    print(f"{'requests':>9}{'worker anonymous RSS (MB)':>28}")
    try:
        for i in range(requests + 1):
            req = ChatRequest(
                model="local/probe", messages=[Message("user", "Say hi in three words.")], max_tokens=4
            )
            async for _ in engine.stream_chat("probe", req):
                pass
            if i % every == 0:
                anon = _anon_rss(engine.status().models[0].pid) or 0
                print(f"{i:>9}{anon / 2**20:>28.1f}", flush=True)
    finally:
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--n-ctx", type=int, default=512)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(probe(args.requests, args.n_ctx, args.every))


if __name__ == "__main__":
    main()
