"""Reading what the dashboard shows, as plain text, the way a person reads the terminal."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot


def screen_text(app: App[object]) -> str:
    """The current screen (with any screens under a modal) rendered to text."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, record=True, legacy_windows=False
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def wait_for(
    pilot: Pilot[object], condition: Callable[[], bool], timeout: float = 20.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` holds; fail with what was on screen if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}:\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)
    await pilot.pause()


async def wait_for_text(pilot: Pilot[object], text: str, timeout: float = 20.0) -> str:
    await wait_for(pilot, lambda: text in screen_text(pilot.app), timeout, repr(text))
    return screen_text(pilot.app)


async def first_load(app: App[object], timeout: float = 20.0) -> None:
    await asyncio.wait_for(app.first_load.wait(), timeout)  # type: ignore[attr-defined]
