#!/usr/bin/env python3
"""Ledger write/read costs, medians side by side for synchronous=FULL and NORMAL.

    .venv/bin/python scripts/bench_ledger.py [--rows 20000] [--dir /path/on/the/real/disk]

Measures: one record() awaited alone (a commit per row), a burst of 100 concurrent record() calls (group
commit), the tail of 5,000 rows recorded one at a time with a short pause between them, as sequential
requests arrive (ten WAL checkpoints fall among them), and stats("all") / recent(50) on a ledger of
--rows rows.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from edgeroute.ledger import Ledger, LedgerRecord


def rec(i: int) -> LedgerRecord:
    return LedgerRecord(
        request_id=f"req_{i}", endpoint="/v1/chat/completions", requested_model="auto", status=200,
        latency_ms=100.0 + i % 900, tier="cloud" if i % 3 else "local", served_model="cloud/x" if i % 3 else "local/y",
        client=f"c{i % 4}", prompt_tokens=1000, completion_tokens=200, cost_usd=0.0055 if i % 3 else 0.0,
        counterfactual_usd=0.0055, saved_usd=0.0 if i % 3 else 0.0055, ttft_ms=50.0, prompt_text="x" * 200,
    )  # fmt: skip


PACED_ROWS = 5_000


async def bench(folder: Path, synchronous: str, rows: int) -> dict[str, float]:
    ledger = Ledger.open(folder / f"bench-{synchronous}.sqlite3", synchronous=synchronous)  # type: ignore[arg-type]
    single = []
    for i in range(200):
        t = time.perf_counter()
        await ledger.record(rec(i))
        single.append(time.perf_counter() - t)
    bursts, commits = [], []
    for b in range(20):
        before = ledger.commits
        t = time.perf_counter()
        await asyncio.gather(*(ledger.record(rec(10_000 + b * 100 + j)) for j in range(100)))
        bursts.append(time.perf_counter() - t)
        commits.append(ledger.commits - before)
    paced = []
    for p in range(PACED_ROWS):
        await asyncio.sleep(0.0003)  # the writer thread's checkpoints run while the loop waits, as in serve
        t = time.perf_counter()
        await ledger.record(rec(50_000 + p))
        paced.append(time.perf_counter() - t)
    paced.sort()
    i = 0
    while await ledger.count() < rows:
        await asyncio.gather(*(ledger.record(rec(100_000 + i + j)) for j in range(500)))
        i += 500
    stats_t, recent_t = [], []
    for _ in range(7):
        t = time.perf_counter()
        await ledger.stats("all")
        stats_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        await ledger.recent(50)
        recent_t.append(time.perf_counter() - t)
    await ledger.aclose()
    return {
        "record() alone, ms": statistics.median(single) * 1000,
        "100 concurrent, ms": statistics.median(bursts) * 1000,
        "commits per 100": statistics.median(commits),
        "one at a time: p99, ms": paced[int(0.99 * PACED_ROWS)] * 1000,
        "one at a time: p99.9, ms": paced[int(0.999 * PACED_ROWS)] * 1000,
        "one at a time: max, ms": paced[-1] * 1000,
        f"stats(all) @{rows} rows, ms": statistics.median(stats_t) * 1000,
        f"recent(50) @{rows} rows, ms": statistics.median(recent_t) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results = {s: asyncio.run(bench(Path(tmp), s, args.rows)) for s in ("FULL", "NORMAL")}
    print(f"{'median':<28}{'FULL':>10}{'NORMAL':>10}")
    for key in results["FULL"]:
        print(f"{key:<28}{results['FULL'][key]:>10.2f}{results['NORMAL'][key]:>10.2f}")


if __name__ == "__main__":
    main()
