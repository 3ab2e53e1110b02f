"""Acceptance: a real `edgeroute serve` process answers N requests in full, is killed with SIGKILL (no
shutdown, no checkpoint, no close), and its ledger file still holds all N rows; `edgeroute stats --json`
reports the same totals from the live daemon before the kill and from the file after it.

The daemon runs with the default ``ledger.synchronous = "NORMAL"`` (WAL): a row committed before the
response's last byte is in the -wal file, which survives the process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgeroute.paths import Paths, resolve_paths
from tests.fakes.cloud import FakeCloud
from tests.ledger_http.conftest import nano_per_token, to_nano

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

EXE = str(Path(sys.executable).parent / "edgeroute")
N = 24
MSG = [{"role": "user", "content": "hello"}]
# the fake's default usage: 11 prompt tokens (3 of them cached), 7 completion tokens
COST_PER_REQUEST = 8 * nano_per_token(2.0) + 3 * nano_per_token(0.5) + 7 * nano_per_token(8.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(paths: Paths, cloud: FakeCloud, port: int) -> None:
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(
        f"""
[server]
port = {port}

[[cloud]]
name = "gpt"
provider = "openai"
base_url = "{cloud.openai_base_url}"
model = "fake-gpt"
key_env = "LEDGER_TEST_FAKE_OPENAI_KEY"
max_retries = 0
price_in = 2.0
price_cached_in = 0.5
price_out = 8.0
"""
    )


@pytest.fixture
def daemon(edgeroute_home: Path, cloud: FakeCloud) -> Iterator[tuple[subprocess.Popen[bytes], str, Paths]]:
    """`edgeroute serve` as a child process (so the test can SIGKILL and reap it)."""
    paths = resolve_paths()
    port = free_port()
    write_config(paths, cloud, port)
    env = {**os.environ, "LEDGER_TEST_FAKE_OPENAI_KEY": "sk-test-daemon"}
    log = (edgeroute_home / "serve.log").open("wb")
    proc = subprocess.Popen([EXE, "serve", "--log-level", "warning"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (edgeroute_home / "serve.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "edgeroute serve did not answer within 30 s"
            time.sleep(0.1)
        yield proc, url, paths
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        log.close()


def run_cli(*args: str) -> str:
    out = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def stats_json() -> dict[str, object]:
    data: dict[str, object] = json.loads(run_cli("stats", "--window", "all", "--json"))
    return data


def send(http: httpx.Client, numbers: range) -> None:
    """Requests whose responses are read in full: JSON bodies, and streams up to ``[DONE]``."""
    for i in numbers:
        if i % 2:
            body = {"model": "cloud/gpt", "messages": MSG, "stream": True}
            with http.stream("POST", "/v1/chat/completions", json=body) as s:
                assert s.status_code == 200
                assert [line for line in s.iter_lines() if line][-1] == "data: [DONE]"
        else:
            r = http.post("/v1/chat/completions", json={"model": "cloud/gpt", "messages": MSG})
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]
            assert to_nano(float(r.headers["x-edgeroute-cost-usd"])) == COST_PER_REQUEST


def test_sigkill_after_n_full_responses_keeps_n_rows(
    daemon: tuple[subprocess.Popen[bytes], str, Paths], cloud: FakeCloud
) -> None:
    proc, url, paths = daemon
    with httpx.Client(base_url=url, timeout=30) as http:
        send(http, range(N // 2))
        # halfway, the CLI finds the daemon through the state file and asks it
        assert f"(daemon at {url})" in run_cli("stats", "--window", "all")
        live = stats_json()
        assert live["requests"] == N // 2
        assert to_nano(float(str(live["cost_usd"]))) == N // 2 * COST_PER_REQUEST
        send(http, range(N // 2, N))
    assert cloud.count() == N

    os.kill(proc.pid, signal.SIGKILL)  # right after the last response's last byte
    assert proc.wait(timeout=10) == -signal.SIGKILL

    assert Path(f"{paths.ledger_file}-wal").exists()  # never checkpointed: the rows live in the WAL
    with contextlib.closing(sqlite3.connect(paths.ledger_file)) as conn:
        count, cost = conn.execute("SELECT COUNT(*), SUM(cost_nusd) FROM requests").fetchone()
        statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM requests")}
    assert (count, cost, statuses) == (N, N * COST_PER_REQUEST, {200})

    # the state file is stale (a killed daemon clears nothing): the CLI falls back to the ledger file
    assert paths.state_file.exists()
    assert f"(ledger file {paths.ledger_file})" in run_cli("stats", "--window", "all")
    after = stats_json()
    assert after["requests"] == N and to_nano(float(str(after["cost_usd"]))) == N * COST_PER_REQUEST
