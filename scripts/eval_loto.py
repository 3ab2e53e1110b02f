#!/usr/bin/env python3
"""Leave-one-task-out table for the router: train on the other files, score the held-out one.

    .venv/bin/python scripts/eval_loto.py [--data ../shared/routing-data] [--no-embedding] [--json]

MMLU counts as one task; pairs as in the data README (weak mistral-7b-chat or Mixtral-8x7B vs strong
gpt-4-1106-preview). Each fold chooses its shrinkage by leave-one-task-out among its own training tasks,
so the held-out task is never looked at. Prints Markdown tables (the ones in docs/routing.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgeroute.router.evaluation import format_table, loto  # noqa: E402
from edgeroute.router.training import load_training_tasks  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "routing-data")
    ap.add_argument("--embedding-model", type=Path, default=None)
    ap.add_argument("--no-embedding", action="store_true")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="machine-readable rows instead of tables")
    args = ap.parse_args()
    if not sorted(args.data.glob("*.jsonl")):
        ap.error(f"--data {args.data}: no *.jsonl outcome files there")

    started = time.perf_counter()
    model_path = None
    if not args.no_embedding:
        from edgeroute.router.embedder import default_minilm_path

        model_path = args.embedding_model or default_minilm_path()
    tasks = load_training_tasks(
        args.data,
        embedding_model=model_path,
        max_tokens=args.max_tokens,
        cache_dir=ROOT / ".cache" / "router",
        threads=args.threads,
    )
    variants = [("cheap features (no embedding model)", False)]
    if model_path is not None:
        variants.insert(0, ("cheap features + MiniLM embedding (default)", True))
    out = {}
    for title, use_embedding in variants:
        rows = loto(tasks, use_embedding=use_embedding)
        out[title] = [
            {
                "task": r.task,
                "n": r.n,
                "random_apgr": r.random.apgr,
                "length_apgr": r.length.apgr,
                "router": r.router.as_dict(),
                "l2": r.l2,
            }
            for r in rows
        ]
        if not args.json:
            print(format_table(rows, f"Leave-one-task-out, {title}"))
            print()
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"({time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
