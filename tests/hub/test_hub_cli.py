"""`edgeroute pull`, `models`, `models info` and `rm` as a user runs them: real processes against the fake
hub, including a pull killed mid-download and resumed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeroute.cli.main import cli
from edgeroute.hub.progress import human_bytes
from edgeroute.paths import resolve_paths
from tests.hub.conftest import REPO_ROOT, cli_env, run_cli
from tests.hub.fakehub import FakeHub, tiny_gguf

QWEN_REPO = "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"
QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_NAME = "qwen2.5-coder-1.5b"


def models_dir() -> Path:
    return resolve_paths().models_dir


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def start_pull(hub: FakeHub, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edgeroute", "pull", *args],
        env=cli_env(hub),
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_bytes(hub: FakeHub, proc: subprocess.Popen[str], path: str, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while hub.served.total(path) < at_least:
        assert proc.poll() is None, "the pull ended before it could be interrupted"
        assert time.monotonic() < deadline, "the pull made no progress"
        time.sleep(0.02)


def test_pull_alias_then_models_info_and_rm(hub: FakeHub, gguf_code: bytes) -> None:
    hub.add_repo(QWEN_REPO, {QWEN_FILE: gguf_code, "qwen2.5-coder-1.5b-instruct-q8_0.gguf": b"unused"})
    done = run_cli(["pull", "qwen2.5-coder:1.5b"], cli_env(hub))
    assert done.returncode == 0, done.stderr
    size = human_bytes(len(gguf_code))
    assert f"Pulled {QWEN_NAME} ({size}, Q4_K_M, code)" in done.stdout
    assert f"served as local/{QWEN_NAME}" in done.stdout
    assert f"{QWEN_FILE}  downloading {size}" in done.stderr  # plain progress lines: stderr is not a TTY
    assert f"done: {size} fetched" in done.stderr

    code, out = invoke("models", "--json")
    assert code == 0
    (listed,) = [e for e in json.loads(out) if e["source"] == "pulled"]
    assert listed["name"] == QWEN_NAME and listed["id"] == f"local/{QWEN_NAME}"
    assert listed["file"] == QWEN_FILE and listed["size"] == len(gguf_code)
    assert (listed["quant"], listed["architecture"], listed["role"]) == ("Q4_K_M", "qwen2", "code")
    assert listed["context"] == 4096 and listed["parameters"] > 900_000
    assert listed["loaded"] is None  # no daemon running

    code, out = invoke("models")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == [
        "NAME",
        "SOURCE",
        "FILE",
        "SIZE",
        "QUANT",
        "ARCH",
        "PARAMS",
        "CONTEXT",
        "ROLE",
        "LOADED",
    ]
    row = next(r for r in rows if r.startswith(QWEN_NAME + " "))
    assert row.split()[:6] == [QWEN_NAME, "pulled", QWEN_FILE, *size.split(), "Q4_K_M"]

    code, out = invoke("models", "info", "qwen2.5-coder:1.5b")
    assert code == 0
    facts = dict(line.split(None, 1) for line in out.splitlines() if line and not line.startswith(" "))
    assert "architecture" in out and "qwen2" in out
    assert "fill-in-the-middle  yes" in out and "Tiny Coder" in out
    assert facts["source"].strip() == f"hf:{QWEN_REPO}"

    code, out = invoke("pull", "--list")
    assert code == 0
    qwen_row = next(line for line in out.splitlines() if line.startswith("qwen2.5-coder:1.5b "))
    assert qwen_row.split()[-2:] == ["yes", "apache-2.0"]  # pulled, licence
    assert "FITS" in out.splitlines()[0]

    code, out = invoke("rm", "qwen2.5-coder:1.5b")
    assert code == 0 and f"Removed {QWEN_NAME}" in out
    assert not (models_dir() / QWEN_NAME).exists()
    listing = invoke("models")[1]
    assert listing.startswith("No models downloaded") and QWEN_NAME not in listing
    code, out = invoke("rm", QWEN_NAME)
    assert code == 1 and "no downloaded model named" in out


def test_killed_pull_resumes_where_it_stopped(hub: FakeHub) -> None:
    data = tiny_gguf(4_000_000, seed=7, fim=True, arch="qwen2")
    hub.add_repo(QWEN_REPO, {QWEN_FILE: data})
    hub.throttle = (64 * 1024, 0.04)  # about 1.6 MB/s, so the kill lands mid-file
    proc = start_pull(hub, "qwen2.5-coder:1.5b")
    wait_for_bytes(hub, proc, QWEN_FILE, 1_500_000)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    folder = models_dir() / QWEN_NAME
    partial = folder / f"{QWEN_FILE}.partial"
    assert partial.stat().st_size >= 500_000
    assert not (folder / "manifest.json").exists()

    hub.throttle = None
    done = run_cli(["pull", "qwen2.5-coder:1.5b"], cli_env(hub))
    assert done.returncode == 0, done.stderr
    assert "resuming at" in done.stderr
    fetched = hub.served.total(QWEN_FILE)
    assert fetched < 1.3 * len(data), f"{fetched} bytes served for a {len(data)}-byte file"
    assert (folder / QWEN_FILE).read_bytes() == data
    assert not partial.exists()


def test_ctrl_c_keeps_the_partial_and_says_how_to_resume(hub: FakeHub) -> None:
    data = tiny_gguf(3_000_000, seed=8)
    hub.add_repo("acme/Slow-GGUF", {"slow-Q4_K_M.gguf": data})
    hub.throttle = (64 * 1024, 0.04)
    proc = start_pull(hub, "acme/Slow-GGUF")
    wait_for_bytes(hub, proc, "slow-Q4_K_M.gguf", 500_000)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted: run the same command again to resume" in stderr
    assert (models_dir() / "slow-q4_k_m" / "slow-Q4_K_M.gguf.partial").stat().st_size > 0


def test_gated_repo_message_and_token(hub: FakeHub, gguf_chat: bytes) -> None:
    hub.add_repo("meta-llama/Llama-Gated-GGUF", {"llama-gated-Q4_K_M.gguf": gguf_chat}, gated=True)
    denied = run_cli(["pull", "meta-llama/Llama-Gated-GGUF"], cli_env(hub))
    assert denied.returncode == 1
    assert "meta-llama/Llama-Gated-GGUF is gated" in denied.stderr and "export HF_TOKEN=" in denied.stderr
    assert "Traceback" not in denied.stderr
    allowed = run_cli(["pull", "meta-llama/Llama-Gated-GGUF"], cli_env(hub, HF_TOKEN=hub.token))
    assert allowed.returncode == 0, allowed.stderr
    assert hub.token not in allowed.stdout + allowed.stderr


def test_offline_mode_needs_no_hub(hub: FakeHub) -> None:
    done = run_cli(["pull", "gemma3:1b"], cli_env(hub, HF_HUB_OFFLINE="1"))
    assert done.returncode == 1
    assert "HF_HUB_OFFLINE is set and gemma3:1b is not downloaded" in done.stderr
    assert hub.served.requests == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["pull", "acme/Mixed-GGUF:Q2_K"], 1, "no Q2_K GGUF. Quants there: Q4_K_M, Q8_0"),
        (["pull", "acme/Missing-GGUF"], 1, "acme/Missing-GGUF was not found on http://127.0.0.1"),
        (["pull", "llama3.2"], 1, "Did you mean: llama3.2:1b, llama3.2:3b?"),
        (["pull"], 2, "name a MODEL to pull"),
        (["pull", "acme/Mixed-GGUF", "--name", "Bad Name"], 2, "use lowercase letters"),
    ],
)
def test_pull_errors_are_one_clear_line(hub: FakeHub, args: list[str], code: int, message: str) -> None:
    hub.add_repo("acme/Mixed-GGUF", {"mixed-Q4_K_M.gguf": b"a", "mixed-Q8_0.gguf": b"b"})
    done = run_cli(args, cli_env(hub))
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr


def test_unreachable_hub_and_rejected_token(hub: FakeHub) -> None:
    hub.add_repo("acme/Mixed-GGUF", {"mixed-Q4_K_M.gguf": b"a"})
    rejected = run_cli(["pull", "acme/Mixed-GGUF"], cli_env(hub, HF_TOKEN="hf_expired"))
    assert rejected.returncode == 1 and "rejected the token" in rejected.stderr
    assert "hf_expired" not in rejected.stderr
    down = run_cli(["pull", "acme/Mixed-GGUF"], cli_env(hub, HF_ENDPOINT="http://127.0.0.1:9"))
    assert down.returncode == 1 and "cannot reach http://127.0.0.1:9" in down.stderr
    assert "Traceback" not in down.stderr
