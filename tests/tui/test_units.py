"""The dashboard's pure parts: number formatting, parsing the daemon's JSON, backoff, chart helpers."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from edgeroute.tui import fmt
from edgeroute.tui.backoff import Backoff
from edgeroute.tui.panes.overview import nice_ticks
from edgeroute.tui.panes.requests import cells, short_model
from edgeroute.tui.panes.router import histogram
from edgeroute.tui.rows import RequestRow, free_memory_mb, hourly_points, local_models
from edgeroute.tui.settings import DEFAULT_URL, TuiSettings, discover_url
from edgeroute.tui.starter import serve_argv
from tests.tui.fixed_daemon import ENGINE, MODELS, NOW, make_row


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "unknown"),
        ("lots", "unknown"),
        (0, "$0.00"),
        (0.0, "$0.00"),
        (1234.5, "$1,234.50"),
        (0.0875, "$0.0875"),
        (0.000042, "$0.000042"),
        (-0.5, "-$0.5000"),
    ],
)
def test_usd_never_rounds_a_saving_to_zero_and_says_unknown(value: object, shown: str) -> None:
    assert fmt.usd(value) == shown


def test_other_formats() -> None:
    assert fmt.pct(70.0) == "70.0%" and fmt.pct(None) == "—"
    assert fmt.share(0.7) == "70%" and fmt.share(None) == "—"
    assert fmt.count(10400) == "10.4k" and fmt.count(999) == "999" and fmt.count(2_500_000) == "2.5M"
    assert fmt.ms(431.2) == "431ms" and fmt.ms(1240) == "1.2s" and fmt.ms(None) == "—"
    assert fmt.megabytes(312) == "312 MB" and fmt.megabytes(18432) == "18.0 GB"
    assert fmt.duration(245) == "4m 5s" and fmt.duration(-1) == "forever" and fmt.duration(7300) == "2h 1m"
    assert fmt.reset_time("2026-01-02T00:00:00+00:00") == "Jan 02 00:00" and fmt.reset_time("soon") == "—"
    assert fmt.clip("abcdef", 4) == "abc…" and fmt.clip("abc", 4) == "abc"


def test_rows_parse_the_contract_and_the_ledger_spelling() -> None:
    contract = RequestRow.from_json(make_row(3))
    assert (contract.key, contract.reason, contract.score, contract.tier) == (
        "3",
        contract.reason,
        0.83,
        "cloud",
    )
    ledger = RequestRow.from_json(
        {
            "id": 7,
            "ts": 1000.5,
            "request_id": "r7",
            "requested_model": "auto",
            "route_reason": "rule:private",
            "route_score": 0.1,
            "status": 502,
            "error": "all_targets_failed",
            "attempts": [{"target": "cloud/x", "error": "upstream_timeout", "latency_ms": 5.0}],
            "cost_usd": None,
        }
    )
    assert ledger.time == 1000.5 and ledger.reason == "rule:private" and ledger.score == 0.1
    assert not ledger.ok and ledger.fallbacks[0].target == "cloud/x" and ledger.cost_usd is None


def test_table_cells_keep_user_text_out_of_markup() -> None:
    row = RequestRow.from_json(make_row(1, client="[b]x[/b]", reason="[red]x"))
    rendered = [str(getattr(c, "plain", c)) for c in cells(row)]
    assert "[b]x[/b]" in rendered and "[red]x" in rendered
    assert short_model("local/gemma3-270m") == "gemma3-270m" and short_model(None) == "—"


def test_local_models_join_both_engine_shapes() -> None:
    contract = local_models(MODELS, ENGINE)
    assert [m.name for m in contract] == ["gemma3-270m", "qwen2.5-coder-0.5b", "all-minilm"]
    gemma = contract[0]
    assert (
        gemma.loaded
        and gemma.memory_mb == 312.0
        and gemma.keep_alive_left_s == 245.0
        and gemma.requests == 42
        and round(gemma.size_mb or 0) == 241  # size_bytes from /v1/models
    )
    engine_own = {
        "models": [
            {
                "name": "gemma3-270m",
                "rss_bytes": 300 * 2**20,
                "keep_alive_left": None,
                "requests_served": 3,
                "last_tokens_per_s": 80.0,
                "queued": 1,
            }
        ],
        "free_memory_bytes": 2 * 2**30,
    }
    (first, *_) = local_models(MODELS, engine_own)
    assert first.memory_mb == 300.0 and first.keep_alive_left_s == -1.0 and first.requests == 3
    assert first.tokens_per_s == 80.0 and first.queue_depth == 1
    assert free_memory_mb(engine_own) == 2048.0 and free_memory_mb(ENGINE) == 18432.0


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff(initial=0.5, cap=5.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_chart_helpers() -> None:
    assert nice_ticks(2.62) == [0.0, 1.0, 2.0]
    assert nice_ticks(1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0) == [0.0]
    assert histogram([0.0, 0.04, 0.5, 0.99, 1.0], bins=4) == [2, 0, 1, 2]
    rows = [RequestRow.from_json(make_row(i)) for i in range(1, 11)]
    points = hourly_points(rows, NOW, hours=3)
    assert [p["requests"] for p in points] == [0, 9, 1]  # 12:51-12:59 in the 12h bucket, 13:00 in the 13h
    assert round(sum(p["counterfactual_usd"] for p in points), 6) == round(0.0125 * 10, 6)


def test_settings_hide_the_token_and_know_loopback() -> None:
    settings = TuiSettings(url="http://127.0.0.1:4000", token="secret-token-123")
    assert "secret-token-123" not in repr(settings) and settings.is_loopback
    assert (
        not TuiSettings(url="http://10.0.0.5:3343").is_loopback
        and TuiSettings(url="http://[::1]:1").is_loopback
    )
    assert (
        TuiSettings(url="http://localhost:3343").is_loopback
        and TuiSettings(url="http://127.0.0.2:1").is_loopback
    )
    assert TuiSettings(theme="light").textual_theme == "textual-light"


def test_discover_url_reads_only_the_running_daemons_address() -> None:
    assert discover_url() == DEFAULT_URL  # nothing runs in this test's EDGEROUTE_HOME


def test_start_command_takes_the_port_of_an_explicit_url() -> None:
    assert serve_argv("http://127.0.0.1:4100", discovered=False)[-4:] == [
        "serve",
        "--detach",
        "--port",
        "4100",
    ]
    assert serve_argv("http://127.0.0.1:3343", discovered=True)[-2:] == ["serve", "--detach"]


def test_cli_registers_tui_without_importing_textual() -> None:
    code = (
        "import sys; from edgeroute.cli.main import COMMANDS; import edgeroute.cli.tui_cmd; "
        "assert 'tui' in COMMANDS; assert 'textual' not in sys.modules and 'httpx' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    from edgeroute.cli.main import cli

    result = CliRunner().invoke(cli, ["tui", "--help"])
    assert result.exit_code == 0 and "--url" in result.output and "--token" in result.output
    assert "EDGEROUTE_TOKEN" in result.output
