"""APGR and CPT exactly as the data README defines them (RouteLLM, arXiv 2406.18665)."""

from __future__ import annotations

import pytest

from edgeroute.router.metrics import apgr, cpt, evaluate, pgr_curve, quality_curve, random_baseline

WEAK = [1, 0, 0, 1, 0, 1, 0, 1]
STRONG = [1, 1, 1, 1, 0, 1, 1, 0]  # gains: prompts 1, 2, 6; a loss: prompt 7


def test_quality_and_pgr_curve_by_hand() -> None:
    scores = [0.1, 0.9, 0.8, 0.2, 0.3, 0.4, 0.7, 0.0]  # the three gains first, the loss last
    q = quality_curve(scores, WEAK, STRONG)
    assert q.tolist() == pytest.approx([4 / 8, 5 / 8, 6 / 8, 7 / 8, 7 / 8, 7 / 8, 7 / 8, 7 / 8, 6 / 8])
    pgr = pgr_curve(scores, WEAK, STRONG)
    assert pgr[0] == 0 and pgr[-1] == pytest.approx(1.0)
    assert pgr[3] == pytest.approx(1.5)  # PGR can pass 1 before the loss is routed
    assert cpt(scores, WEAK, STRONG, 0.5) == pytest.approx(1 / 8)
    assert cpt(scores, WEAK, STRONG, 0.8) == pytest.approx(2 / 8)
    # area: trapezoids over k/n
    expected = sum((pgr[i] + pgr[i + 1]) / 2 for i in range(8)) / 8
    assert apgr(scores, WEAK, STRONG) == pytest.approx(expected)


def test_a_constant_score_is_exactly_random() -> None:
    assert apgr([0.5] * 8, WEAK, STRONG) == pytest.approx(0.5)


def test_ties_are_averaged_not_file_order() -> None:
    # prompts 0 (no gain) and 1 (gain) tie: the curve is the mean over both orders
    tied = [0.9, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.0]
    first = [0.91, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.0]
    second = [0.9, 0.91, 0.1, 0.2, 0.3, 0.4, 0.5, 0.0]
    expected = (apgr(first, WEAK, STRONG) + apgr(second, WEAK, STRONG)) / 2
    assert apgr(tied, WEAK, STRONG) == pytest.approx(expected)
    assert apgr(first, WEAK, STRONG) != pytest.approx(apgr(second, WEAK, STRONG))


def test_oracle_and_anti_oracle() -> None:
    gain = [s - w for s, w in zip(STRONG, WEAK, strict=True)]
    assert apgr(gain, WEAK, STRONG) > 0.9
    assert apgr([-g for g in gain], WEAK, STRONG) < 0.3


def test_random_baseline_is_about_half() -> None:
    m = random_baseline([i % 3 == 0 for i in range(300)], [i % 3 != 2 for i in range(300)], repeats=50)
    assert abs(m.apgr - 0.5) < 0.03
    assert 0.3 < m.cpt50 < 0.7


def test_no_gap_is_an_error() -> None:
    with pytest.raises(ValueError):
        evaluate([0.1, 0.2], [1, 1], [1, 0])
