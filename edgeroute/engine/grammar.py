"""Grammar-constrained sampling for ``response_format`` (worker process only: imports llama.cpp).

A JSON schema becomes a GBNF grammar (llama-cpp-python's converter) and then a parsed llama.cpp grammar
sampler; both steps cost time, so parsed grammars are kept per schema text in a small LRU and each request
samples with a clone.

Applying a grammar to every candidate of a 262k-token vocabulary costs far more than a decode step of a
small model, so :class:`ConstrainedSampler` does what llama.cpp's own ``common_sampler`` does: sample
without the grammar, check only that token against it, and re-sample over the whole grammar-masked
vocabulary only when the grammar rejects it. For greedy sampling the result is the same token either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

log = logging.getLogger("edgeroute.engine.grammar")

NATIVE_LOGGER = "edgeroute.engine.llama"  # where the worker routes llama.cpp's own log lines
CACHE_SIZE = 8

_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


class GrammarError(Exception):
    """A schema llama.cpp cannot turn into a grammar; the message says why (no schema text in it)."""


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """llama.cpp's grammar parser prints its errors, with the whole grammar, straight to stderr (which the
    daemon logs): catch those lines for the error message instead."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield lines
            finally:
                os.dup2(saved, 2)
                sink.seek(0)
                lines += sink.read(1 << 16).decode("utf-8", errors="replace").splitlines()
    finally:
        os.close(saved)


@contextlib.contextmanager
def _captured_native_log() -> Iterator[list[str]]:
    """The same for lines llama.cpp sends through its log callback (the worker forwards those)."""
    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger(NATIVE_LOGGER)
    handler = _Collect(logging.DEBUG)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _short(text: str, cut: str) -> str:
    """The gist of a converter or parser message, before the part that quotes the schema or grammar."""
    lines = text.strip().splitlines()
    return lines[0].split(cut)[0].strip()[:120] if lines else ""


def schema_to_gbnf(schema_text: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return str(json_schema_to_gbnf(schema_text))
    except RecursionError:
        raise GrammarError("the JSON schema nests too deeply to become a grammar") from None
    except Exception as exc:
        detail = _short(str(exc), ":") or type(exc).__name__
        raise GrammarError(f"the JSON schema cannot become a grammar ({detail})") from None


class GrammarCache:
    """Parsed grammar samplers by schema text, least recently used dropped first; owns them (and frees them
    in :meth:`close`)."""

    def __init__(self, vocab: Any, n_vocab: int, size: int = CACHE_SIZE) -> None:
        self.vocab = vocab
        self.n_vocab = n_vocab
        self.size = size
        self._parsed: OrderedDict[str, Any] = OrderedDict()
        self._candidates: np.ndarray[Any, Any] | None = None
        self._candidates_buffer: Any = None
        self._ids = np.arange(n_vocab, dtype=np.int32)

    def __len__(self) -> int:
        return len(self._parsed)

    def prototype(self, schema_text: str) -> Any:
        """The parsed grammar sampler for a schema (never handed out: callers use a clone)."""
        parsed = self._parsed.get(schema_text)
        if parsed is not None:
            self._parsed.move_to_end(schema_text)
            return parsed
        parsed = self._parse(schema_to_gbnf(schema_text))
        self._parsed[schema_text] = parsed
        while len(self._parsed) > self.size:
            _, evicted = self._parsed.popitem(last=False)
            self._free(evicted)
        return parsed

    def _parse(self, gbnf: str) -> Any:
        import llama_cpp

        with _captured_native_log() as lines, _captured_stderr() as printed:
            parsed = llama_cpp.llama_sampler_init_grammar(self.vocab, gbnf.encode("utf-8"), b"root")
        if not parsed:
            reason = next((line for line in printed + lines if "error" in line.lower()), "")
            reason = _short(reason.split("parsing grammar:")[-1], " at ")
            raise GrammarError(
                "llama.cpp cannot parse the grammar made from the JSON schema"
                + (f" ({reason})" if reason else "")
            )
        return parsed

    def sampler(self, schema_text: str, base: Any) -> ConstrainedSampler:
        """A sampler for one generation: ``base`` (llama-cpp-python's ``LlamaSampler`` chain, without a
        grammar) constrained by a fresh clone of the schema's grammar. Raises :class:`GrammarError`."""
        import llama_cpp

        grammar = llama_cpp.llama_sampler_clone(self.prototype(schema_text))
        return ConstrainedSampler(base, grammar, self)

    def candidates(self, logits: Any) -> tuple[Any, np.ndarray[Any, Any]]:
        """The whole vocabulary as llama.cpp candidates for ``logits`` (one buffer, reused)."""
        if self._candidates is None:
            import llama_cpp

            self._candidates_buffer = (llama_cpp.llama_token_data * self.n_vocab)()
            self._candidates = np.frombuffer(self._candidates_buffer, dtype=_TOKEN_DATA)
        view = self._candidates
        view["id"] = self._ids
        view["logit"] = np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        view["p"] = 0.0
        return self._candidates_buffer, view

    @staticmethod
    def _free(parsed: Any) -> None:
        import llama_cpp

        llama_cpp.llama_sampler_free(parsed)

    def close(self) -> None:
        while self._parsed:
            self._free(self._parsed.popitem()[1])


class ConstrainedSampler:
    """Duck-types llama-cpp-python's ``LlamaSampler`` (``sample``, ``close``) for ``Llama.generate``;
    owns its grammar clone and the base chain."""

    def __init__(self, base: Any, grammar: Any, cache: GrammarCache) -> None:
        import llama_cpp

        self.base = base
        self.grammar = grammar
        self.cache = cache
        self._one = llama_cpp.llama_token_data()
        self._one_array = llama_cpp.llama_token_data_array(
            data=ctypes.pointer(self._one), size=1, selected=-1, sorted=False
        )
        self.resampled = 0  # tokens the grammar rejected (for tests and tuning)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        import llama_cpp

        chain, grammar = self.base.sampler, self.grammar
        token = int(llama_cpp.llama_sampler_sample(chain, ctx.ctx, idx))
        one = self._one
        one.id, one.logit, one.p = token, 0.0, 0.0  # type: ignore[assignment]
        self._one_array.selected = -1
        llama_cpp.llama_sampler_apply(grammar, ctypes.byref(self._one_array))
        if not math.isinf(one.logit):
            llama_cpp.llama_sampler_accept(grammar, token)
            return token
        # Rejected: mask the whole vocabulary with the grammar, then let the chain choose among the rest.
        self.resampled += 1
        buffer, _ = self.cache.candidates(llama_cpp.llama_get_logits_ith(ctx.ctx, idx))
        array = llama_cpp.llama_token_data_array(
            data=ctypes.cast(buffer, llama_cpp.llama_token_data_p),
            size=self.cache.n_vocab,
            selected=-1,
            sorted=False,
        )
        llama_cpp.llama_sampler_apply(grammar, ctypes.byref(array))
        llama_cpp.llama_sampler_apply(chain, ctypes.byref(array))
        if array.selected < 0:
            raise GrammarError("no token fits the grammar")
        token = int(array.data[array.selected].id)
        llama_cpp.llama_sampler_accept(grammar, token)
        llama_cpp.llama_sampler_accept(chain, token)
        return token

    def close(self) -> None:
        import llama_cpp

        if self.grammar is not None:
            llama_cpp.llama_sampler_free(self.grammar)
            self.grammar = None
        self.base.close()
