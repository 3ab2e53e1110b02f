"""Threshold shifts from the state of the machine, the local queue, the providers and the budget.

A negative shift lowers the premium threshold (more traffic to the cloud: the laptop is on battery,
busy, short of memory, or its queue is long); a positive one raises it (the premium provider is failing,
or the budget burns faster than its pace). The sum is clamped to ``adaptive_max_shift``, and every shift
is named in the decision's reason (``adaptive:on-battery -0.05``).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeroute.config import AdaptiveConfig
from edgeroute.router.state import RouterState


@dataclass(frozen=True, slots=True)
class Shift:
    name: str
    value: float

    def reason(self) -> str:
        return f"adaptive:{self.name} {self.value:+.2f}"


def adaptive_shifts(state: RouterState, cfg: AdaptiveConfig) -> list[Shift]:
    """Every shift that applies now, unclamped, in a fixed order."""
    shifts: list[Shift] = []
    m = state.machine
    if m.on_battery and cfg.on_battery:
        shifts.append(Shift("on-battery", cfg.on_battery))
    if m.cpu_load is not None and m.cpu_load > cfg.cpu_busy_load and cfg.cpu_busy:
        shifts.append(Shift(f"cpu {m.cpu_load:.0%}", cfg.cpu_busy))
    if m.free_mem_mb is not None and m.free_mem_mb < cfg.low_memory_mb and cfg.low_memory:
        shifts.append(Shift(f"low-memory {m.free_mem_mb:.0f}MB", cfg.low_memory))
    if state.queue_depth > 0 and cfg.queue_step:
        shifts.append(Shift(f"queue {state.queue_depth}", cfg.queue_step * state.queue_depth))
    premium_configured = any(c.tier == "premium" for c in state.cloud)
    if (
        premium_configured
        and not any(c.healthy and c.tier == "premium" for c in state.cloud)
        and cfg.provider_down
    ):
        shifts.append(Shift("premium-unhealthy", cfg.provider_down))
    if state.budget_burn is not None and state.budget_burn > 1.0 and cfg.budget_burn:
        shifts.append(
            Shift(f"budget-burn x{state.budget_burn:.1f}", cfg.budget_burn * (state.budget_burn - 1.0))
        )
    return shifts


def total_shift(shifts: list[Shift], max_shift: float) -> float:
    """The sum of the shifts, clamped to [-max_shift, +max_shift]."""
    total = sum(s.value for s in shifts)
    return max(-max_shift, min(max_shift, total))
