"""JSON on the request path: the standard library against edgeroute.jsonio (orjson), per call, on the
payloads a proxied chat request handles (an upstream stream chunk, the upstream request body, a
non-streamed answer, the ledger's route features).

Run: .venv/bin/python scripts/bench_json.py
"""

from __future__ import annotations

import json
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgeroute import jsonio

CHUNK = (
    '{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model",'
    '"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}'
)
BODY = {
    "model": "bench-model",
    "messages": [{"role": "user", "content": "Say hello."}],
    "max_tokens": 16,
    "stream": True,
    "stream_options": {"include_usage": True},
}
ANSWER = {
    "id": "chatcmpl-0123456789abcdef01234567",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "cloud/bench",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there!"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}
FEATURES = {"tokens": 12.0, "code": 0.0, "math": 0.0, "turns": 1.0, "score": 0.123456789, "depth": 1e-5}


def per_call_us(fn: Callable[[], Any], number: int = 20_000, repeat: int = 7) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        ("parse a stream chunk", lambda: json.loads(CHUNK), lambda: jsonio.loads(CHUNK)),
        (
            "write the upstream body",
            lambda: json.dumps(BODY, ensure_ascii=False, separators=(",", ":")).encode(),
            lambda: jsonio.dumps(BODY),
        ),
        (
            "write the answer",
            lambda: json.dumps(ANSWER, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(),
            lambda: jsonio.dumps(ANSWER),
        ),
        (
            "write route features",
            lambda: json.dumps(FEATURES, separators=(",", ":")),
            lambda: jsonio.dumps_str(FEATURES),
        ),
    ]
    print(f"{'per call, median of 7':<26}{'json us':>9}{'jsonio us':>11}{'ratio':>8}")
    for name, old, new in cases:
        a_out, b_out = old(), new()
        same = a_out == b_out if name.startswith("parse") else json.loads(a_out) == json.loads(b_out)
        assert same, name  # the same JSON either way
        a, b = per_call_us(old), per_call_us(new)
        print(f"{name:<26}{a:>9.2f}{b:>11.2f}{a / b:>7.1f}x")


if __name__ == "__main__":
    main()
