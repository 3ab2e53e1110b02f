"""Router: switch the routing mode, nudge the target cloud share, and see where recent scores fall against
the threshold (above it a request goes to the cloud)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Static
from textual_plotext import PlotextPlot

from .. import fmt
from ..api import MODES
from ..messages import CloudShareRequested, ModeRequested

SHARE_STEP = 0.05
BINS = 20


def histogram(scores: list[float], bins: int = BINS) -> list[int]:
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s * bins)))] += 1
    return counts


class ScoreHistogram(PlotextPlot):
    def show(self, scores: list[float], threshold: float | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if not scores:
            plt.title("no scored requests yet")
            self.refresh()
            return
        counts = histogram(scores)
        centres = [(i + 0.5) / BINS for i in range(BINS)]
        if threshold is None:
            plt.bar(centres, counts, width=0.8 / BINS, color="blue")
        else:
            local = [c if x < threshold else 0 for x, c in zip(centres, counts, strict=True)]
            cloud = [c if x >= threshold else 0 for x, c in zip(centres, counts, strict=True)]
            plt.bar(centres, local, width=0.8 / BINS, color="green", label="local")
            plt.bar(centres, cloud, width=0.8 / BINS, color="magenta", label="cloud")
            plt.vline(threshold, "red")
        plt.xlim(0, 1)
        plt.xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", ".25", ".5", ".75", "1"])
        top = max(counts)
        step = max(1, -(-top // 4))
        plt.yticks([float(v) for v in range(0, top + 1, step)], [str(v) for v in range(0, top + 1, step)])
        self.refresh()


class RouterPane(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "mode('auto')", "Auto"),
        Binding("o", "mode('local-only')", "Local-only"),
        Binding("c", "mode('cloud-only')", "Cloud-only"),
        Binding("minus", "share(-1)", "Share −"),
        Binding("plus,equals_sign", "share(1)", "Share +"),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.target_share: float | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="mode-row"):
            yield Static("Mode ", classes="row-label")
            for mode in MODES:
                yield Button(mode, id=f"mode-{mode}", classes="mode", compact=True)
        with Horizontal(id="share-row"):
            yield Static("Target cloud share ", classes="row-label")
            yield Button("−5%", id="share-down", compact=True)
            yield Static("—", id="share-value")
            yield Button("+5%", id="share-up", compact=True)
        yield Static(id="router-summary")
        chart = ScoreHistogram(id="score-chart")
        chart.border_title = "Recent scores (above the red line → cloud)"
        yield chart

    def show(self, doc: dict[str, Any], latest_threshold: float | None = None) -> None:
        """``latest_threshold``: the newest routed request's own, for a daemon that reports no global one
        (its threshold adapts per request); without it the chart had no line and the summary said ``—``."""
        mode = str(doc.get("mode") or "auto")
        self.show_mode(mode)
        share = doc.get("target_cloud_share")
        self.target_share = float(share) if isinstance(share, int | float) else None
        self.query_one("#share-value", Static).update(f" {fmt.share(self.target_share)} ")
        scores = [float(s) for s in doc.get("scores") or [] if isinstance(s, int | float)]
        threshold = doc.get("threshold")
        reported = float(threshold) if isinstance(threshold, int | float) else None
        thr = reported if reported is not None else latest_threshold
        source = " (last request)" if reported is None and thr is not None else ""
        above = sum(1 for s in scores if thr is not None and s >= thr)
        self.query_one("#router-summary", Static).update(
            Content.assemble(
                ("threshold ", "$text-muted"),
                "—" if thr is None else f"{thr:.3f}",
                (source, "$text-muted"),
                ("  │  ", "$text-muted"),
                f"{len(scores)} recent scores: {len(scores) - above} local, {above} cloud",
            )
        )
        self.query_one(ScoreHistogram).show(scores, thr)

    def show_mode(self, mode: str) -> None:
        for m in MODES:
            self.query_one(f"#mode-{m}", Button).set_class(m == mode, "-active")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button_id = event.button.id or ""
        if button_id.startswith("mode-"):
            self.post_message(ModeRequested(button_id.removeprefix("mode-")))
        elif button_id == "share-up":
            self.action_share(1)
        elif button_id == "share-down":
            self.action_share(-1)

    def action_mode(self, mode: str) -> None:
        self.post_message(ModeRequested(mode))

    def action_share(self, direction: int) -> None:
        if self.target_share is None:
            self.notify("The daemon has not reported a target cloud share yet", severity="warning")
            return
        share = round(min(1.0, max(0.0, self.target_share + direction * SHARE_STEP)), 2)
        self.post_message(CloudShareRequested(share))
