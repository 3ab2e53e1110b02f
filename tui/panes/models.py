"""Local models: what is downloaded and loaded, memory, keep-alive left, speed; load, unload, and pull a new
one with a progress bar."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from .. import fmt
from ..gauge import bar
from ..messages import ModelActionRequested, PullRequested
from ..rows import LocalModel

COLUMNS = (
    ("name", "Model"),
    ("size", "Size"),
    ("loaded", "Loaded"),
    ("memory", "Memory"),
    ("keep", "Keep-alive"),
    ("speed", "Tok/s"),
    ("requests", "Reqs"),
    ("role", "Role"),
)


def cells(model: LocalModel) -> tuple[object, ...]:
    return (
        Text(model.name),
        Text(fmt.megabytes(model.size_mb), justify="right"),
        Text("● loaded", style="green") if model.loaded else Text("○ idle", style="dim"),
        Text(fmt.megabytes(model.memory_mb), justify="right"),
        Text(fmt.duration(model.keep_alive_left_s) if model.loaded else "—", justify="right"),
        Text("—" if model.tokens_per_s is None else f"{model.tokens_per_s:.1f}", justify="right"),
        Text(fmt.count(model.requests), justify="right"),
        Text(model.role or "chat"),
    )


class ModelsPane(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "load", "Load"),
        Binding("u", "unload", "Unload"),
        Binding("p", "pull", "Pull"),
    ]

    def compose(self) -> ComposeResult:
        table: DataTable[object] = DataTable(id="models-table", cursor_type="row")
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static(id="engine-summary")
        yield Static(id="pull-status")

    def show(self, models: list[LocalModel], free_memory_mb: float | None) -> None:
        table = self.query_one(DataTable)
        selected = self.selected()
        table.clear()
        for model in models:
            table.add_row(*cells(model), key=model.name)
        if selected is not None and selected in {m.name for m in models}:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        loaded = sum(1 for m in models if m.loaded)
        used = sum(m.memory_mb or 0.0 for m in models)
        self.query_one("#engine-summary", Static).update(
            Content.assemble(
                f"{len(models)} local models, {loaded} loaded ({fmt.megabytes(used)})",
                ("  │  ", "$text-muted"),
                f"free memory {fmt.megabytes(free_memory_mb)}",
                ("\nl load · u unload · p pull a model from the catalog or hf:owner/repo", "$text-muted"),
            )
        )

    def show_pull(self, model: str, status: str, done: int = 0, total: int | None = None) -> None:
        widget = self.query_one("#pull-status", Static)
        if status == "downloading":
            fraction = done / total if total else None
            widget.update(
                Content.assemble(
                    f"Pulling {model}: ",
                    bar(fraction, 24, "$accent"),
                    f" {fmt.share(fraction)} of {fmt.megabytes(total / 2**20) if total else '?'}",
                )
            )
        else:
            widget.update(Content(f"Pull {model}: {status}"))

    def selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    def action_load(self) -> None:
        name = self.selected()
        if name is not None:
            self.post_message(ModelActionRequested(name, "load"))

    def action_unload(self) -> None:
        name = self.selected()
        if name is not None:
            self.post_message(ModelActionRequested(name, "unload"))

    def action_pull(self) -> None:
        from ..screens.pull_dialog import PullDialog

        def pulled(model: str | None) -> None:
            if model:
                self.post_message(PullRequested(model))

        self.app.push_screen(PullDialog(), pulled)
