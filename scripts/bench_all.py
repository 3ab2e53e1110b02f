"""The performance report in one run (issue 10), every number a median of repeated samples, printed side
by side and as ratios against what users would pick instead:

1. `edgeroute --help` time (target < 300 ms), against `python -c pass`;
2. `edgeroute serve` ready time (spawn -> /health answers; target <= 1.5 s) and idle RSS with no model
   loaded (target <= 120 MB): a first start in a fresh home, then restarts;
3. gateway overhead: edgeroute in front of a loopback fake OpenAI upstream against calling it directly,
   streamed and not (target: +p50 <= 1 ms);
4. the same run through the LiteLLM proxy on the same upstream, interleaved with edgeroute's rounds so
   both see the same machine noise (each round on each server begins with one untimed request; the
   client's GC is off while timing) (target: edgeroute's overhead at least 10x below LiteLLM's), and
   LiteLLM's own ready time. LiteLLM lives in its own venv, .venv-litellm (created here if missing; if it
   cannot be installed the column says so and the rest still runs);
5. routing decision latency (scripts/bench_router.py) and local tokens/s against raw llama-cpp-python
   (scripts/bench_local.py), run as they are and summarised.

Run: .venv/bin/python scripts/bench_all.py [--requests 300] [--rounds 5] [--skip-litellm] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import bench_gateway  # noqa: E402
import bench_startup  # noqa: E402

LITELLM_VENV = REPO / ".venv-litellm"
LITELLM_SPEC = "litellm[proxy]>=1.100,!=1.107.*"  # 1.107.x was a compromised release (yanked)
LITELLM_MASTER_KEY = "sk-bench-litellm-master-5b1d0e2c9f"  # it refuses to start without one
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# ---- 1. CLI start-up -----------------------------------------------------------------------------------


def bench_cli() -> dict[str, float]:
    exe = shutil.which("edgeroute", path=str(Path(sys.executable).parent)) or "edgeroute"
    help_ms = med(bench_startup.time_command([exe, "--help"]))
    floor_ms = med(bench_startup.time_command([sys.executable, "-c", "pass"]))
    return {"help_ms": help_ms, "python_floor_ms": floor_ms}


# ---- 2. serve ready time and idle RSS ------------------------------------------------------------------


def serve_once(home: Path, idle_s: float = 2.0) -> tuple[float, float]:
    """(seconds from spawn to /health answering, RSS in MB after ``idle_s`` idle) of `edgeroute serve`."""
    import psutil

    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EDGEROUTE_")},
        "EDGEROUTE_HOME": str(home),
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeroute", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("edgeroute serve exited during start-up")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.005)
        ready = time.perf_counter() - started
        time.sleep(idle_s)
        rss = psutil.Process(proc.pid).memory_info().rss / MB
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return ready, rss


def bench_serve(restarts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="edgeroute-bench-serve-") as tmp:
        first_ready, first_rss = serve_once(Path(tmp))
        runs = [serve_once(Path(tmp)) for _ in range(restarts)]
    return {
        "first_ready_s": first_ready,
        "first_rss_mb": first_rss,
        "ready_s": med([r for r, _ in runs]),
        "ready_min_s": min(r for r, _ in runs),
        "idle_rss_mb": med([m for _, m in runs]),
    }


# ---- 3 and 4. gateway overhead: edgeroute and LiteLLM on one upstream ------------------------------------


def ensure_litellm() -> Path | None:
    """The LiteLLM proxy's executable in .venv-litellm, installing it there when missing; None if it
    cannot be installed (no network, no matching wheels)."""
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    print(f"installing {LITELLM_SPEC} into {LITELLM_VENV} (once) ...", flush=True)
    try:
        if not (LITELLM_VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        pip = [str(LITELLM_VENV / "bin" / "python"), "-m", "pip", "install", "-q", LITELLM_SPEC]
        subprocess.run(pip, check=True, timeout=1800)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"LiteLLM could not be installed ({exc}); its column is skipped")
        return None
    return exe if exe.exists() else None


def litellm_version() -> str:
    out = subprocess.run(
        [
            str(LITELLM_VENV / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "?"


@contextlib.contextmanager
def litellm_proxy(exe: Path, upstream_base: str, log: Path) -> Iterator[tuple[str, float]]:
    """The LiteLLM proxy on a loopback port, routing model ``bench`` to the fake upstream:
    (its chat completions URL, seconds from spawn to ready)."""
    port = free_port()
    config = log.with_suffix(".yaml")
    config.write_text(
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params:\n"
        "      model: openai/bench-model\n"
        f"      api_base: {upstream_base}\n"
        "      api_key: sk-bench-not-a-real-key\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_MASTER_KEY}\n"
    )
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    }
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(exe),
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
            ],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"litellm exited during start-up; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"litellm did not start within 180 s; see {log}")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}/v1/chat/completions", time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def bench_gateways(requests: int, rounds: int, litellm: Path | None) -> dict[str, Any]:
    """Interleaved rounds: direct, edgeroute and LiteLLM take turns, so each sees the same noise."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="edgeroute-bench-gw-") as tmp:
        procs, direct_url, edge_url = bench_gateway.start_stack(Path(tmp))
        upstream_base = direct_url.removesuffix("/chat/completions")
        lite: contextlib.AbstractContextManager[tuple[str, float]] = (
            litellm_proxy(litellm, upstream_base, Path(tmp) / "litellm.log")
            if litellm
            else contextlib.nullcontext(("", 0.0))
        )
        try:
            auth = {"authorization": f"Bearer {LITELLM_MASTER_KEY}"}
            with (
                lite as (lite_url, lite_ready),
                httpx.Client(timeout=30) as client,
                httpx.Client(timeout=30, headers=auth) as lite_client,
            ):
                targets = {
                    "direct": (client, direct_url, bench_gateway.BODY),
                    "edgeroute": (client, edge_url, bench_gateway.BODY),
                }
                if lite_url:
                    targets["litellm"] = (lite_client, lite_url, {**bench_gateway.BODY, "model": "bench"})
                    out["litellm_ready_s"] = lite_ready
                    out["litellm_version"] = litellm_version()
                per_round = max(1, requests // rounds)
                for stream in (False, True):
                    samples: dict[str, list[float]] = {name: [] for name in targets}
                    for http, url, body in targets.values():  # warm-up: connections, pools, caches
                        bench_gateway.measure(http, url, body, 30, stream)
                    for _ in range(rounds):
                        for name, (http, url, body) in targets.items():
                            samples[name] += bench_gateway.measure_round(http, url, body, per_round, stream)
                    mode = "stream" if stream else "json"
                    for name, values in samples.items():
                        out[f"{mode}.{name}.p50_ms"] = med(values)
                        out[f"{mode}.{name}.p99_ms"] = pct(values, 0.99)
                    for name in targets:
                        if name != "direct":
                            out[f"{mode}.{name}.overhead_p50_ms"] = med(samples[name]) - med(
                                samples["direct"]
                            )
                            out[f"{mode}.{name}.overhead_p99_ms"] = pct(samples[name], 0.99) - pct(
                                samples["direct"], 0.99
                            )
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=30)
    return out


# ---- 5. router and local engine (their own scripts) -------------------------------------------------------


def run_script(args: list[str], timeout: float) -> str:
    try:
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"(timed out after {timeout:.0f} s)"
    return done.stdout + (
        f"\n(exit {done.returncode}: {done.stderr.strip()[-500:]})" if done.returncode else ""
    )


def bench_router(runs: int) -> tuple[str, dict[str, float]]:
    script = HERE / "bench_router.py"
    if not script.exists():
        return "scripts/bench_router.py is not there yet", {}
    text = run_script([str(script), "--runs", str(runs), "--rows", "200"], timeout=900)
    found = {}
    for tokens, variant, p50 in re.findall(
        r"^\s*(\d+) tokens\s+(with embedding|cheap only)\s+([\d.]+)", text, re.M
    ):
        found[f"route_{tokens}tok_{variant.replace(' ', '_')}_p50_ms"] = float(p50)
    return text, found


def bench_local(runs: int, max_tokens: int) -> tuple[str, dict[str, float]]:
    script = HERE / "bench_local.py"
    if not script.exists():
        return "scripts/bench_local.py is not there yet", {}
    text = run_script(
        # one llama.cpp thread on both sides: on a small shared box, threads spinning at barriers make the
        # 2-thread figures swing by 4x from run to run (see "Local engine" in docs/performance.md)
        [str(script), "--runs", str(runs), "--max-tokens", str(max_tokens), "--loads", "1", "--threads", "1"],
        timeout=900,
    )
    found = {}
    match = re.search(r"tokens/s \(after first\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+) %", text)
    if match:
        found = {
            "local_tps": float(match[1]),
            "raw_tps": float(match[2]),
            "local_vs_raw_pct": float(match[3]),
        }
    match = re.search(r"time to first token \(ms\)\s+([\d.]+)\s+([\d.]+)", text)
    if match:
        found["local_ttft_ms"], found["raw_ttft_ms"] = float(match[1]), float(match[2])
    return text, found


# ---- report -----------------------------------------------------------------------------------------------


def row(name: str, value: str, target: str = "", verdict: str = "") -> None:
    print(f"  {name:<46}{value:>22}  {target:<22}{verdict}")


class Verdicts:
    """The targets' verdicts of one run: the script exits 1 when one is missed, so a run is a check that
    can fail, not only figures to read."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def check(self, name: str, flag: bool) -> str:
        if not flag:
            self.missed.append(name)
        return "ok" if flag else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per target and mode (gateway runs)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds the requests are split in")
    parser.add_argument("--restarts", type=int, default=5, help="serve restarts timed")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--skip-model-benches", action="store_true", help="skip bench_router / bench_local")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()

    import psutil

    load = os.getloadavg()
    print(f"machine: {psutil.cpu_count(logical=False)} cores / {psutil.cpu_count()} threads, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
          f"Python {sys.version.split()[0]}")  # fmt: skip
    results: dict[str, Any] = {"loadavg_start": load}

    results.update(bench_cli())
    results.update(bench_serve(args.restarts))
    litellm = None if args.skip_litellm else ensure_litellm()
    results.update(bench_gateways(args.requests, args.rounds, litellm))
    router_text = local_text = ""
    if not args.skip_model_benches:
        router_text, router = bench_router(100)
        results.update(router)
        local_text, local = bench_local(7, 64)
        results.update(local)
    results["loadavg_end"] = os.getloadavg()

    r = results
    verdicts = Verdicts()
    ok = verdicts.check
    print("\nstart-up and memory")
    row(
        "edgeroute --help (median of 10)",
        f"{r['help_ms']:.0f} ms",
        "< 300 ms",
        ok("--help", r["help_ms"] < 300),
    )
    row("  python -c pass (floor)", f"{r['python_floor_ms']:.0f} ms")
    row(
        "serve ready, restart (median)",
        f"{r['ready_s']:.2f} s",
        "<= 1.5 s",
        ok("serve ready", r["ready_s"] <= 1.5),
    )
    row("serve ready, first start in a fresh home", f"{r['first_ready_s']:.2f} s", "(builds starter files)")
    row(
        "idle RSS, no model loaded (median)",
        f"{r['idle_rss_mb']:.0f} MB",
        "<= 120 MB",
        ok("idle RSS", r["idle_rss_mb"] <= 120),
    )
    row("idle RSS after a first start", f"{r['first_rss_mb']:.0f} MB")
    if "litellm_ready_s" in r:
        row(f"LiteLLM {r['litellm_version']} proxy ready", f"{r['litellm_ready_s']:.2f} s",
            f"ratio {r['litellm_ready_s'] / r['ready_s']:.1f}x edgeroute")  # fmt: skip

    print("\ngateway overhead on a loopback fake upstream (ms; overhead = p50 via - p50 direct)")
    for mode in ("json", "stream"):
        d50 = r[f"{mode}.direct.p50_ms"]
        e_over = r[f"{mode}.edgeroute.overhead_p50_ms"]
        row(f"{mode}: direct p50", f"{d50:.2f}")
        row(f"{mode}: edgeroute p50 / +overhead", f"{r[f'{mode}.edgeroute.p50_ms']:.2f} / +{e_over:.2f}",
            "+p50 <= 1 ms", ok(f"{mode} +p50", e_over <= 1.0))  # fmt: skip
        e_over99 = r[f"{mode}.edgeroute.overhead_p99_ms"]
        row(
            f"{mode}: edgeroute p99 / +overhead",
            f"{r[f'{mode}.edgeroute.p99_ms']:.2f} / +{e_over99:.2f}",
            "+p99 <= 3 ms",
            ok(f"{mode} +p99", e_over99 <= 3.0),
        )
        if f"{mode}.litellm.p50_ms" in r:
            l_over = r[f"{mode}.litellm.overhead_p50_ms"]
            ratio = l_over / e_over if e_over > 0 else float("inf")
            r[f"{mode}.litellm_over_edgeroute"] = ratio
            row(f"{mode}: LiteLLM p50 / +overhead", f"{r[f'{mode}.litellm.p50_ms']:.2f} / +{l_over:.2f}")
            row(
                f"{mode}: LiteLLM overhead / edgeroute overhead",
                f"{ratio:.1f}x",
                ">= 10x",
                ok(f"{mode} LiteLLM ratio", ratio >= 10),
            )
    if litellm is None and not args.skip_litellm:
        row("LiteLLM", "not installed", "column skipped")

    if not args.skip_model_benches:
        print("\nrouting decision latency (scripts/bench_router.py --runs 100)")
        for key, value in r.items():
            if key.startswith("route_"):
                row(
                    key.removeprefix("route_").removesuffix("_p50_ms").replace("_", " ") + " p50",
                    f"{value:.2f} ms",
                )
        print("\nlocal generation (scripts/bench_local.py --runs 7 --max-tokens 64 --threads 1)")
        if "local_tps" in r:
            row("engine tokens/s / raw llama-cpp-python", f"{r['local_tps']:.1f} / {r['raw_tps']:.1f}",
                ">= 95 %", f"{r['local_vs_raw_pct']:.1f} % " + ok("local tokens/s", r["local_vs_raw_pct"] >= 95))  # fmt: skip
            row("time to first token engine / raw", f"{r['local_ttft_ms']:.1f} / {r['raw_ttft_ms']:.1f} ms")
        print("\n--- scripts/bench_router.py ---\n" + router_text.strip())
        print("\n--- scripts/bench_local.py ---\n" + local_text.strip())
    end = r["loadavg_end"]
    print(
        f"\nload average at the end: {end[0]:.1f} {end[1]:.1f} {end[2]:.1f} (other work on the machine inflates p99s)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    print("targets missed: " + ", ".join(verdicts.missed) if verdicts.missed else "every target met")
    return 1 if verdicts.missed else 0


if __name__ == "__main__":
    sys.exit(main())
