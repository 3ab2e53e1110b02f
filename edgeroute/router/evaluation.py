"""Leave-one-task-out evaluation and the baselines a router must beat (random, prompt length).

For each task: fit on the other tasks (the shrinkage chosen by leave-one-task-out among *those* tasks),
score the held-out one, and report APGR, CPT(50%), CPT(80%) next to random routing and the prompt-length
score on the same prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgeroute.router.metrics import RouterMetrics, evaluate, random_baseline
from edgeroute.router.training import TaskData, fit_with_inner_cv

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True)
class LotoRow:
    task: str
    n: int
    weak_quality: float
    strong_quality: float
    random: RouterMetrics
    length: RouterMetrics
    router: RouterMetrics
    l2: float

    @property
    def beats_length(self) -> bool:
        return self.router.apgr > self.length.apgr


def length_scores(task: TaskData) -> np.ndarray:
    """The prompt-length baseline: the whole prompt's character count (log, same order)."""
    from edgeroute.router.features import FEATURE_NAMES

    return task.X[:, FEATURE_NAMES.index("log_chars")]


def loto(tasks: Sequence[TaskData], *, use_embedding: bool = False) -> list[LotoRow]:
    """One row per held-out task."""
    rows = []
    for i, held in enumerate(tasks):
        rest = [t for j, t in enumerate(tasks) if j != i]
        head = fit_with_inner_cv(rest, use_embedding=use_embedding)
        scores = head.raw(held.X, held.E if use_embedding else None)
        rows.append(
            LotoRow(
                task=held.name,
                n=len(held.y),
                weak_quality=float(held.weak.mean()),
                strong_quality=float(held.strong.mean()),
                random=random_baseline(held.weak, held.strong, repeats=100),
                length=evaluate(length_scores(held), held.weak, held.strong),
                router=evaluate(scores, held.weak, held.strong),
                l2=head.l2,
            )
        )
    return rows


def format_table(rows: Sequence[LotoRow], title: str) -> str:
    """A Markdown table with a mean row."""
    lines = [
        f"**{title}**",
        "",
        "| held-out task | n | weak / strong acc | random APGR | length APGR | router APGR | router CPT(50%) "
        "| router CPT(80%) | beats length |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.task} | {r.n} | {r.weak_quality:.3f} / {r.strong_quality:.3f} | {r.random.apgr:.3f} "
            f"| {r.length.apgr:.3f} | **{r.router.apgr:.3f}** | {r.router.cpt50:.1%} | {r.router.cpt80:.1%} "
            f"| {'yes' if r.beats_length else 'no'} |"
        )
    n = len(rows)
    if n:
        mean = lambda xs: sum(xs) / n  # noqa: E731
        lines.append(
            f"| **mean** | | | {mean([r.random.apgr for r in rows]):.3f} | {mean([r.length.apgr for r in rows]):.3f} "
            f"| **{mean([r.router.apgr for r in rows]):.3f}** | {mean([r.router.cpt50 for r in rows]):.1%} "
            f"| {mean([r.router.cpt80 for r in rows]):.1%} | {sum(r.beats_length for r in rows)}/{n} |"
        )
    return "\n".join(lines)
