"""The dashboard driven with Pilot against a real loopback server answering with a fixed data set."""

from __future__ import annotations

import socket

from edgeroute.tui.api import ApiClient
from edgeroute.tui.app import create_app
from edgeroute.tui.panes.requests import RequestsPane
from edgeroute.tui.settings import TuiSettings
from tests.tui.conftest import SHOWN_URL, AppFactory
from tests.tui.fixed_daemon import NOW, STATS, FixedDaemon, make_row
from tests.tui.screen import first_load, screen_text, wait_for, wait_for_text


async def test_overview_shows_savings_spend_share_rate_and_budget(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        await pilot.pause()
        text = screen_text(app)
    # saved / percentage / spent / would-have for today, 7 days and all time, as /api/stats has them
    for expected in ("$0.0875", "70.0%", "$0.0375", "$0.1250", "$3.76", "73.1%", "$1.39", "$5.15"):
        assert expected in text, expected
    for expected in ("$19.04", "74.4%", "$6.56", "$25.60"):
        assert expected in text, expected
    assert "Local 70%" in text and "30% Cloud" in text
    assert "10 req today" in text and "7 local / 3 cloud" in text
    assert "1.2 req/min" in text  # 6 of the fixed requests finished in the 5 minutes before NOW
    assert "p50 431ms p95 1.2s" in text
    assert "$0.0375 of $5.00" in text and "resets Jan 02 00:00" in text
    assert "no monthly cap" in text
    assert "Spend vs would-have-spent" in text


async def test_unknown_money_reads_unknown_never_zero(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    fixed_daemon.override["/api/stats"] = {**STATS["today"], "saved_usd": None}
    app = make_app(fixed_daemon)
    async with app.run_test(size=(130, 30)) as pilot:
        await first_load(app)
        overview = await wait_for_text(pilot, "unknown")
        await pilot.press("2")
        table = await wait_for_text(pilot, "13:00:00")
    card = next(line for line in overview.splitlines() if "70.0%" in line)
    assert card.split("│")[1].split()[0] == "unknown"  # saved today: unknown, not $0
    newest = next(line for line in table.splitlines() if "13:00:00" in line)  # the row with no known price
    assert newest.count("unknown") == 2 and "$0" not in newest


async def test_a_new_request_appears_at_the_top_of_the_table(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    app = make_app(fixed_daemon)
    async with app.run_test(size=(130, 30)) as pilot:  # wide enough for the Client column
        await first_load(app)
        await pilot.press("2")
        await wait_for(pilot, lambda: fixed_daemon.subscriber_count() == 1, what="the event stream")
        stats_calls = sum(1 for path, _ in fixed_daemon.seen if path == "/api/stats")
        fixed_daemon.publish(
            make_row(11, time=NOW + 5, client="zed-editor", served_model="cloud/gpt-4o", tier="cloud")
        )
        text = await wait_for_text(pilot, "zed-editor")
        table_lines = [
            line for line in text.splitlines() if ":" in line and ("local" in line or "cloud" in line)
        ]
        assert "zed-editor" in table_lines[0] and "13:00:05" in table_lines[0]
        assert app.query_one(RequestsPane).table.row_count == 11
        # the aggregates are reloaded after an event
        await wait_for(
            pilot,
            lambda: sum(1 for path, _ in fixed_daemon.seen if path == "/api/stats") > stats_calls,
            what="stats reload",
        )


async def test_an_empty_table_says_where_to_point_a_client_until_the_first_request(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    with fixed_daemon.lock:
        fixed_daemon.rows.clear()
    app = make_app(fixed_daemon)
    async with app.run_test(size=(130, 30)) as pilot:
        await first_load(app)
        await pilot.press("2")
        text = await wait_for_text(pilot, "No requests yet")
        assert f"{SHOWN_URL}/v1 (OpenAI API)" in " ".join(text.split())
        await wait_for(pilot, lambda: fixed_daemon.subscriber_count() == 1, what="the event stream")
        fixed_daemon.publish(make_row(1, time=NOW + 5, client="zed-editor"))
        await wait_for_text(pilot, "zed-editor")
        assert "No requests yet" not in screen_text(app)


async def test_selecting_a_row_shows_the_whole_reason_score_and_fallback_trail(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    app = make_app(fixed_daemon)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_load(app)
        await pilot.press("2", "down", "enter")  # the second row is the one that fell back
        text = await wait_for_text(pilot, "Request details")
        assert "fallback after cloud/gpt-4o upstream_timeout" in text
        assert "0.770" in text
        assert "1. cloud/gpt-4o: upstream_timeout after 30.0s" in text
        assert "no response within 30s" in text
        assert "2. local/gemma3-270m: answered after 610ms" in text
        assert "req-0009" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Request details" not in screen_text(app), what="detail closed")


async def test_a_click_on_a_row_opens_its_details(fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    app = make_app(fixed_daemon)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_load(app)
        await pilot.press("2")
        await pilot.pause()
        await pilot.click("#requests-table", offset=(20, 2))  # header is line 0; the first row line 1
        await pilot.click("#requests-table", offset=(20, 2))
        await wait_for_text(pilot, "Request details")


async def test_mode_switch_by_key_and_by_mouse(fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        await pilot.press("4", "c")
        await wait_for(
            pilot, lambda: ("/api/mode", {"mode": "cloud-only"}) in fixed_daemon.posts, what="POST"
        )
        await wait_for_text(pilot, "mode cloud-only")
        await pilot.click("#mode-local-only")
        await wait_for(
            pilot, lambda: ("/api/mode", {"mode": "local-only"}) in fixed_daemon.posts, what="click"
        )
        await wait_for_text(pilot, "mode local-only")
        await pilot.press("a")
        await wait_for_text(pilot, "mode auto")
    assert fixed_daemon.mode == "auto"


async def test_target_cloud_share_steps_by_five_points(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        await pilot.press("4")
        text = await wait_for_text(pilot, " 30% ")
        assert "threshold 0.580" in text and "120 recent scores: 70 local, 50 cloud" in text
        await pilot.press("plus")
        await wait_for(pilot, lambda: ("/api/router", {"target_cloud_share": 0.35}) in fixed_daemon.posts)
        await wait_for_text(pilot, " 35% ")
        await pilot.press("minus")
        await wait_for(pilot, lambda: fixed_daemon.posts[-1] == ("/api/router", {"target_cloud_share": 0.3}))
        await wait_for_text(pilot, " 30% ")


async def test_models_tab_loads_unloads_and_pulls_with_progress(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    app = make_app(fixed_daemon)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await first_load(app)
        await pilot.press("3")
        text = await wait_for_text(pilot, "gemma3-270m")
        assert "● loaded" in text and "312 MB" in text and "4m 5s" in text and "96.4" in text
        assert "qwen2.5-coder-0.5b" in text and "free memory 18.0 GB" in text
        assert "cloud/gpt-4o" not in text  # cloud models are not local models
        await pilot.press("u")
        await wait_for(pilot, lambda: ("/api/models/gemma3-270m/unload", {}) in fixed_daemon.posts)
        await pilot.press("down", "l")
        await wait_for(pilot, lambda: ("/api/models/qwen2.5-coder-0.5b/load", {}) in fixed_daemon.posts)
        await pilot.press("p")
        await wait_for_text(pilot, "Pull a model")
        await pilot.press(*"tiny-llama", "enter")
        await wait_for_text(pilot, "Pull tiny-llama: done (tiny-llama)")
        assert ("/api/pull", {"model": "tiny-llama"}) in fixed_daemon.posts
        await pilot.press("p")
        await wait_for_text(pilot, "Pull a model")
        await pilot.press(*"no-such-model", "enter")
        await wait_for_text(pilot, "failed: no-such-model is not in the catalog")


async def test_the_token_is_sent_and_never_shown(make_app: AppFactory) -> None:
    secret = "er-test-token-9f8e7d6c5b4a"
    with FixedDaemon(token=secret) as daemon:
        app = make_app(daemon, token=secret)
        assert secret not in repr(app.settings)
        async with app.run_test(size=(100, 30)) as pilot:
            await first_load(app)
            screens = []
            for key in "1234":
                await pilot.press(key)
                await pilot.pause()
                screens.append(screen_text(app))
            await pilot.press("2", "enter")
            await wait_for_text(pilot, "Request details")
            screens.append(screen_text(app))
    assert all(secret not in s for s in screens)
    api_calls = [headers for path, headers in daemon.seen if path != "/health"]
    assert api_calls and all(h.get("Authorization") == f"Bearer {secret}" for h in api_calls)


async def test_a_refused_token_says_how_to_pass_one(make_app: AppFactory) -> None:
    with FixedDaemon(token="the-right-one") as daemon:
        app = make_app(daemon)
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            text = await wait_for_text(pilot, "--token")
    assert "refused" in text and "not running" not in text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_no_daemon_says_how_to_start_one_and_connects_when_it_appears() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(TuiSettings(url=url, reconnect_cap_s=0.3), ApiClient(url))
    async with app.run_test(size=(80, 24)) as pilot:
        text = await wait_for_text(pilot, "edgeroute serve --detach")
        assert "edgeroute is not running" in text and url in text and "Start it now" in text
        with FixedDaemon(port=port):
            await first_load(app)
            text = await wait_for_text(pilot, "$0.0875")
            assert "edgeroute serve --detach" not in text and "● connected" in text


async def test_a_daemon_restart_shows_reconnecting_then_reconnects(make_app: AppFactory) -> None:
    daemon = FixedDaemon()
    daemon.start()
    try:
        app = make_app(daemon)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await first_load(app)
            await wait_for_text(pilot, "● connected")
            daemon.stop()
            text = await wait_for_text(pilot, "reconnecting")
            assert "$0.0875" in text  # the last numbers stay on screen meanwhile
            assert "not running" not in text  # no "start a daemon" screen for a restart
            daemon.start()
            await wait_for_text(pilot, "● connected")
            await wait_for_text(pilot, "Reconnected")
    finally:
        if daemon.server.is_running():
            daemon.stop()


async def test_theme_toggles_between_dark_and_light(fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    app = make_app(fixed_daemon, theme="light")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "textual-light"
        await pilot.press("t")
        assert app.theme == "textual-dark"
        await pilot.press("t")
        assert app.theme == "textual-light"


async def test_the_table_keeps_only_the_newest_rows(fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    app = make_app(fixed_daemon, request_limit=5)
    async with app.run_test(size=(100, 30)) as pilot:
        await first_load(app)
        pane = app.query_one(RequestsPane)
        assert sorted(pane.rows) == ["10", "6", "7", "8", "9"]
        await wait_for(pilot, lambda: fixed_daemon.subscriber_count() == 1, what="the event stream")
        fixed_daemon.publish(make_row(11, time=NOW + 5))
        await wait_for(pilot, lambda: "11" in pane.rows, what="row 11")
        assert len(pane.rows) == 5 and "6" not in pane.rows and pane.table.row_count == 5


async def test_a_confused_daemon_gives_unknowns_and_a_notice_not_a_crash(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    fixed_daemon.override["/api/stats"] = {"requests": "many", "saved_usd": "lots", "local_share": "half"}
    fixed_daemon.override["/api/requests"] = {"requests": [{"nonsense": True}, "not a row"]}
    fixed_daemon.override["/api/engine"] = {"loaded": "nope"}
    app = make_app(fixed_daemon)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await first_load(app)
        text = await wait_for_text(pilot, "unknown")
        assert "● connected" in text
        fixed_daemon.override.clear()
        await pilot.press("r")
        await wait_for_text(pilot, "$0.0875")
        assert app.is_running


async def test_keys_of_a_hidden_tab_do_nothing(fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        await pilot.press("4", "1", "c", "3", "2", "u")
        await pilot.pause(0.3)
        assert fixed_daemon.posts == []
        assert "Saved today" not in screen_text(app)  # on the Requests tab now


async def test_tabs_switch_with_the_mouse(fixed_daemon: FixedDaemon, make_app: AppFactory) -> None:
    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        await pilot.click("#--content-tab-models")
        await wait_for_text(pilot, "free memory 18.0 GB")
        await pilot.click("#--content-tab-router")
        await wait_for_text(pilot, "Target cloud share")


async def test_a_remote_daemon_is_not_offered_a_local_start(make_app: AppFactory) -> None:
    closed = FixedDaemon()  # never started: its port is closed
    closed.server.port = free_port()
    app = make_app(closed, url="http://10.0.0.5:3343")
    async with app.run_test(size=(80, 24)) as pilot:
        text = await wait_for_text(pilot, "edgeroute is not running")
        assert "http://10.0.0.5:3343" in text and "Start it now" not in text
        await pilot.press("s")
        await pilot.pause(0.2)
        assert "Starting" not in screen_text(app)


async def test_messages_that_arrive_after_shutdown_are_ignored(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    """The event worker can post one last change while the app tears down its screens (a CI crash)."""
    from edgeroute.tui.messages import ConnectionChanged, LinkState, RequestArrived
    from edgeroute.tui.rows import RequestRow

    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        await pilot.pause()
    assert not app.screen_stack
    states: tuple[LinkState, ...] = ("connected", "refused", "offline", "reconnecting")
    for state in states:
        app.on_connection_changed(ConnectionChanged(state, fixed_daemon.url))
    assert app.link == "reconnecting"
    app.on_request_arrived(RequestArrived(RequestRow.from_json(make_row(99))))
