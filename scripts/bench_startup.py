"""Median wall time of `edgeroute --help` (and `--version`) over 10 runs each, in fresh processes.

Target: under 300 ms. Run: .venv/bin/python scripts/bench_startup.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def time_command(argv: list[str], runs: int = 10) -> list[float]:
    subprocess.run(argv, check=True, capture_output=True)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    exe = shutil.which("edgeroute", path=str(Path(sys.executable).parent)) or "edgeroute"
    print(f"{'command':<28}{'median ms':>10}{'min ms':>10}{'max ms':>10}{'target':>10}")
    for args in (["--help"], ["--version"], ["config", "--help"]):
        s = time_command([exe, *args])
        name = "edgeroute " + " ".join(args)
        print(f"{name:<28}{statistics.median(s):>10.1f}{min(s):>10.1f}{max(s):>10.1f}{'300':>10}")
    s = time_command([sys.executable, "-c", "pass"])
    print(
        f"{'python -c pass (floor)':<28}{statistics.median(s):>10.1f}{min(s):>10.1f}{max(s):>10.1f}{'':>10}"
    )


if __name__ == "__main__":
    main()
