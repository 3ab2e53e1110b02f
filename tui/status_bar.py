"""The top line: which daemon, which routing mode, and whether the link is up, retrying or refused."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from edgeroute import __version__

from .messages import ConnectionChanged, LinkState

LINK = {
    "connecting": ("◌ connecting…", "$text-muted"),
    "connected": ("● connected", "$success"),
    "reconnecting": ("⟳ reconnecting…", "bold $warning"),
    "offline": ("○ not running", "$error"),
    "refused": ("✗ refused", "bold $error"),
}
SEP = ("  │  ", "$text-muted")


class StatusBar(Static):
    def show(self, url: str, mode: str, link: LinkState, message: ConnectionChanged | None = None) -> None:
        parts: list[tuple[str, str] | str] = [
            (f" edgeroute {__version__}", "bold"),
            SEP,
            url,
            SEP,
            ("mode ", "$text-muted"),
            (mode, "bold"),
            SEP,
            LINK[link],
        ]
        if message is not None and message.state == "reconnecting" and message.retry_in_s is not None:
            parts.append((f" attempt {message.attempt}, next in {message.retry_in_s:.1f}s", "$text-muted"))
        if message is not None and message.state == "refused":
            parts.append((f" {message.detail.split(' — ')[0]}", "$text-muted"))
        self.update(Content.assemble(*parts))
        self.set_class(link in ("reconnecting", "refused"), "-alert")
