"""The cascade: the low-quantile confidence test, and the stream gate on the real starter model (Gemma 3
270M through a real engine worker), where nothing reaches the client before the verdict."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from edgeroute.chat import ChatRequest, Message, StreamEvent, TextDelta, TokenStats
from edgeroute.config import CascadeConfig, EngineConfig, LocalModelConfig, Settings
from edgeroute.engine import LocalEngine
from edgeroute.paths import Paths
from edgeroute.router.cascade import StreamCascade, gate_stream, judge, low_quantile


def stats(*probs: float) -> list[TokenStats]:
    return [TokenStats(prob=p, entropy=1.0, margin=p / 2) for p in probs]


def test_low_quantile_not_mean_decides() -> None:
    cfg = CascadeConfig(quantile=0.1, min_token_prob=0.2)
    # 17 sure tokens and 3 guesses: the mean log-probability looks fine (geometric mean 0.63), the low
    # quantile does not
    verdict = judge(stats(*([0.99] * 17), 0.05, 0.04, 0.06), cfg)
    assert verdict.escalate and verdict.reason.startswith("cascade:p10 0.")
    assert not judge(stats(*([0.9] * 20)), cfg).escalate
    assert judge([], cfg).escalate


def test_entropy_test_is_optional() -> None:
    sure = [TokenStats(prob=0.9, entropy=3.0, margin=0.5)] * 8
    assert not judge(sure, CascadeConfig()).escalate
    v = judge(sure, CascadeConfig(max_entropy=2.0))
    assert v.escalate and v.reason.startswith("cascade:entropy 3.00>2.00")


def test_stream_cascade_decides_at_the_window() -> None:
    gate = StreamCascade(CascadeConfig(window_tokens=4))
    assert [gate.feed(s) for s in stats(0.9, 0.9, 0.9)] == [None, None, None]
    verdict = gate.feed(stats(0.9)[0])
    assert verdict is not None and verdict.tokens == 4 and not verdict.escalate
    short = StreamCascade(CascadeConfig(window_tokens=16))
    short.feed(stats(0.01)[0])
    assert short.finish().escalate


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def engine(starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalEngine]:
    settings = Settings(
        engine=EngineConfig(threads=1, memory_headroom_mb=0, keep_alive=-1),
        local=[LocalModelConfig(name="gemma", path=starter_gguf, n_ctx=512)],
    )
    root = tmp_path_factory.mktemp("cascade")
    engine = LocalEngine(settings, Paths(root / "c", root / "d", root / "l", root / "r", root / "k"))
    await engine.start()
    yield engine
    await engine.close()


def request(text: str, max_tokens: int = 24) -> ChatRequest:
    return ChatRequest(
        model="local/gemma",
        messages=[Message(role="user", content=text)],
        max_tokens=max_tokens,
        temperature=0,
    )


async def text_of(events: AsyncIterator[StreamEvent]) -> tuple[str, int]:
    text, n = "", 0
    async for e in events:
        if isinstance(e, TextDelta):
            text += e.text
            n += 1
    return text, n


@pytest.mark.asyncio(loop_scope="module")
async def test_gate_keeps_a_confident_answer_whole(engine: LocalEngine) -> None:
    prompt = "Count from 1 to 10, separated by commas."
    plain, _ = await text_of(engine.stream_chat("gemma", request(prompt)))
    cfg = CascadeConfig(window_tokens=8, min_token_prob=0.0)
    gated = await gate_stream(engine.stream_chat("gemma", request(prompt), want_stats=True), cfg)
    assert not gated.verdict.escalate and gated.verdict.tokens == 8
    assert gated.verdict.reason.startswith("cascade:kept p10 ")
    text, _ = await text_of(gated.events)
    assert text == plain  # held-back tokens first, then the rest, nothing lost or repeated


@pytest.mark.asyncio(loop_scope="module")
async def test_gate_escalates_before_anything_is_sent(engine: LocalEngine) -> None:
    cfg = CascadeConfig(window_tokens=6, min_token_prob=1.0)  # no real answer is that sure
    gated = await gate_stream(
        engine.stream_chat("gemma", request("What is 48271 times 9173?"), want_stats=True), cfg
    )
    assert gated.verdict.escalate and gated.verdict.tokens == 6
    assert await text_of(gated.events) == ("", 0)
    # the local generation was closed: the model serves the next request at once
    _, n = await text_of(engine.stream_chat("gemma", request("Say hello.", max_tokens=4)))
    assert n > 0


@pytest.mark.asyncio(loop_scope="module")
async def test_verdict_matches_the_real_token_statistics(engine: LocalEngine) -> None:
    deltas = []
    async for e in engine.stream_chat(
        "gemma", request("Name the capital of Australia.", 12), want_stats=True
    ):
        if isinstance(e, TextDelta):
            deltas.append(e)
    real = [d.stats for d in deltas if d.stats is not None]
    assert len(real) == len(deltas) > 0
    cfg = CascadeConfig(window_tokens=len(real))
    p10 = low_quantile([s.prob for s in real], 0.1)
    verdict = judge(real, cfg)
    assert verdict.low_prob == pytest.approx(p10)
    assert verdict.escalate == (p10 < cfg.min_token_prob)
    # a threshold just above / below the observed quantile flips the verdict
    assert judge(real, CascadeConfig(min_token_prob=min(1.0, p10 + 1e-3))).escalate
    assert not judge(real, CascadeConfig(min_token_prob=max(0.0, p10 - 1e-3))).escalate
