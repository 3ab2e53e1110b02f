"""What the engine learned about model files and must remember across restarts (``engine-state.json``):
today, whether llama.cpp's extra CPU buffer types crash a model's first decode."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("edgeroute.engine")


def model_key(path: Path, size: int) -> str:
    """A model file by location and size: a re-download of different bytes is a new model."""
    return f"{path}|{size}"


class EngineState:
    """A small JSON document, read once and written atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, Any] = {"models": {}}
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict) and isinstance(loaded.get("models"), dict):
                self._data = loaded
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s (%s); it will be rewritten", path, type(exc).__name__)

    def extra_bufts(self, key: str) -> bool | None:
        """What worked last time for this model: True, False, or None when never tried."""
        value = self._data["models"].get(key, {}).get("use_extra_bufts")
        return value if isinstance(value, bool) else None

    def set_extra_bufts(self, key: str, value: bool, reason: str) -> None:
        entry = self._data["models"].setdefault(key, {})
        entry.update(
            {"use_extra_bufts": value, "reason": reason, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        )
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(self._data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(partial, self.path)
