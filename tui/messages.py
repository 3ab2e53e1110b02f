"""Messages between the panes and the app: panes ask (``*Requested``), the app's workers do the I/O and
report back (``ConnectionChanged``, ``RequestArrived``). Panes never call the API themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.message import Message

from .rows import RequestRow

LinkState = Literal["connecting", "connected", "reconnecting", "offline", "refused"]


@dataclass
class ConnectionChanged(Message):
    """``offline``: never reached the daemon yet; ``reconnecting``: it was up and went away; ``refused``: it
    answers but turns the dashboard away (a missing or wrong token)."""

    state: LinkState
    url: str
    attempt: int = 0
    retry_in_s: float | None = None
    detail: str = ""


@dataclass
class RequestArrived(Message):
    row: RequestRow


@dataclass
class ModeRequested(Message):
    mode: str


@dataclass
class CloudShareRequested(Message):
    share: float


@dataclass
class ModelActionRequested(Message):
    name: str
    action: Literal["load", "unload"]


@dataclass
class PullRequested(Message):
    model: str


@dataclass
class StartDaemonRequested(Message):
    pass


@dataclass
class RequestInspected(Message):
    """A row of the live table was chosen: show everything about it."""

    row: RequestRow
