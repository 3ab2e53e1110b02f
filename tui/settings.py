"""What the dashboard is pointed at and how it looks, resolved once by the CLI and handed to ``create_app``."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:3343"
THEMES = {"dark": "textual-dark", "light": "textual-light"}


@dataclass(frozen=True, slots=True)
class TuiSettings:
    """``token`` is kept out of ``repr`` so it can never end up in a log line or a traceback on screen."""

    url: str = DEFAULT_URL
    token: str | None = field(default=None, repr=False)
    theme: str = "dark"
    refresh_s: float = 5.0
    request_limit: int = 200
    # Seconds between reconnect attempts grow from the first to the cap (the daemon may be restarting).
    reconnect_initial_s: float = 0.5
    reconnect_cap_s: float = 5.0
    # The URL was found (running daemon's state or the default) rather than given: offer to start a daemon.
    url_discovered: bool = True
    clock: Callable[[], float] = field(default=time.time, repr=False)

    @property
    def textual_theme(self) -> str:
        return THEMES.get(self.theme, self.theme)

    @property
    def is_loopback(self) -> bool:
        """Only a daemon on this machine can be started from here."""
        host = urlsplit(self.url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def discover_url() -> str:
    """The running daemon's advertised address (its state file, like a socket path), else the default."""
    from edgeroute.daemon import read_state
    from edgeroute.paths import resolve_paths

    state = read_state(resolve_paths())
    return state.url if state is not None else DEFAULT_URL
