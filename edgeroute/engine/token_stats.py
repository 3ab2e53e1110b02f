"""Confidence of each sampled token, from the logits llama.cpp keeps for the last position.

No ``logits_all``: one vector of ``n_vocab`` floats is read in place per token. The work is a few vectorised
passes into preallocated buffers (a fraction of a millisecond for Gemma's 262k vocabulary), so it runs only
for requests that ask for it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class TokenStatsComputer:
    """``(prob, entropy, margin)`` of a token under the model's raw (temperature 1) distribution."""

    def __init__(self, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        self._shifted = np.empty(n_vocab, dtype=np.float32)
        self._weights = np.empty(n_vocab, dtype=np.float32)

    def __call__(self, logits: Any, token: int) -> tuple[float, float, float]:
        """``logits``: a ctypes float pointer (``llama_get_logits_ith``) or an array of ``n_vocab`` floats."""
        x = logits if isinstance(logits, np.ndarray) else np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        shifted, weights = self._shifted, self._weights
        top = int(x.argmax())
        np.subtract(x, x[top], out=shifted)  # <= 0, with 0 at the top token
        shifted[top] = -np.inf
        second = float(shifted.max())
        shifted[top] = 0.0
        np.exp(shifted, out=weights)
        z = float(weights.sum(dtype=np.float64))
        with np.errstate(invalid="ignore"):
            weighted = float(np.dot(weights, shifted))
        if not math.isfinite(weighted):  # masked (-inf) logits: their 0 * -inf terms contribute nothing
            finite = np.isfinite(shifted)
            weighted = float(np.dot(weights[finite], shifted[finite]))
        entropy = max(0.0, math.log(z) - weighted / z)
        prob = float(weights[token]) / z
        margin = (1.0 - math.exp(second)) / z
        return prob, entropy, margin


class LogprobsComputer:
    """A token's log-probability under the raw (temperature 1) distribution, and the ``top_n`` likeliest
    tokens with theirs (OpenAI's ``logprobs`` / ``top_logprobs``)."""

    def __init__(self, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        self._weights = np.empty(n_vocab, dtype=np.float32)

    def __call__(self, logits: Any, token: int, top_n: int) -> tuple[float, list[tuple[int, float]]]:
        x = logits if isinstance(logits, np.ndarray) else np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        peak = float(x.max())
        np.subtract(x, peak, out=self._weights)
        np.exp(self._weights, out=self._weights)
        log_z = peak + math.log(float(self._weights.sum(dtype=np.float64)))
        top: list[tuple[int, float]] = []
        if top_n > 0:
            ids = np.argpartition(x, -top_n)[-top_n:]
            top = [(int(i), float(x[i]) - log_z) for i in ids[np.argsort(-x[ids], kind="stable")]]
        return float(x[token]) - log_z, top
