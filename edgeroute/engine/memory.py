"""Where the engine learns how much memory a new model may use. Injected, so tests can give a small budget."""

from __future__ import annotations

from typing import Protocol


class MemoryProbe(Protocol):
    """``available(engine_reserved, engine_mapped)``: bytes a new model may use now.

    ``engine_reserved`` is the engine's estimate of everything its loaded workers hold (weights + KV cache);
    ``engine_mapped`` the part that is memory-mapped model files.
    """

    def available(self, engine_reserved: int, engine_mapped: int) -> int: ...


class SystemMemory:
    """The OS's available memory (psutil). The OS counts mapped model weights as reclaimable page cache,
    but evicting them would make the loaded models page from disk, so they are subtracted."""

    def available(self, engine_reserved: int, engine_mapped: int) -> int:
        import psutil

        return max(0, int(psutil.virtual_memory().available) - engine_mapped)


class MemoryBudget:
    """A fixed budget for the engine's models, whatever the machine has (tests; capped deployments)."""

    def __init__(self, total_bytes: int) -> None:
        self.total_bytes = total_bytes

    def available(self, engine_reserved: int, engine_mapped: int) -> int:
        return max(0, self.total_bytes - engine_reserved)
