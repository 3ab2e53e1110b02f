"""Everything about one request: the whole routing reason, the score, and each attempt of the fallback trail."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from .. import fmt
from ..rows import RequestRow


def describe(row: RequestRow) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    served = row.served_model or "—"
    fields: list[tuple[str, str]] = [
        ("Time", fmt.stamp(row.time)),
        ("Request", row.request_id or "—"),
        ("Client", row.client or "—"),
        ("Endpoint", row.endpoint or "—"),
        ("Route", f"{row.requested_model} → {served} ({row.tier or 'no tier'})"),
        ("Reason", row.reason or "—"),
        ("Score", "—" if row.score is None else f"{row.score:.3f}"),
        ("Status", row.status + (f" {row.error}" if row.error else "")),
        (
            "Tokens",
            f"{row.prompt_tokens} prompt + {row.completion_tokens} completion"
            + (" (estimated)" if row.estimated else ""),
        ),
        ("Latency", f"{fmt.ms(row.latency_ms)} (first token {fmt.ms(row.ttft_ms)})"),
        ("Cost", fmt.usd(row.cost_usd)),
        ("Would-have", fmt.usd(row.counterfactual_usd)),
        ("Saved", fmt.usd(row.saved_usd)),
    ]
    for name, value in fields:
        grid.add_row(name, Text(value))
    if not row.attempts:
        grid.add_row("Attempts", Text("—"))
    for i, attempt in enumerate(row.attempts, 1):
        outcome = attempt.error or "answered"
        status = f" HTTP {attempt.status}" if attempt.status is not None else ""
        line = Text(f"{i}. {attempt.target}: {outcome}{status} after {fmt.ms(attempt.latency_ms)}")
        line.stylize("red" if attempt.error else "green", 0, len(line))
        if attempt.message:
            line.append(f"\n   {attempt.message}", style="dim")
        grid.add_row("Attempts" if i == 1 else "", line)
    return grid


class RequestDetailScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, row: RequestRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-box") as box:
            box.border_title = "Request details"
            box.border_subtitle = "Esc to close"
            yield Static(describe(self.row), id="detail")
        yield Footer(show_command_palette=False)
