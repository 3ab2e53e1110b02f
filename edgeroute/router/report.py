"""``edgeroute eval``: the router on a file of per-prompt outcomes, next to the random and prompt-length
baselines, with quality and cost at the calibrated threshold and an optional PNG plot."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeroute.router.dataset import read_outcomes
from edgeroute.router.metrics import RouterMetrics, evaluate, quality_curve, random_baseline

if TYPE_CHECKING:
    from edgeroute.config import Settings
    from edgeroute.paths import Paths


@dataclass(slots=True)
class OperatingPoint:
    """What routing at the calibrated threshold does on this file."""

    threshold: float
    target_share: float
    premium_share: float
    quality: float
    pgr: float
    cost_usd: float | None
    all_strong_cost_usd: float | None
    all_weak_cost_usd: float | None


@dataclass(slots=True)
class EvalReport:
    file: str
    weak: str
    strong: str
    n: int
    skipped: int
    weak_quality: float
    strong_quality: float
    router: RouterMetrics
    random: RouterMetrics
    length: RouterMetrics
    point: OperatingPoint
    degraded: str | None
    calibration: str
    curves: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "weak": self.weak,
            "strong": self.strong,
            "n": self.n,
            "skipped": self.skipped,
            "weak_quality": self.weak_quality,
            "strong_quality": self.strong_quality,
            "router": self.router.as_dict(),
            "random": self.random.as_dict(),
            "length": self.length.as_dict(),
            "calibrated": {
                "threshold": self.point.threshold,
                "target_share": self.point.target_share,
                "premium_share": self.point.premium_share,
                "quality": self.point.quality,
                "pgr": self.point.pgr,
                "cost_usd": self.point.cost_usd,
                "all_strong_cost_usd": self.point.all_strong_cost_usd,
                "all_weak_cost_usd": self.point.all_weak_cost_usd,
                "calibration": self.calibration,
            },
            "degraded": self.degraded,
        }


def evaluate_file(
    path: Path, weak: str, strong: str, settings: Settings, paths: Paths, *, use_embedding: bool = True
) -> EvalReport:
    import numpy as np

    from edgeroute.router.runtime import build_scorer, load_user_calibration

    rows, skipped = read_outcomes(path, weak, strong)
    if not rows:
        raise ValueError(f"no row has outcomes for both {weak!r} and {strong!r}")
    w = np.array([r.weak for r in rows])
    s = np.array([r.strong for r in rows])
    if s.mean() <= w.mean():
        raise ValueError(
            f"{strong!r} is not better than {weak!r} on this file: the gap metrics are undefined"
        )
    scorer, why = build_scorer(settings, paths, use_embedding=use_embedding)
    results = []
    for start in range(0, len(rows), 64):
        results += scorer.score_batch([r.messages for r in rows[start : start + 64]])
    # Rank by the model's probability (strictly monotone in its output); the percentile score can tie
    # at 0 or 1 outside the reference range.
    ranking = np.array([x.p_gain for x in results])
    score = np.array([x.score for x in results])
    length = np.array([math.log1p(len(r.text())) for r in rows])  # as in the LOTO table

    calibration = load_user_calibration(settings, paths)
    share = settings.router.target_cloud_share
    threshold = settings.router.threshold or calibration.threshold_for_share(share)
    to_strong = score >= threshold
    quality = float(np.where(to_strong, s, w).mean())
    costs = _costs(rows, to_strong)
    point = OperatingPoint(
        threshold=float(threshold),
        target_share=share,
        premium_share=float(to_strong.mean()),
        quality=quality,
        pgr=(quality - float(w.mean())) / (float(s.mean()) - float(w.mean())),
        cost_usd=costs[0],
        all_strong_cost_usd=costs[1],
        all_weak_cost_usd=costs[2],
    )
    return EvalReport(
        file=str(path),
        weak=weak,
        strong=strong,
        n=len(rows),
        skipped=skipped,
        weak_quality=float(w.mean()),
        strong_quality=float(s.mean()),
        router=evaluate(ranking, w, s),
        random=random_baseline(w, s, repeats=100),
        length=evaluate(length, w, s),
        point=point,
        degraded=results[0].degraded if results else why,
        calibration=calibration.source,
        curves={
            "router": quality_curve(ranking, w, s).tolist(),
            "length": quality_curve(length, w, s).tolist(),
        },
    )


def _costs(rows: list[Any], to_strong: Any) -> tuple[float | None, float | None, float | None]:
    if any(r.weak_cost is None or r.strong_cost is None for r in rows):
        return None, None, None
    routed = sum(r.strong_cost if go else r.weak_cost for r, go in zip(rows, to_strong, strict=True))
    return routed, sum(r.strong_cost for r in rows), sum(r.weak_cost for r in rows)


def render_table(r: EvalReport) -> str:
    lines = [
        f"{r.file}: {r.n} prompts ({r.skipped} skipped without both models)",
        f"weak {r.weak}: {r.weak_quality:.3f}   strong {r.strong}: {r.strong_quality:.3f}",
        "",
        f"{'router':<22}{'APGR':>8}{'CPT(50%)':>10}{'CPT(80%)':>10}",
    ]
    for name, m in (("edgeroute", r.router), ("prompt length", r.length), ("random", r.random)):
        lines.append(f"{name:<22}{m.apgr:>8.3f}{m.cpt50:>10.1%}{m.cpt80:>10.1%}")
    p = r.point
    lines += [
        "",
        f"at the calibrated threshold {p.threshold:.3f} ({r.calibration} calibration, target {p.target_share:.0%}):",
        f"  premium calls {p.premium_share:.1%}, quality {p.quality:.3f} (PGR {p.pgr:.1%})",
    ]
    if p.cost_usd is not None and p.all_strong_cost_usd:
        lines.append(
            f"  cost ${p.cost_usd:.4f} vs ${p.all_strong_cost_usd:.4f} all-strong "
            f"({p.cost_usd / p.all_strong_cost_usd:.1%}), ${p.all_weak_cost_usd:.4f} all-weak"
        )
    if r.degraded:
        lines.append(f"  note: scored without the embedding ({r.degraded})")
    return "\n".join(lines)


def render_plot(r: EvalReport, out: Path) -> None:
    """Quality against premium-call share: router, prompt length, random, and the calibrated point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    for name, color in (("router", "#1f77b4"), ("length", "#ff7f0e")):
        q = r.curves[name]
        xs = [i / (len(q) - 1) for i in range(len(q))]
        label = (
            f"edgeroute (APGR {r.router.apgr:.3f})"
            if name == "router"
            else f"prompt length (APGR {r.length.apgr:.3f})"
        )
        ax.plot(xs, q, color=color, label=label, linewidth=1.6)
    ax.plot(
        [0, 1], [r.weak_quality, r.strong_quality], color="#888888", linestyle="--", label="random (APGR 0.5)"
    )
    ax.scatter(
        [r.point.premium_share],
        [r.point.quality],
        color="#d62728",
        zorder=5,
        label=f"calibrated threshold ({r.point.premium_share:.0%} premium)",
    )
    ax.set_xlabel("share of prompts sent to the strong model")
    ax.set_ylabel("mean quality")
    ax.set_title(f"{Path(r.file).name}: {r.weak.split('/')[-1]} vs {r.strong.split('/')[-1]}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    plt.close(fig)
