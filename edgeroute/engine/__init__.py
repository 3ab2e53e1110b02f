"""The local inference engine: GGUF models in crash-isolated worker processes.

Names are resolved lazily so that the worker process (``python -m edgeroute.engine.worker``), which imports
this package first, starts without loading the daemon-side modules (pydantic config, psutil).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeroute.engine.engine import LocalEngine as LocalEngine
    from edgeroute.engine.memory import MemoryBudget as MemoryBudget
    from edgeroute.engine.memory import MemoryProbe as MemoryProbe
    from edgeroute.engine.memory import SystemMemory as SystemMemory
    from edgeroute.engine.minilm_gguf import build_minilm_gguf as build_minilm_gguf
    from edgeroute.engine.registry import LocalModel as LocalModel
    from edgeroute.engine.types import EmbedResult as EmbedResult
    from edgeroute.engine.types import EngineStatus as EngineStatus
    from edgeroute.engine.types import ModelStatus as ModelStatus

_EXPORTS = {
    "LocalEngine": "edgeroute.engine.engine",
    "MemoryBudget": "edgeroute.engine.memory",
    "MemoryProbe": "edgeroute.engine.memory",
    "SystemMemory": "edgeroute.engine.memory",
    "build_minilm_gguf": "edgeroute.engine.minilm_gguf",
    "LocalModel": "edgeroute.engine.registry",
    "EmbedResult": "edgeroute.engine.types",
    "EngineStatus": "edgeroute.engine.types",
    "ModelStatus": "edgeroute.engine.types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeroute.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
