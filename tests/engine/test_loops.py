"""The loop detector on token sequences: a stretch repeated over 200+ tokens ends the answer; text that
varies, or a stretch seen only twice, does not."""

from __future__ import annotations

import random

from edgeroute.engine.loops import MIN_SPAN, LoopDetector, repeats


def fed_until_stopped(tokens: list[int]) -> int | None:
    detector = LoopDetector()
    for count, token in enumerate(tokens, start=1):
        if detector.feed(token):
            return count
    return None


def test_a_sentence_written_over_and_over_is_stopped_soon_after_200_tokens() -> None:
    prefix = list(range(1000, 1050))
    sentence = [5, 17, 9, 230, 41, 8, 77, 12, 3, 99, 14]  # 11 tokens
    stopped = fed_until_stopped(prefix + sentence * 100)
    assert stopped is not None and MIN_SPAN <= stopped - len(prefix) <= MIN_SPAN + 16 + len(sentence)


def test_a_recited_passage_of_229_tokens_is_a_loop_once_it_comes_a_third_time() -> None:
    """The starter model, given Claude Code's system prompt, recited eight paragraphs of it over and over."""
    rng = random.Random(3)
    passage = [rng.randrange(32000) for _ in range(229)]
    stopped = fed_until_stopped(passage * 5)
    assert stopped is not None and 3 * 229 <= stopped <= 3 * 229 + 16


def test_one_token_repeated_is_a_loop_too() -> None:
    assert fed_until_stopped([7] * 400) is not None


def test_varied_text_is_never_stopped() -> None:
    rng = random.Random(1)
    assert fed_until_stopped([rng.randrange(32000) for _ in range(3000)]) is None


def test_a_long_stretch_seen_twice_is_not_a_loop() -> None:
    rng = random.Random(2)
    block = [rng.randrange(32000) for _ in range(120)]  # e.g. a function pasted twice
    assert not repeats(block + block)
    assert fed_until_stopped(block + block) is None


def test_short_answers_are_never_checked() -> None:
    assert fed_until_stopped([4, 2] * ((MIN_SPAN - 2) // 2)) is None
