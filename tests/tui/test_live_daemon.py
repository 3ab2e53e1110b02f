"""Acceptance: the dashboard against a real ``edgeroute serve`` on loopback (starter model + fake cloud)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeroute.tui import fmt
from edgeroute.tui.api import ApiClient
from edgeroute.tui.app import EdgerouteTui, create_app
from edgeroute.tui.panes.requests import RequestsPane
from edgeroute.tui.settings import TuiSettings
from tests.fakes.cloud import FakeCloud
from tests.tui.live_daemon import EXE, LiveDaemon, free_port, write_config
from tests.tui.screen import first_load, screen_text, wait_for, wait_for_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud() -> Iterator[FakeCloud]:
    with FakeCloud() as fake:
        yield fake


@pytest.fixture(scope="module")
def daemon(
    starter_gguf: Path, cloud: FakeCloud, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveDaemon]:
    with LiveDaemon(tmp_path_factory.mktemp("tui-live"), starter_gguf, cloud.openai_base_url) as live:
        yield live


def dashboard(url: str) -> EdgerouteTui:
    return create_app(TuiSettings(url=url, reconnect_cap_s=0.5), ApiClient(url))


def wait_for_ledger(daemon: LiveDaemon, count: int, timeout: float = 30.0) -> dict[str, Any]:
    """The ledger writes in the background; wait until it holds ``count`` requests."""
    deadline = time.monotonic() + timeout
    while True:
        stats = daemon.get("/api/stats", window="all")
        if stats["requests"] == count or time.monotonic() > deadline:
            return stats
        time.sleep(0.1)


async def test_overview_numbers_match_api_stats(daemon: LiveDaemon) -> None:
    before = int(daemon.get("/api/stats", window="all")["requests"])  # type: ignore[call-overload]
    assert daemon.chat("local/gemma3-270m").status_code == 200
    assert daemon.chat("cloud/fake-gpt").status_code == 200
    wait_for_ledger(daemon, before + 2)
    app = dashboard(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_load(app)
        await pilot.pause()
        text = screen_text(app)
    for window, title in (("today", "Saved today"), ("7d", "Saved 7 days"), ("all", "Saved all time")):
        stats = daemon.get("/api/stats", window=window)
        assert title in text
        for key in ("saved_usd", "cost_usd", "counterfactual_usd"):
            assert fmt.usd(stats[key]) in text, (window, key, stats[key])  # type: ignore[arg-type]
        assert fmt.pct(stats["saved_pct"]) in text, (window, stats["saved_pct"])  # type: ignore[arg-type]
    today = daemon.get("/api/stats", window="today")
    assert f"{today['requests']} req today" in text
    assert f"{today['local_requests']} local / {today['cloud_requests']} cloud" in text
    assert f"Local {fmt.share(today['local_share'])}" in text  # type: ignore[arg-type]
    assert "Daily" in text and "of $5.00" in text


async def test_a_new_request_appears_in_the_table(daemon: LiveDaemon) -> None:
    app = dashboard(daemon.url)
    async with app.run_test(size=(120, 30)) as pilot:
        await first_load(app)
        await pilot.press("2")
        pane = app.query_one(RequestsPane)
        seen = set(pane.rows)
        response = await daemon.achat("local/gemma3-270m", "Name a colour.")
        assert response.status_code == 200
        await wait_for(pilot, lambda: len(set(pane.rows) - seen) == 1, what="the new row")
        (new,) = [pane.rows[k] for k in set(pane.rows) - seen]
        assert new.served_model == "local/gemma3-270m" and new.tier == "local"
        top = next(line for line in screen_text(app).splitlines() if "gemma3-270m" in line)
        assert fmt.clock_time(new.time) in top


async def test_mode_switch_changes_the_next_requests_route(daemon: LiveDaemon) -> None:
    app = dashboard(daemon.url)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await first_load(app)
            pane = app.query_one(RequestsPane)
            for key, mode, tier in (("c", "cloud-only", "cloud"), ("o", "local-only", "local")):
                await pilot.press("4", key)
                await wait_for(pilot, lambda mode=mode: daemon.get("/api/mode")["mode"] == mode, what=mode)  # type: ignore[misc]
                await wait_for_text(pilot, f"mode {mode}")
                seen = set(pane.rows)
                response = await daemon.achat("auto")
                assert response.status_code == 200
                assert response.headers["x-edgeroute-tier"] == tier
                await wait_for(pilot, lambda seen=seen: len(set(pane.rows) - seen) == 1, what="row")  # type: ignore[misc]
                (new,) = [pane.rows[k] for k in set(pane.rows) - seen]
                assert new.tier == tier, (mode, new)
            await pilot.press("a")
            await wait_for(pilot, lambda: daemon.get("/api/mode")["mode"] == "auto", what="auto")
    finally:
        daemon.get("/health")


async def test_models_tab_unloads_and_loads_the_real_model(daemon: LiveDaemon) -> None:
    assert daemon.chat("local/gemma3-270m").status_code == 200  # make sure it is loaded

    def loaded() -> list[object]:
        return [m["name"] for m in daemon.get("/api/engine")["models"]]  # type: ignore[index, union-attr]

    assert loaded() == ["gemma3-270m"]
    app = dashboard(daemon.url)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await first_load(app)
        await pilot.press("3")
        text = await wait_for_text(pilot, "● loaded")
        row = next(line for line in text.splitlines() if "gemma3-270m" in line)
        assert " MB" in row and "forever" in row  # memory from the worker, keep_alive = -1
        await pilot.press("u")
        await wait_for(pilot, lambda: loaded() == [], what="unloaded")
        await wait_for_text(pilot, "○ idle")
        await pilot.press("l")
        await wait_for(pilot, lambda: loaded() == ["gemma3-270m"], timeout=60, what="loaded again")
        await wait_for_text(pilot, "● loaded")


async def test_daemon_stop_and_start_show_the_reconnect_state(
    starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    live = LiveDaemon(tmp_path_factory.mktemp("tui-restart"), starter_gguf).start()
    try:
        app = dashboard(live.url)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await first_load(app)
            await wait_for_text(pilot, "● connected")
            live.stop()
            text = await wait_for_text(pilot, "reconnecting")
            assert "Saved today" in text and "not running" not in text
            live.start()
            await wait_for_text(pilot, "● connected", timeout=60)
            await wait_for_text(pilot, "Reconnected")
    finally:
        live.stop()


async def test_start_it_now_starts_the_daemon_and_connects(edgeroute_home: Path, starter_gguf: Path) -> None:
    port = free_port()
    write_config(edgeroute_home, starter_gguf, port, None)
    url = f"http://127.0.0.1:{port}"
    app = create_app(TuiSettings(url=url, reconnect_cap_s=0.5, url_discovered=True), ApiClient(url))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_text(pilot, "Start it now")
            await pilot.press("s")
            await wait_for_text(pilot, "● connected", timeout=90)
            assert "edgeroute serve --detach" not in screen_text(app)
    finally:
        subprocess.run([EXE, "stop"], capture_output=True, timeout=60)
