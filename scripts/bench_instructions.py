"""CPU instructions per proxied request of the real daemon, counted by valgrind (cachegrind): the one
measure of the gateway's own cost that this noisy VM does not move (repeat runs agree within 0.1 %, where
timings drift by up to 2x).

The daemon (uvicorn + app, under cachegrind) proxies to the loopback fake upstream (not counted); two runs
answer N1 and N2 sequential requests, and (I(N2) - I(N1)) / (N2 - N1) is the per-request count, start-up
cancelled out. ``--code DIR`` counts another checkout of edgeroute (e.g. a ``git worktree`` of an older
commit) for a before/after pair.

Needs valgrind (``apt-get install valgrind``). Takes about a minute per mode.
Run: .venv/bin/python scripts/bench_instructions.py [--code DIR] [--stream]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
sys.path.insert(0, str(HERE))

from bench_gateway import BODY, free_port, wait_ready  # noqa: E402


def instructions(requests: int, stream: bool, code: Path | None) -> int:
    """Instructions the daemon ran, start to exit, having answered ``requests`` requests."""
    up_port, gw_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="edgeroute-instr-") as tmp:
        home = Path(tmp)
        (home / "config").mkdir()
        (home / "config" / "config.toml").write_text(
            f'[server]\nport = {gw_port}\n\n[[cloud]]\nname = "bench"\nprovider = "openai"\n'
            f'base_url = "http://127.0.0.1:{up_port}/v1"\nmodel = "bench-model"\nkey_env = "BENCH_KEY"\n'
            "price_in = 2.5\nprice_out = 10.0\n"
        )
        env = {**os.environ, "EDGEROUTE_HOME": str(home), "BENCH_KEY": "sk-bench-not-a-real-key"}
        if code is not None:
            env["PYTHONPATH"] = str(code)
        upstream = subprocess.Popen([sys.executable, str(HERE / "fake_openai_upstream.py"), str(up_port)])
        daemon = subprocess.Popen(
            [*VALGRIND, sys.executable, "-m", "edgeroute", "serve", "--log-level", "warning"],
            env=env,
            cwd=tmp,  # not the repository: ``-m`` puts the working directory first on sys.path
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_ready(f"http://127.0.0.1:{up_port}/", timeout=180)
            wait_ready(f"http://127.0.0.1:{gw_port}/health", timeout=180)  # valgrind starts it slowly
            url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
            with httpx.Client(timeout=60) as client:
                for _ in range(requests):
                    r = client.post(url, json={**BODY, "stream": stream})
                    r.read()
                    assert r.status_code == 200, r.text
        finally:
            daemon.terminate()
            report = daemon.communicate(timeout=300)[1]
            upstream.terminate()
            upstream.wait(timeout=30)
    found = re.search(r"I\s+refs:\s+([\d,]+)", report)
    if found is None:
        raise RuntimeError("no cachegrind summary from the daemon:\n" + report[-2000:])
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", type=Path, help="an edgeroute checkout to count instead of this one")
    parser.add_argument("--stream", action="store_true", help="streamed requests (default: JSON)")
    parser.add_argument("--n1", type=int, default=100)
    parser.add_argument("--n2", type=int, default=600)
    args = parser.parse_args()
    low = instructions(args.n1, args.stream, args.code)
    high = instructions(args.n2, args.stream, args.code)
    mode = "stream" if args.stream else "json"
    print(
        f"{mode}: {(high - low) / (args.n2 - args.n1) / 1e6:.3f} M instructions per request ({args.code or 'this checkout'})"
    )


if __name__ == "__main__":
    main()
