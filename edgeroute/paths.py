"""Where edgeroute keeps its files: platformdirs' user dirs, or everything under ``EDGEROUTE_HOME``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP = "edgeroute"


@dataclass(frozen=True, slots=True)
class Paths:
    config_dir: Path
    data_dir: Path
    log_dir: Path
    runtime_dir: Path
    cache_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def ledger_file(self) -> Path:
        return self.data_dir / "ledger.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def pid_file(self) -> Path:
        return self.runtime_dir / "edgeroute.pid"

    @property
    def state_file(self) -> Path:
        """The running daemon's address and start time, written next to the pid file."""
        return self.runtime_dir / "edgeroute.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "edgeroute.log"

    @property
    def engine_state_file(self) -> Path:
        """What the engine learned about models (e.g. which crash with extra buffer types)."""
        return self.data_dir / "engine-state.json"


def resolve_paths(environ: Mapping[str, str] | None = None) -> Paths:
    """``EDGEROUTE_HOME`` moves config, data, logs, runtime and cache under one folder (tests use it)."""
    env = os.environ if environ is None else environ
    home = env.get("EDGEROUTE_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(root / "config", root / "data", root / "logs", root / "run", root / "cache")
    import platformdirs

    data = Path(platformdirs.user_data_dir(APP))
    if sys.platform.startswith("linux") and not env.get("XDG_RUNTIME_DIR"):
        runtime = data / "run"  # headless boxes and containers have no /run/user/<uid>
    else:
        runtime = Path(platformdirs.user_runtime_dir(APP))
    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP)),
        data_dir=data,
        log_dir=Path(platformdirs.user_log_dir(APP)),
        runtime_dir=runtime,
        cache_dir=Path(platformdirs.user_cache_dir(APP)),
    )


def ensure_dir(path: Path) -> Path:
    """Create a private folder (0700): it holds prompts, spend and pid files."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
