"""Cascade: answer locally first, escalate to the cloud when the local answer is unsure.

Confidence comes from the sampled tokens' own statistics (``TokenStats``: probability, entropy, margin).
The test is a *low quantile* of token probabilities (and optionally mean entropy), not the mean
log-probability: the mean is length-biased (long fluent answers look confident however wrong one span of
them is), while a low quantile catches the few tokens the model was guessing.

For streams the verdict comes within the first ``window_tokens`` tokens, which the caller holds back from
the client: nothing reaches the client before the cascade has decided to keep the local answer.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from edgeroute.chat import StreamEvent, TextDelta, TokenStats
from edgeroute.config import CascadeConfig


@dataclass(frozen=True, slots=True)
class CascadeVerdict:
    escalate: bool
    reason: str  # "cascade:p10 0.08<0.20 over 16 tokens" / "cascade:kept p10 0.61>=0.20"
    low_prob: float
    mean_entropy: float
    tokens: int


def low_quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (linear interpolation) of ``values``."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def judge(stats: Sequence[TokenStats], cfg: CascadeConfig) -> CascadeVerdict:
    """Escalate or keep, from the stats of the tokens generated so far."""
    if not stats:
        return CascadeVerdict(True, "cascade:no tokens", 0.0, 0.0, 0)
    probs = [s.prob for s in stats]
    low = low_quantile(probs, cfg.quantile)
    entropy = sum(s.entropy for s in stats) / len(stats)
    label = f"p{round(cfg.quantile * 100)}"
    if low < cfg.min_token_prob:
        why = f"cascade:{label} {low:.2f}<{cfg.min_token_prob:.2f} over {len(stats)} tokens"
        return CascadeVerdict(True, why, low, entropy, len(stats))
    if cfg.max_entropy is not None and entropy > cfg.max_entropy:
        why = f"cascade:entropy {entropy:.2f}>{cfg.max_entropy:.2f} over {len(stats)} tokens"
        return CascadeVerdict(True, why, low, entropy, len(stats))
    why = f"cascade:kept {label} {low:.2f}>={cfg.min_token_prob:.2f}"
    return CascadeVerdict(False, why, low, entropy, len(stats))


@dataclass(slots=True)
class StreamCascade:
    """Feed tokens as they come; :meth:`feed` returns a verdict once ``window_tokens`` are in (or call
    :meth:`finish` when the answer ends sooner). Until then the caller buffers the text."""

    cfg: CascadeConfig
    stats: list[TokenStats] = field(default_factory=list)
    verdict: CascadeVerdict | None = None

    def feed(self, stat: TokenStats) -> CascadeVerdict | None:
        if self.verdict is not None:
            return self.verdict
        self.stats.append(stat)
        if len(self.stats) >= self.cfg.window_tokens:
            self.verdict = judge(self.stats, self.cfg)
        return self.verdict

    def finish(self) -> CascadeVerdict:
        """The verdict for an answer shorter than the window (or the one already reached)."""
        if self.verdict is None:
            self.verdict = judge(self.stats, self.cfg)
        return self.verdict


@dataclass(slots=True)
class GatedStream:
    """The result of :func:`gate_stream`: the verdict, and (when kept) the whole local stream, held-back
    events first. When escalated, ``events`` is empty and the local generation has been closed."""

    verdict: CascadeVerdict
    events: AsyncIterator[StreamEvent]


async def gate_stream(events: AsyncIterator[StreamEvent], cfg: CascadeConfig) -> GatedStream:
    """Read the local stream until the cascade decides (``window_tokens`` tokens with stats, or the end),
    holding every event back; nothing reaches the client before the verdict.

    The local backend must be asked for token stats (``want_stats``); a token without stats counts as
    unsure (probability 0), so a backend that cannot report confidence escalates rather than bluffs."""
    held: list[StreamEvent] = []
    gate = StreamCascade(cfg)
    verdict: CascadeVerdict | None = None
    iterator = aiter(events)
    async for event in iterator:
        held.append(event)
        if isinstance(event, TextDelta):
            stat = event.stats if event.stats is not None else TokenStats(prob=0.0, entropy=0.0, margin=0.0)
            verdict = gate.feed(stat)
            if verdict is not None:
                break
    if verdict is None:
        verdict = gate.finish()
    if verdict.escalate:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
        return GatedStream(verdict, _replay([], None))
    return GatedStream(verdict, _replay(held, iterator))


async def _replay(
    held: list[StreamEvent], rest: AsyncIterator[StreamEvent] | None
) -> AsyncIterator[StreamEvent]:
    for event in held:
        yield event
    if rest is not None:
        async for event in rest:
            yield event
