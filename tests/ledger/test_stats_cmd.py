"""``edgeroute stats``: from the running daemon's /api/stats, else straight from the ledger file."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from edgeroute.cli.main import cli
from edgeroute.ledger import Ledger, LedgerRecord
from edgeroute.paths import resolve_paths


def fill_ledger() -> None:
    async def go() -> None:
        ledger = Ledger.open(resolve_paths().ledger_file)
        try:
            await ledger.record(
                LedgerRecord(
                    "a",
                    "/v1/chat/completions",
                    "auto",
                    200,
                    900.0,
                    tier="local",
                    served_model="local/g",
                    prompt_tokens=1000,
                    completion_tokens=200,
                    cost_usd=0.0,
                    counterfactual_usd=0.0055,
                    saved_usd=0.0055,
                    client="ide",
                )
            )
            await ledger.record(
                LedgerRecord(
                    "b",
                    "/v1/chat/completions",
                    "auto",
                    200,
                    1500.0,
                    tier="cloud",
                    served_model="cloud/m",
                    prompt_tokens=100,
                    completion_tokens=100,
                    cost_usd=None,
                    counterfactual_usd=0.00175,
                )
            )
            await ledger.record(
                LedgerRecord(
                    "c",
                    "/v1/chat/completions",
                    "auto",
                    200,
                    2000.0,
                    tier="cloud",
                    served_model="cloud/g",
                    prompt_tokens=2000,
                    completion_tokens=500,
                    cost_usd=0.01025,
                    counterfactual_usd=0.01025,
                    saved_usd=0.0,
                )
            )
        finally:
            await ledger.aclose()

    asyncio.run(go())


def write_state(url: str) -> None:
    paths = resolve_paths()
    paths.runtime_dir.mkdir(parents=True, exist_ok=True)
    paths.state_file.write_text(json.dumps({"url": url, "pid": 1}))


def test_reads_the_ledger_file_when_no_daemon_runs() -> None:
    fill_ledger()
    result = CliRunner().invoke(cli, ["stats", "--window", "all", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["requests"], data["local_requests"], data["cloud_requests"]) == (3, 1, 2)
    assert (data["cost_usd"], data["counterfactual_usd"], data["saved_usd"]) == (0.01025, 0.0175, 0.0055)
    assert data["unknown_cost_requests"] == 1
    table = CliRunner().invoke(cli, ["stats", "--window", "all"])
    assert table.exit_code == 0, table.output
    assert "requests           3  (local 1, cloud 2, errors 0)" in table.output
    assert "spent              $0.01025  (+ 1 request at an unknown price)" in table.output
    assert "1 request at an unknown price" in table.output
    assert "ledger file" in table.output
    [model_m] = [line for line in table.output.splitlines() if line.startswith("cloud/m ")]
    assert "unknown" in model_m
    assert any(line.startswith("cloud ") and "$0.01025+?" in line for line in table.output.splitlines())


def test_asks_the_running_daemon_first(httpserver: HTTPServer) -> None:
    fill_ledger()
    served = {"window": "7d", "requests": 42, "local_requests": 40, "cloud_requests": 2, "cost_usd": 1.5}
    httpserver.expect_request("/api/stats", query_string="window=7d").respond_with_json(served)
    write_state(httpserver.url_for("/"))
    result = CliRunner().invoke(cli, ["stats", "--window", "7d", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == served
    table = CliRunner().invoke(cli, ["stats", "--window", "7d"])
    assert "daemon at http://" in table.output and "requests           42" in table.output


def test_sends_the_api_token_when_the_daemon_requires_one(httpserver: HTTPServer) -> None:
    paths = resolve_paths()
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text('[server]\napi_tokens = ["sk-local-test-token-1234"]\n')
    httpserver.expect_request(
        "/api/stats", headers={"Authorization": "Bearer sk-local-test-token-1234"}
    ).respond_with_json({"requests": 7})
    write_state(httpserver.url_for("/"))
    result = CliRunner().invoke(cli, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["requests"] == 7


def test_a_stale_state_file_falls_back_to_the_ledger() -> None:
    fill_ledger()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    write_state(f"http://127.0.0.1:{port}")
    result = CliRunner().invoke(cli, ["stats", "--window", "all", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["requests"] == 3


def test_an_empty_home_prints_zeros_without_creating_a_ledger() -> None:
    result = CliRunner().invoke(cli, ["stats"])
    assert result.exit_code == 0, result.output
    assert "requests           0" in result.output
    assert not Path(resolve_paths().ledger_file).exists()
