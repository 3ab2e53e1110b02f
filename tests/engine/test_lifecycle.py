"""Loading, unloading, eviction and crash recovery, with real worker processes on the real GGUFs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from edgeroute import errors
from edgeroute.chat import ChatRequest, Message, StreamEvent, TextDelta, Usage
from edgeroute.engine import LocalEngine, MemoryBudget
from edgeroute.engine.registry import LocalModel
from edgeroute.engine.worker import FAULT_ENV
from edgeroute.paths import Paths
from tests.engine.conftest import engine_settings, make_paths


def hello(max_tokens: int = 2) -> ChatRequest:
    return ChatRequest(
        model="local/x", messages=[Message("user", "Hello")], max_tokens=max_tokens, temperature=0
    )


async def run(events: AsyncIterator[StreamEvent]) -> Usage:
    usage = None
    async for event in events:
        if isinstance(event, Usage):
            usage = event
    assert usage is not None
    return usage


async def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


def loaded(engine: LocalEngine) -> set[str]:
    return {m.name for m in engine.models() if m.loaded}


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return make_paths(tmp_path)


async def test_keep_alive_unloads_after_the_ttl_and_zero_unloads_at_once(
    starter_gguf: Path, paths: Paths
) -> None:
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 512)}, keep_alive=0.5), paths)
    await engine.start()
    try:
        await run(engine.stream_chat("gemma", hello()))
        assert loaded(engine) == {"gemma"}
        left = engine.status().models[0].keep_alive_left
        assert left is not None and left <= 0.5
        await wait_until(lambda: not loaded(engine), timeout=10)
        assert engine.status().models == []
        engine.settings.engine.keep_alive = 0
        await run(engine.stream_chat("gemma", hello()))
        await wait_until(lambda: not loaded(engine), timeout=10)
    finally:
        await engine.close()


async def test_reaping_follows_the_injected_clock(starter_gguf: Path, paths: Paths) -> None:
    now = [1000.0]
    settings = engine_settings({"gemma": (starter_gguf, 512), "forever": (starter_gguf, 512)}, keep_alive=600)
    settings.local[1].keep_alive = -1  # per-model override: never unload
    engine = LocalEngine(settings, paths, clock=lambda: now[0])
    try:
        await engine.load("gemma")
        await engine.load("forever")
        now[0] += 599
        assert await engine.reap_idle() == []
        now[0] += 2
        assert await engine.reap_idle() == ["gemma"]
        now[0] += 10**6
        assert await engine.reap_idle() == []
        assert loaded(engine) == {"forever"}
    finally:
        await engine.close()


async def test_lru_eviction_under_a_small_memory_budget(
    starter_gguf: Path, minilm_gguf: Path, paths: Paths
) -> None:
    settings = engine_settings(
        {"a": (starter_gguf, 512), "b": (starter_gguf, 512), "mini": (minilm_gguf, None)}
    )
    probe = LocalEngine(settings, paths)
    gemma_bytes = probe.get("a").memory_estimate()
    mini_bytes = probe.get("mini").memory_estimate()
    # Room for one Gemma plus MiniLM, never for two Gemmas.
    engine = LocalEngine(settings, paths, memory=MemoryBudget(gemma_bytes + mini_bytes + 10 * 2**20))
    try:
        await engine.load("a")
        await engine.load("mini")
        await run(engine.stream_chat("a", hello()))
        await engine.embed("mini", ["x"])  # mini is now more recently used than a
        await engine.load("b")  # no room for a second Gemma: the least recently used model (a) goes
        assert loaded(engine) == {"b", "mini"}
        await engine.embed("mini", ["y"])  # now b is the least recently used
        await run(engine.stream_chat("a", hello()))
        assert loaded(engine) == {"a", "mini"}
    finally:
        await engine.close()


async def test_insufficient_memory_fails_fast_and_busy_models_are_not_evicted(
    starter_gguf: Path, paths: Paths
) -> None:
    settings = engine_settings({"a": (starter_gguf, 512), "b": (starter_gguf, 512)})
    need = LocalEngine(settings, paths).get("a").memory_estimate()
    tiny = LocalEngine(settings, paths, memory=MemoryBudget(need // 2))
    with pytest.raises(errors.InsufficientMemory) as exc:
        await run(tiny.stream_chat("a", hello()))
    assert exc.value.code == "insufficient_memory" and exc.value.status == 503
    assert loaded(tiny) == set()

    engine = LocalEngine(settings, paths, memory=MemoryBudget(need + need // 2))
    try:
        stream = engine.stream_chat("a", hello(max_tokens=100))
        async for event in stream:
            if isinstance(event, TextDelta):
                break  # a is generating: it holds its slot
        with pytest.raises(errors.InsufficientMemory):
            await engine.load("b")
        await stream.aclose()  # type: ignore[attr-defined]
        await engine.load("b")  # a is idle now: evicted
        assert loaded(engine) == {"b"}
    finally:
        await engine.close()


async def test_max_loaded_caps_the_number_of_workers(
    starter_gguf: Path, minilm_gguf: Path, paths: Paths
) -> None:
    engine = LocalEngine(
        engine_settings({"a": (starter_gguf, 512), "mini": (minilm_gguf, None)}, max_loaded=1), paths
    )
    try:
        await engine.load("mini")
        await run(engine.stream_chat("a", hello()))
        assert loaded(engine) == {"a"}
        assert len(engine.status().models) == 1
    finally:
        await engine.close()


async def test_a_killed_worker_fails_its_request_and_the_next_one_recovers(
    starter_gguf: Path, paths: Paths
) -> None:
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 512)}), paths)
    await engine.start()
    try:
        await engine.load("gemma")
        pid = engine.status().models[0].pid
        seen = 0
        with pytest.raises(errors.LocalModelCrashed) as crashed:
            async for event in engine.stream_chat("gemma", hello(max_tokens=200)):
                if isinstance(event, TextDelta):
                    seen += 1
                    if seen == 2:
                        os.kill(pid, signal.SIGKILL)
        assert crashed.value.code == "local_model_crashed" and crashed.value.status == 502
        assert "SIGKILL" in crashed.value.message
        assert loaded(engine) == set() and engine.queue_depth("gemma") == 0
        usage = await run(engine.stream_chat("gemma", hello()))  # a fresh worker
        assert usage.completion_tokens >= 1
        assert engine.status().models[0].pid != pid
    finally:
        await engine.close()


def kill_unnoticed(pid: int, *, wait_for_exit: bool) -> None:
    """SIGKILL a worker without giving the event loop a turn, so the engine cannot have noticed yet. With
    ``wait_for_exit`` block until the process is gone (its socket closed: the request's send fails);
    without it the request is usually sent while the process is still exiting (the socket then closes
    with the request unread)."""
    os.kill(pid, signal.SIGKILL)
    if wait_for_exit:
        with contextlib.suppress(ChildProcessError):  # already reaped by asyncio's child watcher
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


@pytest.mark.parametrize("wait_for_exit", [False, True], ids=["while-exiting", "after-exit"])
async def test_a_worker_killed_while_idle_costs_the_next_request_only_a_reload(
    starter_gguf: Path, paths: Paths, wait_for_exit: bool
) -> None:
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 512)}), paths)
    try:
        await run(
            engine.stream_chat("gemma", hello())
        )  # not the worker's first request: no extra_bufts retry
        pid = engine.status().models[0].pid
        kill_unnoticed(pid, wait_for_exit=wait_for_exit)
        usage = await run(engine.stream_chat("gemma", hello()))
        assert usage.completion_tokens >= 1
        assert engine.status().models[0].pid != pid
        assert engine.status().models[0].use_extra_bufts is True  # nothing was wrongly learned
    finally:
        await engine.close()


async def test_a_generation_the_worker_accepted_is_not_retried(
    starter_gguf: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker that dies after taking a request (here at once, by SIGSEGV) may have been killed by that
    request: it fails, and no second worker is spent on it."""
    monkeypatch.setenv(FAULT_ENV, "segv-generate")
    caplog.set_level(logging.INFO, logger="edgeroute.engine")
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 512)}, use_extra_bufts=False), paths)
    try:
        with pytest.raises(errors.LocalModelCrashed, match="SIGSEGV"):
            await run(engine.stream_chat("gemma", hello()))
        assert loaded(engine) == set()
    finally:
        await engine.close()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("loaded in" in m for m in messages) == 1, messages
    assert not any("fresh worker" in m for m in messages), messages


async def test_first_decode_crash_retries_without_extra_bufts_and_remembers(
    starter_gguf: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The Sapphire Rapids AMX-repack crash, injected: the worker dies in its warm-up decode whenever extra
    buffer types are on."""
    monkeypatch.setenv(FAULT_ENV, "segv-warmup-extra-bufts")
    settings = engine_settings({"gemma": (starter_gguf, 512)})
    engine = LocalEngine(settings, paths)
    try:
        usage = await run(engine.stream_chat("gemma", hello()))
        assert usage.completion_tokens >= 1
        assert engine.status().models[0].use_extra_bufts is False
    finally:
        await engine.close()
    assert "use_extra_bufts = false" in caplog.text
    state = json.loads(paths.engine_state_file.read_text())
    assert [entry["use_extra_bufts"] for entry in state["models"].values()] == [False]

    caplog.clear()
    again = LocalEngine(settings, paths)  # a restart: straight to the safe settings, no crash this time
    try:
        await again.load("gemma")
        assert again.status().models[0].use_extra_bufts is False
    finally:
        await again.close()
    assert "crashed" not in caplog.text

    settings.engine.use_extra_bufts = True  # forced on: no retry, a clear error
    forced = LocalEngine(settings, paths)
    try:
        with pytest.raises(errors.LocalModelCrashed, match="SIGSEGV"):
            await forced.load("gemma")
    finally:
        await forced.close()


async def test_a_model_that_works_is_remembered_as_fine(starter_gguf: Path, paths: Paths) -> None:
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 512)}), paths)
    try:
        await engine.load("gemma")
        assert engine.status().models[0].use_extra_bufts is True
    finally:
        await engine.close()
    state = json.loads(paths.engine_state_file.read_text())
    assert [entry["use_extra_bufts"] for entry in state["models"].values()] == [True]


async def test_a_broken_file_fails_to_load_cleanly(minilm_gguf: Path, paths: Paths, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(minilm_gguf.read_bytes()[: 2 * 2**20])  # header intact, tensor data cut off
    engine = LocalEngine(engine_settings({"broken": (broken, None)}), paths)
    try:
        with pytest.raises(errors.LocalError) as exc:
            await engine.embed("broken", ["x"])
        assert exc.value.code == "local_load_failed"
        assert loaded(engine) == set()
    finally:
        await engine.close()


async def test_count_tokens_without_loading_the_weights(starter_gguf: Path, paths: Paths) -> None:
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 512)}), paths)
    try:
        assert await engine.count_tokens("gemma", "Hello world") == 3  # <bos> Hello ▁world
        assert loaded(engine) == set()  # a vocabulary-only worker answered
        await engine.load("gemma")
        assert await engine.count_tokens("local/gemma", "Hello world") == 3
    finally:
        await engine.close()


@pytest.mark.parametrize("wait_for_exit", [False, True], ids=["while-exiting", "after-exit"])
async def test_count_tokens_on_a_worker_killed_while_idle_asks_again(
    starter_gguf: Path, paths: Paths, wait_for_exit: bool
) -> None:
    """Tokenizing changes nothing, so a count sent to a worker that died unnoticed is simply asked again
    (of a vocabulary-only worker, as for a model that is not loaded)."""
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 512)}), paths)
    try:
        await engine.load("gemma")
        kill_unnoticed(engine.status().models[0].pid, wait_for_exit=wait_for_exit)
        assert await engine.count_tokens("gemma", "Hello world") == 3
        assert loaded(engine) == set()  # the dead worker is forgotten; the next generation reloads
        usage = await run(engine.stream_chat("gemma", hello()))
        assert usage.completion_tokens >= 1
    finally:
        await engine.close()


def write_pulled(models_dir: Path, name: str, gguf: Path, role: str | None) -> None:
    folder = models_dir / name
    folder.mkdir(parents=True)
    (folder / gguf.name).symlink_to(gguf)
    manifest: dict[str, object] = {
        "name": name,
        "source": "hf:test/x",
        "files": [gguf.name],
        "quant": None,
        "sha256": {},
        "size": 1,
        "role": role,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


async def test_registry_sources_and_refresh(starter_gguf: Path, minilm_gguf: Path, paths: Paths) -> None:
    settings = engine_settings({"mine": (starter_gguf, 1024)})
    settings.local.append(
        settings.local[0].model_copy(
            update={"name": "coder", "path": None, "model": "qwen-coder", "n_ctx": None}
        )
    )
    engine = LocalEngine(settings, paths)
    names = {m.name: m for m in engine.models()}
    assert "gemma3-270m" not in names  # a configured [[local]] list replaces the starter chat model
    assert names["minilm"].source == "starter" and names["minilm"].role == "embed"  # built on first use
    assert (paths.models_dir / "starter" / names["minilm"].path.name).is_file()
    mine: LocalModel = names["mine"]
    assert (mine.source, mine.role, mine.n_ctx, mine.loaded) == ("config", "chat", 1024, False)
    with pytest.raises(errors.ModelNotFound, match="edgeroute pull qwen-coder"):
        engine.get("coder")

    write_pulled(paths.models_dir, "qwen-coder", starter_gguf, "code")
    write_pulled(paths.models_dir, "embedder", minilm_gguf, None)
    assert "embedder" not in {m.name for m in engine.models()}
    engine.refresh()  # a pull finished: no restart needed
    names = {m.name: m for m in engine.models()}
    assert names["embedder"].source == "pulled" and names["embedder"].role == "embed"
    assert names["qwen-coder"].role == "code"
    assert names["coder"].path.name == starter_gguf.name and names["coder"].source == "config"
    assert engine.get("local/coder").n_ctx == 8192  # default: the model's context capped at 8192


async def test_the_starter_gemma_is_offered_without_local_entries(paths: Paths) -> None:
    engine = LocalEngine(engine_settings({}), paths)
    names = {m.name: m for m in engine.models()}
    assert names["gemma3-270m"].source == "starter" and names["gemma3-270m"].info.architecture == "gemma3"
    assert names["minilm"].is_embedding


async def test_a_pulled_chat_model_is_preferred_over_the_starter(starter_gguf: Path, paths: Paths) -> None:
    """The router serves `auto` with the first local model that fits: once the user pulls a model, that is
    it, not the starter Gemma (a base model, there for plumbing)."""
    engine = LocalEngine(engine_settings({}), paths)
    chat_models = [name for name, m in engine.catalog().items() if not m.is_embedding]
    assert chat_models == ["gemma3-270m"]
    write_pulled(paths.models_dir, "qwen-chat", starter_gguf, "chat")
    engine.refresh()
    chat_models = [name for name, m in engine.catalog().items() if not m.is_embedding]
    assert chat_models == ["qwen-chat", "gemma3-270m"]


async def test_a_healthy_load_logs_no_warning(
    starter_gguf: Path, paths: Paths, caplog: pytest.LogCaptureFixture
) -> None:
    """llama.cpp warns on every load of the starter Gemma (a token it re-types, the full-size SWA cache):
    routine, so not a WARNING in the daemon log."""
    caplog.set_level(logging.INFO, logger="edgeroute")
    engine = LocalEngine(engine_settings({"gemma": (starter_gguf, 512)}, use_extra_bufts=False), paths)
    try:
        await run(engine.stream_chat("gemma", hello()))
    finally:
        await engine.close()
    assert "loaded in" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
