"""Fitting the router's linear heads (numpy only; used by scripts/train_router.py and scripts/eval_loto.py).

What transfers across tasks is little, so the fit is built to not overreach:
- **Task fixed effects.** Each training task gets its own intercept, dropped at scoring time: a task's
  base rate (MMLU's gap is 18%, MBPP's 39%) says nothing about which prompts *within* a task are hard,
  which is all APGR measures.
- **Tasks weighted equally**, so 14,000 MMLU rows do not drown 300 MBPP ones.
- **Shrinkage toward a prior**, not toward zero: ``loss + l2 * |coef - prior|^2``, where the prior gives
  the a-priori difficulty cues (length, clauses, numbers, parts, compound or overlapping options, constraints,
  steps)
  one equal weight. A fitted model on three tasks learns their quirks; a unit-weighted one is robust
  ("improper linear models"); the strength between them is chosen by leave-one-task-out *inside* the
  training tasks, never by looking at the held-out one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeroute.router.dataset import OutcomeRow
from edgeroute.router.features import FEATURE_NAMES, cheap_features
from edgeroute.router.metrics import apgr

if TYPE_CHECKING:
    import numpy as np

# A-priori "harder" cues (weight +1 on the standardized feature); everything else starts at 0.
PRIOR_WEIGHTS: dict[str, float] = {
    "log_focus_chars": 1.0,
    "log_clauses": 1.0,
    "log_numbers": 1.0,
    "log_math_ops": 1.0,
    "enumerated_parts": 1.0,
    "compound_options": 1.0,
    "option_overlap": 1.0,
    "constraint_words": 1.0,
    "multistep_words": 1.0,
}
PRIOR_SCALE = 0.15  # logit units per standard deviation for a prior cue
# Up to 1e6, where the fit is the prior itself (to three decimals of APGR): with a top of 1e4, leave-one-task-out
# chose the top in every fold, so the grid did not reach the shrinkage the data asked for.
L2_GRID = (1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0)


@dataclass(slots=True)
class TaskData:
    """One task's design matrix and outcomes."""

    name: str
    X: np.ndarray  # cheap features, FEATURE_NAMES order
    weak: np.ndarray
    strong: np.ndarray
    E: np.ndarray | None = None  # embeddings (unit norm), when computed

    @property
    def y(self) -> np.ndarray:
        """1 where the small model fails and the large one succeeds (the only prompts worth sending)."""
        import numpy as np

        return ((self.weak < 0.5) & (self.strong >= 0.5)).astype(np.float64)


def task_data(name: str, rows: Sequence[OutcomeRow], embeddings: np.ndarray | None = None) -> TaskData:
    import numpy as np

    X = np.array([[cheap_features(r.messages)[n] for n in FEATURE_NAMES] for r in rows], dtype=np.float64)
    return TaskData(
        name=name,
        X=X,
        weak=np.array([r.weak for r in rows], dtype=np.float64),
        strong=np.array([r.strong for r in rows], dtype=np.float64),
        E=embeddings,
    )


@dataclass(slots=True)
class FittedHead:
    """Standardization, coefficients (cheap, then embedding) and the training reference quantiles."""

    center: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    emb_coef: np.ndarray | None
    reference: np.ndarray
    l2: float

    def raw(self, X: np.ndarray, E: np.ndarray | None = None) -> np.ndarray:
        out = ((X - self.center) / self.scale) @ self.coef
        if self.emb_coef is not None and E is not None:
            out = out + E @ self.emb_coef
        return out

    def to_dict(self, features: Sequence[str] = FEATURE_NAMES) -> dict[str, Any]:
        return {
            "features": list(features),
            "center": [round(float(x), 6) for x in self.center],
            "scale": [round(float(x), 6) for x in self.scale],
            "coef": [round(float(x), 6) for x in self.coef],
            "intercept": 0.0,
            "reference": [round(float(x), 6) for x in self.reference],
            "embedding_coef": None if self.emb_coef is None else [round(float(x), 6) for x in self.emb_coef],
            "l2": self.l2,
        }


def prior_vector(features: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    import numpy as np

    return np.array([PRIOR_WEIGHTS.get(n, 0.0) * PRIOR_SCALE for n in features])


def _balanced_weights(tasks: Sequence[TaskData]) -> np.ndarray:
    import numpy as np

    w = np.concatenate([np.full(len(t.y), 1.0 / len(t.y)) for t in tasks])
    return w * (len(w) / w.sum())


def _weighted_stats(X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    mean = (X * w[:, None]).sum(0) / w.sum()
    var = ((X - mean) ** 2 * w[:, None]).sum(0) / w.sum()
    return mean, np.sqrt(var) + 1e-6


def fit_head(
    tasks: Sequence[TaskData], l2: float, *, use_embedding: bool = False, emb_l2_factor: float = 1.0
) -> FittedHead:
    """Penalized logistic regression (Newton steps) with per-task intercepts, shrunk toward the prior."""
    import numpy as np

    X = np.vstack([t.X for t in tasks])
    y = np.concatenate([t.y for t in tasks])
    w = _balanced_weights(tasks)
    center, scale = _weighted_stats(X, w)
    Z = (X - center) / scale
    blocks = [Z]
    prior = [prior_vector()]
    penalty = [np.full(Z.shape[1], l2)]
    if use_embedding:
        E = np.vstack([t.E for t in tasks if t.E is not None])
        if E.shape[0] != Z.shape[0]:
            raise ValueError("every task needs embeddings to fit the embedding head")
        blocks.append(E)
        prior.append(np.zeros(E.shape[1]))
        penalty.append(np.full(E.shape[1], l2 * emb_l2_factor))
    offsets = np.cumsum([0] + [len(t.y) for t in tasks])
    D = np.zeros((len(y), len(tasks)))
    for k in range(len(tasks)):
        D[offsets[k] : offsets[k + 1], k] = 1.0
    A = np.hstack([*blocks, D])
    beta0 = np.concatenate([*prior, np.zeros(len(tasks))])
    lam = np.concatenate([*penalty, np.full(len(tasks), 1e-6)])
    beta = beta0.copy()
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(A @ beta, -30, 30)))
        grad = A.T @ (w * (p - y)) + lam * (beta - beta0)
        hess = (A.T * (w * p * (1 - p))) @ A + np.diag(lam)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.abs(step).max()) < 1e-9:
            break
    n_feat = Z.shape[1]
    coef = beta[:n_feat]
    emb_coef = beta[n_feat : A.shape[1] - len(tasks)] if use_embedding else None
    head = FittedHead(center, scale, coef, emb_coef, np.zeros(101), l2)
    head.reference = reference_quantiles(head, tasks)
    return head


def reference_quantiles(head: FittedHead, tasks: Sequence[TaskData]) -> np.ndarray:
    """101 quantiles of raw scores over the training tasks, each task weighted equally."""
    import numpy as np

    raws = [head.raw(t.X, t.E if head.emb_coef is not None else None) for t in tasks]
    grid = np.linspace(0, 1, 2001)
    per_task = np.array([np.quantile(r, grid) for r in raws])  # equal weight: mix the task quantile functions
    mixed = np.sort(per_task.ravel())
    return np.quantile(mixed, np.linspace(0, 1, 101))


def inner_loto_l2(
    tasks: Sequence[TaskData], grid: Sequence[float] = L2_GRID, *, use_embedding: bool = False
) -> tuple[float, dict[float, float]]:
    """The shrinkage to use, by leave-one-task-out over ``tasks``, and the mean APGR of each candidate.

    One-standard-error rule: the *strongest* shrinkage whose mean APGR is within one standard error
    (across held-out tasks) of the best. Differences smaller than that are noise on four tasks, and
    ties go to the prior, which is what generalizes to tasks that are not in the data."""
    import numpy as np

    per_task: dict[float, list[float]] = {}
    for l2 in grid:
        scores = []
        for i, held in enumerate(tasks):
            rest = [t for j, t in enumerate(tasks) if j != i]
            head = fit_head(rest, l2, use_embedding=use_embedding)
            scores.append(apgr(head.raw(held.X, held.E), held.weak, held.strong))
        per_task[l2] = scores
    means = {l2: float(np.mean(s)) for l2, s in per_task.items()}
    best = max(means, key=lambda k: means[k])
    se = float(np.std(per_task[best], ddof=1) / np.sqrt(len(tasks))) if len(tasks) > 1 else 0.0
    chosen = max(l2 for l2 in grid if means[l2] >= means[best] - se)
    return chosen, means


def fit_with_inner_cv(tasks: Sequence[TaskData], *, use_embedding: bool = False) -> FittedHead:
    """Choose the shrinkage by inner leave-one-task-out, then fit on all of ``tasks``."""
    l2, _ = inner_loto_l2(tasks, use_embedding=use_embedding) if len(tasks) > 2 else (L2_GRID[-1], {})
    return fit_head(tasks, l2, use_embedding=use_embedding)


def embed_tasks(
    tasks: Mapping[str, Sequence[OutcomeRow]],
    model_path: Path,
    max_tokens: int,
    cache_dir: Path | None,
    *,
    threads: int = 1,
    batch: int = 1,
) -> dict[str, np.ndarray]:
    """Embeddings of each row's focus text exactly as the scorer builds it at run time (cached by the
    model file's size and mtime, the truncation and the row ids)."""
    import hashlib

    import numpy as np

    from edgeroute.router.embedder import LlamaEmbedder
    from edgeroute.router.features import prompt_focus
    from edgeroute.router.scorer import truncate_for_embedding

    stat = model_path.stat()
    out: dict[str, np.ndarray] = {}
    embedder: LlamaEmbedder | None = None
    try:
        for name, rows in tasks.items():
            key = hashlib.sha256(
                f"{model_path.name}:{stat.st_size}:{max_tokens}:".encode()
                + "\n".join(r.id for r in rows).encode()
            ).hexdigest()[:16]
            cache = cache_dir / f"emb-{name}-{key}.npy" if cache_dir else None
            if cache is not None and cache.exists():
                out[name] = np.load(cache)
                continue
            if embedder is None:
                embedder = LlamaEmbedder(model_path, n_threads=threads)
            texts = [truncate_for_embedding(prompt_focus(r.messages), max_tokens) or " " for r in rows]
            vecs: list[Sequence[float]] = []
            for start in range(0, len(texts), batch):
                vecs.extend(embedder(texts[start : start + batch]))
            arr = np.asarray(vecs, dtype=np.float64)
            arr /= np.linalg.norm(arr, axis=1, keepdims=True) + 1e-12
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.save(cache, arr)
            out[name] = arr
    finally:
        if embedder is not None:
            embedder.close()
    return out


def load_training_tasks(
    data_dir: Path,
    *,
    embedding_model: Path | None = None,
    max_tokens: int = 16,
    cache_dir: Path | None = None,
    threads: int = 1,
) -> list[TaskData]:
    """Every ``*.jsonl`` in ``data_dir`` as tasks (MMLU is one task), with embeddings when a model is given."""
    from edgeroute.router.dataset import load_tasks

    tasks = load_tasks(sorted(data_dir.glob("*.jsonl")))
    embeddings = (
        embed_tasks(tasks, embedding_model, max_tokens, cache_dir, threads=threads) if embedding_model else {}
    )
    return [task_data(name, rows, embeddings.get(name)) for name, rows in sorted(tasks.items())]
