"""Generation through real worker processes running the real Gemma 3 270M GGUF (and a FIM-enabled copy).

One engine serves the whole module (workers load once); queue_depth is 1 so overflow is easy to reach.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from edgeroute import errors
from edgeroute.chat import ChatRequest, CompletionRequest, Finish, Message, StreamEvent, TextDelta, Usage
from edgeroute.engine import LocalEngine
from tests.engine.conftest import engine_settings, make_paths

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROMPT = "The three primary colors are"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def engine(
    starter_gguf: Path, fim_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LocalEngine]:
    settings = engine_settings(
        {"gemma": (starter_gguf, 512), "coder": (fim_gguf, 512)}, queue_depth=1, keep_alive=-1
    )
    engine = LocalEngine(settings, make_paths(tmp_path_factory.mktemp("generation")))
    await engine.start()
    yield engine
    await engine.close()


async def collect(events: AsyncIterator[StreamEvent]) -> tuple[list[TextDelta], Usage, Finish]:
    deltas: list[TextDelta] = []
    tail: list[StreamEvent] = []
    async for event in events:
        if isinstance(event, TextDelta):
            assert not tail, "text after Usage/Finish"
            deltas.append(event)
        else:
            tail.append(event)
    assert len(tail) == 2 and isinstance(tail[0], Usage) and isinstance(tail[1], Finish), tail
    return deltas, tail[0], tail[1]


def chat(text: str, **kw: object) -> ChatRequest:
    return ChatRequest(model="local/gemma", messages=[Message("user", text)], **kw)  # type: ignore[arg-type]


def text_of(deltas: list[TextDelta]) -> str:
    return "".join(d.text for d in deltas)


async def test_completion_streams_text_then_exact_usage(engine: LocalEngine) -> None:
    deltas, usage, finish = await collect(
        engine.stream_completion(
            "gemma", CompletionRequest(model="local/gemma", prompt=PROMPT, max_tokens=6, temperature=0)
        )
    )
    assert text_of(deltas).strip()
    assert usage.prompt_tokens == await engine.count_tokens("gemma", PROMPT)  # BOS + the text, exactly
    assert not usage.estimated
    assert 1 <= usage.completion_tokens <= 6
    assert finish.reason == ("length" if usage.completion_tokens == 6 else "stop")
    assert engine.models()[[m.name for m in engine.models()].index("gemma")].loaded


async def test_chat_uses_the_template_and_greedy_is_deterministic(engine: LocalEngine) -> None:
    first, usage, _ = await collect(
        engine.stream_chat("gemma", chat("Name a fruit.", max_tokens=8, temperature=0))
    )
    second, _, _ = await collect(
        engine.stream_chat("gemma", chat("Name a fruit.", max_tokens=8, temperature=0))
    )
    assert text_of(first) == text_of(second)
    # <bos> + "<start_of_turn>user\n" ... "<start_of_turn>model\n": the turn markers are single special tokens
    bare = await engine.count_tokens("gemma", "Name a fruit.")
    assert bare + 5 <= usage.prompt_tokens <= bare + 10


async def test_seeded_sampling_repeats(engine: LocalEngine) -> None:
    runs = [
        text_of(
            (
                await collect(
                    engine.stream_chat(
                        "gemma", chat("Tell me a story.", max_tokens=12, temperature=1.2, seed=s)
                    )
                )
            )[0]
        )
        for s in (42, 42, 7)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


async def test_stop_sequence_ends_the_stream_before_it(engine: LocalEngine) -> None:
    req = CompletionRequest(model="local/gemma", prompt=PROMPT, max_tokens=24, temperature=0)
    full = text_of((await collect(engine.stream_completion("gemma", req)))[0])
    words = full.split()
    assert len(words) >= 4, full
    stop = words[2]
    req.stop = [stop]
    deltas, usage, finish = await collect(engine.stream_completion("gemma", req))
    assert finish.reason == "stop"
    assert text_of(deltas) == full[: full.index(stop)]
    assert stop not in text_of(deltas)
    assert usage.completion_tokens < 24


async def test_finish_names_the_stop_sequence_that_ended_the_answer(engine: LocalEngine) -> None:
    """The greedy starter model echoes this prompt, so its text reaches "4" before "6"; Anthropic's
    stop_reason "stop_sequence" needs the matched string, the earliest in the text, whatever the list order."""
    numbers = "List the numbers 1, 2, 3, 4, 5, 6."
    deltas, usage, finish = await collect(
        engine.stream_chat("gemma", chat(numbers, max_tokens=30, temperature=0, stop=["zebra", "6", "4"]))
    )
    assert finish == Finish("stop", "4"), text_of(deltas)
    assert text_of(deltas).endswith("3, ") and "4" not in text_of(deltas)
    assert usage.completion_tokens < 30
    # Stop sequences that never appear: a max_tokens cut is "length" and names none.
    _, usage, finish = await collect(
        engine.stream_chat("gemma", chat(numbers, max_tokens=5, temperature=0, stop=["zebra"]))
    )
    assert usage.completion_tokens == 5
    assert finish == Finish("length", None)


async def test_token_stats_on_every_token(engine: LocalEngine) -> None:
    # Both compared runs evaluate the prompt whole (another prompt in the prefix cache before each): one that
    # found it cached could pick another token at a near-tie of this small model's logits (it did, when
    # this test ran first), stats or not.
    other = chat("Unrelated words.", max_tokens=1, temperature=0)
    await collect(engine.stream_chat("gemma", other))
    deltas, usage, _ = await collect(
        engine.stream_chat("gemma", chat("Count to five.", max_tokens=10, temperature=0), want_stats=True)
    )
    assert len(deltas) == usage.completion_tokens  # one delta per generated token when stats are asked for
    for delta in deltas:
        assert delta.stats is not None
        assert 0.0 < delta.stats.prob <= 1.0
        assert delta.stats.entropy >= 0.0
        assert 0.0 <= delta.stats.margin <= delta.stats.prob + 1e-6  # greedy: the chosen token is the top one
    await collect(engine.stream_chat("gemma", other))
    plain, _, _ = await collect(
        engine.stream_chat("gemma", chat("Count to five.", max_tokens=10, temperature=0))
    )
    assert all(d.stats is None for d in plain)
    assert text_of(plain) == text_of(deltas)


async def test_completion_prompts_parse_special_tokens(engine: LocalEngine) -> None:
    templated = "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    _, usage, _ = await collect(
        engine.stream_completion(
            "gemma", CompletionRequest(model="local/gemma", prompt=templated, max_tokens=2, temperature=0)
        )
    )
    as_text = await engine.count_tokens("gemma", templated)  # special tokens spelled out as plain text
    assert usage.prompt_tokens < as_text - 6  # three markers became three tokens, not ~4 each


async def test_cancel_stops_generation_within_a_few_tokens(engine: LocalEngine) -> None:
    stream = engine.stream_chat(
        "gemma", chat("Write a long essay about rivers.", max_tokens=200, temperature=0.7)
    )
    seen = 0
    async for event in stream:
        if isinstance(event, TextDelta):
            seen += 1
            if seen == 3:
                break
    await stream.aclose()  # type: ignore[attr-defined]
    assert engine.queue_depth("gemma") == 0
    # The next request waits for nothing: the worker stopped the cancelled one at its next token.
    _, usage, _ = await asyncio.wait_for(
        collect(engine.stream_chat("gemma", chat("Hi", max_tokens=2, temperature=0))), timeout=60
    )
    assert usage.completion_tokens >= 1
    handle = engine._slots["gemma"].handle
    assert handle is not None and handle.last_cancelled is not None
    assert handle.last_cancelled.reason == "cancelled"
    assert handle.last_cancelled.completion_tokens <= seen + 3


async def test_queue_overflow_fails_fast_with_local_busy(engine: LocalEngine) -> None:
    started = asyncio.Event()

    async def long_request() -> None:
        async for event in engine.stream_chat(
            "gemma", chat("Describe the ocean.", max_tokens=60, temperature=0.7)
        ):
            if isinstance(event, TextDelta):
                started.set()

    running = asyncio.create_task(long_request())
    await asyncio.wait_for(started.wait(), timeout=60)
    waiting = asyncio.create_task(collect(engine.stream_chat("gemma", chat("Hi", max_tokens=2))))
    for _ in range(100):
        if engine.queue_depth("gemma") == 2:
            break
        await asyncio.sleep(0.01)
    assert engine.queue_depth("gemma") == 2  # one running, one waiting (queue_depth = 1)
    with pytest.raises(errors.LocalBusy) as busy:
        await collect(engine.stream_chat("gemma", chat("Hi", max_tokens=2)))
    assert busy.value.code == "local_busy" and busy.value.status == 503
    assert busy.value.retry_after is not None and busy.value.retry_after >= 1
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    _, usage, _ = await asyncio.wait_for(waiting, timeout=60)
    assert usage.completion_tokens >= 1
    assert engine.queue_depth("gemma") == 0


async def test_fill_in_the_middle_uses_the_models_fim_tokens(engine: LocalEngine) -> None:
    prefix, suffix = "def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n"
    req = CompletionRequest(model="local/coder", prompt=prefix, suffix=suffix, max_tokens=4, temperature=0)
    _, usage, finish = await collect(engine.stream_completion("coder", req))
    # <bos> <fim_pre> prefix <fim_suf> suffix <fim_mid>: each count_tokens() below includes one <bos>
    expected = await engine.count_tokens("coder", prefix) + await engine.count_tokens("coder", suffix) + 2
    assert usage.prompt_tokens == expected
    assert finish.reason in ("stop", "length")
    assert engine.get("coder").supports_fim and engine.get("coder").role == "code"


async def test_fim_on_a_model_without_fim_tokens_is_a_clear_error(engine: LocalEngine) -> None:
    req = CompletionRequest(model="local/gemma", prompt="def f():", suffix="\n", max_tokens=4)
    with pytest.raises(errors.UnsupportedByModel) as exc:
        await collect(engine.stream_completion("gemma", req))
    assert exc.value.code == "fim_not_supported" and exc.value.status == 400


async def test_prompt_longer_than_the_context_is_rejected(engine: LocalEngine) -> None:
    with pytest.raises(errors.ContextLengthExceeded) as exc:
        await collect(engine.stream_chat("gemma", chat("word " * 600, max_tokens=4)))
    assert "512" in exc.value.message and "word" not in exc.value.message  # no prompt text in errors


async def test_wrong_model_kinds_and_unknown_names(engine: LocalEngine) -> None:
    with pytest.raises(errors.ModelNotFound) as missing:
        await collect(engine.stream_chat("nope", chat("Hi")))
    assert "local/gemma" in missing.value.message  # lists what exists
    with pytest.raises(errors.UnsupportedByModel) as not_embedding:
        await engine.embed("gemma", ["hello"])
    assert not_embedding.value.code == "embeddings_not_supported"
    image = ChatRequest(
        model="local/gemma",
        messages=[
            Message(
                "user", [{"type": "image_url", "image_url": {"url": "data:,"}}, {"type": "text", "text": "?"}]
            )
        ],
    )
    with pytest.raises(errors.UnsupportedByModel):
        await collect(engine.stream_chat("gemma", image))


async def test_status_reports_the_loaded_workers(engine: LocalEngine) -> None:
    status = engine.status()
    by_name = {m.name: m for m in status.models}
    gemma = by_name["gemma"]
    assert gemma.pid > 0 and gemma.rss_bytes is not None and gemma.rss_bytes > 50 * 2**20
    assert gemma.requests_served >= 5
    assert gemma.last_tokens_per_s is not None and gemma.last_tokens_per_s > 0
    assert gemma.keep_alive_left is None  # keep_alive = -1
    assert gemma.chat_format == "llama.cpp:gemma" and gemma.n_ctx == 512
    assert status.free_memory_bytes > 0
