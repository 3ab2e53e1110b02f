"""Fixtures for the dashboard tests: a fixed-data daemon on loopback, UTC clock times, and a factory that
builds the app against it through the real ApiClient."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from edgeroute.tui.api import ApiClient
from edgeroute.tui.app import EdgerouteTui, create_app
from edgeroute.tui.settings import TuiSettings
from tests.tui.fixed_daemon import NOW, FixedDaemon

SHOWN_URL = "http://127.0.0.1:3343"


class PortMap(httpx.AsyncBaseTransport):
    """Real HTTP over loopback to ``port``, whatever address the URL names: the app shows the default
    address, so snapshots do not change with the ephemeral port the test server got."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(host="127.0.0.1", port=self.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clock times on screen in UTC, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def fixed_daemon() -> Iterator[FixedDaemon]:
    with FixedDaemon() as daemon:
        yield daemon


AppFactory = Callable[..., EdgerouteTui]


@pytest.fixture
def make_app() -> AppFactory:
    """``make_app(daemon, token=..., theme=...)``: the dashboard wired to a fixed daemon."""

    def build(daemon: FixedDaemon, **settings: Any) -> EdgerouteTui:
        base: dict[str, Any] = {"url": SHOWN_URL, "clock": lambda: NOW, "reconnect_cap_s": 0.5}
        base.update(settings)
        tui_settings = TuiSettings(**base)
        api = ApiClient(tui_settings.url, tui_settings.token, transport=PortMap(daemon.server.port))
        return create_app(tui_settings, api)

    return build
