"""The learned difficulty score: a small linear model over cheap features and (when the embedding model
is there) the prompt's MiniLM embedding, loaded from a JSON artifact that ships in ``edgeroute.data``.

The raw model output is turned into a percentile of the reference traffic the model was trained on
(the shipped routing data, each task weighted equally): a score of 0.71 means 71% of reference prompts
look easier. Thresholds are then plain shares (``1 - target_cloud_share``) and adaptive shifts read as
points of traffic. ``p_gain`` keeps the model's own probability that the small model fails where the
large one succeeds.

numpy is imported inside the functions that need it: importing this module costs nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from edgeroute.chat import Message
from edgeroute.router.features import FEATURE_NAMES, cheap_features, prompt_focus

ARTIFACT_NAME = "router.json"
# Embeds a batch of texts, returning one vector per text (the engine's LocalEngine.embed, adapted).
Embedder = Callable[[list[str]], Sequence[Sequence[float]]]


@dataclass(frozen=True, slots=True)
class LinearHead:
    """``raw = intercept + coef · ((x - center) / scale) [+ embedding_coef · e]`` and the quantiles of
    ``raw`` on the reference traffic (101 points, ascending)."""

    features: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    reference: tuple[float, ...]
    embedding_coef: tuple[float, ...] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearHead:
        emb = d.get("embedding_coef")
        return cls(
            features=tuple(d["features"]),
            center=tuple(float(x) for x in d["center"]),
            scale=tuple(float(x) for x in d["scale"]),
            coef=tuple(float(x) for x in d["coef"]),
            intercept=float(d["intercept"]),
            reference=tuple(float(x) for x in d["reference"]),
            embedding_coef=tuple(float(x) for x in emb) if emb else None,
        )

    def raw(self, feats: dict[str, float], embedding: Sequence[float] | None = None) -> float:
        total = self.intercept
        for name, c, m, s in zip(self.features, self.coef, self.center, self.scale, strict=True):
            total += c * (feats.get(name, 0.0) - m) / s
        if self.embedding_coef is not None and embedding is not None:
            total += math.fsum(a * b for a, b in zip(self.embedding_coef, embedding, strict=False))
        return total

    def percentile(self, raw: float) -> float:
        """Where ``raw`` falls among the reference quantiles, in [0, 1] (interpolated)."""
        q = self.reference
        if raw <= q[0]:
            return 0.0
        if raw >= q[-1]:
            return 1.0
        lo, hi = 0, len(q) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if q[mid] <= raw:
                lo = mid
            else:
                hi = mid
        span = q[hi] - q[lo]
        frac = 0.5 if span <= 0 else (raw - q[lo]) / span
        return (lo + frac) / (len(q) - 1)


@dataclass(frozen=True, slots=True)
class RouterArtifact:
    """The trained router: a head with the embedding and one without (the degraded mode)."""

    version: int
    full: LinearHead | None
    cheap: LinearHead
    embedding_model: str | None = None
    embedding_max_tokens: int = 16
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RouterArtifact:
        return cls(
            version=int(d["version"]),
            full=LinearHead.from_dict(d["full"]) if d.get("full") else None,
            cheap=LinearHead.from_dict(d["cheap"]),
            embedding_model=d.get("embedding_model"),
            embedding_max_tokens=int(d.get("embedding_max_tokens", 16)),
            meta=dict(d.get("meta", {})),
        )


def load_artifact(path: Path | None = None) -> RouterArtifact:
    """The artifact at ``path``, or the one shipped in ``edgeroute.data``."""
    if path is not None:
        text = path.read_text(encoding="utf-8")
    else:
        text = resources.files("edgeroute.data").joinpath(ARTIFACT_NAME).read_text(encoding="utf-8")
    return RouterArtifact.from_dict(json.loads(text))


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """A prompt's difficulty: ``score`` (percentile of reference traffic), ``p_gain`` (the model's
    probability that only the large model succeeds), the features it used, and ``degraded`` naming what
    was missing (``no-embedding``)."""

    score: float
    p_gain: float
    features: dict[str, float]
    degraded: str | None = None


def truncate_for_embedding(text: str, max_tokens: int) -> str:
    """Keep about the first ``max_tokens`` WordPiece tokens (3 characters each, so the [CLS]/[SEP] pair
    still fits), cut at a word boundary. llama.cpp's CPU kernels work on tiles of 16 rows: 16 tokens
    embed in ~3.3 ms here, 17 to 32 in 5.6 to 7.9 ms; and the embedding carries little weight in the
    score (docs/routing.md), so the window stays inside one tile."""
    limit = max_tokens * 3
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit]


class Scorer:
    """Scores prompts with an artifact and an optional embedder (None → cheap features only)."""

    def __init__(self, artifact: RouterArtifact, embedder: Embedder | None = None) -> None:
        self.artifact = artifact
        self.embedder = embedder if artifact.full is not None else None

    @property
    def has_embedding(self) -> bool:
        return self.embedder is not None

    def score(self, messages: Sequence[Message]) -> ScoreResult:
        return self.score_batch([messages])[0]

    def embedding_texts(self, batch: Sequence[Sequence[Message]]) -> list[str]:
        """What to embed for each prompt (its focus item, truncated): for callers that embed themselves,
        e.g. the daemon through its engine, then call :meth:`score_with_vectors`."""
        limit = self.artifact.embedding_max_tokens
        return [truncate_for_embedding(prompt_focus(m), limit) or " " for m in batch]

    def score_batch(self, batch: Sequence[Sequence[Message]]) -> list[ScoreResult]:
        """Score many prompts with one embedding call. An embedder failure degrades to cheap features
        (and says so) rather than failing the request."""
        if self.embedder is None or not batch:
            return self.score_with_vectors(batch, None, "no-embedding")
        try:
            vectors = self.embedder(self.embedding_texts(batch))
        except Exception:  # the engine may be down or the model gone: route on what is left
            return self.score_with_vectors(batch, None, "embedding-failed")
        return self.score_with_vectors(batch, vectors)

    def score_with_vectors(
        self,
        batch: Sequence[Sequence[Message]],
        vectors: Sequence[Sequence[float]] | None,
        degraded: str | None = None,
    ) -> list[ScoreResult]:
        """Scores from precomputed embeddings (None: the cheap head, with ``degraded`` saying why)."""
        if vectors is not None and (len(vectors) != len(batch) or self.artifact.full is None):
            vectors, degraded = None, degraded or "embedding-failed"
        if vectors is None and degraded is None:
            degraded = "no-embedding"
        out: list[ScoreResult] = []
        for i, messages in enumerate(batch):
            feats = cheap_features(messages)
            if vectors is not None and self.artifact.full is not None:
                head, raw = self.artifact.full, self.artifact.full.raw(feats, _normalized(vectors[i]))
            else:
                head, raw = self.artifact.cheap, self.artifact.cheap.raw(feats)
            p_gain = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, raw))))
            out.append(ScoreResult(head.percentile(raw), p_gain, feats, degraded))
        return out


def _normalized(vec: Sequence[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


def feature_vector(feats: dict[str, float]) -> list[float]:
    """Features in :data:`FEATURE_NAMES` order (for training)."""
    return [feats[n] for n in FEATURE_NAMES]
