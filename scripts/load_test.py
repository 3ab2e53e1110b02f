"""The full load run (issue 10): 50 concurrent clients send 10,000 mixed requests (local and cloud streams,
JSON answers on the OpenAI and Anthropic APIs, embeddings) to a real `edgeroute serve` holding the starter
model and MiniLM, in front of a loopback fake cloud. Stops by itself (--max-seconds), loopback only.

Reports: outcomes by kind, unexpected errors (must be 0), local_busy refusals (the configured queue depth at
work), latency percentiles, the ledger checked row by row against what the clients saw, and the RSS of the
daemon and its workers sampled every 1,000 requests (growth from request 2,000 to the end must stay under
10 MB). The fast version is tests/hardening/test_load.py.

Run: .venv/bin/python scripts/load_test.py [--requests 10000] [--clients 50] [--queue-depth 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.cloud import FakeCloud  # noqa: E402
from tests.hardening.daemon import ServeProcess  # noqa: E402
from tests.hardening.loadgen import (  # noqa: E402
    KEYS,
    KINDS,
    expected_ledger,
    ledger_counts,
    load_config,
    preload,
    run_load,
)

MB = 1024 * 1024


def model_paths() -> tuple[Path, Path]:
    from edgeroute.engine.minilm_gguf import build_minilm_gguf
    from edgeroute.paths import Paths
    from edgeroute.starter import starter_model_path

    root = REPO / ".cache" / "test-models"
    starter = starter_model_path(Paths(root / "config", root, root / "logs", root / "run", root / "cache"))
    if starter is None:
        sys.exit("the starter model is not installed: run scripts/setup")
    minilm = root / "all-minilm-l6-v2.gguf"
    if not minilm.exists():
        build_minilm_gguf(minilm)
    return starter, minilm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--queue-depth", type=int, default=8, help="engine.queue_depth of the daemon")
    parser.add_argument("--warmup", type=int, default=2_000, help="RSS growth is measured from here")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="stop issuing requests after this")
    args = parser.parse_args()
    starter, minilm = model_paths()

    with FakeCloud() as cloud, tempfile.TemporaryDirectory(prefix="edgeroute-load-") as tmp:
        home = Path(tmp)
        config = load_config(starter, minilm, cloud, args.queue_depth)
        with ServeProcess(home, config, env=KEYS, log_level="warning") as daemon:
            print(f"daemon ready in {daemon.ready_s:.2f} s (pid {daemon.pid}); {args.requests} requests, "
                  f"{args.clients} clients, queue_depth {args.queue_depth}")  # fmt: skip
            preload(daemon.url)
            samples: list[tuple[int, int, int, float]] = []  # (done, RSS, anonymous RSS, seconds)
            by_process: dict[int, dict[str, int]] = {}  # done -> process name -> RSS
            step = 1000
            started = time.monotonic()

            def sample(done: int) -> None:
                if done % step == 0 or done == args.warmup:
                    parts = daemon.rss_by_process()
                    rss, anon = sum(p[1] for p in parts), sum(p[2] for p in parts)
                    samples.append((done, rss, anon, time.monotonic() - started))
                    by_process[done] = {name: r for name, r, _ in parts}
                    detail = ", ".join(f"{name} {r / MB:.1f}/{a / MB:.1f}" for name, r, a in parts)
                    print(f"  {done:>6} done {samples[-1][3]:5.0f} s  RSS {rss / MB:6.1f} MB, anonymous "
                          f"{anon / MB:6.1f} MB  (RSS/anonymous: {detail})", flush=True)  # fmt: skip

            report = asyncio.run(
                run_load(
                    daemon.url,
                    args.requests,
                    args.clients,
                    deadline_s=args.max_seconds,
                    on_progress=sample,
                )
            )
            parts = daemon.rss_by_process()
            total, anon = sum(p[1] for p in parts), sum(p[2] for p in parts)
            samples.append((len(report.results), total, anon, report.wall_s))
            by_process[len(report.results)] = {name: r for name, r, _ in parts}
            ledger = ledger_counts(str(home / "data" / "ledger.sqlite3"))
            log = daemon.log()

    print(
        f"\n{len(report.results)} requests in {report.wall_s:.0f} s ({len(report.results) / report.wall_s:.1f}/s)"
    )
    print(f"{'kind':<18}{'sent':>7}{'ok':>7}{'busy':>7}{'other':>7}{'p50 ms':>9}{'p99 ms':>9}")
    for kind, _ in KINDS:
        rows = [r for r in report.results if r.kind == kind.name]
        ok = sum(r.code is None for r in rows)
        busy = sum(r.code == "local_busy" for r in rows)
        print(
            f"{kind.name:<18}{len(rows):>7}{ok:>7}{busy:>7}{len(rows) - ok - busy:>7}"
            f"{report.latency_ms(kind.name, 0.5):>9.1f}{report.latency_ms(kind.name, 0.99):>9.1f}"
        )
    unexpected = report.unexpected
    print(f"unexpected errors: {len(unexpected)}")
    for r in unexpected[:10]:
        print(f"  {r.kind} {r.status} {r.code}: {r.detail}")
    want = expected_ledger(report)
    print(f"ledger rows: {sum(ledger.values())} (expected {sum(want.values())}); "
          f"by (status, error) {'identical' if ledger == want else 'DIFFERENT'}: {dict(ledger)}")  # fmt: skip
    warm = next((x for x in samples if x[0] >= args.warmup), samples[0])
    end = samples[-1]
    growth = (end[1] - warm[1]) / MB
    print(f"RSS daemon+workers: at {warm[0]}: {warm[1] / MB:.1f} MB, at the end: {end[1] / MB:.1f} MB, "
          f"growth {growth:+.1f} MB (target < 10 MB); anonymous memory {(end[2] - warm[2]) / MB:+.1f} MB")  # fmt: skip
    for name, rss in by_process[end[0]].items():
        before = by_process[warm[0]].get(name, 0)
        print(f"  {name:<14} {before / MB:7.1f} -> {rss / MB:7.1f} MB ({(rss - before) / MB:+.1f})")
    tracebacks = log.count("Traceback")
    print(f"daemon log: {len(log.splitlines())} lines, {tracebacks} tracebacks")
    ok = not unexpected and ledger == want and growth < 10 and tracebacks == 0
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
