"""Ask which model to pull: a catalog alias (``qwen2.5-0.5b``) or a hub reference (``hf:owner/repo``)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PullDialog(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="pull-box") as box:
            box.border_title = "Pull a model"
            yield Label("Catalog alias or hf:owner/repo — Enter to start, Esc to cancel")
            yield Input(placeholder="e.g. qwen2.5-0.5b", id="pull-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
