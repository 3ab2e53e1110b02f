"""Engine fixtures: real GGUFs (the starter Gemma, MiniLM, a Gemma copy with FIM ids) and engine factories."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeroute.config import EngineConfig, LocalModelConfig, Settings
from edgeroute.paths import Paths
from tests.engine.gguf_edit import with_extra_metadata

TEST_MODELS_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "test-models"
# Gemma's vocabulary has no FIM tokens; its unused control tokens stand in for them.
FIM_IDS = {"prefix": 6, "suffix": 7, "middle": 8}  # <unused0>, <unused1>, <unused2>


@pytest.fixture(scope="session")
def fim_gguf(starter_gguf: Path) -> Path:
    """The starter Gemma with tokenizer.ggml.fim_{pre,suf,mid}_token_id added to its header."""
    dest = TEST_MODELS_CACHE / "fim" / "gemma-3-270m-fim.gguf"
    if not dest.is_file() or dest.stat().st_mtime < starter_gguf.stat().st_mtime:
        with_extra_metadata(
            starter_gguf,
            dest,
            {
                "tokenizer.ggml.fim_pre_token_id": FIM_IDS["prefix"],
                "tokenizer.ggml.fim_suf_token_id": FIM_IDS["suffix"],
                "tokenizer.ggml.fim_mid_token_id": FIM_IDS["middle"],
            },
        )
    return dest


def make_paths(root: Path) -> Paths:
    return Paths(root / "config", root / "data", root / "logs", root / "run", root / "cache")


def engine_settings(models: dict[str, tuple[Path, int | None]], **engine: object) -> Settings:
    """Settings with ``[[local]]`` entries ``name -> (path, n_ctx)`` and ``[engine]`` overrides."""
    return Settings(
        engine=EngineConfig(**{"threads": 1, "memory_headroom_mb": 0, **engine}),
        local=[LocalModelConfig(name=n, path=p, n_ctx=c) for n, (p, c) in models.items()],
    )
