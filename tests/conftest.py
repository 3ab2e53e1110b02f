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
