"""What a real ``edgeroute serve`` sends that the fixed data set did not, and the terminal sizes a person has:
a sparse timeseries, failed requests, a fallback under a pinned route, no global threshold, 80 columns."""

from __future__ import annotations

from typing import Any

from edgeroute.tui.panes.overview import axis_usd
from edgeroute.tui.panes.requests import layout_for
from tests.tui.conftest import AppFactory
from tests.tui.fixed_daemon import HOUR, NOW, STATS, FixedDaemon, fixed_rows, make_row
from tests.tui.screen import first_load, screen_text, wait_for_text


def chart_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "Spend vs would-have-spent" in line)
    return lines[start:]


async def test_one_busy_hour_draws_a_week_long_step_not_a_dot(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    # /api/timeseries lists only the hours that had requests
    point = {"t": NOW - 2 * HOUR, "cost_usd": 0.06, "counterfactual_usd": 0.5175, "requests": 7}
    fixed_daemon.override["/api/timeseries"] = {"points": [point]}
    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        await pilot.pause(0.2)
        chart = chart_lines(screen_text(app))
    axis = chart[next(i for i, line in enumerate(chart) if "└" in line) + 1]
    assert "Thu 14h" in axis, axis  # the window starts 167 hours before NOW (Thu 13:00 UTC)
    assert len(axis.split()) >= 5, axis  # several dates along the week, not one label in the middle
    assert any("$0.40┤" in line for line in chart) and not any("$0.4000" in line for line in chart)
    assert any("$0.00┤" in line for line in chart)


def test_axis_labels_share_one_number_of_decimals() -> None:
    assert axis_usd([0.0, 0.2, 0.4]) == ["$0.00", "$0.20", "$0.40"]
    assert axis_usd([0.0, 0.0025, 0.005]) == ["$0.0000", "$0.0025", "$0.0050"]
    assert axis_usd([0.0, 500.0, 1000.0]) == ["$0.00", "$500.00", "$1,000.00"]


async def test_failed_requests_are_counted_next_to_the_total(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    fixed_daemon.override["/api/stats"] = {**STATS["today"], "requests": 12, "errors": 2}
    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        text = await wait_for_text(pilot, "12 req today")
    line = next(line for line in text.splitlines() if "12 req today" in line)
    assert "12 req today, 2 failed" in line and line.rstrip().endswith("req/min")  # nothing cut off
    assert "7 local / 3 cloud" in text


def real_rows() -> list[dict[str, Any]]:
    """The ledger's own spelling for a fallback (reason ``rule:pinned``, the trail in attempts) and for an
    unknown model (no tier, no served model), on top of the fixed rows."""
    fell_back = make_row(
        12,
        time=NOW + 2,
        requested_model="cloud/dead-gpt",
        served_model="local/gemma3-270m",
        tier="local",
        reason="rule:pinned",
        score=None,
        attempts=[
            {"target": "cloud/dead-gpt", "error": "upstream_unreachable", "status": None, "latency_ms": 73.0},
            {"target": "local/gemma3-270m", "error": None, "status": None, "latency_ms": 17.0},
        ],
        cost_usd=0.0,
        saved_usd=0.105,
    )
    unknown = make_row(
        13,
        time=NOW + 3,
        requested_model="gpt-4o",
        served_model=None,
        tier=None,
        reason=None,
        status=404,
        error="model_not_found",
        cost_usd=0.0,
        saved_usd=0.0,
    )
    return [unknown, fell_back, *fixed_rows()]


def table_line(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


async def test_the_requests_table_fits_80_columns_and_uses_a_wide_one(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    fixed_daemon.override["/api/requests"] = {"requests": real_rows()}
    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        await pilot.press("2")
        narrow = await wait_for_text(pilot, "13:00:03")
        await pilot.resize_terminal(200, 40)
        await pilot.pause(0.3)
        wide = screen_text(app)
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        back = screen_text(app)
    header = table_line(narrow, "Time")
    assert header.split() == ["Time", "Requested", "→", "served", "Tier", "Reason", "Cost", "Saved"]
    fallback = table_line(narrow, "13:00:02")
    assert "clou… → gemma3-270m" in fallback  # clipped on the requested side: where it ran stays
    assert "fallback" in fallback and fallback.split()[-2:] == ["$0.00", "$0.1050"]
    failed = table_line(narrow, "13:00:03")
    assert "gpt-4o " in failed and "→" not in failed and "error" in failed and "model_not_found" in failed
    assert "Tok in/out" in wide and "Client" in wide and "Latency" in wide
    assert "fallback (upstream_unreachable); rule:pinned" in table_line(wide, "13:00:02")
    assert "score 0.21<0.58 (target 30%)" in wide  # the whole reason, not its first 20 characters
    assert table_line(back, "Time").split() == header.split()  # and back again when the terminal shrinks


def test_layouts_never_exceed_the_width_they_are_given() -> None:
    for width in range(78, 260):  # 80 columns less the tab's padding, and up
        layout = layout_for(width)
        fixed = {"time": 8, "client": 12, "tier": 5, "tokens": 10, "latency": 7, "cost": 8, "saved": 8}
        used = sum(fixed.get(c, 0) + 2 for c in layout.columns) + layout.route + layout.reason
        assert used <= width - 2, (width, layout)
        assert {"time", "route", "tier", "reason", "cost", "saved"} <= set(layout.columns)


async def test_without_a_global_threshold_the_router_shows_the_last_requests(
    fixed_daemon: FixedDaemon, make_app: AppFactory
) -> None:
    rows = fixed_rows()
    rows[0]["route_features"] = {"threshold": 0.7, "p_gain": 0.33}
    fixed_daemon.override["/api/requests"] = {"requests": rows}
    fixed_daemon.override["/api/router"] = {
        "mode": "auto",
        "target_cloud_share": 0.3,
        "threshold": None,
        "scores": [0.1, 0.2, 0.75, 0.9],
    }
    app = make_app(fixed_daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_load(app)
        await pilot.press("4")
        text = await wait_for_text(pilot, "recent scores")
    assert "threshold 0.700 (last request)" in text
    assert "4 recent scores: 2 local, 2 cloud" in text
