"""The worker's memory stays flat over many small requests (issue #10: < 10 MB from request 2,000 to 10,000).

Each ``Llama.generate`` builds a sampler chain holding a 3 MB candidates buffer (Gemma's 262k vocabulary);
llama-cpp-python's sampler sits in a reference cycle, so before the worker freed it explicitly, every request
left one to the cyclic GC: ~150 MB in the first 100 requests and ~50 KB per request after that."""

from __future__ import annotations

from pathlib import Path

from edgeroute.chat import ChatRequest, Message
from edgeroute.engine import LocalEngine
from tests.engine.conftest import engine_settings, make_paths

REQUESTS = 300
STEADY_FROM = 100


def anon_rss(pid: int) -> int:
    """RssAnon: the process's own heap, not the mapped model file."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc status")


async def test_worker_rss_stays_flat_over_many_small_requests(starter_gguf: Path, tmp_path: Path) -> None:
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 512)}, keep_alive=-1), make_paths(tmp_path))
    await engine.start()
    rss: dict[int, int] = {}
    try:
        for i in range(1, REQUESTS + 1):
            req = ChatRequest(model="local/gemma", messages=[Message("user", "Say hi.")], max_tokens=2)
            completion_tokens = 0
            async for event in engine.stream_chat("gemma", req):
                completion_tokens = getattr(event, "completion_tokens", completion_tokens)
            assert completion_tokens >= 1
            if i in (1, STEADY_FROM, REQUESTS):
                rss[i] = anon_rss(engine.status().models[0].pid)
    finally:
        await engine.close()
    mb = {i: round(v / 2**20, 1) for i, v in rss.items()}
    # before the fix: +150 MB by request 100, then +9 MB from 100 to 300; after: well under 1 MB for both
    assert rss[REQUESTS] - rss[1] < 24 * 2**20, mb
    assert rss[REQUESTS] - rss[STEADY_FROM] < 3 * 2**20, mb
