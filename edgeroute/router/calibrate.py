"""Thresholds that hit a target share of premium calls.

The scorer's score is already a percentile of reference traffic (the shipped data: the share of
reference prompts that look easier), so by default the premium threshold for a target share ``s`` is
simply ``1 - s``. The user's own traffic rarely looks like the reference mix: ``edgeroute calibrate``
takes the quantiles of the scores the ledger kept and stores thresholds that send ``s`` of *that*
traffic to the premium tier.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

CALIBRATION_FILE = "router-calibration.json"
QUANTILE_POINTS = 101


@dataclass(frozen=True, slots=True)
class Calibration:
    """Score quantiles at 0%, 1%, ..., 100% of some traffic (``quantiles[i]`` = the i-th percentile)."""

    quantiles: tuple[float, ...] = field(default_factory=lambda: tuple(i / 100 for i in range(101)))
    source: str = "shipped"
    n: int = 0
    created: float = 0.0

    def threshold_for_share(self, share: float) -> float:
        """The score at or above which ``share`` of this traffic lies."""
        share = min(1.0, max(0.0, share))
        if share <= 0.0:
            return math.inf
        return quantile_of_sorted(self.quantiles, 1.0 - share)

    def share_above(self, threshold: float) -> float:
        """The inverse: the share of this traffic scoring at or above ``threshold``."""
        q = self.quantiles
        if threshold <= q[0]:
            return 1.0
        if threshold > q[-1]:
            return 0.0
        for i in range(1, len(q)):
            if threshold <= q[i]:
                lo, hi = q[i - 1], q[i]
                frac = 0.0 if hi == lo else (threshold - lo) / (hi - lo)
                return 1.0 - (i - 1 + frac) / (len(q) - 1)
        return 0.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """``premium``: score at or above → premium cloud; ``moderate``: at or above → cheap cloud (None: no
    cheap tier). ``shift`` is what adaptive rules added; ``notes`` say why, for the reason string."""

    premium: float
    moderate: float | None = None
    shift: float = 0.0
    notes: tuple[str, ...] = ()


def quantile_of_sorted(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile ``q`` in [0, 1] of an ascending sequence."""
    if not values:
        raise ValueError("no values")
    pos = q * (len(values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def calibrate_from_scores(scores: Sequence[float], source: str = "user") -> Calibration:
    """Quantiles of observed scores (NaN and None dropped)."""
    clean = sorted(float(s) for s in scores if s is not None and not math.isnan(float(s)))
    if len(clean) < 2:
        raise ValueError("need at least 2 scores to calibrate")
    quantiles = tuple(quantile_of_sorted(clean, i / (QUANTILE_POINTS - 1)) for i in range(QUANTILE_POINTS))
    return Calibration(quantiles=quantiles, source=source, n=len(clean), created=time.time())


def base_thresholds(
    calibration: Calibration,
    target_cloud_share: float,
    moderate_share: float | None = None,
    fixed_premium: float | None = None,
    fixed_moderate: float | None = None,
) -> Thresholds:
    """Premium threshold for the target share; with a cheap tier, the moderate threshold sends the next
    ``moderate_share`` of traffic there. Fixed thresholds from the config win."""
    premium = (
        fixed_premium if fixed_premium is not None else calibration.threshold_for_share(target_cloud_share)
    )
    moderate: float | None = None
    if fixed_moderate is not None:
        moderate = fixed_moderate
    elif moderate_share:
        moderate = calibration.threshold_for_share(min(1.0, target_cloud_share + moderate_share))
    if moderate is not None and moderate > premium:
        moderate = premium
    return Thresholds(premium=premium, moderate=moderate)


def save_calibration(calibration: Calibration, path: Path) -> None:
    """Write atomically (the daemon may be reading it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(calibration), indent=1), encoding="utf-8")
    tmp.replace(path)


def load_calibration(path: Path) -> Calibration | None:
    """A stored calibration, or None when there is none (or it is unreadable: fall back to shipped)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        quantiles = tuple(float(x) for x in data["quantiles"])
        if len(quantiles) < 2 or list(quantiles) != sorted(quantiles):
            return None
        return Calibration(
            quantiles=quantiles,
            source=str(data.get("source", "user")),
            n=int(data.get("n", 0)),
            created=float(data.get("created", 0.0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
