"""What the router knows about the world at decision time, as plain data the caller builds.

The HTTP layer fills a :class:`RouterState` per request from the engine registry, the provider pool, the
ledger and psutil; tests build one by hand (an injected machine state, a fake queue depth), so
:func:`edgeroute.router.decide.decide` stays a pure function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CloudTier = Literal["cheap", "premium"]


@dataclass(frozen=True, slots=True)
class LocalTarget:
    """A local chat model that can serve now (loaded or loadable)."""

    name: str  # served as local/<name>
    n_ctx: int = 8192
    supports_tools: bool = False
    supports_images: bool = False

    @property
    def target(self) -> str:
        return f"local/{self.name}"


@dataclass(frozen=True, slots=True)
class CloudTarget:
    """A cloud model with a key; ``healthy`` False when its provider is failing (circuit open)."""

    name: str  # served as cloud/<name>
    tier: CloudTier = "premium"
    context_window: int | None = None
    supports_tools: bool = True
    supports_images: bool = True
    healthy: bool = True
    provider: str = "openai"  # "anthropic" runs server tools (web search) the others cannot

    @property
    def target(self) -> str:
        return f"cloud/{self.name}"


@dataclass(frozen=True, slots=True)
class MachineState:
    """The laptop's condition: on battery, CPU load in [0, 1], free memory in MB (None: unknown)."""

    on_battery: bool = False
    cpu_load: float | None = None
    free_mem_mb: float | None = None


@dataclass(frozen=True, slots=True)
class RouterState:
    """Everything :func:`decide` reads besides the request, the config and the scorer.

    ``local`` and ``cloud`` are in preference order (the first local model is the default one; cloud
    targets lacking a key are left out by the caller). ``budget_left_usd`` None means no budget is set;
    ``budget_burn`` is spend so far divided by the spend that would be on pace for the period (1.0 = on
    pace, None = unknown). ``pinned`` is the target the HTTP layer resolved from the model name or alias.
    """

    local: tuple[LocalTarget, ...] = ()
    cloud: tuple[CloudTarget, ...] = ()
    mode: Literal["auto", "local-only", "cloud-only"] | None = None  # None: the config's mode
    queue_depth: int = 0
    budget_left_usd: float | None = None
    budget_burn: float | None = None
    machine: MachineState = field(default_factory=MachineState)
    pinned: str | None = None
    task: str | None = None  # a task label the client sent (x-edgeroute-task), for task routes

    def premium(self) -> CloudTarget | None:
        """The first healthy premium target, else the first healthy cloud target of any tier."""
        healthy = [c for c in self.cloud if c.healthy]
        for c in healthy:
            if c.tier == "premium":
                return c
        return healthy[0] if healthy else None

    def cheap(self) -> CloudTarget | None:
        return next((c for c in self.cloud if c.healthy and c.tier == "cheap"), None)

    def find(self, target: str) -> LocalTarget | CloudTarget | None:
        for local in self.local:
            if local.target == target:
                return local
        for cloud in self.cloud:
            if cloud.target == target:
                return cloud
        return None


def read_machine_state() -> MachineState:
    """The real machine's state through psutil (imported here: it is not needed to route a file)."""
    import psutil

    battery = None
    sensors_battery = getattr(psutil, "sensors_battery", None)
    if sensors_battery is not None:
        try:
            battery = sensors_battery()
        except (OSError, RuntimeError, NotImplementedError):  # no battery interface on this platform
            battery = None
    on_battery = bool(battery is not None and not battery.power_plugged)
    load = psutil.cpu_percent(interval=None) / 100.0
    free = psutil.virtual_memory().available / (1024 * 1024)
    return MachineState(on_battery=on_battery, cpu_load=load, free_mem_mb=free)
