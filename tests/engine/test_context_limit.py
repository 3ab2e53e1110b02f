"""A context that is not a multiple of 256: llama.cpp pads it, llama-cpp-python did not, and a prompt between
the two sizes crashed the request with a raw error. Real worker, real Gemma 3 270M."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edgeroute import errors
from edgeroute.chat import CompletionRequest, Finish, StreamEvent, Usage
from edgeroute.engine import LocalEngine
from edgeroute.engine.handle import WorkerHandle
from edgeroute.engine.protocol import GenerateJob, WorkerSpec
from tests.engine.conftest import engine_settings, make_paths


async def finish_of(events: AsyncIterator[StreamEvent]) -> tuple[Usage, Finish]:
    tail = [event async for event in events if isinstance(event, Usage | Finish)]
    assert len(tail) == 2 and isinstance(tail[0], Usage) and isinstance(tail[1], Finish), tail
    return tail[0], tail[1]


async def prompt_of(engine: LocalEngine, n_tokens: int) -> str:
    """A plain prompt of exactly ``n_tokens`` tokens (<bos> included), "hello" being one token each."""
    text = "hello " * (n_tokens - 2) + "hello"
    assert await engine.count_tokens("gemma", text) == n_tokens
    return text


async def test_a_configured_context_of_300_serves_prompts_up_to_the_padded_size(
    starter_gguf: Path, tmp_path: Path
) -> None:
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 300)}, keep_alive=-1), make_paths(tmp_path))
    await engine.start()
    try:
        assert engine.get("gemma").n_ctx == 512  # what llama.cpp allocates; the router and /v1/models see it
        for n_tokens in (301, 505):  # past the configured 300: a raw ValueError before the fix
            req = CompletionRequest(
                model="local/gemma", prompt=await prompt_of(engine, n_tokens), max_tokens=16
            )
            usage, finish = await finish_of(engine.stream_completion("gemma", req))
            assert usage.prompt_tokens == n_tokens
            assert usage.prompt_tokens + usage.completion_tokens <= 512
            if n_tokens == 505:  # the context, not max_tokens, ends it
                assert usage.completion_tokens <= 7 and finish.reason in ("length", "stop")
        assert engine.status().models[0].n_ctx == 512
        too_long = CompletionRequest(model="local/gemma", prompt=await prompt_of(engine, 512), max_tokens=4)
        with pytest.raises(errors.ContextLengthExceeded) as exc:
            await finish_of(engine.stream_completion("gemma", too_long))
        assert exc.value.status == 400 and exc.value.code == "context_length_exceeded"
        assert "512" in exc.value.message and "hello" not in exc.value.message
        # the worker still serves after the refusal
        ok = CompletionRequest(model="local/gemma", prompt="The sky is", max_tokens=2)
        usage, _ = await finish_of(engine.stream_completion("gemma", ok))
        assert usage.completion_tokens >= 1
    finally:
        await engine.close()


async def test_a_worker_given_an_unpadded_context_limits_prompts_to_it(starter_gguf: Path) -> None:
    """Below the registry (a spec built by hand), the worker still refuses cleanly at what both sides hold."""
    spec = WorkerSpec(
        name="gemma",
        model_path=str(starter_gguf),
        n_ctx=300,
        n_threads=1,
        n_gpu_layers=0,
        use_extra_bufts=False,
        architecture="gemma3",
    )
    handle = await WorkerHandle.start(spec)
    try:
        assert handle.info is not None and handle.info.n_ctx == 300
        results = []
        for words in (250, 320):
            job = GenerateJob(kind="completion", prompt="hello " * words, max_tokens=80)
            rid, queue = handle.open("generate", job)
            while (message := await queue.get())[0] in ("accepted", "token"):
                pass
            handle.close_stream(rid, cancel=False)
            results.append(message)
        done, refused = results
        assert done[0] == "done" and done[2].prompt_tokens + done[2].completion_tokens <= 300
        assert refused[0] == "error" and refused[2] == "context_length_exceeded", refused
    finally:
        await handle.stop()
