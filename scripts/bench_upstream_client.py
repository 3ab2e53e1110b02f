"""CPU per upstream call: httpx.AsyncClient against aiohttp (what edgeroute's providers use), each streaming
the canned SSE answer of scripts/fake_openai_upstream.py over a kept-alive loopback connection.

Run: .venv/bin/python scripts/bench_upstream_client.py [--requests 2000] [--rounds 3]

CPU time (this process's user+system, per request) rather than wall time, so that the figure says what the
daemon pays per call whatever else the machine is doing; rounds alternate which client goes first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _per_call_us(one: Callable[[], Awaitable[None]], requests: int) -> float:
    for _ in range(100):
        await one()
    start = _cpu()
    for _ in range(requests):
        await one()
    return (_cpu() - start) / requests * 1e6


async def bench(url: str, requests: int, rounds: int) -> None:
    import aiohttp
    import httpx

    payload = json.dumps(BODY).encode()
    headers = {"authorization": "Bearer sk-bench", "content-type": "application/json"}
    results: dict[str, list[float]] = {"httpx": [], "aiohttp": []}
    async with httpx.AsyncClient() as hx, aiohttp.ClientSession() as ah:

        async def with_httpx() -> None:
            request = hx.build_request("POST", url, content=payload, headers=headers)
            response = await hx.send(request, stream=True)
            async for _ in response.aiter_bytes():
                pass
            await response.aclose()

        async def with_aiohttp() -> None:
            async with ah.post(url, data=payload, headers=headers) as response:
                while await response.content.readany():
                    pass

        for round_ in range(rounds):
            order = [("httpx", with_httpx), ("aiohttp", with_aiohttp)]
            for name, one in order if round_ % 2 == 0 else reversed(order):
                results[name].append(await _per_call_us(one, requests))
    hx_us, ah_us = statistics.median(results["httpx"]), statistics.median(results["aiohttp"])
    print(f"{'client':<10}{'CPU us/call (median of rounds)':>32}")
    print(f"{'httpx':<10}{hx_us:>32.0f}")
    print(f"{'aiohttp':<10}{ah_us:>32.0f}")
    print(f"httpx / aiohttp: {hx_us / ah_us:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = _free_port()
    upstream = subprocess.Popen([sys.executable, str(HERE / "fake_openai_upstream.py"), str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(bench(f"http://127.0.0.1:{port}/v1/chat/completions", args.requests, args.rounds))
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
