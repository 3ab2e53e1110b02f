"""The engine's pure parts: stop sequences, FIM assembly, token statistics, the state file, memory budgets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgeroute.engine.fim import FimTokens, build_fim_prompt
from edgeroute.engine.memory import MemoryBudget, SystemMemory
from edgeroute.engine.state import EngineState, model_key
from edgeroute.engine.stops import StopMatcher
from edgeroute.engine.token_stats import TokenStatsComputer


def feed_all(matcher: StopMatcher, pieces: list[str]) -> tuple[str, bool]:
    out = ""
    for piece in pieces:
        text, stopped = matcher.feed(piece)
        out += text
        if stopped:
            return out, True
    return out + matcher.flush(), False


def test_stop_sequence_split_across_tokens_is_never_emitted() -> None:
    assert feed_all(StopMatcher(["</end>"]), ["Hello", " wor", "ld</", "en", "d> trailing"]) == (
        "Hello world",
        True,
    )
    assert feed_all(StopMatcher(["\n\n", "###"]), ["a", "#", "#b", "\n", "\n", "c"]) == ("a##b", True)


def test_held_back_text_is_released_when_it_does_not_complete_a_stop() -> None:
    matcher = StopMatcher(["STOP"])
    assert matcher.feed("xxST") == ("xx", False)
    assert matcher.feed("AR") == ("STAR", False)
    assert feed_all(StopMatcher(["STOP"]), ["ends with ST"]) == ("ends with ST", False)
    assert feed_all(StopMatcher([]), ["no", " stops"]) == ("no stops", False)


def test_matcher_remembers_which_stop_sequence_ended_the_text() -> None:
    matcher = StopMatcher(["zebra", "4, 5", "3"])
    assert matcher.matched is None
    assert feed_all(matcher, ["1, 2, ", "3, 4", ", 5"]) == ("1, 2, ", True)
    assert matcher.matched == "3"  # the earliest in the text, not the first listed
    split = StopMatcher(["zebra", "4, 5"])
    assert feed_all(split, ["1, 2, 3, 4", ",", " 5, 6"]) == ("1, 2, 3, ", True)
    assert split.matched == "4, 5"
    tie = StopMatcher(["ab", "abc"])
    assert feed_all(tie, ["xabcd"]) == ("x", True)
    assert tie.matched == "ab"  # both start there: the first listed wins
    missed = StopMatcher(["STOP"])
    assert feed_all(missed, ["ends with ST"]) == ("ends with ST", False)
    assert missed.matched is None


def test_fim_prompt_order() -> None:
    fim = FimTokens(prefix=10, suffix=11, middle=12)
    assert build_fim_prompt(fim, [1, 2], [3], bos=2) == [2, 10, 1, 2, 11, 3, 12]
    assert build_fim_prompt(fim, [], [], bos=None) == [10, 11, 12]


def test_token_stats_match_a_plain_softmax() -> None:
    rng = np.random.default_rng(7)
    logits = (rng.standard_normal(5000) * 2).astype(np.float32)
    p = np.exp(logits.astype(np.float64) - logits.max())
    p /= p.sum()
    top = np.sort(p)[::-1]
    prob, entropy, margin = TokenStatsComputer(5000)(logits, 123)
    assert np.isclose(prob, p[123], rtol=1e-4)
    assert np.isclose(entropy, -(p * np.log(p)).sum(), rtol=1e-4)
    assert np.isclose(margin, top[0] - top[1], rtol=1e-4)


def test_token_stats_of_a_certain_token_and_masked_logits() -> None:
    logits = np.full(100, -np.inf, dtype=np.float32)
    logits[3] = 5.0
    assert TokenStatsComputer(100)(logits, 3) == (1.0, 0.0, 1.0)


def test_engine_state_round_trip_and_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "engine-state.json"
    key = model_key(Path("/m/x.gguf"), 123)
    state = EngineState(path)
    assert state.extra_bufts(key) is None
    state.set_extra_bufts(key, False, "crashed in first decode")
    assert EngineState(path).extra_bufts(key) is False
    assert json.loads(path.read_text())["models"][key]["reason"] == "crashed in first decode"
    path.write_text("{not json")
    assert EngineState(path).extra_bufts(key) is None


def test_memory_probes() -> None:
    assert MemoryBudget(1000).available(engine_reserved=400, engine_mapped=300) == 600
    assert MemoryBudget(1000).available(engine_reserved=4000, engine_mapped=0) == 0
    assert SystemMemory().available(0, 0) > 0
