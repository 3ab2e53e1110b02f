"""How routers are measured (RouteLLM, arXiv 2406.18665): sort prompts by score, send the top share c to
the strong model, and read the share of the weak→strong quality gap recovered, PGR(c).

APGR is the area under PGR over c in [0, 1]; CPT(x) is the smallest strong-call share reaching PGR >= x.
Ties in the score are averaged over every order within the tie (the expected curve), so a constant score
is exactly random routing (APGR 0.5) rather than whatever order the file happened to have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike


@dataclass(frozen=True, slots=True)
class RouterMetrics:
    """One router's numbers on one prompt set."""

    apgr: float
    cpt50: float
    cpt80: float
    n: int
    weak_quality: float
    strong_quality: float

    def as_dict(self) -> dict[str, float]:
        return {
            "apgr": self.apgr,
            "cpt50": self.cpt50,
            "cpt80": self.cpt80,
            "n": float(self.n),
            "weak_quality": self.weak_quality,
            "strong_quality": self.strong_quality,
        }


def quality_curve(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike) -> np.ndarray:
    """Mean quality q(k/n) for k = 0..n strong calls, highest scores first, ties averaged."""
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    w = np.asarray(weak, dtype=np.float64)
    t = np.asarray(strong, dtype=np.float64)
    n = s.size
    if n == 0:
        raise ValueError("no prompts to evaluate")
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    gain = (t - w)[order]
    # Tie groups: the expected cumulative gain inside a group grows linearly (each member equally likely
    # at each position), so replace each member's gain by its group's mean.
    boundaries = np.flatnonzero(np.diff(s_sorted) != 0) + 1
    starts = np.concatenate(([0], boundaries))
    sums = np.add.reduceat(gain, starts)
    sizes = np.diff(np.concatenate((starts, [n])))
    gain = np.repeat(sums / sizes, sizes)
    cum = np.concatenate(([0.0], np.cumsum(gain)))
    return (w.sum() + cum) / n


def pgr_curve(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike) -> np.ndarray:
    """PGR at k/n strong calls, k = 0..n. Undefined (ValueError) when the strong model is no better."""
    import numpy as np

    q = quality_curve(scores, weak, strong)
    q_weak, q_strong = q[0], float(np.mean(np.asarray(strong, dtype=np.float64)))
    gap = q_strong - q_weak
    if gap <= 0:
        raise ValueError("the strong model is not better than the weak one on these prompts")
    return (q - q_weak) / gap


def apgr(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike) -> float:
    """Area under PGR(c), c from 0 to 1 (trapezoids on the n+1 points)."""
    import numpy as np

    pgr = pgr_curve(scores, weak, strong)
    return float(np.trapezoid(pgr, dx=1.0 / (pgr.size - 1)))


def cpt(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike, target: float) -> float:
    """The smallest strong-call share c with PGR(c) >= target."""
    import numpy as np

    pgr = pgr_curve(scores, weak, strong)
    k = int(np.argmax(pgr >= target - 1e-12))
    return k / (pgr.size - 1)


def evaluate(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike) -> RouterMetrics:
    """APGR, CPT(50%), CPT(80%) and the two models' own quality."""
    import numpy as np

    w = np.asarray(weak, dtype=np.float64)
    t = np.asarray(strong, dtype=np.float64)
    return RouterMetrics(
        apgr=apgr(scores, w, t),
        cpt50=cpt(scores, w, t, 0.5),
        cpt80=cpt(scores, w, t, 0.8),
        n=int(w.size),
        weak_quality=float(w.mean()),
        strong_quality=float(t.mean()),
    )


def random_baseline(
    weak: ArrayLike, strong: ArrayLike, *, repeats: int = 200, seed: int = 0
) -> RouterMetrics:
    """Random routing, averaged over ``repeats`` shuffles (its APGR is 0.5 in expectation)."""
    import numpy as np

    w = np.asarray(weak, dtype=np.float64)
    t = np.asarray(strong, dtype=np.float64)
    rng = np.random.default_rng(seed)
    runs = [evaluate(rng.random(w.size), w, t) for _ in range(repeats)]
    return RouterMetrics(
        apgr=float(np.mean([r.apgr for r in runs])),
        cpt50=float(np.mean([r.cpt50 for r in runs])),
        cpt80=float(np.mean([r.cpt80 for r in runs])),
        n=int(w.size),
        weak_quality=float(w.mean()),
        strong_quality=float(t.mean()),
    )
