"""Shown while no daemon answers at the dashboard's address: how to start one, and a key that does it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from ..messages import StartDaemonRequested


class OfflineScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start the daemon"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, url: str, can_start: bool, status: str = "") -> None:
        super().__init__()
        self.url = url
        self.can_start = can_start
        self.status = status

    def compose(self) -> ComposeResult:
        with Vertical(id="offline-box") as box:
            box.border_title = "edgeroute is not running"
            yield Static(
                Content.assemble(
                    ("No edgeroute daemon answers at ", ""),
                    (self.url, "bold"),
                    ".\n\nStart it in the background with:\n\n    ",
                    ("edgeroute serve --detach", "bold $accent"),
                    "\n\nor in a terminal of its own with ",
                    ("edgeroute serve", "bold"),
                    ". This dashboard connects as soon as it answers.",
                ),
                id="offline-help",
            )
            if self.can_start:
                with Center():
                    yield Button("Start it now (s)", id="start-daemon", variant="primary")
            yield Static(Content.styled(self.status, "$text-muted"), id="offline-status")
        yield Footer(show_command_palette=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.can_start if action == "start" else True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_start()

    def action_start(self) -> None:
        if self.can_start:
            self.app.post_message(StartDaemonRequested())

    def show_status(self, text: str) -> None:
        self.query_one("#offline-status", Static).update(Content.styled(text, "$text-muted"))
