"""Daily and monthly USD caps on cloud spend, global (``[budget]``) and per client (``[[clients]]``).

Before a cloud dispatch the server calls ``check(client, estimate)``: spend so far in each window plus this
request's estimate must stay within every cap that applies. On a breach, ``on_budget_exceeded = "local"``
answers ``"local"`` (the request runs locally instead) and ``"reject"`` raises ``BudgetExceeded`` saying
which budget and when it resets. Windows are local time: the daily one resets at local midnight, the monthly
one at local midnight on the 1st. Spend is kept in memory (seeded from the ledger at start, then fed by the
ledger's listener), in nano-dollars. Requests in flight are not reserved: two concurrent requests may both
pass the last cents of a budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, Literal

from edgeroute.errors import BudgetExceeded
from edgeroute.ledger.money import format_usd, nano_to_usd, usd_to_nano
from edgeroute.ledger.windows import day_start, local_iso, month_start, next_day_start, next_month_start

if TYPE_CHECKING:
    from edgeroute.config import BudgetConfig, ClientConfig, Settings
    from edgeroute.ledger.reader import LedgerReader
    from edgeroute.ledger.record import LedgerRecord
    from edgeroute.ledger.writer import Ledger

Period = Literal["daily", "monthly"]
PERIODS: tuple[Period, ...] = ("daily", "monthly")
Verdict = Literal["ok", "local"]


@dataclass(frozen=True, slots=True)
class Breach:
    """One cap a request would cross."""

    period: Period
    client: str | None  # None = the global budget
    limit_nano: int
    spent_nano: int
    estimate_nano: int
    resets_at: float


class _Window:
    """Spend per client inside the current day or month; starts over when the clock crosses the boundary."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.start = float("-inf")
        self.end = float("-inf")
        self.by_client: dict[str | None, int] = {}
        self.total = 0

    def bounds(self, now: float, tz: tzinfo | None) -> tuple[float, float]:
        if self.period == "daily":
            return day_start(now, tz), next_day_start(now, tz)
        return month_start(now, tz), next_month_start(now, tz)

    def roll(self, now: float, tz: tzinfo | None) -> None:
        if self.start <= now < self.end:  # the common case, on every request: no calendar arithmetic
            return
        start, self.end = self.bounds(now, tz)
        if start != self.start:
            self.start = start
            self.by_client = {}
            self.total = 0

    def add(self, client: str | None, nano: int) -> None:
        self.by_client[client] = self.by_client.get(client, 0) + nano
        self.total += nano


class BudgetGuard:
    def __init__(
        self,
        budget: BudgetConfig,
        clients: Sequence[ClientConfig] = (),
        *,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
    ) -> None:
        self.on_exceeded = budget.on_budget_exceeded
        self._global: dict[Period, int | None] = {
            "daily": None if budget.daily_usd is None else usd_to_nano(budget.daily_usd),
            "monthly": None if budget.monthly_usd is None else usd_to_nano(budget.monthly_usd),
        }
        self._clients: dict[str, dict[Period, int | None]] = {
            c.name: {
                "daily": None if c.daily_usd is None else usd_to_nano(c.daily_usd),
                "monthly": None if c.monthly_usd is None else usd_to_nano(c.monthly_usd),
            }
            for c in clients
            if c.daily_usd is not None or c.monthly_usd is not None
        }
        self._clock = clock
        self._tz = tz
        self._windows: dict[Period, _Window] = {p: _Window(p) for p in PERIODS}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.time, tz: tzinfo | None = None
    ) -> BudgetGuard:
        return cls(settings.budget, settings.clients, clock=clock, tz=tz)

    @property
    def enabled(self) -> bool:
        return any(v is not None for v in self._global.values()) or bool(self._clients)

    # ---- feeding spend -----------------------------------------------------------------------------

    def _rolled(self, now: float) -> dict[Period, _Window]:
        for window in self._windows.values():
            window.roll(now, self._tz)
        return self._windows

    def seed(self, daily: Mapping[str | None, int], monthly: Mapping[str | None, int]) -> None:
        """Start from the ledger's cloud spend (nano-dollars per client) since today's and this month's start."""
        windows = self._rolled(self._clock())
        seeds: tuple[tuple[Period, Mapping[str | None, int]], ...] = (("daily", daily), ("monthly", monthly))
        for period, spend in seeds:
            window = windows[period]
            window.by_client, window.total = {}, 0
            for client, nano in spend.items():
                window.add(client, int(nano))

    def _starts(self) -> tuple[float, float]:
        now = self._clock()
        return day_start(now, self._tz), month_start(now, self._tz)

    async def load(self, ledger: Ledger) -> None:
        """Seed from the ledger (call once at startup, then ``ledger.add_listener(guard.add)``)."""
        day, month = self._starts()
        self.seed(await ledger.cloud_spend(day), await ledger.cloud_spend(month))

    def load_from(self, reader: LedgerReader) -> None:
        """The synchronous ``load`` for the CLI."""
        day, month = self._starts()
        self.seed(reader.cloud_spend(day), reader.cloud_spend(month))

    def add(self, record: LedgerRecord) -> None:
        """Ledger listener: count a committed cloud request's known cost in the windows it falls in."""
        if record.tier != "cloud" or not record.cost_usd:
            return
        now = self._clock()
        ts = record.ts if record.ts is not None else now
        nano = usd_to_nano(record.cost_usd)
        for window in self._rolled(now).values():
            if ts >= window.start:
                window.add(record.client, nano)

    # ---- checking ----------------------------------------------------------------------------------

    def _limits(self, client: str | None) -> list[tuple[Period, str | None, int]]:
        out: list[tuple[Period, str | None, int]] = []
        for period in PERIODS:
            limit = self._global[period]
            if limit is not None:
                out.append((period, None, limit))
            if client is not None and client in self._clients:
                client_limit = self._clients[client][period]
                if client_limit is not None:
                    out.append((period, client, client_limit))
        return out

    def capped(self, client: str | None) -> bool:
        """Whether any cap applies to ``client``'s requests: without one, there is nothing to estimate."""
        return bool(self._limits(client))

    def breaches(self, client: str | None, estimate_usd: float | None) -> list[Breach]:
        """Every cap this request would cross (empty: it fits)."""
        now = self._clock()
        windows = self._rolled(now)
        estimate = usd_to_nano(estimate_usd) if estimate_usd else 0
        found: list[Breach] = []
        for period, scope, limit in self._limits(client):
            window = windows[period]
            spent = window.total if scope is None else window.by_client.get(scope, 0)
            if spent >= limit or spent + estimate > limit:
                _, resets = window.bounds(now, self._tz)
                found.append(Breach(period, scope, limit, spent, estimate, resets))
        return found

    def check(self, client: str | None, estimate_usd: float | None) -> Verdict:
        """``"ok"``, or ``"local"`` when a cap is crossed and on_budget_exceeded is "local"; raises
        ``BudgetExceeded`` (402, with retry_after = seconds to the reset) when it is "reject"."""
        found = self.breaches(client, estimate_usd)
        if not found:
            return "ok"
        if self.on_exceeded == "local":
            return "local"
        binding = max(found, key=lambda b: b.resets_at)  # retrying before this reset cannot help
        now = self._clock()
        raise BudgetExceeded(self.describe(binding), retry_after=max(1.0, binding.resets_at - now))

    def describe(self, breach: Breach) -> str:
        which = "global" if breach.client is None else f"client '{breach.client}'"
        limit = format_usd(nano_to_usd(breach.limit_nano))
        spent = format_usd(nano_to_usd(breach.spent_nano))
        estimate = (
            f", this request ~{format_usd(nano_to_usd(breach.estimate_nano))}" if breach.estimate_nano else ""
        )
        return (
            f"Cloud budget exceeded: the {which} {breach.period} budget is {limit} ({spent} spent{estimate}); "
            f"it resets at {local_iso(breach.resets_at, self._tz)}."
        )

    # ---- reporting ---------------------------------------------------------------------------------

    def _entry(self, period: Period, limit: int | None, spent: int, now: float) -> dict[str, Any]:
        _, resets = self._windows[period].bounds(now, self._tz)
        return {
            "limit": None if limit is None else nano_to_usd(limit),
            "spent": nano_to_usd(spent),
            "left": None if limit is None else nano_to_usd(max(0, limit - spent)),
            "resets_at": local_iso(resets, self._tz),
            "resets_at_ts": resets,
        }

    def snapshot(self) -> dict[str, Any]:
        """The ``budget`` part of ``/api/stats``: global daily/monthly and each client with a budget."""
        now = self._clock()
        windows = self._rolled(now)
        out: dict[str, Any] = {"on_exceeded": self.on_exceeded}
        for period in PERIODS:
            out[period] = self._entry(period, self._global[period], windows[period].total, now)
        out["clients"] = {
            name: {
                period: self._entry(period, limits[period], windows[period].by_client.get(name, 0), now)
                for period in PERIODS
            }
            for name, limits in sorted(self._clients.items())
        }
        return out

    def left_usd(self, client: str | None = None) -> float | None:
        """The least headroom, in USD, of the caps that apply (None: no cap). Feeds the router's budget rule."""
        room = self._headroom(client)
        return None if not room else nano_to_usd(min(left for left, _ in room))

    def left_fraction(self, client: str | None = None) -> float | None:
        """The smallest unspent share of a cap that applies, in [0, 1] (None: no cap)."""
        room = self._headroom(client)
        return None if not room else min(fraction for _, fraction in room)

    def _headroom(self, client: str | None) -> list[tuple[int, float]]:
        windows = self._rolled(self._clock())
        room: list[tuple[int, float]] = []
        for period, scope, limit in self._limits(client):
            window = windows[period]
            spent = window.total if scope is None else window.by_client.get(scope, 0)
            left = max(0, limit - spent)
            room.append((left, left / limit if limit else 0.0))
        return room
