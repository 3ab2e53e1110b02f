"""Overview: what routing saved (today / 7 days / all time), actual against would-have-spent, the local and
cloud share, request rate, budget gauges, and cumulative spend against the counterfactual over time."""

from __future__ import annotations

import math
import time
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static
from textual_plotext import PlotextPlot

from .. import fmt
from ..gauge import bar, split_bar

WINDOWS = (("today", "Today"), ("7d", "7 days"), ("all", "All time"))


def _card(stats: dict[str, Any] | None) -> Content:
    if not stats:
        return Content.from_markup("[$text-muted]no data yet")
    saved, basis = stats.get("saved_usd"), stats.get("counterfactual_usd")
    unknown = int(stats.get("unknown_cost_requests") or 0) + int(
        stats.get("unknown_counterfactual_requests") or 0
    )
    lines = [
        Content.assemble(
            (fmt.usd(saved), "bold $success"), "  ", (fmt.pct(stats.get("saved_pct")), "$success")
        ),
        Content.assemble(("spent      ", "$text-muted"), fmt.usd(stats.get("cost_usd"))),
        Content.assemble(("would-have ", "$text-muted"), fmt.usd(basis)),
    ]
    if unknown:
        lines.append(Content.assemble((f"{unknown} req. price unknown", "$warning")))
    return Content("\n").join(lines)


def _budget_line(name: str, entry: dict[str, Any] | None) -> Content:
    label = Content.assemble((f"{name:<8}", "bold"))
    limit = fmt.number((entry or {}).get("limit"))
    if entry is None or limit is None:
        return label + Content.assemble((f"no {name.lower()} cap", "$text-muted"))
    spent = fmt.number(entry.get("spent")) or 0.0
    fraction = spent / limit if limit else 1.0
    colour = "$error" if fraction >= 1 else "$warning" if fraction >= 0.8 else "$success"
    return Content.assemble(
        label,
        bar(fraction, 16, colour),
        f" {fmt.usd(spent)} of {fmt.usd(limit)}",
        (
            f" · left {fmt.usd(entry.get('left'))} · resets {fmt.reset_time(entry.get('resets_at'))}",
            "$text-muted",
        ),
    )


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round axis values (0, 0.5, 1, 1.5 …) up to ``top``: a 1, 2, 2.5 or 5 step times a power of ten."""
    if top <= 0:
        return [0.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [float(round(k * step, 10)) for k in range(int(top / step + 1e-9) + 1)]


def axis_usd(values: list[float]) -> list[str]:
    """Tick labels with one number of decimals (``$0.00 $0.20 $0.40``, not ``$0.00 $0.2000``): the fewest,
    but at least cents, that show every tick exactly."""
    digits = next((d for d in range(2, 7) if all(abs(round(v, d) - v) < 1e-12 for v in values)), 6)
    return [f"${v:,.{digits}f}" for v in values]


class SpendChart(PlotextPlot):
    """Cumulative actual spend against what the same requests would have cost on the reference model."""

    def show(self, points: list[dict[str, Any]]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if not any(p.get("requests") or p.get("cost_usd") or p.get("counterfactual_usd") for p in points):
            plt.title("no requests in the last 7 days")
            self.refresh()
            return
        xs = list(range(len(points)))
        spent, would = [], []
        total_spent = total_would = 0.0
        for p in points:
            total_spent += float(p.get("cost_usd") or 0.0)
            total_would += float(p.get("counterfactual_usd") or 0.0)
            spent.append(total_spent)
            would.append(total_would)
        plt.plot(xs, would, label="would-have-spent", marker="braille", color="red")
        plt.plot(xs, spent, label="spent", marker="braille", color="green")
        step = max(1, len(points) // 4)
        ticks = list(range(0, len(points), step))
        labels = [time.strftime("%a %Hh", time.localtime(float(points[i]["t"]))) for i in ticks]
        plt.xticks([float(i) for i in ticks], labels)
        values = nice_ticks(max(would[-1], spent[-1]))
        plt.yticks(values, axis_usd(values))
        self.refresh()


class OverviewPane(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(id="cards"):
            for key, title in WINDOWS:
                card = Static(_card(None), id=f"saved-{key}", classes="card")
                card.border_title = f"Saved {title.lower()}" if key != "all" else "Saved all time"
                yield card
        yield Static(id="mix")
        yield Static(id="budgets")
        chart = SpendChart(id="spend-chart")
        chart.border_title = "Spend vs would-have-spent (7 days, cumulative)"
        yield chart

    def show_stats(self, stats: dict[str, dict[str, Any] | None], per_minute: float | None) -> None:
        for key, _ in WINDOWS:
            self.query_one(f"#saved-{key}", Static).update(_card(stats.get(key)))
        today = stats.get("today") or {}
        local_share = fmt.number(today.get("local_share"))
        latency = today.get("latency_ms") or {}
        tokens = today.get("tokens") or {}
        errors = int(fmt.number(today.get("errors")) or 0)
        # Failed requests count in the total but in neither tier: say so, or the total looks wrong.
        failed = (f", {errors} failed", "$error") if errors else ""
        mix = Content.assemble(
            ("Local ", "bold"),
            (fmt.share(local_share), "$success"),
            " ",
            split_bar(local_share, 16, "$success", "$accent"),
            " ",
            (fmt.share(None if local_share is None else 1 - local_share), "$accent"),
            (" Cloud", "bold"),
            (" │ ", "$text-muted"),
            f"{today.get('requests', 0)} req today",
            failed,
            (" │ ", "$text-muted"),
            f"{'—' if per_minute is None else f'{per_minute:.1f}'} req/min",
            "\n",
            ("latency ", "$text-muted"),
            f"p50 {fmt.ms(latency.get('p50'))} p95 {fmt.ms(latency.get('p95'))}",
            (" │ ", "$text-muted"),
            ("tokens ", "$text-muted"),
            f"{fmt.count(tokens.get('prompt'))} in / {fmt.count(tokens.get('completion'))} out",
            (" │ ", "$text-muted"),
            f"{today.get('local_requests', 0)} local / {today.get('cloud_requests', 0)} cloud",
        )
        self.query_one("#mix", Static).update(mix)
        raw_budget = today.get("budget")
        budget: dict[str, Any] = raw_budget if isinstance(raw_budget, dict) else {}
        lines = [
            _budget_line(name, budget.get(key)) for key, name in (("daily", "Daily"), ("monthly", "Monthly"))
        ]
        self.query_one("#budgets", Static).update(Content("\n").join(lines))

    def show_series(self, points: list[dict[str, Any]]) -> None:
        self.query_one(SpendChart).show(points)
