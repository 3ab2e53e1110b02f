"""SVG snapshots of every screen at 80x24, from the fixed data set served over loopback.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the
SVGs under ``__snapshots__`` before committing them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from edgeroute.tui.api import ApiClient
from edgeroute.tui.app import EdgerouteTui, create_app
from edgeroute.tui.screens.offline import OfflineScreen
from edgeroute.tui.settings import TuiSettings
from tests.tui.conftest import SHOWN_URL, AppFactory, PortMap
from tests.tui.fixed_daemon import NOW, FixedDaemon

SnapCompare = Callable[..., bool]


async def loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, EdgerouteTui)
    await asyncio.wait_for(app.first_load.wait(), 20)
    await pilot.pause(0.2)


def after(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press(*keys)
        await pilot.pause(0.2)

    return run


def test_overview_dark(snap_compare: SnapCompare, fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    assert snap_compare(make_app(fixed_daemon), run_before=loaded)


def test_overview_light(snap_compare: SnapCompare, fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    assert snap_compare(make_app(fixed_daemon, theme="light"), run_before=loaded)


def test_requests(snap_compare: SnapCompare, fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    assert snap_compare(make_app(fixed_daemon), run_before=after("2"))


def test_request_details(snap_compare: SnapCompare, fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    assert snap_compare(make_app(fixed_daemon), run_before=after("2", "down", "enter"))


def test_models(snap_compare: SnapCompare, fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    assert snap_compare(make_app(fixed_daemon), run_before=after("3"))


def test_router(snap_compare: SnapCompare, fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    assert snap_compare(make_app(fixed_daemon), run_before=after("4"))


def test_router_light(snap_compare: SnapCompare, fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    assert snap_compare(make_app(fixed_daemon, theme="light"), run_before=after("4"))


def test_daemon_not_running(snap_compare: SnapCompare) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings = TuiSettings(url=SHOWN_URL, clock=lambda: NOW, reconnect_initial_s=60.0, reconnect_cap_s=60.0)
    app = create_app(settings, ApiClient(SHOWN_URL, transport=PortMap(closed_port)))

    async def offline(pilot: Pilot[Any]) -> None:
        for _ in range(200):
            if isinstance(pilot.app.screen, OfflineScreen):
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(app, run_before=offline)
